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

    python -m benchmarks.catalogue OUTDIR --contigs 2000000 --samples 20 --seed 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from taxometer_kd.synthetic import (
    _LABEL_NOISE,
    REFERENCE_STATUSES,
    _build_tree,
    _lineages,
)

__all__ = ["FILES", "MARKER", "VERSION", "default_genomes", "make_catalogue"]

#: bumped whenever the output for the same parameters changes (a catalogue of another version is remade)
VERSION = 1
FILES = {"fasta": "contigs.fna", "abundance": "abundance.tsv", "labels": "labels.tsv", "truth": "truth.tsv"}
MARKER = "catalogue.json"
MIN_LENGTH, MAX_LENGTH = 2000, 200_000
MEAN_LENGTH = MIN_LENGTH + 2000 * math.exp(0.5)  # of the log-normal above 2 kb: ~5.3 kb
DEFAULT_GENOMES = 600
DEFAULT_GENOME_KBP = (1500, 5000)
#: a sample's contigs of a genome cover at most 90 % of it; the planned count stays below
#: FILL of what fits there at the mean length, so that a draw of lengths practically always fits
FILL = 0.6
PRESENCE = 0.7
CHUNK = 256
_BITS = 12  # Markov lookup resolution: probabilities in steps of 1/4096
_ASCII = np.frombuffer(b"ACGT", dtype=np.uint8)
_COMPLEMENT = bytes.maketrans(b"ACGT", b"TGCA")
# random streams: one per purpose and index, so that any genome or sample can be made alone
_TREE, _PLAN, _GENUS, _SPECIES, _STRAIN, _SAMPLE = range(6)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


# ----------------------------------------------------------------------------- DNA


def _markov_table(model: np.ndarray) -> np.ndarray:
    """Flat lookup ``table[ctx << BITS | u]`` -> next base for a uniform ``u`` of BITS bits."""
    cum = np.cumsum(model, axis=1)
    cum[:, 3] = 1.0
    grid = (np.arange(1 << _BITS) + 0.5) / (1 << _BITS)
    table = np.empty((64, 1 << _BITS), dtype=np.uint8)
    for ctx in range(64):
        table[ctx] = np.minimum(np.searchsorted(cum[ctx], grid, side="right"), 3)
    return table.ravel()


