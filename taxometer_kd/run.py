"""``vamb taxometer --teacher ...``: the distillation run, as a short pipeline of named stages.

Each stage reads and fills a :class:`Run`; :data:`STAGES` lists them in order:

1. ``settings``: device, precision, seeds; refuses ``-ploss cond_softmax``;
2. ``inputs``: Vamb's composition and abundances, the contigs' FASTA (streamed later);
3. ``labels``: the initial labels as a label space (Vamb's tree + abstain leaves);
4. ``teacher``: the teacher plugin builds itself (features, DNA, heads);
5. ``student``: Vamb's Taxometer model and its inputs on the device;
6. ``training``: joint training;
7. ``outputs``: the models, and ``results_taxometer.tsv`` (student) and
   ``results_teacher.tsv`` (teacher) in Taxometer's format.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import vamb
from loguru import logger

from taxometer_kd import registry
from taxometer_kd.errors import KDError
from taxometer_kd.inputs import check_abundance, check_fasta_has_records, read_taxonomy, vamb_step
from taxometer_kd.io import ContigSequences, atomic_write
from taxometer_kd.options import KDOptions
from taxometer_kd.teachers.base import TeacherContext, TeacherModel
from taxometer_kd.training import device as devices
from taxometer_kd.training.data import TrainData, build_student, make_train_data
from taxometer_kd.training.label_space import LabelSpace, apply_confidence, build_label_space, cut_labels, hide
from taxometer_kd.training.predict import iter_probabilities, write_predictions
from taxometer_kd.training.scores import (
    ScoreCalibration,
    argmax_paths,
    choose_holdout,
    fit_calibration,
    label_paths,
    node_depths,
)
from taxometer_kd.training.trainer import train_jointly


@dataclass
class Run:
    """What the stages share: Vamb's options, ours, and what each stage made."""

    opt: Any  # vamb's TaxometerOptions
    kd: KDOptions
    vamb_main: Any  # the vamb.__main__ namespace (its loaders and classes)
    begin: float = field(default_factory=time.time)
    device: torch.device = torch.device("cpu")
    precision: str = "float32"
    composition: Any = None
    abundance: Any = None
    contigs: ContigSequences | None = None
    space: LabelSpace | None = None
    teacher: TeacherModel | None = None
    student: Any = None
    data: TrainData | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    holdout: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def seed(self) -> int:
        return self.opt.general.seed

    @property
    def out_dir(self) -> Path:
        return self.opt.general.out_dir


def settings(run: Run) -> None:
    kd = run.kd
    if run.opt.ploss == "cond_softmax":
        raise KDError(
            "--teacher cannot be combined with -ploss cond_softmax: its outputs are conditional "
            "scores per parent node, so one softmax over them (the distillation target) is not a "
            "distribution over the label space. Use -ploss flat_softmax (default) or soft_margin."
        )
    torch.manual_seed(run.seed % (2**63))
    np.random.seed(run.seed % (2**32))
    run.device = devices.select_device(run.opt.general.cuda)
    run.precision = devices.resolve_precision(kd.precision, run.device)
    logger.info("Knowledge distillation (taxometer-kd)")
    logger.info(f"\tTeacher: {kd.teacher} {kd.teacher_options}")
    logger.info(f"\tAlpha (hierarchical-loss weight): {kd.alpha}")
    logger.info(f"\tTemperature: {kd.temperature}")
    logger.info(f"\tDistillation loss: {kd.loss}")
    logger.info(f"\tAbstain leaves: {kd.abstain}")
    logger.info(f"\tStudent input: {'TNF' if kd.student_input == 'tnf' else 'teacher embeddings (Taxometer_G)'}")
    logger.info(f"\tDevice: {devices.describe(run.device)}")
    logger.info(f"\tTraining precision: {run.precision}{' (auto)' if kd.precision == 'auto' else ''}")


