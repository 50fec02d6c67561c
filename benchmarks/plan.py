"""The plan of a benchmark: the data set, the methods and the runs, and each run's command.

- :func:`prepare_dataset`: a data dir (``labels/<labeller>.tsv``, optionally the labeller's
  ``labels/<labeller>.confidence.tsv``, ``abundance.tsv``, ``truth.tsv``, a FASTA or
  ``build_contigs.py``) or the project's synthetic data, optionally a random subset of its
  contigs;
- :class:`Method` (a column of the report) and :class:`RunSpec` (one ``vamb taxometer``
  process; one run may give several methods, e.g. the student and its teacher);
- :func:`make_plan`: the methods in report order and the runs, seed by seed;
- :func:`build_command`: the exact command line and environment of a run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import confidence
from taxometer_kd import evaluate

ROOT = Path(__file__).resolve().parents[1]
MOCK64 = ROOT.parent / "shared" / "data" / "mock64"
MAIN_ALPHA, MAIN_TEMPERATURE = 0.3, 4.0
ALPHAS, TEMPERATURES = "0.3,0.5,0.8", "1,2,4,6"

STOCK_WRAPPER = (
    "import sys, torch; torch.manual_seed({seed}); sys.argv = {argv}; from vamb.__main__ import main; main()"
)


def rel(path: Path | str) -> str:
    """``path`` relative to the repository root where it is below its parent (``../shared/...``)."""
    p = Path(path).resolve()
    try:
        return os.path.relpath(p, ROOT) if p.is_relative_to(ROOT.parent) else str(p)
    except ValueError:
        return str(p)


def say(message: str) -> None:
    print(message, flush=True)


def _fmt_num(x: float) -> str:
    return f"{x:g}"


# ----------------------------------------------------------------------------- data


@dataclass
class Dataset:
    name: str
    source: str
    fasta: Path
    abundance: Path
    truth: Path
    labels: dict[str, Path]
    min_length: int = 2000
    n_contigs: int = 0
    #: labeller -> its ``labels/<labeller>.confidence.tsv``, where the data set has one
    confidence: dict[str, Path] = field(default_factory=dict)


def _labels_of(directory: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((directory / "labels").glob("*.tsv")) if not confidence.is_confidence_file(p)}


def _truth_lengths(path: Path) -> list[int]:
    truth = evaluate.load_truth(path)
    return list(truth.length.values())


def _build_fasta(data: Path, work_root: Path) -> Path:
    """The data dir's ``contigs.fna[.gz]``, else one built once by its ``build_contigs.py``."""
    for name in ("contigs.fna", "contigs.fna.gz", "contigs.fasta", "contigs.fasta.gz"):
        if (data / name).is_file():
            return data / name
    script = data / "build_contigs.py"
    if not script.is_file():
        raise SystemExit(f"{rel(data)}: no contigs.fna and no build_contigs.py to build it")
    tag = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:8]
    out = work_root / "fasta" / f"{data.name}-{tag}" / "contigs.fna"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        say(f"building {rel(out)} with {rel(script)} ...")
        t0 = time.time()
        subprocess.run([sys.executable, str(script), str(out)], check=True)
        say(f"  built in {time.time() - t0:.1f} s")
    return out


