"""Small synthetic metagenomes with a known truth, for the demo and the tests.

The generator follows the biology just far enough for composition (TNF) and DNA
models to separate lineages:

* A taxonomy tree d -> 2 phyla -> classes -> orders -> families -> genera ->
  species -> 1-3 strains (genomes). Every lineage node carries an order-3 Markov
  model of DNA (64 contexts x 4 bases) drawn around its parent's model with
  Dirichlet noise and a GC drift, both shrinking with depth.
* Each species gets one sequence sampled from its model plus gene-like segments
  shared (with 5-10 % mutations) within its genus; its strains are copies with
  1-3 % point mutations, small indels and a few segment swaps.
* Every sample holds ~70 % of the genomes at log-normal abundances. Contigs are
  assembled per sample (named ``S{sample}C{n}`` like Vamb expects), 2-12 kb
  long, on a random strand, with depths that follow their genome's profile.
* The initial labels mimic a labeller run against an incomplete reference: ~20 %
  of species are held out of it, one strain of multi-strain species is novel,
  and labels are truncated, missing or wrong at realistic rates.

Only numpy and the standard library are used. Usage::

    python -m taxometer_kd.synthetic OUTDIR [--seed N] [--size tiny|small|demo] [--samples K]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["REFERENCE_STATUSES", "SIZES", "make_metagenome"]

#: genera / species / genomes / target number of contigs for each size.
SIZES = {
    "tiny": dict(genera=4, species=7, genomes=10, contigs=300),
    "small": dict(genera=5, species=10, genomes=16, contigs=800),
    "demo": dict(genera=6, species=14, genomes=24, contigs=2500),
}
REFERENCE_STATUSES = ("in_reference", "novel_strain", "species_held_out")
RANK_PREFIXES = ("d", "p", "c", "o", "f", "g", "s")
_RANK_WORDS = ("", "Phylum", "Class", "Order", "Family", "Genus")
# Dirichlet concentration and GC log-odds drift (s.d.) for ranks p, c, o, f, g, s.
_CONCENTRATION = (60.0, 120.0, 200.0, 400.0, 800.0, 2000.0)
_GC_DRIFT = (0.30, 0.15, 0.10, 0.06, 0.04, 0.02)
# Initial-label outcome probabilities: correct, truncated, unlabelled, wrong species.
_LABEL_NOISE = {
    "in_reference": (0.85, 0.06, 0.05, 0.04),
    "novel_strain": (0.75, 0.10, 0.09, 0.06),
    "species_held_out": (0.00, 0.20, 0.25, 0.55),
}
_ASCII = np.frombuffer(b"ACGT", dtype=np.uint8)  # base codes 0..3 -> ASCII; 3 - b complements


def _child_model(rng: np.random.Generator, parent: np.ndarray, rank: int) -> np.ndarray:
    """Perturb a 64x4 transition matrix: Dirichlet noise around ``parent`` plus GC drift."""
    model = rng.gamma(_CONCENTRATION[rank - 1] * parent)
    model = np.maximum(model / model.sum(axis=1, keepdims=True), 1e-3)
    gc = rng.normal(0.0, _GC_DRIFT[rank - 1])
    model = model * np.exp(np.array([-gc, gc, gc, -gc]))
    return model / model.sum(axis=1, keepdims=True)


def _sample_markov(rng: np.random.Generator, model: np.ndarray, n: int, chains: int = 256) -> np.ndarray:
    """Sample ``n`` bases of an order-3 Markov chain, running ``chains`` chains in parallel."""
    cum = np.cumsum(model, axis=1)
    cum[:, 3] = 1.0
    steps = -(-n // chains)
    out = np.empty((chains, steps), dtype=np.uint8)
    ctx = rng.integers(0, 64, chains)
    uniform = rng.random((steps, chains))
    for i in range(steps):
        base = (uniform[i, :, None] > cum[ctx]).sum(axis=1)
        out[:, i] = base
        ctx = ((ctx << 2) | base) & 63
    return out.ravel()[:n]


def _point_mutate(rng: np.random.Generator, seq: np.ndarray, rate: float) -> np.ndarray:
    seq = seq.copy()
    hit = np.flatnonzero(rng.random(len(seq)) < rate)
    seq[hit] = (seq[hit] + rng.integers(1, 4, len(hit))) % 4
    return seq


def _make_strain(rng: np.random.Generator, seq: np.ndarray) -> np.ndarray:
    """A strain: 1-3 % substitutions, ~40 small indels and 1-3 segment swaps."""
    seq = _point_mutate(rng, seq, rng.uniform(0.01, 0.03))
    keep = np.ones(len(seq), dtype=bool)
    for start, length in zip(rng.integers(0, len(seq) - 20, 20), rng.integers(1, 12, 20)):
        keep[start : start + length] = False
    seq = seq[keep]
    where = np.sort(rng.integers(0, len(seq), 20))
    seq = np.insert(seq, where, rng.integers(0, 4, 20).astype(np.uint8))
    for _ in range(rng.integers(1, 4)):  # A B C D -> A C B D
        a, b, c = np.sort(rng.choice(len(seq), 3, replace=False))
        seq = np.concatenate([seq[:a], seq[b:c], seq[a:b], seq[c:]])
    return seq


def _split(rng: np.random.Generator, n_items: int, n_groups: int) -> np.ndarray:
    """Group index of each of ``n_items`` items split into ``n_groups`` non-empty runs."""
    sizes = 1 + rng.multinomial(n_items - n_groups, np.full(n_groups, 1.0 / n_groups))
    return np.repeat(np.arange(n_groups), sizes)


def _build_tree(rng: np.random.Generator, n_genera: int, n_species: int):
    """Names, parent indices and Markov models for ranks d..s, as lists per rank."""
    counts = [1, 2]
    for frac in (0.45, 0.55, 0.7):  # classes, orders, families
        counts.append(max(counts[-1], round(n_genera * frac)))
    counts += [max(counts[-1], n_genera), n_species]
    parents = [np.zeros(1, dtype=int)] + [_split(rng, counts[r], counts[r - 1]) for r in range(1, 7)]
    root = rng.dirichlet(np.full(4, 10.0), size=64)
    names, models = [["d_Bacteria"]], [[root]]
    for rank in range(1, 7):
        models.append([_child_model(rng, models[rank - 1][p], rank) for p in parents[rank]])
        if rank < 6:
            names.append([f"{RANK_PREFIXES[rank]}_{_RANK_WORDS[rank]}{i + 1}" for i in range(counts[rank])])
        else:  # species are numbered within their genus: "s_Genus3 species2"
            within = [int((parents[6][:i] == g).sum()) + 1 for i, g in enumerate(parents[6])]
            names.append([f"s_{names[5][g][2:]} species{j}" for g, j in zip(parents[6], within)])
    return names, parents, models


def _lineages(names, parents) -> list[list[str]]:
    out = []
    for sp in range(len(names[6])):
        lineage, idx = [], sp
        for rank in range(6, -1, -1):
            lineage.append(names[rank][idx])
            idx = parents[rank][idx]
        out.append(lineage[::-1])
    return out


def _species_sequences(rng, parents, models, genome_kb):
    """One sequence per species, with gene-like segments shared within each genus."""
    seqs = [_sample_markov(rng, m, int(rng.uniform(*genome_kb) * 1000)) for m in models[6]]
    for genus, model in enumerate(models[5]):
        members = np.flatnonzero(parents[6] == genus)
        for _ in range(rng.integers(3, 7)):
            gene = _sample_markov(rng, model, int(rng.integers(800, 2500)), chains=8)
            for sp in members:
                start = rng.integers(0, len(seqs[sp]) - len(gene))
                seqs[sp][start : start + len(gene)] = _point_mutate(rng, gene, rng.uniform(0.05, 0.10))
    return seqs


def _contig_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Log-normal lengths (median ~4 kb) above 2,000 bp, truncated at 12,000 bp."""
    lengths = np.empty(0, dtype=int)
    while len(lengths) < n:
        draw = 2000 + np.exp(rng.normal(np.log(2000), 0.8, 2 * n + 8)).astype(int)
        lengths = np.concatenate([lengths, draw[draw <= 12000]])
    return lengths[:n]


