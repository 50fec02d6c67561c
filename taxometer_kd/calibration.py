"""Calibration of Taxometer's scores: reliability diagrams, expected calibration error (ECE)
and precision at score cuts.

Users cut Taxometer's lineages where a rank's score falls below ``s`` (0.5, Vamb's default;
0.8; 0.95). A contig keeps its label at a rank exactly when the *gate* of
:func:`taxometer_kd.evaluate.outcome_gates` -- the lowest score on its lineage down to that
rank -- is ``>= s``. So the gate is the score that decides the label at that rank, and the
score whose calibration matters: of the contigs whose gate is about ``s``, a share of about
``s`` should have the right label at that rank, and the precision among the contigs kept by
the cut ``s`` should be at least ``s``.

Everything here is over the contigs that have a label at the rank and a score (outcome
correct or wrong before any cut, finite gate); contigs without a label at the rank, and
labels without scores (initial labels), take no part. Inputs are the ``(codes, gates)`` of
``outcome_gates`` (code 0 = correct, 1 = wrong, 2 = no label).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: the bins of the reliability diagram: equal width from 0.5 to 1.0, because Taxometer only
#: reports scores above 0.5 (a lower score would fall in the first bin)
LOW, HIGH, N_BINS = 0.5, 1.0, 10
CUTS = (0.5, 0.8, 0.95)


def scored(codes: np.ndarray, gates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, correct)`` of the contigs with a label at the rank and a score."""
    codes = np.asarray(codes)
    gates = np.asarray(gates, dtype=float)
    keep = (codes != 2) & np.isfinite(gates)
    return gates[keep], codes[keep] == 0


def bin_edges(n_bins: int = N_BINS, low: float = LOW, high: float = HIGH) -> np.ndarray:
    """``n_bins + 1`` equal-width edges from ``low`` to ``high`` (rounded to 10 decimals, so that
    a score written as 0.6 falls in the bin [0.6, 0.65), not below it)."""
    return np.round(np.linspace(low, high, n_bins + 1), 10)


def reliability(
    codes: np.ndarray, gates: np.ndarray, n_bins: int = N_BINS, low: float = LOW, high: float = HIGH
) -> list[dict[str, Any]]:
    """The reliability diagram: one dict per bin of the score (the gate).

    Bins are equal-width from ``low`` to ``high`` (default 10 bins from 0.5 to 1.0: Taxometer
    only reports scores above 0.5); bin ``k`` holds the scores in ``[edge_k, edge_k+1)``, the
    last one includes 1.0, and scores below ``low`` count in the first bin. Each dict:
    ``low``, ``high``, ``n`` (contigs), ``correct``, ``share_correct`` (correct / n) and
    ``mean_score`` (the mean gate of the bin); the last two are ``None`` for an empty bin.
    """
    scores, correct = scored(codes, gates)
    edges = bin_edges(n_bins, low, high)
    index = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, n_bins - 1)
    out = []
    for k in range(n_bins):
        member = index == k
        n = int(member.sum())
        c = int(correct[member].sum())
        out.append(
            {
                "low": float(edges[k]),
                "high": float(edges[k + 1]),
                "n": n,
                "correct": c,
                "share_correct": c / n if n else None,
                "mean_score": float(scores[member].mean()) if n else None,
            }
        )
    return out


def ece(bins: Sequence[dict[str, Any]]) -> float | None:
    """Expected calibration error of a reliability diagram: the bin-size-weighted mean of
    ``|share correct - mean score|`` over the bins (empty bins weigh nothing).

    With :func:`reliability`'s defaults the bins are 10 equal-width bins from 0.5 to 1.0, since
    Taxometer only reports scores above 0.5. 0 is perfect calibration; ``None`` when no contig
    has a label with a score.
    """
    total = sum(b["n"] for b in bins)
    if not total:
        return None
    return float(sum(b["n"] * abs(b["share_correct"] - b["mean_score"]) for b in bins if b["n"]) / total)


def precision_at_cuts(codes: np.ndarray, gates: np.ndarray, cuts: Sequence[float] = CUTS) -> list[dict[str, Any]]:
    """For each cut ``s``: ``n`` (contigs whose score is ``>= s``), ``correct`` and ``precision``
    (correct / n; ``None`` when n is 0), so that one can check "precision at cut s >= s".

    It is the precision of :func:`taxometer_kd.evaluate.summarise` after the cut at ``s``.
    """
    scores, correct = scored(codes, gates)
    out = []
    for s in cuts:
        kept = scores >= s
        n = int(kept.sum())
        c = int(correct[kept].sum())
        out.append({"cut": float(s), "n": n, "correct": c, "precision": c / n if n else None})
    return out


def calibration(
    codes: np.ndarray, gates: np.ndarray, cuts: Sequence[float] = CUTS, n_bins: int = N_BINS
) -> dict[str, Any]:
    """``n`` (contigs with a label and a score), ``ece``, ``bins`` (:func:`reliability`) and
    ``cuts`` (:func:`precision_at_cuts`)."""
    bins = reliability(codes, gates, n_bins)
    return {
        "n": sum(b["n"] for b in bins),
        "ece": ece(bins),
        "bins": bins,
        "cuts": precision_at_cuts(codes, gates, cuts),
    }
