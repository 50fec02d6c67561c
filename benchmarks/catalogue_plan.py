"""The plan of a synthetic catalogue (:mod:`benchmarks.catalogue`): its taxonomy, genomes
(species, length, reference status), abundances, how many contigs each sample cuts from
each genome, the contigs' lengths and places (:func:`_tile`) and the label noise
(:class:`_Labeller`). Every random draw comes from its own stream (:func:`_rng`), so that
any genome or sample can be made alone."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from taxometer_kd.synthetic import (
    _LABEL_NOISE,
    REFERENCE_STATUSES,
    _build_tree,
    _lineages,
)

MIN_LENGTH, MAX_LENGTH = 2000, 200_000
MEAN_LENGTH = MIN_LENGTH + 2000 * math.exp(0.5)  # of the log-normal above 2 kb: ~5.3 kb
DEFAULT_GENOMES = 600
DEFAULT_GENOME_KBP = (1500, 5000)
#: a sample's contigs of a genome cover at most 90 % of it; the planned count stays below
#: FILL of what fits there at the mean length, so that a draw of lengths practically always fits
FILL = 0.6
PRESENCE = 0.7
# random streams: one per purpose and index, so that any genome or sample can be made alone
_TREE, _PLAN, _GENUS, _SPECIES, _STRAIN, _SAMPLE = range(6)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


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


# ----------------------------------------------------------------------------- the plan


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