def _tile(rng: np.random.Generator, genome_len: int, n: int) -> list[tuple[int, int]]:
    """Non-overlapping (start, length) contigs covering at most 90 % of a genome."""
    lengths = _contig_lengths(rng, n)
    lengths = lengths[np.cumsum(lengths) <= 0.9 * genome_len]
    gaps = rng.dirichlet(np.ones(len(lengths) + 1)) * (genome_len - lengths.sum())
    starts = np.cumsum(gaps[:-1].astype(int)) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return [(int(s), int(length)) for s, length in zip(starts, lengths)]


def _labeller(rng, lineages, in_ref_species):
    """Return ``label(species, status, length) -> str`` mimicking a reference-based labeller."""
    ref_names = {name for sp in in_ref_species for name in lineages[sp]}
    reference = sorted(in_ref_species)

    def wrong_species(sp: int) -> list[str]:
        others = [o for o in reference if o != sp]
        if rng.random() > 0.15:  # usually a close relative: same genus, else same family
            for rank in (5, 4):
                near = [o for o in others if lineages[o][rank] == lineages[sp][rank]]
                if near:
                    return lineages[near[rng.integers(len(near))]]
        return lineages[others[rng.integers(len(others))]]

    def label(sp: int, status: str, length: int) -> str:
        probs = np.array(_LABEL_NOISE[status])
        # shorter contigs are more often unlabelled (x1.4 at 2 kb, x0.6 from 6.3 kb; mean ~x1)
        unlabelled = probs[2] * np.clip(1 + (4300 - length) / 5000, 0.6, 1.4)
        probs[[0, 1, 3]] *= (1 - unlabelled) / (1 - probs[2])
        probs[2] = unlabelled
        outcome = int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum(), side="right"))
        true = lineages[sp]
        if outcome == 0:
            return ";".join(true)
        if outcome == 1:  # truncated to genus or family, never below what the reference knows
            depth = 6 if rng.random() < 0.6 else 5
            known = max(r + 1 for r, name in enumerate(true) if name in ref_names)
            return ";".join(true[: min(depth, known)])
        if outcome == 2:
            return ""
        return ";".join(wrong_species(sp))

    return label