def sample_markov(rng: np.random.Generator, model: np.ndarray, n: int, chains: int | None = None) -> np.ndarray:
    """``n`` base codes (0-3) of an order-3 Markov chain (64 x 4 transition matrix ``model``).

    Runs ``chains`` chains in parallel (by default one per ~700 bases, 64 to 4096) and
    concatenates them; each step is one table look-up per chain.
    """
    if chains is None:
        chains = int(min(4096, max(64, n // 700)))
    table = _markov_table(model)
    steps = -(-n // chains)
    out = np.empty((steps, chains), dtype=np.uint8)
    ctx = rng.integers(0, 64, chains).astype(np.intp)
    for start in range(0, steps, 256):  # the uniforms in blocks: 2 bytes per base at most
        block = rng.integers(0, 1 << _BITS, (min(256, steps - start), chains), dtype=np.uint16)
        for i, row in enumerate(block, start=start):
            ctx <<= _BITS
            ctx |= row
            base = table[ctx]
            out[i] = base
            ctx >>= _BITS
            ctx <<= 2
            ctx |= base
            ctx &= 63
    return out.T.ravel()[:n]


def _point_mutate(rng: np.random.Generator, seq: np.ndarray, rate: float) -> np.ndarray:
    """Substitute about ``rate`` of the bases (in place; positions may repeat)."""
    hit = rng.integers(0, len(seq), rng.binomial(len(seq), rate))
    seq[hit] = (seq[hit] + rng.integers(1, 4, len(hit)).astype(np.uint8)) % 4
    return seq


def _strain(rng: np.random.Generator, seq: np.ndarray) -> np.ndarray:
    """A strain of ``seq``: 1-3 % substitutions, one deletion (1-11 bp) and one inserted base
    per ~10 kb each, and 1-3 segment swaps (A B C D -> A C B D)."""
    seq = _point_mutate(rng, seq.copy(), rng.uniform(0.01, 0.03))
    n_indels = max(1, len(seq) // 10_000)
    keep = np.ones(len(seq), dtype=bool)
    for start, length in zip(rng.integers(0, len(seq) - 20, n_indels), rng.integers(1, 12, n_indels)):
        keep[start : start + length] = False
    seq = seq[keep]
    where = np.sort(rng.integers(0, len(seq), n_indels))
    seq = np.insert(seq, where, rng.integers(0, 4, n_indels).astype(np.uint8))
    for _ in range(int(rng.integers(1, 4))):
        a, b, c = np.sort(rng.choice(len(seq), 3, replace=False))
        seq = np.concatenate([seq[:a], seq[b:c], seq[a:b], seq[c:]])
    return seq


def _genus_genes(seed: int, genus: int, model: np.ndarray, genome_len: int) -> list[np.ndarray]:
    """Gene-like segments (0.8-2.5 kb) of a genus, from one Markov pool of its model:
    ~1 per 60 kb of genome (3-60)."""
    rng = _rng(seed, _GENUS, genus)
    n_genes = int(np.clip(genome_len // 60_000, 3, 60))
    lengths = rng.integers(800, 2500, n_genes)
    pool = sample_markov(rng, model, int(lengths.sum()), chains=64)
    return np.split(pool, np.cumsum(lengths)[:-1])


def _species_sequence(seed: int, sp: int, length: int, model: np.ndarray, genes: list[np.ndarray]) -> np.ndarray:
    rng = _rng(seed, _SPECIES, sp)
    seq = sample_markov(rng, model, length)
    for gene in genes:
        if len(gene) < len(seq):
            start = rng.integers(0, len(seq) - len(gene))
            seq[start : start + len(gene)] = _point_mutate(rng, gene.copy(), rng.uniform(0.05, 0.10))
    return seq


# ----------------------------------------------------------------------------- contigs


def _contig_lengths(rng: np.random.Generator, n: int, cap: int) -> np.ndarray:
    """``n`` log-normal lengths >= 2 kb (2 kb + LN(ln 2 kb, 1)) of at most ``cap``."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = MIN_LENGTH + np.exp(rng.normal(np.log(2000.0), 1.0, n - len(out) + 8)).astype(np.int64)
        out = np.concatenate([out, draw[draw <= cap]])
    return out[:n]


def _tile(rng: np.random.Generator, genome_len: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` non-overlapping contigs (starts, lengths) covering at most 90 % of a genome."""
    cap = int(min(MAX_LENGTH, max(MIN_LENGTH, genome_len // 4)))
    room = int(0.9 * genome_len)
    for _ in range(100):
        lengths = _contig_lengths(rng, k, cap)
        if lengths.sum() <= room:
            break
    else:  # practically never: the planned count keeps the expected total well below the room
        lengths = np.full(k, MIN_LENGTH, dtype=np.int64)
    gaps = rng.dirichlet(np.ones(k + 1)) * (genome_len - lengths.sum())
    starts = np.cumsum(gaps[:-1].astype(np.int64)) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return starts, lengths


def _wrap(seq: bytes, width: int) -> bytes:
    """``seq`` in lines of ``width`` (no newline at the end)."""
    full = len(seq) // width
    body = np.empty((full, width + 1), dtype=np.uint8)
    body[:, :width] = np.frombuffer(seq, dtype=np.uint8, count=full * width).reshape(full, width)
    body[:, width] = 10
    return body.tobytes() + seq[full * width :] if len(seq) % width else body.tobytes()[:-1]


def _capacity(genome_len: np.ndarray | float) -> np.ndarray:
    """How many contigs one sample may cut from a genome of this length."""
    return np.floor(FILL * 0.9 * np.asarray(genome_len, dtype=float) / MEAN_LENGTH).astype(np.int64)


def default_genomes(n_contigs: int, n_samples: int, genome_kbp: tuple[float, float] = DEFAULT_GENOME_KBP) -> int:
    """600 genomes (at least 3, at most one per 100 contigs), more where they could not hold
    ``n_contigs`` contigs in ``n_samples`` samples (with a 25 % margin)."""
    per_pair = max(1, int(_capacity(1000 * (genome_kbp[0] + genome_kbp[1]) / 2)))
    needed = math.ceil(1.25 * n_contigs / (n_samples * PRESENCE * per_pair))
    return max(needed, min(DEFAULT_GENOMES, max(3, math.ceil(n_contigs / 100))))


def _allocate(rng: np.random.Generator, n: int, weight: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """``n`` contigs over (genome, sample) pairs in proportion to ``weight``, at most ``cap`` each."""
    if n > cap[weight > 0].sum():
        raise ValueError(
            f"{n} contigs do not fit in these genomes (at most {int(cap[weight > 0].sum())}): "
            "give more genomes (--genomes), larger ones (--genome-kbp) or more samples"
        )
    counts = np.zeros(weight.shape, dtype=np.int64)
    left = n
    while left > 0:
        open_ = (counts < cap) & (weight > 0)
        w = np.where(open_, weight, 0.0).ravel()
        counts += rng.multinomial(left, w / w.sum()).reshape(weight.shape)
        counts = np.minimum(counts, cap)
        left = n - int(counts.sum())
    return counts


class _Labeller:
    """``taxometer_kd.synthetic._labeller``'s label noise for a chunk of contigs at once."""

    def __init__(self, lineages: list[list[str]], reference: set[int]):
        self.full = [";".join(lin) for lin in lineages]
        ref_names = {name for sp in reference for name in lineages[sp]}
        known = [
            max(r + 1 for r, name in enumerate(lin) if name in ref_names) if lin[0] in ref_names else 0
            for lin in lineages
        ]
        # truncated to genus (6 names) or family (5), never below what the reference knows
        self.truncated = {
            depth: [";".join(lin[: min(depth, k)]) for lin, k in zip(lineages, known)] for depth in (5, 6)
        }
        ref = sorted(reference)
        self.others = [[o for o in ref if o != sp] for sp in range(len(lineages))]
        self.near = [
            [[o for o in self.others[sp] if lineages[o][rank] == lineages[sp][rank]] for rank in (5, 4)]
            for sp in range(len(lineages))
        ]
        self.noise = np.array([_LABEL_NOISE[s] for s in REFERENCE_STATUSES])

    def __call__(self, rng: np.random.Generator, species: np.ndarray, status: np.ndarray, lengths: np.ndarray):
        """Labels (strings) and outcomes (0 correct, 1 truncated, 2 unlabelled, 3 wrong)."""
        probs = self.noise[status].copy()
        # shorter contigs are more often unlabelled (x1.4 at 2 kb, x0.6 from 6.3 kb)
        unlabelled = probs[:, 2] * np.clip(1 + (4300 - lengths) / 5000, 0.6, 1.4)
        probs[:, [0, 1, 3]] *= ((1 - unlabelled) / (1 - probs[:, 2]))[:, None]
        probs[:, 2] = unlabelled
        cum = np.cumsum(probs, axis=1)
        u = rng.random((len(species), 4))
        outcome = np.minimum((cum <= (u[:, 0] * cum[:, 3])[:, None]).sum(axis=1), 3)
        labels = []
        for sp, out, u1, u2, u3 in zip(species.tolist(), outcome.tolist(), u[:, 1], u[:, 2], u[:, 3]):
            if out == 0:
                labels.append(self.full[sp])
            elif out == 1:
                labels.append(self.truncated[6 if u1 < 0.6 else 5][sp])
            elif out == 3 and self.others[sp]:
                pool = self.others[sp]
                if u2 > 0.15:  # usually a close relative: same genus, else same family
                    pool = self.near[sp][0] or self.near[sp][1] or pool
                labels.append(self.full[pool[int(u3 * len(pool))]])
            else:
                labels.append("")
                out = 2
            outcome[len(labels) - 1] = out
        return labels, outcome


# ----------------------------------------------------------------------------- the catalogue


def _plan(seed: int, n_contigs: int, n_samples: int, n_genomes: int, genome_kbp: tuple[float, float]) -> dict[str, Any]:
    """Taxonomy, genomes (species, planned length, status), abundances and contig counts."""
    n_species = max(3, round(n_genomes / 1.8))  # <= n_genomes: at least 3 genomes
    n_genera = max(2, round(n_species / 2.5))
    names, parents, models = _build_tree(_rng(seed, _TREE), n_genera, n_species)
    lineages = _lineages(names, parents)
    rng = _rng(seed, _PLAN)
    strains = np.ones(n_species, dtype=np.int64)
    while strains.sum() < n_genomes:
        strains[rng.choice(np.flatnonzero(strains < 3))] += 1
    genome_species = np.repeat(np.arange(n_species), strains)
    species_len = (1000 * rng.uniform(*genome_kbp, n_species)).astype(np.int64)
    held_out = set(rng.choice(n_species, max(1, round(0.2 * n_species)), replace=False).tolist())
    status = np.array([2 if sp in held_out else 0 for sp in genome_species])  # index in REFERENCE_STATUSES
    for sp in sorted(set(range(n_species)) - held_out):
        if strains[sp] > 1:
            status[np.flatnonzero(genome_species == sp)[rng.integers(strains[sp])]] = 1
    present = rng.random((n_genomes, n_samples)) < PRESENCE
    present[np.arange(n_genomes), rng.integers(0, n_samples, n_genomes)] = True
    abundance = np.where(present, np.exp(rng.normal(np.log(8.0), 1.0, (n_genomes, n_samples))), 0.0)
    genome_len = species_len[genome_species]
    weight = present * genome_len[:, None] * np.clip(0.4 + abundance / 20, 0.4, 1.0)
    counts = _allocate(rng, n_contigs, weight, np.broadcast_to(_capacity(genome_len)[:, None], weight.shape))
    return dict(
        names=names,
        parents=parents,
        models=models,
        lineages=lineages,
        genome_species=genome_species,
        species_len=species_len,
        status=status,
        held_out=held_out,
        abundance=abundance,
        counts=counts,
    )


def _write_genomes(store, seed: int, plan: dict[str, Any], log: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray]:
    """Make every genome, species by species, and append it (ASCII) to ``store``;
    returns each genome's offset and length there."""
    parents, models, genome_species = plan["parents"], plan["models"], plan["genome_species"]
    n_genomes = len(genome_species)
    offsets = np.zeros(n_genomes, dtype=np.int64)
    lengths = np.zeros(n_genomes, dtype=np.int64)
    genes: tuple[int, list[np.ndarray]] = (-1, [])
    g, pos, t0 = 0, 0, time.perf_counter()
    for sp in range(len(models[6])):
        genus = int(parents[6][sp])
        if genes[0] != genus:  # species of a genus are consecutive
            genes = (genus, _genus_genes(seed, genus, models[5][genus], int(plan["species_len"][sp])))
        species_seq = _species_sequence(seed, sp, int(plan["species_len"][sp]), models[6][sp], genes[1])
        while g < n_genomes and genome_species[g] == sp:
            first = g == 0 or genome_species[g - 1] != sp
            seq = species_seq if first else _strain(_rng(seed, _STRAIN, g), species_seq)
            store.write(_ASCII[seq].tobytes())
            offsets[g], lengths[g] = pos, len(seq)
            pos += len(seq)
            g += 1
        if (sp + 1) % 50 == 0:
            log(f"  genomes: {g}/{n_genomes} ({pos / 1e9:.2f} Gbp) in {time.perf_counter() - t0:.1f} s")
    return offsets, lengths


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