def teacher_fasta(run: Run) -> Path:
    if run.kd.teacher_fasta is not None:
        return Path(run.kd.teacher_fasta)
    path = run.opt.composition.path
    if isinstance(path, run.vamb_main.FASTAPath):
        return Path(path.path)
    raise KDError(
        f"--teacher {run.kd.teacher} needs the contigs' DNA, but only a composition .npz "
        f"({path.path}) was given, which holds TNF only. Pass --fasta instead of "
        "--composition, or add --teacher-fasta CONTIGS.fna."
    )


_FLAGS = {
    "FASTAPath": "--fasta",
    "CompositionPath": "--composition",
    "AbundancePath": "--abundancepath",
    "BAMPaths": "--bamdir",
    "AbundanceTSVPath": "--abundance_tsv",
}


def _source(options: Any) -> str:
    """How the user named an input: ``--fasta contigs.fna``, ``--abundance_tsv a.tsv``, ..."""
    paths = getattr(options, "paths", None) or getattr(options, "path", None)
    where = getattr(paths, "path", None)
    if where is None:
        where = ", ".join(map(str, getattr(paths, "paths", None) or [])) or "?"
    return f"{_FLAGS.get(type(paths).__name__, 'input')} {where}"


def inputs(run: Run) -> None:
    opt, vm = run.opt, run.vamb_main
    general = opt.general
    if isinstance(opt.composition.path, vm.FASTAPath):
        check_fasta_has_records(Path(opt.composition.path.path))
    run.composition = vamb_step(
        _source(opt.composition),
        lambda: vm.calc_tnf(
            opt.composition, general.min_contig_length, general.out_dir, vamb.vambtools.BinSplitter.inert_splitter()
        ),
    )
    meta = run.composition.metadata
    run.abundance = vamb_step(
        _source(opt.abundance),
        lambda: vm.calc_abundance(opt.abundance, general.out_dir, general.refcheck, meta, general.n_threads),
    )
    check_abundance(run.abundance.matrix, meta.identifiers, list(run.abundance.samplenames), _source(opt.abundance))
    run.contigs = ContigSequences(teacher_fasta(run), list(meta.identifiers), np.asarray(meta.lengths))


def labels(run: Run) -> None:
    kd = run.kd
    taxonomy = read_taxonomy(run.opt.taxonomy.path, run.composition.metadata)
    confidence = None
    if kd.label_confidence is not None:
        from taxometer_kd.labels.confidence import read_confidence

        identifiers = run.composition.metadata.identifiers
        confidence = read_confidence(kd.label_confidence, identifiers, skip_unknown=True)
        if not np.isfinite(confidence).any():  # the flag would change nothing: say so rather than run
            raise KDError(
                f"{kd.label_confidence}: none of the contigs it lists is among this run's {len(identifiers)} "
                "contigs (those of at least -m bp); is it the confidence file of these labels?"
            )
    if confidence is not None and kd.confidence_cut is not None:
        n_cut = cut_labels(taxonomy, confidence, kd.confidence_cut)
        logger.info(
            f"\tLabel confidence from {kd.label_confidence}: {n_cut} labels below {kd.confidence_cut:g} "
            "lose their lowest rank (--confidence-cut); the others count whole"
        )
    run.space = space = build_label_space(taxonomy, kd.abstain, kd.abstain_weight)
    logger.info(f"\t{space.n_real} nodes in the graph")
    logger.info(f"\t{space.n_labelled} of {len(space.targets)} contigs have an initial label")
    if kd.abstain != "none":
        logger.info(
            f"\t{len(space.nodes) - space.n_real} abstain leaves; {space.n_abstentions} contigs' labels are "
            f"abstentions for the {'teacher' if kd.abstain == 'teacher' else 'teacher and student'} "
            f"(weight {kd.abstain_weight})"
        )
    if confidence is not None and kd.confidence_cut is None:
        changed = apply_confidence(space, confidence, kd.abstain, kd.abstain_weight)
        labelled = (space.targets != 0) & np.isfinite(confidence)
        median = float(np.median(confidence[labelled])) if labelled.any() else float("nan")
        logger.info(
            f"\tLabel confidence from {kd.label_confidence}: {changed} labels below 1 (median {median:.3f} "
            f"over labelled contigs; {int(np.isnan(confidence).sum())} contigs without a value keep their weight)"
        )
    run.holdout = choose_holdout(len(space.targets), kd.calibration_holdout, run.seed)
    if len(run.holdout):
        hide(space, run.holdout)
        logger.info(
            f"\t{len(run.holdout)} contigs ({kd.calibration_holdout:g}) held out of training to calibrate the scores"
        )


