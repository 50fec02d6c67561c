"""The teacher side of distillation: what a teacher plugin receives and returns.

A teacher plugin registers a :class:`taxometer_kd.registry.TeacherSpec` whose ``build``
turns a :class:`TeacherContext` into a :class:`TeacherModel`. The model owns whatever
per-contig data it needs (DNA, frozen embeddings, k-mer profiles) and is called with
the *indices* of the contigs in a batch (rows of Vamb's composition), so per-contig
data is looked up by contig index, on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import nn


@dataclass
class TeacherContext:
    """Everything a teacher may use to build itself, for one run."""

    sequences: Sequence[bytes]
    """The DNA of every contig, in composition order (upper-case bytes)."""
    identifiers: Sequence[str]
    lengths: np.ndarray
    n_outputs: int
    """Width of the logit vector: the student's label space (Vamb's ``nlabels``)."""
    options: dict[str, Any]
    device: torch.device
    seed: int = 0
    cache_dir: Optional[Path] = None
    n_threads: int = 1
    hier_loss: str = "flat_softmax"
    extra: dict[str, Any] = field(default_factory=dict)


class TeacherModel(nn.Module):
    """A module producing logits over the student's label space for a batch of contigs.

    Subclasses implement :meth:`forward` (training; may be stochastic, e.g. random windows)
    and may override :meth:`predict` (evaluation; deterministic, whole contig) and
    :meth:`start_epoch`. ``learning_rate`` and ``weight_decay`` configure the teacher's Adam
    optimiser (the paper: 1e-4 for a head on frozen embeddings).
    """

    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    description: str = ""

    def forward(self, indices: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, indices: torch.Tensor) -> torch.Tensor:
        return self.forward(indices)

    def start_epoch(self, epoch: int) -> None:
        """Called before each training epoch (e.g. to draw new windows)."""

    def embeddings(self) -> Optional[np.ndarray]:
        """Per-contig frozen features (n_contigs x d) if the teacher has them (Taxometer_G)."""
        return None


def mlp(n_in: int, hidden: Sequence[int], n_out: int, dropout: float = 0.2) -> nn.Sequential:
    """A plain MLP head: Linear -> LeakyReLU -> Dropout -> BatchNorm per hidden layer."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.LeakyReLU(), nn.Dropout(dropout), nn.BatchNorm1d(h)]
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class EmbeddingHeadTeacher(TeacherModel):
    """A learnable head over a frozen per-contig feature matrix (GenomeOcean, k-mers, ...).

    Features are standardised once (per column) and kept on the training device as a
    buffer, so a batch is one index-select.
    """

    def __init__(
        self,
        features: np.ndarray,
        n_outputs: int,
        hidden: Sequence[int] = (512, 512),
        dropout: float = 0.2,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        standardise: bool = True,
    ):
        super().__init__()
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
        if feats.ndim != 2:
            raise ValueError(f"features must be a 2-D matrix, not shape {tuple(feats.shape)}")
        if not torch.isfinite(feats).all():
            raise ValueError("teacher features contain NaN or infinite values")
        self._raw = features
        if standardise:
            mean = feats.mean(0, keepdim=True)
            std = feats.std(0, keepdim=True).clamp_min(1e-6)
            feats = (feats - mean) / std
        self.register_buffer("features", feats, persistent=False)
        self.head = mlp(feats.shape[1], hidden, n_outputs, dropout)
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.head(self.features.index_select(0, indices))

    def embeddings(self) -> Optional[np.ndarray]:
        return np.asarray(self._raw, dtype=np.float32)


_ONEHOT_TABLE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _ONEHOT_TABLE[_c] = _i
    _ONEHOT_TABLE[ord(chr(_c).lower())] = _i


def encode_dna(seq: bytes) -> np.ndarray:
    """DNA bytes -> uint8 codes A=0 C=1 G=2 T=3, anything else 4."""
    return _ONEHOT_TABLE[np.frombuffer(bytes(seq), dtype=np.uint8)]