def _write_atomic(path: Path, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def make_metagenome(outdir: str | Path, *, seed: int = 0, n_samples: int = 3, size: str = "small") -> dict[str, Path]:
    """Write a synthetic metagenome to ``outdir`` and return the paths of its files.

    Files (same contig order in all): ``contigs.fna`` (80-column FASTA),
    ``abundance.tsv`` (Vamb ``--abundance_tsv``), ``taxonomy.tsv`` (Vamb taxonomy,
    the noisy initial labels) and ``truth.tsv`` (genome, length, reference status
    and true lineage). The output is a deterministic function of the arguments.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    if n_samples < 1:
        raise ValueError("n_samples must be at least 1")
    cfg = SIZES[size]
    rng = np.random.default_rng(seed)
    names, parents, models = _build_tree(rng, cfg["genera"], cfg["species"])
    lineages = _lineages(names, parents)
    n_species = cfg["species"]

    # Genomes: 1-3 strains per species, derived from the species sequence.
    strains = np.ones(n_species, dtype=int)
    while strains.sum() < cfg["genomes"]:
        strains[rng.choice(np.flatnonzero(strains < 3))] += 1
    species_seqs = _species_sequences(rng, parents, models, (150, 600))
    genome_species = np.repeat(np.arange(n_species), strains)
    genomes = [
        species_seqs[sp] if k == 0 else _make_strain(rng, species_seqs[sp])
        for sp in range(n_species)
        for k in range(strains[sp])
    ]

    # Reference status: ~20 % of species held out, one novel strain per multi-strain species.
    held_out = set(rng.choice(n_species, max(1, round(0.2 * n_species)), replace=False).tolist())
    status = ["species_held_out" if sp in held_out else "in_reference" for sp in genome_species]
    for sp in sorted(set(range(n_species)) - held_out):
        if strains[sp] > 1:
            status[int(np.flatnonzero(genome_species == sp)[rng.integers(strains[sp])])] = "novel_strain"

    # Abundances: log-normal, each genome present in ~70 % of samples (at least one).
    n_genomes = len(genomes)
    present = rng.random((n_genomes, n_samples)) < 0.7
    present[np.arange(n_genomes), rng.integers(0, n_samples, n_genomes)] = True
    abundance = np.where(present, np.exp(rng.normal(np.log(8.0), 1.0, (n_genomes, n_samples))), 0.0)

    # Contigs per (genome, sample): proportional to genome size, more for abundant genomes.
    lens = np.array([len(g) for g in genomes], dtype=float)
    weight = present * lens[:, None] * np.clip(0.4 + abundance / 20, 0.4, 1.0)
    n_contigs = rng.multinomial(cfg["contigs"], (weight / weight.sum()).ravel()).reshape(weight.shape)

    label = _labeller(rng, lineages, set(range(n_species)) - held_out)
    fasta, abund_rows, tax_rows, truth_rows = [], [], [], []
    for sample in range(n_samples):
        pieces = [
            (g, start, length)
            for g in range(n_genomes)
            for start, length in _tile(rng, len(genomes[g]), n_contigs[g, sample])
        ]
        for num, idx in enumerate(rng.permutation(len(pieces)), start=1):
            g, start, length = pieces[idx]
            name, seq = f"S{sample}C{num}", genomes[g][start : start + length]
            if rng.random() < 0.5:
                seq = 3 - seq[::-1]
            text = _ASCII[seq].tobytes()
            fasta.append(
                b">" + name.encode() + b"\n" + b"\n".join(text[i : i + 80] for i in range(0, length, 80)) + b"\n"
            )
            reads = rng.poisson(abundance[g] * np.exp(rng.normal(0, 0.15, n_samples)) * length / 150)
            abund_rows.append(name + "".join(f"\t{d:.4f}" for d in reads * 150 / length))
            sp = int(genome_species[g])
            tax_rows.append(f"{name}\t{label(sp, status[g], length)}")
            truth_rows.append(f"{name}\tgenome{g:02d}\t{length}\t{status[g]}\t{';'.join(lineages[sp])}")

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {
        key: outdir / fname
        for key, fname in (
            ("fasta", "contigs.fna"),
            ("abundance", "abundance.tsv"),
            ("taxonomy", "taxonomy.tsv"),
            ("truth", "truth.tsv"),
        )
    }
    header = "contigname\t" + "\t".join(f"S{s}" for s in range(n_samples))
    _write_atomic(paths["fasta"], b"".join(fasta))
    _write_atomic(paths["abundance"], "\n".join([header, *abund_rows]) + "\n")
    _write_atomic(paths["taxonomy"], "\n".join(["contigs\tpredictions", *tax_rows]) + "\n")
    truth_header = "contig\tgenome_id\tlength\treference_status\tlineage"
    _write_atomic(paths["truth"], "\n".join([truth_header, *truth_rows]) + "\n")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m taxometer_kd.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    paths = make_metagenome(args.outdir, seed=args.seed, n_samples=args.samples, size=args.size)
    with open(paths["truth"]) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    statuses = {s: sum(r[3] == s for r in rows) for s in REFERENCE_STATUSES}
    print(
        f"wrote a {args.size} metagenome (seed {args.seed}, {args.samples} samples): {len(rows)} contigs, "
        f"{len({r[1] for r in rows})} genomes, {statuses} in {time.perf_counter() - began:.1f} s"
    )
    for key, path in paths.items():
        print(f"  {key:<9} {path}")


if __name__ == "__main__":
    main()