def teacher(run: Run) -> None:
    kd, space = run.kd, run.space
    assert space is not None and run.contigs is not None
    # the width of the student's output for the loss in use (leaves, or all nodes)
    tree = vamb.hloss_misc.Hierarchy(np.array(space.parents))
    ctx = TeacherContext(
        contigs=run.contigs,
        n_outputs=vamb.taxvamb_encode.init_hier_loss(run.opt.ploss, tree).n_labels,
        options=kd.teacher_options,
        device=run.device,
        seed=run.seed,
        cache_dir=Path(kd.cache_dir) if kd.cache_dir is not None else None,
        n_threads=run.opt.general.n_threads,
        hier_loss=run.opt.ploss,
        abundance=run.abundance.matrix,
        nodes=space.nodes,
        parents=space.parents,
        targets=space.targets,
        # frozen features in bf16 where training casts them to bf16 anyway (not for Taxometer_G,
        # whose student reads the features themselves)
        feature_dtype=torch.bfloat16 if run.precision == "bfloat16" and kd.student_input == "tnf" else torch.float32,
    )
    t0 = time.time()
    logger.info(f"\tPreparing teacher {kd.teacher} ({len(run.contigs)} contigs from {run.contigs.fasta})")
    try:
        run.teacher = registry.get_teacher(kd.teacher).build(ctx)
    except KDError:
        raise
    except Exception as exc:  # whatever a plugin raises: one clear line (the traceback goes to the log)
        detail = str(exc).strip() or type(exc).__name__
        raise KDError(f"teacher {kd.teacher} could not be built: {detail}") from exc
    run.teacher.to(run.device)
    n_params = sum(p.numel() for p in run.teacher.parameters() if p.requires_grad)
    logger.info(f"\tTeacher ready in {time.time() - t0:.2f} s ({n_params} trainable parameters)")


def student(run: Run) -> None:
    kd, space, teacher = run.kd, run.space, run.teacher
    assert space is not None and teacher is not None
    features = None
    n_feature_cols = 103
    if kd.student_input == "embedding":
        features = teacher.embeddings()
        if features is None:
            raise KDError(
                f"--student-input embedding (Taxometer_G) needs a teacher with frozen per-contig "
                f"embeddings; {kd.teacher} has none"
            )
        n_feature_cols = features.shape[1]
    abundance = run.abundance.matrix
    run.student = build_student(
        abundance.shape[1], n_feature_cols, space.nodes, space.parents, run.opt.ploss, run.device
    )
    run.data = make_train_data(
        abundance,
        run.composition.matrix,
        run.composition.metadata.lengths,
        space.targets,
        len(space.nodes),
        run.device,
        features,
        space.teacher_targets,
        space.teacher_weights,
        mixture={
            k: getattr(space, k)
            for k in ("target_weights", "alt_targets", "alt_weights", "teacher_alt_targets", "teacher_alt_weights")
        },
    )


def training(run: Run) -> None:
    basic = run.opt.basic
    assert run.data is not None and run.teacher is not None
    logger.info("Starting joint training of student and teacher")
    logger.info(f"\tN epochs: {basic.num_epochs}\tBatch size: {basic.starting_batch_size}")
    t0 = time.time()
    run.history = train_jointly(
        run.student,
        run.teacher,
        run.data,
        registry.get_loss(run.kd.loss).factory(run.kd.temperature),
        run.kd.alpha,
        basic.num_epochs,
        basic.starting_batch_size,
        run.seed,
        teacher_lr=run.kd.teacher_lr,
        precision=run.precision,
    )
    logger.info(f"Finished joint training in {time.time() - t0:.2f} seconds.")