def _subset(full: Dataset, n: int, outdir: Path, seed: int = 0) -> Dataset:
    """``n`` contigs drawn at random (``seed``), in their original order, written to ``outdir``."""
    done = outdir / ".complete"
    with open(full.truth) as fh:
        contigs = [line.split("\t", 1)[0] for line in fh][1:]
    if n >= len(contigs):
        return full
    keep = set(np.array(contigs)[np.sort(np.random.default_rng(seed).choice(len(contigs), n, replace=False))].tolist())
    paths = {"truth": outdir / "truth.tsv", "abundance": outdir / "abundance.tsv", "fasta": outdir / "contigs.fna"}
    labels = {name: outdir / "labels" / f"{name}.tsv" for name in full.labels}
    conf = {name: outdir / "labels" / f"{name}{confidence.SUFFIX}" for name in full.confidence}

    def filter_table(src: Path, dst: Path) -> None:
        with open(src) as fi, open(dst, "w") as fo:
            fo.write(fi.readline())
            for line in fi:
                if line.split("\t", 1)[0].rstrip("\n") in keep:
                    fo.write(line)

    if not done.is_file():
        (outdir / "labels").mkdir(parents=True, exist_ok=True)
        filter_table(full.truth, paths["truth"])
        filter_table(full.abundance, paths["abundance"])
        for name, src in full.labels.items():
            filter_table(src, labels[name])
        opener = gzip.open if str(full.fasta).endswith(".gz") else open
        with opener(full.fasta, "rt") as fi, open(paths["fasta"], "w") as fo:
            write = False
            for line in fi:
                if line.startswith(">"):
                    write = line[1:].split()[0] in keep
                if write:
                    fo.write(line)
        done.write_text(f"{n} contigs of {full.source}, seed {seed}\n")
    for name, src in full.confidence.items():  # also when the subset was made before the file was added
        if not conf[name].is_file():
            filter_table(src, conf[name].with_suffix(".part"))
            os.replace(conf[name].with_suffix(".part"), conf[name])
    return Dataset(
        name=full.name,
        source=f"{full.source} (random subset of {n} contigs, seed {seed})",
        fasta=paths["fasta"],
        abundance=paths["abundance"],
        truth=paths["truth"],
        labels=labels,
        confidence=conf,
    )


def prepare_dataset(spec: str, subset: int, work_root: Path, work: Path) -> Dataset:
    """A data dir (``abundance.tsv``, ``truth.tsv``, ``labels/*.tsv``, a FASTA or
    ``build_contigs.py``) or ``synthetic[:tiny|small|demo]`` (the project's own generator)."""
    if spec.startswith("synthetic"):
        from taxometer_kd import synthetic

        size = spec.partition(":")[2] or "small"
        out = work / "data"
        if not (out / "labels" / "synthetic.tsv").is_file():
            paths = synthetic.make_metagenome(out, seed=1, size=size)
            (out / "labels").mkdir(exist_ok=True)
            os.replace(paths["taxonomy"], out / "labels" / "synthetic.tsv")
        ds = Dataset(
            name=f"synthetic-{size}",
            source=f"taxometer_kd.synthetic.make_metagenome(size={size!r}, seed=1)",
            fasta=out / "contigs.fna",
            abundance=out / "abundance.tsv",
            truth=out / "truth.tsv",
            labels=_labels_of(out),
        )
    else:
        data = Path(spec)
        missing = [f for f in ("abundance.tsv", "truth.tsv", "labels") if not (data / f).exists()]
        if missing:
            raise SystemExit(f"--data {spec}: missing {', '.join(missing)} (see benchmarks/README.md for the layout)")
        ds = Dataset(
            name=data.resolve().name,
            source=rel(data),
            fasta=_build_fasta(data, work_root),
            abundance=data / "abundance.tsv",
            truth=data / "truth.tsv",
            labels=_labels_of(data),
        )
    ds.confidence = confidence.confidence_files(ds.labels)
    if subset:
        ds = _subset(ds, subset, work / "subset")
    if not ds.labels:
        raise SystemExit(f"{ds.source}: no labels/<labeller>.tsv")
    for lab, path in ds.confidence.items():  # a malformed confidence file stops here, before any run
        confidence.read(ds.labels[lab], path)
    lengths = _truth_lengths(ds.truth)
    ds.n_contigs = len(lengths)
    # Taxometer's -m is 2000; below that only when the data has shorter contigs (so that
    # every contig of the truth is classified and the 1-2 kb bins mean something)
    ds.min_length = max(250, min(2000, min(lengths)))
    return ds


