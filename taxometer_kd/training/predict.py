"""Prediction: node probabilities of every contig, and Taxometer's results file."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import vamb
from loguru import logger

from taxometer_kd.io import atomic_write


@torch.no_grad()
def predict_probabilities(
    model_logits, pred_fn, n: int, batchsize: int, device: torch.device, what: str = "", progress_every: float = 30.0
) -> np.ndarray:
    """Node probabilities (n x nodes) from a function of contig indices -> logits. A slow
    model (the dna-cnn teacher reads 16 windows per contig) logs its progress every
    ``progress_every`` seconds."""
    out = []
    t0 = last = time.time()
    for start in range(0, n, batchsize):
        end = min(n, start + batchsize)
        idx = torch.arange(start, end, device=device)
        out.append(pred_fn(model_logits(idx)).float().cpu().numpy())
        now = time.time()
        if end < n and now - last >= progress_every:
            logger.info(f"\t{what + ': ' if what else ''}predicted {end}/{n} contigs ({end / max(now - t0, 1e-9):.0f} contigs/s)")
            last = now
    return np.concatenate(out, axis=0)


def write_predictions(
    path: Path, probs: np.ndarray, nodes: Sequence[str], threshold: float, comp_metadata
) -> None:
    """Write ``probs`` in Taxometer's exact ``results_taxometer.tsv`` format, atomically."""
    nodes_ar = np.array(nodes)
    contig_taxonomies = []
    for i in range(probs.shape[0]):
        mask = probs[i] > threshold
        ranks = list(nodes_ar[mask][1:])
        p = probs[i][mask][1:]
        contig_taxonomies.append(
            vamb.taxonomy.PredictedContigTaxonomy(vamb.taxonomy.ContigTaxonomy(ranks), p)
        )
    taxonomy = vamb.taxonomy.PredictedTaxonomy(contig_taxonomies, comp_metadata, False)
    atomic_write(path, lambda fh: taxonomy.write_as_tsv(fh, comp_metadata))
