"""The data set of a benchmark: a data dir (``labels/<labeller>.tsv``, optionally the labeller's
``labels/<labeller>.confidence.tsv``, ``abundance.tsv``, ``truth.tsv``, a FASTA or
``build_contigs.py``) or the project's synthetic data, optionally a random subset of its
contigs (:func:`prepare_dataset`); and the paths and messages of the benchmark (:func:`rel`,
:func:`say`). Part of :mod:`benchmarks.plan`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import confidence
from taxometer_kd import evaluate

ROOT = Path(__file__).resolve().parents[1]
MOCK64 = ROOT.parent / "shared" / "data" / "mock64"


def rel(path: Path | str) -> str:
    """``path`` relative to the repository root where it is below its parent (``../shared/...``)."""
    p = Path(path).resolve()
    try:
        return os.path.relpath(p, ROOT) if p.is_relative_to(ROOT.parent) else str(p)
    except ValueError:
        return str(p)


def say(message: str) -> None:
    print(message, flush=True)


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