# ----------------------------------------------------------------------------- methods and runs


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    kind: str  # initial | stock | kd | teacher | kdG | kdconf (kd + label confidence) | initialconf (filtered labels)
    teacher: str | None = None
    alpha: float | None = None
    temperature: float | None = None
    ablation: bool = False  # True: not in the main tables (the alpha/temperature and confidence sweeps)


def kd_method(teacher: str, alpha: float, temperature: float, main: bool) -> Method:
    if main:
        return Method(f"kd:{teacher}", f"taxometer-kd ({teacher})", "kd", teacher, alpha, temperature)
    return Method(
        f"kd:{teacher}:a{_fmt_num(alpha)}:T{_fmt_num(temperature)}",
        f"taxometer-kd ({teacher}) α={_fmt_num(alpha)} T={_fmt_num(temperature)}",
        "kd",
        teacher,
        alpha,
        temperature,
        ablation=True,
    )


INITIAL = Method("initial", "initial labels", "initial")
STOCK = Method("stock", "Taxometer (stock)", "stock")


def teacher_method(teacher: str) -> Method:
    return Method(f"teacher:{teacher}", f"teacher {teacher}", "teacher", teacher)


def g_method(teacher: str) -> Method:
    return Method(f"kdG:{teacher}", f"Taxometer_G ({teacher})", "kdG", teacher, 1.0)


def kdconf_method(teacher: str, alpha: float, temperature: float) -> Method:
    return Method(f"kdconf:{teacher}", f"taxometer-kd ({teacher}) + confidence", "kdconf", teacher, alpha, temperature)


def confidence_methods(cuts) -> list[Method]:
    """The confidence-filtered initial labels: the best cut (a main method) and the sweep."""
    return [Method(confidence.BEST, confidence.BEST_LABEL, "initialconf")] + [
        Method(confidence.method_key(c), confidence.method_label(c), "initialconf", ablation=True) for c in cuts
    ]


@dataclass
class RunSpec:
    labeller: str
    run_id: str
    seed: int
    kind: str  # stock | kd | kdG | kdconf
    outputs: tuple[tuple[str, str], ...]  # (method key, results file in the run's outdir)
    teacher: str | None = None
    alpha: float | None = None
    temperature: float | None = None

    def directory(self, work: Path) -> Path:
        return work / "runs" / self.labeller / self.run_id / f"seed{self.seed}"

    def result(self, work: Path) -> Path:
        """The run's main results file: it exists once the run has finished."""
        return self.directory(work) / "out" / self.outputs[0][1]


