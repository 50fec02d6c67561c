"""Benchmark scoring on top of :mod:`taxometer_kd.evaluate`.

The per-contig outcome (correct / wrong / no label at a rank, after the score cut) and the
formulas (precision = C/(C+W), recall = C/(C+W+N), F1) are those of ``evaluate``, i.e. of
the TaxDistill paper's Appendix A. This module adds what a benchmark needs around them:

- subsets of the truth's contigs: by ``reference_status`` (and ``known_species`` =
  ``in_reference`` + ``novel_strain``, whose species is in the labellers' reference) and by
  contig length (bins in kb, from ``truth.tsv``'s ``length``);
- every operating point from one pass (:func:`taxometer_kd.evaluate.outcome_gates`), and
  precision/recall on a fixed grid of thresholds for the PR curves;
- label transitions (a 3 x 3 matrix of outcomes before -> after, the Sankey figure's flows);
- mean, standard deviation and min-max over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from taxometer_kd import evaluate

#: ranks scored, operating points (score cuts: Vamb default, TaxDistill paper, Taxometer paper)
RANKS = ("species", "genus")
CUTS = (0.5, 0.8, 0.95)
OUTCOMES = ("correct", "wrong", "no_label")
STATUSES = ("in_reference", "novel_strain", "species_held_out")
KNOWN_SPECIES = ("in_reference", "novel_strain")
#: (name, lower bound, upper bound) in bp, lower bound included; bins without contigs are dropped
LENGTH_BINS = (
    ("<1 kb", 0, 1000),
    ("1-1.5 kb", 1000, 1500),
    ("1.5-2 kb", 1500, 2000),
    ("2-3 kb", 2000, 3000),
    ("3-5 kb", 3000, 5000),
    ("5-10 kb", 5000, 10000),
    (">=10 kb", 10000, None),
)
#: thresholds of the PR curves: 0.5 to 1 in steps of 0.005, and a tail towards 1 (Taxometer's
#: scores pile up there; results files hold them with 5 decimals)
PR_GRID = tuple(
    sorted(set(np.round(np.linspace(0.5, 1.0, 101), 4).tolist()) | {0.999, 0.9995, 0.9999, 0.99995, 0.99999})
)
METRIC_FIELDS = ("correct", "wrong", "no_label", "precision", "recall", "f1")


def subset_masks(truth: evaluate.Truth) -> dict[str, np.ndarray]:
    """Boolean masks over the truth's contigs (in ``truth`` order), non-empty ones only.

    ``all``; each reference status; ``known_species``; ``length <bin>`` for each length bin.
    """
    contigs = list(truth.lineage)
    status = np.array([truth.status[c] for c in contigs], dtype=object)
    length = np.array([truth.length[c] for c in contigs], dtype=np.int64)
    masks = {"all": np.ones(len(contigs), dtype=bool)}
    others = sorted(set(status.tolist()) - set(STATUSES))
    for s in (*STATUSES, *others):
        masks[s] = status == s
    masks["known_species"] = np.isin(status, KNOWN_SPECIES)
    for name, lo, hi in LENGTH_BINS:
        masks[f"length {name}"] = (length >= lo) & ((length < hi) if hi is not None else True)
    return {k: m for k, m in masks.items() if k == "all" or m.any()}


def length_bins(masks: Mapping[str, np.ndarray]) -> list[str]:
    """The length-bin subsets present in ``masks``, shortest first."""
    return [f"length {name}" for name, _, _ in LENGTH_BINS if f"length {name}" in masks]


def score_labels(
    labels: evaluate.Labels,
    truth: evaluate.Truth,
    masks: Mapping[str, np.ndarray],
    ranks: Sequence[str] = RANKS,
    cuts: Sequence[float] = CUTS,
) -> tuple[list[dict[str, Any]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Metric rows (rank, cut, subset, n, counts, precision, recall, f1) for one label file.

    Also returns, per rank, ``(codes, gates)`` of :func:`evaluate.outcome_gates` (for PR
    curves and transitions). Labels without scores give the same row at every cut.
    """
    rows: list[dict[str, Any]] = []
    outcomes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for rank in ranks:
        codes, gates = evaluate.outcome_gates(labels, truth, rank)
        outcomes[rank] = (codes, gates)
        for cut in cuts:
            cut_codes = evaluate.codes_at(codes, gates, cut)
            for subset, mask in masks.items():
                rows.append(
                    {
                        "rank": rank,
                        "cut": cut,
                        "subset": subset,
                        "n": int(mask.sum()),
                        **evaluate.summarise(cut_codes[mask]),
                    }
                )
    return rows, outcomes


def pr_on_grid(codes: np.ndarray, gates: np.ndarray, grid: Sequence[float] = PR_GRID) -> dict[str, list[float]]:
    """Precision and recall at each threshold of ``grid`` (same result as ``evaluate.pr_curve``)."""
    t = np.asarray(grid, dtype=float)
    n = len(codes)

    def at_least(values: np.ndarray) -> np.ndarray:
        values = np.sort(values)
        return len(values) - np.searchsorted(values, t, side="left")

    c = at_least(gates[codes == 0]).astype(float)
    w = at_least(gates[codes == 1]).astype(float)
    precision = np.divide(c, c + w, out=np.zeros_like(c), where=(c + w) > 0)
    recall = c / n if n else np.zeros_like(c)
    return {"threshold": t.tolist(), "precision": precision.tolist(), "recall": recall.tolist()}


def transition_matrix(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """3 x 3 counts: row = outcome before (correct, wrong, no label), column = outcome after."""
    before = np.asarray(before, dtype=np.int64)
    after = np.asarray(after, dtype=np.int64)
    if before.shape != after.shape:
        raise ValueError(f"outcome arrays differ in shape: {before.shape} vs {after.shape}")
    return np.bincount(before * 3 + after, minlength=9).reshape(3, 3)


def spread(values: Iterable[float | None]) -> dict[str, float | None]:
    """n, mean, sd (sample standard deviation, 0 for one value), min and max; ``None`` values skipped."""
    v = np.array([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))], dtype=float)
    if len(v) == 0:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {
        "n": len(v),
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "min": float(v.min()),
        "max": float(v.max()),
    }


def aggregate(rows: Iterable[Mapping[str, Any]], by: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Group ``rows`` by the ``by`` keys (first-seen order) and summarise each field over the group.

    Each output row holds the ``by`` keys, ``n_seeds`` (the group size) and, per field,
    ``<field>_mean``, ``<field>_sd``, ``<field>_min``, ``<field>_max``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key, members in groups.items():
        agg: dict[str, Any] = dict(zip(by, key))
        agg["n_seeds"] = len(members)
        for f in fields:
            s = spread(m.get(f) for m in members)
            for stat in ("mean", "sd", "min", "max"):
                agg[f"{f}_{stat}"] = s[stat]
        out.append(agg)
    return out


def mean_curve(curves: Sequence[Mapping[str, list[float]]]) -> dict[str, list[float]]:
    """Mean precision and recall over seeds of curves on the same thresholds."""
    if not curves:
        raise ValueError("no curves to average")
    t = curves[0]["threshold"]
    if any(c["threshold"] != t for c in curves):
        raise ValueError("curves are on different thresholds")
    return {
        "threshold": list(t),
        "precision": np.mean([c["precision"] for c in curves], axis=0).tolist(),
        "recall": np.mean([c["recall"] for c in curves], axis=0).tolist(),
    }
