"""The genomes of a synthetic catalogue (:mod:`benchmarks.catalogue`): each species'
sequence sampled from its order-3 Markov model with gene-like segments shared within its
genus, and its strains (substitutions, indels, segment swaps), written one at a time to a
store on disk (:func:`_write_genomes`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.catalogue_plan import _GENUS, _SPECIES, _STRAIN, _rng

_BITS = 12  # Markov lookup resolution: probabilities in steps of 1/4096
_ASCII = np.frombuffer(b"ACGT", dtype=np.uint8)


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