def make_plan(
    labellers,
    teachers,
    seeds,
    ablations,
    alphas,
    temperatures,
    ablation_labeller,
    main_alpha,
    main_temperature,
    with_g=True,
    confident=(),
    confidence_cuts=confidence.CUTS,
):
    """The methods (in report order) and the runs, seed by seed.

    ``confident``: the labellers with a confidence file; for them the main kd run of each
    teacher is also made with ``--label-confidence`` (run kind ``kdconf``), and the methods
    include the confidence-filtered initial labels (``confidence_cuts``; no run).
    """
    main_teacher = teachers[0] if teachers else None
    confident = [lab for lab in labellers if lab in confident]
    conf_methods = confidence_methods(confidence_cuts) if confident else []
    methods = [INITIAL, *conf_methods[:1], STOCK]
    for t in teachers:
        methods.append(kd_method(t, main_alpha, main_temperature, True))
        if confident:
            methods.append(kdconf_method(t, main_alpha, main_temperature))
        methods.append(teacher_method(t))
        if with_g:
            methods.append(g_method(t))
    sweep: list[tuple[float, float]] = []
    if ablations and main_teacher:
        sweep = [(a, main_temperature) for a in alphas if a != main_alpha]
        sweep += [(main_alpha, t) for t in temperatures if t != main_temperature]
        methods += [kd_method(main_teacher, a, t, False) for a, t in sweep]
    methods += conf_methods[1:]
    runs: list[RunSpec] = []
    for seed in seeds:
        for lab in labellers:
            runs.append(RunSpec(lab, "stock", seed, "stock", (("stock", "results_taxometer.tsv"),)))
            for t in teachers:
                runs.append(
                    RunSpec(
                        lab,
                        f"kd-{t}-a{_fmt_num(main_alpha)}-T{_fmt_num(main_temperature)}",
                        seed,
                        "kd",
                        ((f"kd:{t}", "results_taxometer.tsv"), (f"teacher:{t}", "results_teacher.tsv")),
                        t,
                        main_alpha,
                        main_temperature,
                    )
                )
                if lab in confident:
                    runs.append(
                        RunSpec(
                            lab,
                            f"kd-{t}-a{_fmt_num(main_alpha)}-T{_fmt_num(main_temperature)}-confidence",
                            seed,
                            "kdconf",
                            ((f"kdconf:{t}", "results_taxometer.tsv"),),
                            t,
                            main_alpha,
                            main_temperature,
                        )
                    )
                if with_g:
                    runs.append(RunSpec(lab, f"kdG-{t}", seed, "kdG", ((f"kdG:{t}", "results_taxometer.tsv"),), t, 1.0))
            if lab == ablation_labeller:
                for a, temp in sweep:
                    assert main_teacher is not None  # the sweep is empty without a teacher
                    m = kd_method(main_teacher, a, temp, False)
                    runs.append(
                        RunSpec(
                            lab,
                            f"kd-{main_teacher}-a{_fmt_num(a)}-T{_fmt_num(temp)}",
                            seed,
                            "kd",
                            ((m.key, "results_taxometer.tsv"),),
                            main_teacher,
                            a,
                            temp,
                        )
                    )
    return methods, runs


def default_ablation_labeller(labellers: list[str]) -> str:
    """The labeller of the alpha and temperature sweeps: MMseqs2 (the TaxDistill paper's) where present."""
    return "mmseqs2" if "mmseqs2" in labellers else labellers[0]


def build_command(spec: RunSpec, ds: Dataset, cfg: dict[str, Any], outdir: Path) -> tuple[list[str], dict[str, str]]:
    args = [
        "taxometer",
        "--outdir",
        str(outdir),
        "--fasta",
        str(ds.fasta.resolve()),
        "--abundance_tsv",
        str(ds.abundance.resolve()),
        "--taxonomy",
        str(ds.labels[spec.labeller].resolve()),
        "-pe",
        str(cfg["epochs"]),
        "-p",
        str(cfg["threads"]),
        "-m",
        str(ds.min_length),
        "--seed",
        str(spec.seed),
    ]
    if cfg["batch_size"]:
        args += ["-pt", str(cfg["batch_size"])]
    if cfg["cuda"]:
        args.append("--cuda")
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(cfg["threads"])
    env.pop("TAXOMETER_KD_DISABLE", None)
    if spec.kind == "stock":
        # stock Taxometer does not seed torch (its --seed is for clustering): seed it here
        env["TAXOMETER_KD_DISABLE"] = "1"
        code = STOCK_WRAPPER.format(seed=spec.seed, argv=json.dumps(["vamb", *args]))  # a JSON list is Python too
        return [sys.executable, "-c", code], env
    vamb = Path(sys.executable).parent / "vamb"
    exe = str(vamb) if vamb.exists() else (shutil.which("vamb") or "vamb")
    assert spec.teacher is not None  # every run but stock has one
    args += ["--teacher", spec.teacher]
    if spec.kind == "kdG":
        args += ["--student-input", "embedding", "--alpha", "1"]
    else:
        assert spec.alpha is not None and spec.temperature is not None  # set for kd and kdconf runs
        args += ["--alpha", _fmt_num(spec.alpha), "--temperature", _fmt_num(spec.temperature)]
    if spec.kind == "kdconf":
        args += ["--label-confidence", str(ds.confidence[spec.labeller].resolve())]
    return [exe, *args], env
