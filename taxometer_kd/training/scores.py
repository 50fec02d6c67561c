"""Scores that mean what they say: the calibration of a run's scores, from its own labels.

Taxometer's score of a taxon is the softmax mass under it. A distilled student's scores
follow how often the labeller *names* a taxon among a contig's neighbours (its cross-fitted
teacher learns that, with abstentions counted double), not how often the taxon is right:
compressed after a short run or with unsure labels (a user who cuts at 0.8 or 0.95 loses
most correct labels), over-confident where a contig's neighbours are many.

The calibration maps, rank by rank (depth in the label tree), the score of the predicted
taxon to the share of *held-out* contigs whose labeller names that taxon, relative to how
often it names the taxon where the model is most sure:

1. Before training, a random ``holdout`` share of the contigs is set aside: their labels
   are hidden from the student's loss, so its predictions for them are out of sample: no
   memorised label inflates the fit. (The teacher keeps them; the logits a held-out contig
   is distilled from never come from its own label: cross-fitting.)
2. After training, for each rank ``d``, the predicted taxon is the argmax path's node at
   ``d`` with score ``p``; a held-out contig "names" it if its label passes through it, and
   not if the label says otherwise or stops above ``d`` (unlabelled included).
3. ``a_d(p)``: the isotonic (monotone) regression of "named" on ``p``; ``pi_d``: the named
   share among the top tenth of held-out scores, the labeller's naming rate where the model
   is surest: the labeller's own misses there (unlabelled, truncated or wrongly labelled
   contigs of a known taxon) are what the raw scores are compressed by. The top holds at
   least ``MIN_TOP`` contigs (all of them, if fewer are held out): a score reaches 0.95 only
   where ``a_d(p) >= 0.95 pi_d``, so the noise of ``pi_d`` decides how many do; from 25
   contigs (a tenth of the demo's 250) its sd is ~0.05 and the share of contigs reaching
   0.95 swung from 17% to 77% between seeds.
4. The calibrated score is ``min(1, a_d(p) / pi_d)``; a rank whose raw mass is at most one
   half keeps at most that mass (other taxa, or "none of these", weigh at least as much:
   it is not the model's prediction, and the calibration does not make it one); scores are
   made non-increasing down the path (a child never scores above its parent); the lineage is
   the argmax path down to the last rank whose calibrated score is above the threshold.

What this cannot see is an error the labeller makes *consistently*, a novel species named
as its nearest known relative on most of its contigs: there the labeller's agreement is
what a known species would give. The labeller's confidence (``--label-confidence``) is
what exposes those, in training: unsure labels teach abstention, and such contigs end with
low raw scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

TOP_SHARE = 0.1  # the held-out contigs with the highest scores, where pi_d is measured
MIN_TOP = 100  # ... but at least this many (binomial sd of pi_d <= 0.03 at a naming rate of 0.9)
MIN_FIT = 20  # fewer held-out contigs with a score at a rank: that rank keeps its raw scores
MAJORITY = 0.5  # a rank with at most this raw mass is not the model's prediction: never raised


def node_depths(parents: Sequence[int]) -> np.ndarray:
    """Depth of every node (root 0); parents come before children in Vamb's node order."""
    parent_of = np.asarray(parents)
    depth = np.zeros(len(parent_of), dtype=np.int64)
    for i in range(1, len(parent_of)):
        depth[i] = depth[parent_of[i]] + 1
    return depth


