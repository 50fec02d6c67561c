"""Prediction: node probabilities batch by batch, written to Taxometer's results file as
they come (a catalogue's n x nodes probability matrix is never held: at 1M contigs and
800 nodes it would be 3.2 GB)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import torch
from loguru import logger

from taxometer_kd.io import atomic_write
from taxometer_kd.training.scores import ScoreCalibration, argmax_paths, node_depths

HEADER = "contigs\tpredictions\tscores"  # vamb.taxonomy.PREDICTED_TAXONOMY_HEADER


@torch.no_grad()
def iter_probabilities(
    model_logits: Callable[[torch.Tensor], torch.Tensor],
    pred_fn: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    batchsize: int,
    device: torch.device,
    what: str = "",
    progress_every: float = 30.0,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, node probabilities of the batch)`` for rows ``0 .. n-1``, batch by batch.

    A slow model (the dna-cnn teacher reads 16 windows per contig) logs its progress every
    ``progress_every`` seconds."""
    t0 = last = time.time()
    for start in range(0, n, batchsize):
        end = min(n, start + batchsize)
        idx = torch.arange(start, end, device=device)
        yield start, pred_fn(model_logits(idx)).float().cpu().numpy()
        now = time.time()
        if end < n and now - last >= progress_every:
            logger.info(
                f"\t{what + ': ' if what else ''}predicted {end}/{n} contigs ({end / max(now - t0, 1e-9):.0f} contigs/s)"
            )
            last = now


def predict_probabilities(
    model_logits, pred_fn, n: int, batchsize: int, device: torch.device, what: str = "", progress_every: float = 30.0
) -> np.ndarray:
    """All node probabilities (n x nodes) at once: for small data and tests."""
    return np.concatenate(
        [p for _, p in iter_probabilities(model_logits, pred_fn, n, batchsize, device, what, progress_every)], axis=0
    )


def format_rows(
    fh: IO[str], probs: np.ndarray, identifiers: Sequence[str], nodes: np.ndarray, threshold: float
) -> None:
    """Lines of ``results_taxometer.tsv`` for a batch, exactly as Vamb writes them: each
    contig's nodes above ``threshold`` (the root left out) and their scores, clipped to
    [0, 1] and rounded to 5 decimals (``vamb.taxonomy.PredictedTaxonomy.write_as_tsv``)."""
    for name, row in zip(identifiers, probs):
        mask = row > threshold
        ranks = nodes[mask][1:]
        p = np.clip(row[mask][1:], 0.0, 1.0)
        fh.write(f"{name}\t{';'.join(ranks)}\t{';'.join(str(round(x, 5)) for x in p)}\n")


def format_calibrated_rows(
    fh: IO[str],
    probs: np.ndarray,
    identifiers: Sequence[str],
    nodes: np.ndarray,
    parents: Sequence[int],
    depth: np.ndarray,
    threshold: float,
    calibration: ScoreCalibration,
) -> None:
    """Lines of a results file with calibrated scores: the argmax path down to the last rank
    whose calibrated score is above ``threshold`` (see :mod:`taxometer_kd.training.scores`)."""
    path_nodes, path_scores = argmax_paths(probs, parents, depth)
    scores = calibration.apply(path_scores)
    keep = (scores > threshold) & (path_nodes >= 0)
    for name, row_nodes, row_scores, row_keep in zip(identifiers, path_nodes, scores, keep):
        n = int(row_keep.sum())  # a prefix: calibrated scores never increase down a path
        fh.write(
            f"{name}\t{';'.join(nodes[row_nodes[:n]])}\t{';'.join(str(round(float(x), 5)) for x in row_scores[:n])}\n"
        )


def write_predictions(
    path: Path,
    batches: Iterator[tuple[int, np.ndarray]],
    nodes: Sequence[str],
    threshold: float,
    identifiers: Sequence[str],
    parents: Sequence[int] | None = None,
    calibration: ScoreCalibration | None = None,
) -> None:
    """Write ``results_taxometer.tsv`` (atomically) from batches of node probabilities;
    columns past ``len(nodes)`` (abstain leaves) are dropped, their mass staying in their
    parents. With a ``calibration`` (and the nodes' ``parents``) the scores are calibrated."""
    nodes_ar = np.array(nodes)
    n_nodes = len(nodes)
    depth = node_depths(parents) if parents is not None else None

    def write(fh: IO[str]) -> None:
        fh.write(HEADER + "\n")
        for start, probs in batches:
            probs = probs[:, :n_nodes]
            names = identifiers[start : start + len(probs)]
            if calibration is None or depth is None or parents is None:
                format_rows(fh, probs, names, nodes_ar, threshold)
            else:
                format_calibrated_rows(fh, probs, names, nodes_ar, parents, depth, threshold, calibration)

    atomic_write(path, write)
