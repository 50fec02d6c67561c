"""TaxDistill: Taxometer's student trained jointly with a teacher (paper section 3).

Student: Vamb's own :class:`vamb.taxvamb_encode.VAMB2Label` on TNF + abundances + total
abundance, with Vamb's hierarchical loss. Teacher: a :class:`TeacherModel` from a plugin,
producing logits over the same label space from per-contig inputs. On every batch::

    L_teacher = L_hier(z_T)
    L_student = alpha * L_hier(z_S) + (1 - alpha) * L_KD(z_S, sg(z_T))
    L_total   = L_teacher + L_student

with ``L_KD = tau^2 * KL(softmax(z_T/tau) || softmax(z_S/tau))`` by default. Every contig,
labelled or not, is in the batches, so unlabelled contigs get the KD signal. All inputs
stay on the training device and batches are index selections (no DataLoader workers, no
host round trips per batch).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import vamb
import torch.nn.functional as F
from loguru import logger

from taxometer_kd import fastops, registry
from taxometer_kd.optim import DAdaptAdam
from taxometer_kd.teacher import TeacherContext, TeacherModel


class KDError(Exception):
    """A user error in a distillation run (bad input or option); the message says what and where."""


# ----------------------------------------------------------------------------- options

ABSTAIN_MODES = ("none", "teacher", "both")
ABSTAIN_SUFFIX = " [unassigned]"
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass
class KDOptions:
    """The knowledge-distillation options of one run (like Vamb's ``*Options`` classes)."""

    teacher: str
    alpha: float = 0.3
    temperature: float = 4.0
    teacher_options: dict[str, Any] = field(default_factory=dict)
    loss: str = "kl"
    cache_dir: Optional[Path] = None
    teacher_fasta: Optional[Path] = None
    student_input: str = "tnf"
    teacher_lr: Optional[float] = None
    abstain: str = "teacher"
    abstain_weight: float = 2.0
    precision: str = "auto"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Optional["KDOptions"]:
        """``None`` when ``--teacher`` is absent (then the run is stock Taxometer)."""
        name = getattr(args, "kd_teacher", None)
        from taxometer_kd.vamb_integration import KD_FLAGS

        given = [
            flag
            for flag, kwargs in KD_FLAGS[1:]
            if getattr(args, kwargs["dest"], None) not in (None, [])
        ]
        if name is None:
            if given:
                raise KDError(f"{', '.join(given)} only apply together with --teacher NAME")
            return None
        try:
            spec = registry.get_teacher(name)
        except registry.UnknownNameError as exc:
            raise KDError(str(exc)) from None
        raw = parse_key_values(getattr(args, "kd_teacher_options", None) or [])
        try:
            teacher_options = spec.validate_options(raw)
        except ValueError as exc:
            raise KDError(str(exc)) from None
        loss = getattr(args, "kd_loss", None) or "kl"
        try:
            loss = registry.losses().resolve(loss)
        except registry.UnknownNameError as exc:
            raise KDError(str(exc)) from None
        opt = cls(
            teacher=spec.name,
            alpha=0.3 if args.kd_alpha is None else args.kd_alpha,
            temperature=4.0 if args.kd_temperature is None else args.kd_temperature,
            teacher_options=teacher_options,
            loss=loss,
            cache_dir=getattr(args, "kd_teacher_cache", None),
            teacher_fasta=getattr(args, "kd_teacher_fasta", None),
            student_input=getattr(args, "kd_student_input", None) or "tnf",
            teacher_lr=getattr(args, "kd_teacher_lr", None),
            abstain=getattr(args, "kd_abstain", None) or "teacher",
            abstain_weight=2.0 if getattr(args, "kd_abstain_weight", None) is None else args.kd_abstain_weight,
            precision=getattr(args, "kd_precision", None) or "auto",
        )
        opt.validate()
        return opt

    def validate(self) -> None:
        if not (isinstance(self.alpha, float) and 0.0 <= self.alpha <= 1.0):
            raise KDError(f"--alpha must be between 0 and 1 (the weight of the hierarchical loss), not {self.alpha}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise KDError(f"--temperature must be a positive number, not {self.temperature}")
        if self.student_input not in ("tnf", "embedding"):
            raise KDError(f"--student-input must be 'tnf' or 'embedding', not {self.student_input!r}")
        if self.abstain not in ABSTAIN_MODES:
            raise KDError(f"--abstain must be one of {', '.join(ABSTAIN_MODES)}, not {self.abstain!r}")
        if not (math.isfinite(self.abstain_weight) and self.abstain_weight > 0):
            raise KDError(f"--abstain-weight must be a positive number, not {self.abstain_weight}")
        if self.precision not in PRECISIONS:
            raise KDError(f"--kd-precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.teacher_lr is not None and not (self.teacher_lr > 0):
            raise KDError(f"--teacher-lr must be positive, not {self.teacher_lr}")
        if self.teacher_fasta is not None and not Path(self.teacher_fasta).is_file():
            raise KDError(f"--teacher-fasta: no such file: {self.teacher_fasta}")
        if self.cache_dir is not None and Path(self.cache_dir).exists() and not Path(self.cache_dir).is_dir():
            raise KDError(f"--teacher-cache: {self.cache_dir} exists and is not a directory")


def parse_key_values(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise KDError(f"--teacher-option expects KEY=VALUE, not {item!r}")
        if key in out:
            raise KDError(f"--teacher-option {key} is given twice")
        out[key] = value.strip()
    return out


# ----------------------------------------------------------------------------- inputs


def read_contig_sequences(fasta: Path, identifiers: Sequence[str]) -> list[bytes]:
    """The DNA of ``identifiers`` (Vamb's composition order) from ``fasta`` (any compression)."""
    wanted = {name: i for i, name in enumerate(identifiers)}
    if len(wanted) != len(identifiers):
        raise KDError("duplicate contig names in the composition")
    out: list[Optional[bytes]] = [None] * len(identifiers)
    try:
        with vamb.vambtools.Reader(fasta) as file:
            for entry in vamb.vambtools.byte_iterfasta(file, str(fasta)):
                i = wanted.get(entry.identifier)
                if i is not None:
                    out[i] = bytes(entry.sequence).upper()
    except (ValueError, OSError, EOFError) as exc:
        raise KDError(f"could not read contig sequences from {fasta}: {exc}") from None
    missing = [identifiers[i] for i, s in enumerate(out) if s is None]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise KDError(
            f"{len(missing)} contig(s) of the composition are missing from {fasta}: {shown}"
        )
    return out  # type: ignore[return-value]


def select_device(cuda: bool) -> torch.device:
    return torch.device("cuda") if cuda else torch.device("cpu")


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (a CUDA GPU with bf16
    support; a CPU with AMX tiles, where it measured 6x the float32 matmul rate)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(amx is not None and amx())
    return False


def build_student(nsamples: int, n_feature_cols: int, nodes, table_parent, ploss: str, device: torch.device):
    """Vamb's own Taxometer model (4 x 512), its first layer taking ``nsamples`` abundances,
    ``n_feature_cols`` composition features (TNF: 103; Taxometer_G: the teacher's embedding)
    and the total abundance.

    VAMB2Label sizes its first layer as nsamples + 103 + 1 and uses nsamples for nothing
    else here, so a wider feature block is passed through nsamples. A block narrower than
    103 - nsamples + 1 columns would make that argument < 1, which VAMB2Label refuses: then
    the model is built for one sample and its first layer replaced by one of the real width.
    """
    width_arg = nsamples + n_feature_cols - 103
    student = vamb.taxvamb_encode.VAMB2Label(
        max(width_arg, 1),
        len(nodes),
        nodes,
        table_parent,
        nhiddens=[512, 512, 512, 512],
        hier_loss=ploss,
        cuda=device.type == "cuda",
    )
    if width_arg < 1:
        first = student.encoderlayers[0]
        student.encoderlayers[0] = torch.nn.Linear(nsamples + n_feature_cols + 1, first.out_features).to(first.weight.device)
        student.nsamples = nsamples
    return student


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bfloat16`` where the device has native bf16 matmuls, else ``float32``."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


def atomic_write(path: Path, write, binary: bool = False) -> None:
    """Write a file through a temporary file in the same folder, then rename it into place,
    so that a crash never leaves a half-written output. ``write`` gets the open file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ----------------------------------------------------------------------------- training


@dataclass
class TrainData:
    """Student inputs (Vamb's normalisation), targets, all on the training device."""

    depths: torch.Tensor
    tnf: torch.Tensor
    total: torch.Tensor
    weights: torch.Tensor
    targets: torch.Tensor
    n_classes: int
    teacher_targets: Optional[torch.Tensor] = None
    teacher_weights: Optional[torch.Tensor] = None

    @property
    def n(self) -> int:
        return self.depths.shape[0]


def make_train_data(
    abundance: np.ndarray,
    tnfs: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    n_nodes: int,
    device: torch.device,
    student_features: Optional[np.ndarray] = None,
    teacher_targets: Optional[np.ndarray] = None,
    teacher_weights: Optional[np.ndarray] = None,
) -> TrainData:
    loader = vamb.encode.make_dataloader(abundance, tnfs, lengths, batchsize=max(1, len(lengths)))
    depths, tnf, total, weights = loader.dataset.tensors  # type: ignore[attr-defined]
    if student_features is not None:  # Taxometer_G: embeddings replace TNF
        feats = np.array(student_features, dtype=np.float32)
        vamb.vambtools.zscore(feats, axis=0, inplace=True)
        tnf = torch.from_numpy(feats)
    return TrainData(
        depths=depths.detach().to(device),
        tnf=tnf.detach().to(device),
        total=total.detach().to(device),
        weights=weights.detach().to(device),
        targets=torch.as_tensor(targets, dtype=torch.long, device=device),
        # Vamb one-hot encodes labels with at least 105 classes; its losses take argmax
        n_classes=max(n_nodes, 105),
        teacher_targets=None
        if teacher_targets is None
        else torch.as_tensor(teacher_targets, dtype=torch.long, device=device),
        teacher_weights=None
        if teacher_weights is None
        else torch.as_tensor(teacher_weights, dtype=torch.float32, device=device),
    )


def distillation_step_losses(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    onehot: torch.Tensor,
    student_hier,
    hier_t: torch.Tensor,
    kd_loss,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, student hierarchical, KD, teacher hierarchical) for one batch.

    ``hier_t`` is the teacher's own (hierarchical) loss on the batch.
    """
    hier_s = student_hier(student_logits, onehot)
    if alpha < 1.0:
        kd = kd_loss(student_logits, teacher_logits.detach())
    else:
        kd = torch.zeros((), device=student_logits.device)
    total = hier_t + alpha * hier_s + (1.0 - alpha) * kd
    return total, hier_s, kd, hier_t


class RowWeightedLoss:
    """A Vamb hierarchical loss as a weighted mean over contigs, without host syncs.

    Row weights ride on the one-hot targets (Vamb's losses read the target as
    ``argmax(onehot)``, so scaling a row keeps its target); an optional 0/1 ``mask`` selects
    rows (cross-fitting). With all weights 1 it equals Vamb's mean-reduced loss.

    ``logits`` may carry leading dimensions (``k x B x C`` for ``k`` heads scored on the same
    ``B`` contigs, with a ``k x B`` mask): the result then has shape ``k``, one weighted mean
    per head, computed in one pass (no per-head slices, whose backward would allocate and
    zero-fill the whole ``k x B x C`` gradient once per head).
    """

    def __init__(self, name: str, tree):
        hl = vamb.hloss_misc
        self.name = name
        if name == "flat_softmax":
            self._module = hl.FlatSoftmaxNLL(tree, reduction="none")
        elif name == "soft_margin":
            self._module = vamb.taxvamb_encode.init_hier_loss(name, tree).loss_fn
        else:
            raise KDError(f"no per-contig form of the {name} loss")

    def to(self, device) -> "RowWeightedLoss":
        self._module = self._module.to(device)
        return self

    def _rows(self, logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        labels = torch.argmax(onehot, dim=1)
        if self.name == "flat_softmax":
            # vamb.hloss_misc.FlatSoftmaxNLL.forward, broadcasting over leading dimensions
            return fastops.flat_softmax_nll(logits, self._module.leaf_masks[labels])
        # vamb.hloss_misc.MarginLoss.forward (soft, label_order None) without its mean
        m = self._module
        index = labels.unsqueeze(-1).expand(*logits.shape[:-1], 1)
        label_score = logits.gather(-1, index).squeeze(-1)
        return -label_score + torch.logsumexp(logits + m.tau * m.margin[labels], dim=-1)

    def __call__(self, logits: torch.Tensor, onehot: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        w = onehot.amax(1)
        if mask is not None:
            w = w * mask
        w = w.expand(logits.shape[:-1])
        logits = logits.float()  # bf16 logits from an autocast forward: the loss in fp32
        return (self._rows(logits, onehot) * w).sum(-1) / w.sum(-1).clamp_min(1e-12)


def train_jointly(
    student,
    teacher: TeacherModel,
    data: TrainData,
    kd_loss,
    alpha: float,
    nepochs: int,
    batchsize: int,
    seed: int,
    teacher_lr: Optional[float] = None,
    log_every: int = 1,
    precision: str = "float32",
) -> list[dict[str, float]]:
    """Train student and teacher together on the same shuffled batches; returns per-epoch stats.

    ``precision="bfloat16"`` runs both networks' forward passes under bfloat16 autocast
    (matrix products in bf16, accumulated in fp32); the losses, gradients' accumulation into
    the fp32 parameters and the optimisers stay in float32.
    """
    device = data.depths.device
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if precision == "bfloat16"
        else contextlib.nullcontext
    )
    # Both networks' hierarchical loss: Vamb's (same values, tested), in a per-row form that
    # also weights and masks rows (teacher) and takes stacked heads (cross-fitting)
    hier = RowWeightedLoss(student.hierloss.name, student.tree).to(device)
    fastops.swap_dropout(student)  # Vamb's nn.Dropout -> same p, cheaper mask on CPU
    fastops.swap_dropout(teacher)
    # The student keeps Taxometer's optimiser: D-Adaptation Adam (lr=1, decoupled decay), in a
    # form that takes the same steps with its scalars on the device (no host sync per step)
    opt_s = DAdaptAdam(student.parameters(), lr=1, decouple=True)
    t_params = [p for p in teacher.parameters() if p.requires_grad]
    opt_t = (
        torch.optim.Adam(t_params, lr=teacher_lr or teacher.learning_rate, weight_decay=teacher.weight_decay)
        if t_params
        else None
    )
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed % (2**63))
    n = data.n
    drop_last = n > batchsize
    nbatches = n // batchsize if drop_last else 1
    history: list[dict[str, float]] = []
    for epoch in range(nepochs):
        t0 = time.time()
        student.train()
        teacher.train()
        teacher.start_epoch(epoch)
        perm = torch.randperm(n, generator=gen).to(device)
        sums = torch.zeros(3, device=device)
        for b in range(nbatches):
            idx = perm[b * batchsize : (b + 1) * batchsize]
            onehot = F.one_hot(data.targets[idx], num_classes=data.n_classes).float()
            onehot_t = (
                onehot
                if data.teacher_targets is None
                else F.one_hot(data.teacher_targets[idx], num_classes=data.n_classes).float()
            )
            if data.teacher_weights is not None:  # a row's weight rides on its one-hot entry
                onehot_t = onehot_t * data.teacher_weights[idx].unsqueeze(1)
            with autocast():
                z_s = student(data.depths[idx], data.tnf[idx], data.total[idx], data.weights[idx]).float()
                z_t, loss_t = teacher.training_outputs(idx, onehot_t, hier)
            z_t = z_t.float()
            if z_t.shape != z_s.shape:
                raise KDError(
                    f"the teacher returned logits of shape {tuple(z_t.shape)}, "
                    f"the student {tuple(z_s.shape)}"
                )
            total, hs, kd, ht = distillation_step_losses(
                z_s, z_t, onehot, hier, loss_t, kd_loss, alpha
            )
            opt_s.zero_grad(set_to_none=True)
            if opt_t is not None:
                opt_t.zero_grad(set_to_none=True)
            total.backward()
            opt_s.step()
            if opt_t is not None:
                opt_t.step()
            sums += torch.stack((hs.detach(), kd.detach(), ht.detach()))
        hs_m, kd_m, ht_m = (sums / nbatches).tolist()
        if not all(math.isfinite(v) for v in (hs_m, kd_m, ht_m)):
            raise KDError(f"training diverged in epoch {epoch + 1} (a loss is not finite)")
        stats = {"epoch": epoch + 1, "student_ce": hs_m, "kd": kd_m, "teacher_ce": ht_m, "seconds": time.time() - t0}
        history.append(stats)
        if (epoch + 1) % log_every == 0 or epoch + 1 == nepochs:
            logger.info(
                f"\tEpoch: {epoch + 1}\tCE: {hs_m:.7f}\tKD: {kd_m:.5f}\tTeacher CE: {ht_m:.5f}"
                f"\tBatchsize: {batchsize}\t{stats['seconds']:.2f} s"
            )
    student.eval()
    teacher.eval()
    return history


@torch.no_grad()
def predict_probabilities(
    model_logits, pred_fn, n: int, batchsize: int, device: torch.device, what: str = "", progress_every: float = 30.0
) -> np.ndarray:
    """Node probabilities (n x nodes) from a function of contig indices -> logits. A slow
    model (the dna-cnn teacher reads 16 windows per contig) logs its progress every
    ``progress_every`` seconds."""
    out = []
    t0 = last = time.time()
    for start in range(0, n, batchsize):
        end = min(n, start + batchsize)
        idx = torch.arange(start, end, device=device)
        out.append(pred_fn(model_logits(idx)).float().cpu().numpy())
        now = time.time()
        if end < n and now - last >= progress_every:
            logger.info(f"\t{what + ': ' if what else ''}predicted {end}/{n} contigs ({end / max(now - t0, 1e-9):.0f} contigs/s)")
            last = now
    return np.concatenate(out, axis=0)


def write_predictions(
    path: Path, probs: np.ndarray, nodes: Sequence[str], threshold: float, comp_metadata
) -> None:
    """Write ``probs`` in Taxometer's exact ``results_taxometer.tsv`` format, atomically."""
    nodes_ar = np.array(nodes)
    contig_taxonomies = []
    for i in range(probs.shape[0]):
        mask = probs[i] > threshold
        ranks = list(nodes_ar[mask][1:])
        p = probs[i][mask][1:]
        contig_taxonomies.append(
            vamb.taxonomy.PredictedContigTaxonomy(vamb.taxonomy.ContigTaxonomy(ranks), p)
        )
    taxonomy = vamb.taxonomy.PredictedTaxonomy(contig_taxonomies, comp_metadata, False)
    atomic_write(path, lambda fh: taxonomy.write_as_tsv(fh, comp_metadata))


# ----------------------------------------------------------------------------- the run


def check_taxonomy_file(path: Path, identifiers: Sequence[str]) -> None:
    """Line-level checks of an initial-label file, before vamb parses it.

    Vamb would stop on most of these too, but with a count or a traceback; this names the
    file, the line and the contig.
    """
    known = set(identifiers)
    seen: dict[str, int] = {}
    with open(path) as fh:
        header = fh.readline().rstrip("\r\n")
        if header != vamb.taxonomy.TAXONOMY_HEADER:
            raise KDError(
                f"{path}, line 1: expected the header {vamb.taxonomy.TAXONOMY_HEADER!r}, found {header!r}"
            )
        for lineno, line in enumerate(fh, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise KDError(f"{path}, line {lineno}: expected 2 tab-separated columns, found {len(fields)}")
            contig, lineage = fields
            if contig in seen:
                raise KDError(f"{path}, line {lineno}: contig {contig!r} already given on line {seen[contig]}")
            seen[contig] = lineno
            if contig not in known:
                raise KDError(
                    f"{path}, line {lineno}: contig {contig!r} is not among the {len(known)} contigs of the "
                    "composition (not in the FASTA, or shorter than -m)"
                )
            if lineage and any(not r.strip() for r in lineage.split(";")):
                raise KDError(f"{path}, line {lineno}: empty rank in lineage {lineage!r}")
    missing = [c for c in identifiers if c not in seen]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise KDError(f"{path}: {len(missing)} contig(s) of the composition have no line: {shown}")


def build_graph(taxonomy_path: Path, comp_metadata):
    check_taxonomy_file(taxonomy_path, comp_metadata.identifiers)
    try:
        taxonomies = vamb.taxonomy.Taxonomy.from_file(taxonomy_path, comp_metadata, False)
    except ValueError as exc:  # e.g. a taxon under two parents
        raise KDError(str(exc)) from None
    nodes, ind_nodes, table_parent = vamb.taxvamb_encode.make_graph(taxonomies.contig_taxonomies)
    classes = [
        "root" if t is None or len(t.ranks) == 0 else t.ranks[-1] for t in taxonomies.contig_taxonomies
    ]
    targets = np.array([ind_nodes[c] for c in classes])
    return nodes, table_parent, targets


def add_abstain_leaves(nodes: Sequence[str], table_parent: Sequence[int], targets: np.ndarray):
    """Give every internal node an extra leaf child meaning "none of the known children".

    Vamb's flat softmax spreads a node's probability over its leaves only, so it cannot say
    "this genus, but no species we know". With these leaves it can: P(genus) still sums all
    its leaves, the abstain leaf included, and a contig whose label stops at a node can be
    read as evidence for that node's abstain leaf. Returns (nodes, parents, abstain_targets):
    the abstain targets send each label that stops at an internal node (root included, i.e.
    unlabelled contigs) to that node's abstain leaf.
    """
    n = len(nodes)
    has_child = np.zeros(n, dtype=bool)
    for p in table_parent[1:]:
        has_child[p] = True
    internal = np.flatnonzero(has_child)
    new_nodes = list(nodes) + [nodes[u] + ABSTAIN_SUFFIX for u in internal]
    new_parents = list(table_parent) + [int(u) for u in internal]
    abstain_of = np.arange(n)
    abstain_of[internal] = n + np.arange(len(internal))
    return new_nodes, new_parents, abstain_of[np.asarray(targets)]


def run_distillation(opt, kd: KDOptions, vamb_main) -> None:
    """``vamb taxometer`` with a teacher. ``opt`` is vamb's ``TaxometerOptions``."""
    begintime = time.time()
    general = opt.general
    device = select_device(general.cuda)
    if opt.ploss == "cond_softmax":
        raise KDError(
            "--teacher cannot be combined with -ploss cond_softmax: its outputs are conditional "
            "scores per parent node, so one softmax over them (the distillation target) is not a "
            "distribution over the label space. Use -ploss flat_softmax (default) or soft_margin."
        )
    seed = general.seed
    torch.manual_seed(seed % (2**63))
    np.random.seed(seed % (2**32))

    composition, abundance = vamb_main.load_composition_and_abundance(
        general, opt.composition, opt.abundance, vamb.vambtools.BinSplitter.inert_splitter()
    )
    meta = composition.metadata
    fasta = kd.teacher_fasta
    if fasta is None:
        path = opt.composition.path
        if isinstance(path, vamb_main.FASTAPath):
            fasta = path.path
        else:
            raise KDError(
                f"--teacher {kd.teacher} needs the contigs' DNA, but only a composition .npz "
                f"({path.path}) was given, which holds TNF only. Pass --fasta instead of "
                "--composition, or add --teacher-fasta CONTIGS.fna."
            )

    logger.info("Knowledge distillation (taxometer-kd)")
    logger.info(f"\tTeacher: {kd.teacher} {kd.teacher_options}")
    logger.info(f"\tAlpha (hierarchical-loss weight): {kd.alpha}")
    logger.info(f"\tTemperature: {kd.temperature}")
    logger.info(f"\tDistillation loss: {kd.loss}")
    logger.info(f"\tAbstain leaves: {kd.abstain}")
    logger.info(f"\tStudent input: {'TNF' if kd.student_input == 'tnf' else 'teacher embeddings (Taxometer_G)'}")
    logger.info(f"\tDevice: {device}{' (' + torch.cuda.get_device_name() + ')' if device.type == 'cuda' else ''}")
    precision = resolve_precision(kd.precision, device)
    logger.info(f"\tTraining precision: {precision}{' (auto)' if kd.precision == 'auto' else ''}")

    t0 = time.time()
    logger.info(f"\tReading contig sequences from {fasta}")
    sequences = read_contig_sequences(Path(fasta), meta.identifiers)
    logger.info(f"\tRead {len(sequences)} sequences in {time.time() - t0:.2f} s")

    nodes, table_parent, targets = build_graph(opt.taxonomy.path, meta)
    logger.info(f"\t{len(nodes)} nodes in the graph")
    n_labelled = int((targets != 0).sum())
    logger.info(f"\t{n_labelled} of {len(targets)} contigs have an initial label")
    n_real_nodes = len(nodes)
    teacher_targets = teacher_weights = None
    if kd.abstain != "none":
        nodes, table_parent, abstain_targets = add_abstain_leaves(nodes, table_parent, targets)
        teacher_targets = abstain_targets
        is_abstention = abstain_targets >= n_real_nodes
        teacher_weights = np.where(is_abstention, kd.abstain_weight, 1.0)
        logger.info(
            f"\t{len(nodes) - n_real_nodes} abstain leaves; {int(is_abstention.sum())} contigs' labels are "
            f"abstentions for the {'teacher' if kd.abstain == 'teacher' else 'teacher and student'} "
            f"(weight {kd.abstain_weight})"
        )
        if kd.abstain == "both":
            targets = abstain_targets

    spec = registry.get_teacher(kd.teacher)
    # the width of the student's output for the loss in use (leaves, or all nodes)
    n_outputs = vamb.taxvamb_encode.init_hier_loss(opt.ploss, vamb.hloss_misc.Hierarchy(np.array(table_parent))).n_labels
    ctx = TeacherContext(
        sequences=sequences,
        identifiers=list(meta.identifiers),
        lengths=np.asarray(meta.lengths),
        n_outputs=n_outputs,
        options=kd.teacher_options,
        device=device,
        seed=seed,
        cache_dir=Path(kd.cache_dir) if kd.cache_dir is not None else None,
        n_threads=general.n_threads,
        hier_loss=opt.ploss,
        extra={"targets": targets, "nodes": nodes, "table_parent": table_parent, "abundance": abundance.matrix},
    )
    t0 = time.time()
    logger.info(f"\tPreparing teacher {kd.teacher}")
    teacher: TeacherModel = spec.build(ctx)
    teacher.to(device)
    logger.info(f"\tTeacher ready in {time.time() - t0:.2f} s ({sum(p.numel() for p in teacher.parameters() if p.requires_grad)} trainable parameters)")

    student_features = None
    n_feature_cols = 103
    if kd.student_input == "embedding":
        student_features = teacher.embeddings()
        if student_features is None:
            raise KDError(
                f"--student-input embedding (Taxometer_G) needs a teacher with frozen per-contig "
                f"embeddings; {kd.teacher} has none"
            )
        n_feature_cols = student_features.shape[1]
    student = build_student(abundance.matrix.shape[1], n_feature_cols, nodes, table_parent, opt.ploss, device)
    data = make_train_data(
        abundance.matrix,
        composition.matrix,
        meta.lengths,
        targets,
        len(nodes),
        device,
        student_features,
        teacher_targets if kd.abstain == "teacher" else None,
        teacher_weights,
    )
    kd_loss = registry.get_loss(kd.loss).factory(kd.temperature)

    logger.info("Starting joint training of student and teacher")
    logger.info(f"\tN epochs: {opt.basic.num_epochs}\tBatch size: {opt.basic.starting_batch_size}")
    t0 = time.time()
    history = train_jointly(
        student,
        teacher,
        data,
        kd_loss,
        kd.alpha,
        opt.basic.num_epochs,
        opt.basic.starting_batch_size,
        seed,
        teacher_lr=kd.teacher_lr,
        precision=precision,
    )
    logger.info(f"Finished joint training in {time.time() - t0:.2f} seconds.")

    out_dir = general.out_dir
    atomic_write(out_dir.joinpath("predictor_model.pt"), student.save, binary=True)
    teacher_state = {"teacher": kd.teacher, "options": kd.teacher_options, "state": teacher.state_dict(), "history": history}
    atomic_write(out_dir.joinpath("teacher_model.pt"), lambda fh: torch.save(teacher_state, fh), binary=True)

    logger.info("Writing the taxonomy predictions")
    logger.info(f"Using threshold {opt.softmax_threshold}")
    n = data.n
    bs = max(opt.basic.starting_batch_size, 1024)

    def student_logits(idx):
        return student(data.depths[idx], data.tnf[idx], data.total[idx], data.weights[idx])

    # abstain leaves (appended after Vamb's nodes) are not written: their mass stays in their parent
    probs_s = predict_probabilities(student_logits, student.pred_fn, n, bs, device, "student")[:, :n_real_nodes]
    probs_t = predict_probabilities(teacher.predict, student.pred_fn, n, bs, device, "teacher")[:, :n_real_nodes]
    real_nodes = nodes[:n_real_nodes]
    write_predictions(out_dir.joinpath("results_teacher.tsv"), probs_t, real_nodes, opt.softmax_threshold, meta)
    write_predictions(out_dir.joinpath("results_taxometer.tsv"), probs_s, real_nodes, opt.softmax_threshold, meta)
    logger.info(
        f"Wrote {out_dir.joinpath('results_taxometer.tsv')} (student) and "
        f"{out_dir.joinpath('results_teacher.tsv')} (teacher)"
    )
    logger.info(f"Completed taxonomy predictions in {round(time.time() - begintime, 2)} seconds.")


def fail(message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
    """Log a user error the way vamb logs, then exit with status 2."""
    logger.error(message)
    sys.exit(2)
