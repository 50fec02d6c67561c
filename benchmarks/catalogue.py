"""A large synthetic catalogue (millions of contigs) for the scale benchmark, written as a stream.

The biology is that of :mod:`taxometer_kd.synthetic` (its tree, Markov models, lineages and
label noise are reused), scaled up to a multi-sample catalogue of the size Vamb users run:

* A taxonomy d -> 2 phyla -> classes -> orders -> families -> genera -> species ->
  1-3 strains (genomes), every node with an order-3 Markov model of DNA drifting from its
  parent's (``taxometer_kd.synthetic._build_tree``). By default 600 genomes (about 330
  species, 130 genera) of 1.5-5 Mbp, so 250k, 1M and 2M contigs share one taxonomy.
* Each species' sequence is sampled from its model (vectorised: thousands of chains in
  parallel through a 64 x 4096 lookup table) with gene-like segments shared, 5-10 %
  mutated, within its genus; strains add 1-3 % substitutions, an indel per ~5 kb and 1-3
  segment swaps. Every genome comes from its own seed, one at a time, into a temporary
  store on disk (``.genomes.tmp``, about 2 GB by default, removed at the end), so that
  the contigs of a sample can be read from any genome in any order without holding the
  genomes in memory.
* Every genome is present in ~70 % of the samples at a log-normal abundance. Each sample
  has its own assembly (contigs ``S{sample}C{n}``, in random order): non-overlapping
  contigs of a log-normal length (2 kb + LN(ln 2 kb, 1): median 4 kb, mean 5.3 kb, at
  most 200 kb) cut from the genomes present, more of them from larger and more abundant
  genomes, on a random strand. Samples cut the same genomes independently, so their
  assemblies overlap, as real multi-sample assemblies do. A contig's depth in every
  sample follows its genome's abundance there (Poisson read counts of 150 bp).
* The labels mimic a labeller with an incomplete reference, as
  ``taxometer_kd.synthetic._labeller`` does: ~20 % of species held out, one novel strain
  per multi-strain species, labels correct, truncated to genus or family, missing or
  naming a (usually related) wrong species at the same rates.

Memory does not grow with the number of contigs: the genomes are made one at a time,
contigs are written in chunks of 256, and a sample's plan holds 24 bytes per contig of
that sample (2.4 MB for 2M contigs in 20 samples). The four files are written line by
line in the same contig order, under temporary names renamed at the end, and
``catalogue.json`` (the parameters, counts, time and peak RSS) last: a catalogue with
that file is complete. The output is a deterministic function of the parameters.

The plan (taxonomy, genomes, abundances, contig counts, lengths and places, label noise) is
:mod:`benchmarks.catalogue_plan`, the genomes' DNA :mod:`benchmarks.catalogue_genomes`;
this module writes the files.

    python -m benchmarks.catalogue OUTDIR --contigs 2000000 --samples 20 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.catalogue_genomes import _write_genomes
from benchmarks.catalogue_plan import (
    _SAMPLE,
    DEFAULT_GENOME_KBP,
    _Labeller,
    _plan,
    _rng,
    _tile,
    default_genomes,
)
from taxometer_kd.synthetic import REFERENCE_STATUSES

__all__ = ["FILES", "MARKER", "VERSION", "default_genomes", "make_catalogue"]

#: bumped whenever the output for the same parameters changes (a catalogue of another version is remade)
VERSION = 1
FILES = {"fasta": "contigs.fna", "abundance": "abundance.tsv", "labels": "labels.tsv", "truth": "truth.tsv"}
MARKER = "catalogue.json"
CHUNK = 256
_COMPLEMENT = bytes.maketrans(b"ACGT", b"TGCA")


def _wrap(seq: bytes, width: int) -> bytes:
    """``seq`` in lines of ``width`` (no newline at the end)."""
    full = len(seq) // width
    body = np.empty((full, width + 1), dtype=np.uint8)
    body[:, :width] = np.frombuffer(seq, dtype=np.uint8, count=full * width).reshape(full, width)
    body[:, width] = 10
    return body.tobytes() + seq[full * width :] if len(seq) % width else body.tobytes()[:-1]


def make_catalogue(
    outdir: str | Path,
    n_contigs: int,
    *,
    n_samples: int = 20,
    seed: int = 0,
    n_genomes: int | None = None,
    genome_kbp: tuple[float, float] = DEFAULT_GENOME_KBP,
    line_width: int = 80,
    log: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    """Write a catalogue of ``n_contigs`` contigs in ``n_samples`` samples to ``outdir``
    (``contigs.fna``, ``abundance.tsv``, ``labels.tsv``, ``truth.tsv``, then
    ``catalogue.json``) and return what ``catalogue.json`` holds."""
    if n_contigs < 1 or n_samples < 1:
        raise ValueError("the catalogue needs at least one contig and one sample")
    if not 20 <= genome_kbp[0] <= genome_kbp[1]:
        raise ValueError(f"genome sizes must be at least 20 kbp, low <= high, not {genome_kbp}")
    began = time.perf_counter()
    n_genomes = n_genomes or default_genomes(n_contigs, n_samples, genome_kbp)
    if n_genomes < 3:
        raise ValueError("the catalogue needs at least 3 genomes")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / MARKER).unlink(missing_ok=True)
    plan = _plan(seed, n_contigs, n_samples, n_genomes, genome_kbp)
    lineages, genome_species, status = plan["lineages"], plan["genome_species"], plan["status"]
    log(f"{n_genomes} genomes of {len(lineages)} species, {n_contigs} contigs in {n_samples} samples")

    store_path = outdir / ".genomes.tmp"
    tmp = {key: outdir / f".{name}.tmp" for key, name in FILES.items()}
    handles: dict[str, Any] = {}
    try:
        with open(store_path, "wb") as store:
            offsets, glen = _write_genomes(store, seed, plan, log)
        t_genomes = time.perf_counter() - began
        log(f"  genomes: {n_genomes} ({glen.sum() / 1e9:.2f} Gbp) in {t_genomes:.1f} s")
        counts = plan["counts"]
        label = _Labeller(lineages, set(range(len(lineages))) - plan["held_out"])
        lineage_text = [";".join(lin) for lin in lineages]
        width = len(str(n_genomes - 1))
        row_format = "%s" + "\t%.4f" * n_samples + "\n"
        handles = {key: open(path, "wb" if key == "fasta" else "w", buffering=1 << 20) for key, path in tmp.items()}
        handles["abundance"].write("contigname\t" + "\t".join(f"S{s}" for s in range(n_samples)) + "\n")
        handles["labels"].write("contigs\tpredictions\n")
        handles["truth"].write("contig\tgenome_id\tlength\treference_status\tlineage\n")
        fd = os.open(store_path, os.O_RDONLY)
        bases, outcomes = 0, np.zeros(4, dtype=np.int64)
        for sample in range(n_samples):
            rng = _rng(seed, _SAMPLE, sample)
            with_contigs = np.flatnonzero(counts[:, sample])
            tiles = [_tile(rng, int(glen[g]), int(counts[g, sample])) for g in with_contigs]
            genome = np.repeat(with_contigs, counts[with_contigs, sample])
            start = np.concatenate([t[0] for t in tiles]) if tiles else np.zeros(0, dtype=np.int64)
            length = np.concatenate([t[1] for t in tiles]) if tiles else np.zeros(0, dtype=np.int64)
            del tiles
            order = rng.permutation(len(genome))
            genome, start, length = genome[order], start[order], length[order]
            del order
            for lo in range(0, len(genome), CHUNK):
                g, st, ln = genome[lo : lo + CHUNK], start[lo : lo + CHUNK], length[lo : lo + CHUNK]
                flip = rng.random(len(g)) < 0.5
                depth_noise = np.exp(rng.normal(0.0, 0.15, (len(g), n_samples)))
                reads = rng.poisson(plan["abundance"][g] * depth_noise * (ln[:, None] / 150))
                depths = (reads * 150 / ln[:, None]).tolist()
                sp = genome_species[g]
                labels, outcome = label(rng, sp, status[g], ln)
                outcomes += np.bincount(outcome, minlength=4)
                fasta: list[bytes] = []
                abund: list[str] = []
                labs: list[str] = []
                truth: list[str] = []
                for i, (gi, s, n, f) in enumerate(zip(g.tolist(), st.tolist(), ln.tolist(), flip.tolist())):
                    name = f"S{sample}C{lo + i + 1}"
                    seq = os.pread(fd, n, int(offsets[gi]) + s)
                    if f:
                        seq = seq.translate(_COMPLEMENT)[::-1]
                    if line_width:
                        seq = _wrap(seq, line_width)
                    fasta += (b">", name.encode(), b"\n", seq, b"\n")
                    abund.append(row_format % (name, *depths[i]))
                    labs.append(f"{name}\t{labels[i]}\n")
                    truth.append(
                        f"{name}\tgenome{gi:0{width}d}\t{n}\t{REFERENCE_STATUSES[status[gi]]}\t"
                        f"{lineage_text[genome_species[gi]]}\n"
                    )
                handles["fasta"].write(b"".join(fasta))
                handles["abundance"].write("".join(abund))
                handles["labels"].write("".join(labs))
                handles["truth"].write("".join(truth))
                bases += int(ln.sum())
            log(
                f"  sample {sample + 1}/{n_samples}: {len(genome)} contigs; {bases / 1e9:.2f} Gbp written "
                f"in {time.perf_counter() - began:.1f} s"
            )
        os.close(fd)
        for handle in handles.values():
            handle.close()
        for key, path in tmp.items():
            os.replace(path, outdir / FILES[key])
    finally:
        for handle in handles.values():
            handle.close()
        for path in [store_path, *tmp.values()]:
            path.unlink(missing_ok=True)

    statuses = np.bincount(np.repeat(status, counts.sum(axis=1)), minlength=3)
    info = {
        "version": VERSION,
        "params": {
            "contigs": n_contigs,
            "samples": n_samples,
            "seed": seed,
            "genomes": n_genomes,
            "genome_kbp": list(genome_kbp),
            "line_width": line_width,
        },
        "contigs": n_contigs,
        "bases": bases,
        "genome_bases": int(glen.sum()),
        "species": len(lineages),
        "genera": len(plan["names"][5]),
        "taxa": sum(len(level) for level in plan["names"]),
        "reference_status": {s: int(c) for s, c in zip(REFERENCE_STATUSES, statuses)},
        "labels": {k: int(c) for k, c in zip(("correct", "truncated", "unlabelled", "wrong"), outcomes)},
        "seconds": round(time.perf_counter() - began, 2),
        "genome_seconds": round(t_genomes, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bytes": {key: (outdir / name).stat().st_size for key, name in FILES.items()},
    }
    (outdir / MARKER).write_text(json.dumps(info, indent=1) + "\n")
    return info


def read_info(outdir: str | Path) -> dict[str, Any] | None:
    """``catalogue.json`` of a complete catalogue in ``outdir``, else None."""
    try:
        info = json.loads((Path(outdir) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info if all((Path(outdir) / name).is_file() for name in FILES.values()) else None


def _kbp_range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    try:
        return float(lo), float(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH in kbp, not {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--contigs", type=int, default=250_000, help="number of contigs (default 250000)")
    parser.add_argument("--samples", type=int, default=20, help="samples: assemblies and depth columns (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--genomes",
        type=int,
        default=None,
        help="genomes (default: 600, fewer for < 60k contigs, more where 600 cannot hold the contigs)",
    )
    parser.add_argument(
        "--genome-kbp",
        type=_kbp_range,
        default=DEFAULT_GENOME_KBP,
        metavar="LOW,HIGH",
        help="genome sizes, uniform (default 1500,5000)",
    )
    parser.add_argument("--line-width", type=int, default=80, help="FASTA line width; 0: one line per sequence")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.contigs < 1 or args.samples < 1 or args.seed < 0 or args.line_width < 0:
        parser.error("--contigs and --samples must be positive, --seed and --line-width not negative")
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        info = make_catalogue(
            args.outdir,
            args.contigs,
            n_samples=args.samples,
            seed=args.seed,
            n_genomes=args.genomes,
            genome_kbp=args.genome_kbp,
            line_width=args.line_width,
            log=log,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"wrote {info['contigs']} contigs ({info['bases'] / 1e9:.2f} Gbp, {info['species']} species, "
        f"{info['params']['genomes']} genomes, {args.samples} samples) to {args.outdir} in {info['seconds']} s, "
        f"peak RSS {info['peak_rss_mib']} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