def outputs(run: Run) -> None:
    kd, space, teacher, data, student = run.kd, run.space, run.teacher, run.data, run.student
    assert space is not None and teacher is not None and data is not None
    out_dir = run.out_dir
    atomic_write(out_dir / "predictor_model.pt", student.save, binary=True)
    state = {
        "teacher": kd.teacher,
        "options": kd.teacher_options,
        "state": teacher.state_dict(),
        "history": run.history,
    }
    atomic_write(out_dir / "teacher_model.pt", lambda fh: torch.save(state, fh), binary=True)

    logger.info("Writing the taxonomy predictions")
    logger.info(f"Using threshold {run.opt.softmax_threshold}")
    bs = max(run.opt.basic.starting_batch_size, 1024)

    def student_logits(idx):
        return student(data.depths[idx], data.tnf[idx], data.total[idx], data.weights[idx])

    # abstain leaves (appended after Vamb's nodes) are not written: their mass stays in their parent
    real, names, threshold = (
        space.nodes[: space.n_real],
        run.composition.metadata.identifiers,
        run.opt.softmax_threshold,
    )
    parents = space.parents[: space.n_real]
    for path, logits, what in (
        (out_dir / "results_teacher.tsv", teacher.predict, "teacher"),
        (out_dir / "results_taxometer.tsv", student_logits, "student"),
    ):
        calibration = calibrate(run, logits, what)
        batches = iter_probabilities(logits, student.pred_fn, data.n, bs, run.device, what)
        write_predictions(path, batches, real, threshold, names, parents, calibration)
    logger.info(f"Wrote {out_dir / 'results_taxometer.tsv'} (student) and {out_dir / 'results_teacher.tsv'} (teacher)")
    logger.info(f"Completed taxonomy predictions in {round(time.time() - run.begin, 2)} seconds.")


def calibrate(run: Run, logits: Callable[[torch.Tensor], torch.Tensor], what: str) -> ScoreCalibration | None:
    """The score calibration of one network, from the held-out contigs (None: raw scores)."""
    space = run.space
    assert space is not None and run.student is not None
    if not len(run.holdout):
        return None
    rows = torch.as_tensor(run.holdout, device=run.device)
    with torch.no_grad():
        probs = run.student.pred_fn(logits(rows)).float().cpu().numpy()[:, : space.n_real]
    parents = space.parents[: space.n_real]
    depth = node_depths(parents)
    nodes, scores = argmax_paths(probs, parents, depth)
    vamb_targets = np.asarray(space.targets)[run.holdout]
    if run.kd.abstain == "both":  # the student's targets are abstain leaves: back to their taxa
        owner = np.arange(len(space.nodes))
        owner[space.n_real :] = np.asarray(space.parents)[space.n_real :]
        vamb_targets = owner[vamb_targets]
    labels = label_paths(vamb_targets, parents, depth, nodes.shape[1])
    calibration = fit_calibration(nodes, scores, labels)
    for line in calibration.describe():
        logger.info(f"\tScore calibration ({what}), {line}")
    return calibration


#: the stages of a run, in order
STAGES: tuple[tuple[str, Callable[[Run], None]], ...] = (
    ("settings", settings),
    ("inputs", inputs),
    ("labels", labels),
    ("teacher", teacher),
    ("student", student),
    ("training", training),
    ("outputs", outputs),
)


def run_distillation(opt: Any, kd: KDOptions, vamb_main: Any) -> Run:
    """``vamb taxometer`` with a teacher. ``opt`` is vamb's ``TaxometerOptions``."""
    run = Run(opt, kd, vamb_main)
    for _name, stage in STAGES:
        stage(run)
    return run
