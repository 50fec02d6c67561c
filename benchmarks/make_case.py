"""Make a CAMI-like benchmark case from real genomes, with a reference that misses most of them.

    python -m benchmarks.make_case OUTDIR --seed N [--genomes DIR] [--samples 4]
                                   [--reference-species 0.67] [--presence 0.7] [--reference-presence 0.4] ...

Made the same way as ``../shared/data/mock64`` (per-sample "assemblies" with contigs named
``S{sample}C{n}``; each sample holds about ``--presence`` of the genomes at log-normal depth;
every genome record present is cut into fragments of log-normal length, median growing with
depth, separated by short gaps; fragments shorter than ``--min-length`` are lost, none is
longer than ``--max-length``; random strand; per-contig depth noise), but with a labellers'
reference like real metagenomes', where most genomes are only relatives of a reference genome:

* about ``--reference-species`` of the species are in the reference, through ONE strain each
  (drawn at random); the other species are held out. The held-out share is drawn separately
  among multi-strain and single-strain species, so every seed gives a similar mix.
* ``reference_status`` of a genome: ``in_reference`` (its genome is in the database),
  ``novel_strain`` (its species is, through another strain), ``species_held_out``.
* the samples are dominated by the genomes outside the reference: a reference genome is in a
  sample with probability ``--reference-presence`` (the others' probability is raised so the
  mean stays ``--presence``) and at ``--reference-depth`` times the depth it would have had.

Writes ``contigs.coords.tsv`` (contig, genome_id, record, start, end, strand: ``[start, end)``
of record number ``record`` of the genome's FASTA, reverse-complemented on ``-``),
``contigs.fna`` (+ ``contigs.fna.sha256``), ``abundance.tsv`` (Vamb's ``--abundance_tsv``),
``truth.tsv`` (contig, genome_id, length, reference_status, lineage with ``d_...;s_...``
names), ``reference_genomes.tsv`` (genome_id, reference_status, lineage) and ``case.json``
(parameters and counts). Deterministic for a seed; streams its output (one genome in
memory). Needs ``DIR/genomes.tsv`` (genome_id, file, lineage) and the gzipped FASTAs beside it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GENOMES = ROOT.parent / "shared" / "data" / "genomes"
STATUSES = ("in_reference", "novel_strain", "species_held_out")
COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
DEFAULTS = dict(
    samples=4,
    reference_species=2 / 3,
    presence=0.65,
    reference_presence=0.4,
    reference_depth=0.33,
    depth_mean=0.7,
    depth_sd=1.7,
    length_median=5000.0,
    length_depth_exponent=0.35,
    length_sd=0.9,
    min_length=2000,
    max_length=300_000,
    max_gap=390,
    depth_noise=0.22,
)


def read_genomes(directory: Path) -> list[dict]:
    """Rows of ``genomes.tsv`` (genome_id, file, lineage, ...), sorted by genome_id."""
    with open(directory / "genomes.tsv") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in fh if line.strip()]
    for r in rows:
        r["lineage"] = ";".join(part.replace("__", "_", 1) for part in r["lineage"].split(";"))
        r["species"] = r["lineage"].split(";")[-1]
    return sorted(rows, key=lambda r: r["genome_id"])


def read_records(path: Path) -> list[str]:
    records: list[str] = []
    current: list[str] = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if current:
                    records.append("".join(current))
                current = []
            else:
                current.append(line.strip())
    if current:
        records.append("".join(current))
    return records


def choose_reference(genomes: list[dict], fraction: float, rng: np.random.Generator) -> dict[str, str]:
    """genome_id -> reference status: ``fraction`` of the species kept (stratified by having one
    or several strains), one strain of each kept species in the reference."""
    by_species: dict[str, list[str]] = defaultdict(list)
    for g in genomes:
        by_species[g["species"]].append(g["genome_id"])
    kept: set[str] = set()
    for multi in (False, True):
        group = sorted(s for s, ids in by_species.items() if (len(ids) > 1) == multi)
        n_keep = round(fraction * len(group))
        kept.update(group[i] for i in rng.permutation(len(group))[:n_keep])
    status = {}
    for species in sorted(by_species):
        ids = by_species[species]
        ref = ids[rng.integers(len(ids))] if species in kept else None
        for gid in ids:
            status[gid] = "species_held_out" if ref is None else ("in_reference" if gid == ref else "novel_strain")
    return status


def sample_design(genomes: list[dict], status: dict[str, str], p: dict, rng: np.random.Generator) -> np.ndarray:
    """depth[genome, sample] (0 = absent): presence by reference status, log-normal depths."""
    n = len(genomes)
    is_ref = np.array([status[g["genome_id"]] == "in_reference" for g in genomes])
    n_ref = int(is_ref.sum())
    p_other = min(0.95, (p["presence"] * n - p["reference_presence"] * n_ref) / max(1, n - n_ref))
    prob = np.where(is_ref, p["reference_presence"], p_other)
    present = rng.random((n, p["samples"])) < prob[:, None]
    for i in np.flatnonzero(~present.any(axis=1)):  # every genome is in at least one sample
        present[i, rng.integers(p["samples"])] = True
    depth = np.exp(rng.normal(p["depth_mean"], p["depth_sd"], size=(n, p["samples"])))
    depth[is_ref] *= p["reference_depth"]
    return np.where(present, depth, 0.0)


def fragments(lengths: list[int], depth: float, p: dict, rng: np.random.Generator):
    """(record, start, end) of the contigs of one genome in one sample."""
    median = p["length_median"] * (1.0 + depth) ** p["length_depth_exponent"]
    for rec, size in enumerate(lengths):
        pos = 0
        while pos < size:
            length = int(min(p["max_length"], np.exp(rng.normal(np.log(median), p["length_sd"]))))
            end = min(size, pos + length)
            if end - pos >= p["min_length"]:
                yield rec, pos, end
            pos = end + int(rng.integers(0, p["max_gap"] + 1))


def make_case(outdir: Path, seed: int, genomes_dir: Path = GENOMES, **overrides) -> dict:
    p = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    unknown = set(p) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}")
    t0 = time.time()
    outdir.mkdir(parents=True, exist_ok=True)
    genomes = read_genomes(genomes_dir)
    seq = np.random.SeedSequence(seed)
    design_seed, layout_seed = seq.spawn(2)
    rng = np.random.default_rng(design_seed)
    status = choose_reference(genomes, p["reference_species"], rng)
    depth = sample_design(genomes, status, p, rng)
    # one generator per (genome, sample): a layout does not depend on the order of writing
    layout = layout_seed.spawn(len(genomes) * p["samples"])
    samples = [f"S{s}" for s in range(p["samples"])]
    counts: Counter = Counter()
    bp: Counter = Counter()
    digest = hashlib.sha256()
    part = {
        name: outdir / f"{name}.part" for name in ("contigs.coords.tsv", "contigs.fna", "abundance.tsv", "truth.tsv")
    }
    fh = {name: open(path, "w") for name, path in part.items()}
    try:
        fh["contigs.coords.tsv"].write("contig\tgenome_id\trecord\tstart\tend\tstrand\n")
        fh["abundance.tsv"].write("contigname\t" + "\t".join(samples) + "\n")
        fh["truth.tsv"].write("contig\tgenome_id\tlength\treference_status\tlineage\n")
        for s in range(p["samples"]):
            n = 0
            for gi, g in enumerate(genomes):
                if depth[gi, s] == 0:
                    continue
                gid = g["genome_id"]
                records = read_records(genomes_dir / g["file"])
                grng = np.random.default_rng(layout[gi * p["samples"] + s])
                present = depth[gi] > 0
                for rec, start, end in fragments([len(r) for r in records], depth[gi, s], p, grng):
                    n += 1
                    name = f"S{s}C{n}"
                    strand = "-" if grng.random() < 0.5 else "+"
                    piece = records[rec][start:end]
                    if strand == "-":
                        piece = piece[::-1].translate(COMPLEMENT)
                    noise = np.exp(grng.normal(0.0, p["depth_noise"], size=p["samples"]))
                    depths = np.where(present, depth[gi] * noise, 0.0)
                    text = f">{name}\n" + "\n".join(piece[i : i + 80] for i in range(0, len(piece), 80)) + "\n"
                    digest.update(text.encode())
                    fh["contigs.fna"].write(text)
                    fh["contigs.coords.tsv"].write(f"{name}\t{gid}\t{rec}\t{start}\t{end}\t{strand}\n")
                    fh["abundance.tsv"].write(name + "".join(f"\t{x:.4f}" for x in depths) + "\n")
                    fh["truth.tsv"].write(f"{name}\t{gid}\t{end - start}\t{status[gid]}\t{g['lineage']}\n")
                    counts[status[gid]] += 1
                    bp[status[gid]] += end - start
    finally:
        for f in fh.values():
            f.close()
    for name, path in part.items():
        os.replace(path, outdir / name)
    (outdir / "contigs.fna.sha256").write_text(f"{digest.hexdigest()}  contigs.fna\n")
    with open(outdir / "reference_genomes.tsv", "w") as out:
        out.write("genome_id\treference_status\tlineage\n")
        for g in genomes:
            out.write(f"{g['genome_id']}\t{status[g['genome_id']]}\t{g['lineage']}\n")
    total = sum(counts.values())
    species = {st: len({g["species"] for g in genomes if status[g["genome_id"]] == st}) for st in STATUSES}
    summary = dict(
        seed=seed,
        parameters=p,
        genomes_dir=str(genomes_dir),
        n_contigs=total,
        bp=sum(bp.values()),
        genomes={st: sum(v == st for v in status.values()) for st in STATUSES},
        species=dict(
            total=len({g["species"] for g in genomes}),
            in_reference=species["in_reference"],
            held_out=species["species_held_out"],
        ),
        contigs={st: counts[st] for st in STATUSES},
        contig_share={st: round(counts[st] / max(1, total), 4) for st in STATUSES},
        bp_share={st: round(bp[st] / max(1, sum(bp.values())), 4) for st in STATUSES},
        genomes_per_sample=[int((depth[:, s] > 0).sum()) for s in range(p["samples"])],
        sha256=digest.hexdigest(),
        seconds=round(time.time() - t0, 1),
    )
    (outdir / "case.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.make_case", description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument(
        "--genomes", type=Path, default=GENOMES, help="genomes.tsv and *.fna.gz (default ../shared/data/genomes)"
    )
    for key, value in DEFAULTS.items():
        ap.add_argument("--" + key.replace("_", "-"), type=type(value), default=None, help=f"default {value:g}")
    args = ap.parse_args(argv)
    opts = {k: getattr(args, k) for k in DEFAULTS}
    summary = make_case(args.outdir, args.seed, args.genomes, **opts)
    print(json.dumps({k: v for k, v in summary.items() if k != "parameters"}, indent=1))


if __name__ == "__main__":
    main()
