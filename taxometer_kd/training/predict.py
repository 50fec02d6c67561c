"""Prediction: node probabilities batch by batch, written to Taxometer's results file as
they come (a catalogue's n x nodes probability matrix is never held: at 1M contigs and
800 nodes it would be 3.2 GB)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Optional

import numpy as np
import torch
from loguru import logger

from taxometer_kd.io import atomic_write

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
            logger.info(f"\t{what + ': ' if what else ''}predicted {end}/{n} contigs ({end / max(now - t0, 1e-9):.0f} contigs/s)")
            last = now


def predict_probabilities(model_logits, pred_fn, n: int, batchsize: int, device: torch.device, what: str = "",
                          progress_every: float = 30.0) -> np.ndarray:
    """All node probabilities (n x nodes) at once: for small data and tests."""
    return np.concatenate([p for _, p in iter_probabilities(model_logits, pred_fn, n, batchsize, device, what,
                                                            progress_every)], axis=0)


def format_rows(fh: IO[str], probs: np.ndarray, identifiers: Sequence[str], nodes: np.ndarray, threshold: float) -> None:
    """Lines of ``results_taxometer.tsv`` for a batch, exactly as Vamb writes them: each
    contig's nodes above ``threshold`` (the root left out) and their scores, clipped to
    [0, 1] and rounded to 5 decimals (``vamb.taxonomy.PredictedTaxonomy.write_as_tsv``)."""
    for name, row in zip(identifiers, probs):
        mask = row > threshold
        ranks = nodes[mask][1:]
        p = np.clip(row[mask][1:], 0.0, 1.0)
        fh.write(f"{name}\t{';'.join(ranks)}\t{';'.join(str(round(x, 5)) for x in p)}\n")


def write_predictions(
    path: Path,
    batches: Iterator[tuple[int, np.ndarray]],
    nodes: Sequence[str],
    threshold: float,
    identifiers: Sequence[str],
    transform: Optional[Callable[[np.ndarray], np.ndarray]] = None,
) -> None:
    """Write ``results_taxometer.tsv`` (atomically) from batches of node probabilities;
    columns past ``len(nodes)`` (abstain leaves) are dropped, their mass staying in their
    parents. ``transform`` maps each batch's probabilities first (e.g. a calibration)."""
    nodes_ar = np.array(nodes)
    n_nodes = len(nodes)

    def write(fh: IO[str]) -> None:
        fh.write(HEADER + "\n")
        for start, probs in batches:
            probs = probs[:, :n_nodes]
            if transform is not None:
                probs = transform(probs)
            format_rows(fh, probs, identifiers[start : start + len(probs)], nodes_ar, threshold)

    atomic_write(path, write)