def argmax_paths(probs: np.ndarray, parents: Sequence[int], depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The argmax path of each row: at each depth the most probable child of the node above.

    Returns ``(nodes, scores)``, both ``rows x max_depth`` (column ``d - 1`` is depth ``d``);
    where a path ends (a leaf above the maximal depth) the node is -1 and the score 0.
    """
    parent_of = np.asarray(parents)
    n, max_depth = probs.shape[0], int(depth.max()) if len(depth) else 0
    nodes = np.full((n, max_depth), -1, dtype=np.int64)
    scores = np.zeros((n, max_depth), dtype=np.float64)
    current = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    for d in range(1, max_depth + 1):
        at_d = np.flatnonzero(depth == d)
        candidates = np.where(parent_of[at_d][None, :] == current[:, None], probs[:, at_d], -np.inf)
        best = candidates.argmax(1)
        ok = np.isfinite(candidates[rows, best])
        nodes[:, d - 1] = np.where(ok, at_d[best], -1)
        scores[:, d - 1] = np.where(ok, candidates[rows, best], 0.0)
        current = np.where(ok, at_d[best], -1)
    return nodes, scores


@dataclass
class RankMap:
    """``g(p) = min(1, a(p) / pi)`` for one depth, ``a`` isotonic (piecewise linear knots)."""

    x: np.ndarray
    y: np.ndarray
    pi: float
    n: int

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.minimum(1.0, np.interp(p, self.x, self.y) / self.pi)


@dataclass
class ScoreCalibration:
    """Per-depth maps; a depth without one keeps its raw scores."""

    maps: dict[int, RankMap] = field(default_factory=dict)

    def apply(self, path_scores: np.ndarray) -> np.ndarray:
        """Calibrated path scores (rows x depths), non-increasing down each path."""
        out = np.array(path_scores, dtype=np.float64, copy=True)
        for d, m in self.maps.items():
            out[:, d - 1] = _rank_scores(m, path_scores[:, d - 1])
        return np.minimum.accumulate(out, axis=1)

    def describe(self, points: Sequence[float] = (0.3, 0.5, 0.7, 0.9, 0.95)) -> list[str]:
        """One log line per depth: its fit and what raw scores at ``points`` become there
        (before the path makes them non-increasing)."""
        lines = []
        for d, m in sorted(self.maps.items()):
            mapped = _rank_scores(m, np.asarray(points, dtype=np.float64))
            shown = ", ".join(f"{p:g} -> {g:.3f}" for p, g in zip(points, mapped))
            lines.append(f"depth {d}: {m.n} held-out contigs, naming rate at the top {m.pi:.3f}; {shown}")
        return lines


def _rank_scores(m: RankMap, p: np.ndarray) -> np.ndarray:
    """The calibrated scores of one rank: ``m(p)``, but a raw mass of at most one half is never raised."""
    g = np.where(p > 0, m(p), 0.0)
    return np.where(p > MAJORITY, g, np.minimum(g, p))


def label_paths(targets: np.ndarray, parents: Sequence[int], depth: np.ndarray, max_depth: int) -> np.ndarray:
    """Each contig's label as its node at every depth (-1 below the label's own depth)."""
    parent_of = np.asarray(parents)
    out = np.full((len(targets), max_depth), -1, dtype=np.int64)
    node = np.asarray(targets, dtype=np.int64).copy()
    while True:
        d = depth[node]
        live = d > 0
        if not live.any():
            return out
        rows = np.flatnonzero(live)
        out[rows, d[rows] - 1] = node[rows]
        node = np.where(live, parent_of[node], 0)


def fit_calibration(path_nodes: np.ndarray, path_scores: np.ndarray, labels: np.ndarray) -> ScoreCalibration:
    """Fit the per-depth maps on held-out contigs (see the module docstring).

    ``path_nodes``/``path_scores``: their argmax paths; ``labels``: :func:`label_paths` of
    their labels.
    """
    from sklearn.isotonic import IsotonicRegression

    max_depth = path_nodes.shape[1]
    calibration = ScoreCalibration()
    for d in range(1, max_depth + 1):
        has = path_nodes[:, d - 1] >= 0
        if has.sum() < MIN_FIT:
            continue
        p = path_scores[has, d - 1]
        y = (labels[has, d - 1] == path_nodes[has, d - 1]).astype(np.float64)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        pi = float(y[p >= _top_cut(p)].mean())
        if pi <= 0:
            continue
        calibration.maps[d] = RankMap(np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_), pi, int(has.sum()))
    return calibration


def _top_cut(p: np.ndarray) -> float:
    """The lowest score of the top: the top tenth, or the ``MIN_TOP`` highest scores (ties kept)."""
    if TOP_SHARE * len(p) >= MIN_TOP:
        return float(np.quantile(p, 1.0 - TOP_SHARE))
    return float(np.sort(p)[-min(MIN_TOP, len(p))])


def choose_holdout(n: int, share: float, seed: int) -> np.ndarray:
    """A random ``share`` of the rows, the same for a seed."""
    if share <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed + 7919)
    k = max(1, round(share * n))
    return np.sort(rng.choice(n, size=min(k, n), replace=False))
