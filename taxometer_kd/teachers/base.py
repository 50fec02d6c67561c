"""The teacher contract: what a teacher plugin receives (:class:`TeacherContext`) and what
it must return (:class:`TeacherModel`, :class:`TeacherOutput`).

A teacher plugin registers a :class:`taxometer_kd.TeacherSpec` whose ``build`` turns a
:class:`TeacherContext` into a :class:`TeacherModel`. The model owns whatever per-contig
data it needs (frozen features, a packed copy of the DNA) and is called with the
*indices* of a batch's contigs: rows of Vamb's composition, ``0 .. n_contigs - 1``.

**Logits.** For every index the model returns one row of ``ctx.n_outputs`` logits over the
student's label space, in the order of Vamb's label tree (``ctx.nodes``, parents
``ctx.parents``):

- with ``-ploss flat_softmax`` (Vamb's default): one logit per *leaf* of the tree, in the
  order of the leaves' node indices (``vamb.hloss_misc.Hierarchy(parents).leaf_mask()``);
  a node's probability is the softmax mass of the leaves under it;
- with ``-ploss soft_margin``: one logit per node, in node order; a node's probability is
  the softmax mass of it and its descendants.

With ``--abstain`` (the default) the tree has one extra "none of the known children" leaf
under every internal node, appended after Vamb's own nodes; the teacher sees those leaves
like any other.

**Training.** Each epoch the trainer calls :meth:`TeacherModel.start_epoch`, then, for each
shuffled batch of contigs (every contig, labelled or not, once per epoch),
:meth:`TeacherModel.training_step`: the :class:`TeacherOutput` carries the logits the
student distils from (the trainer detaches them) and the logits the teacher's own
hierarchical loss is computed on. At the end the trainer calls :meth:`TeacherModel.predict`
on every contig for ``results_teacher.tsv``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn


class Contigs(Protocol):
    """The contigs' DNA, streamed: ``for row, dna in contigs`` visits every composition row
    once (in file order, not necessarily row order); ``len(contigs)`` rows; upper-case DNA.
    Implemented by :class:`taxometer_kd.io.ContigSequences` (a FASTA, read on demand) and
    :class:`taxometer_kd.io.InMemoryContigs`."""

    @property
    def identifiers(self) -> Sequence[str]: ...  # read-only here: an implementation may hold a list

    @property
    def lengths(self) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[int, bytes]]: ...


@dataclass
class TeacherContext:
    """Everything a teacher may use to build itself, for one run."""

    contigs: Contigs
    """The contigs' DNA in composition order, streamed from the FASTA (never all in memory)."""
    n_outputs: int
    """Width of the logit vector: the student's label space (see the module docstring)."""
    options: dict[str, Any]
    """The teacher's ``--teacher-option`` values, converted and range-checked."""
    device: torch.device
    seed: int = 0
    cache_dir: Path | None = None
    n_threads: int = 1
    hier_loss: str = "flat_softmax"
    abundance: np.ndarray | None = None
    """Vamb's depth matrix (contigs x samples), in composition order; ``None`` in ``embed``."""
    nodes: Sequence[str] = field(default_factory=list)
    """Names of the label tree's nodes (root first); abstain leaves end in ``" [unassigned]"``."""
    parents: Sequence[int] = field(default_factory=list)
    """Parent index of every node (the root's is -1)."""
    targets: np.ndarray | None = None
    """Each contig's initial label as a node index (0 = root: unlabelled)."""
    feature_dtype: torch.dtype = torch.float32
    """The dtype frozen features may be stored in without changing training: bfloat16 when
    training runs under bf16 autocast (see :class:`taxometer_kd.FrozenFeatures`), else float32."""

    @property
    def identifiers(self) -> Sequence[str]:
        return self.contigs.identifiers

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray(self.contigs.lengths)

    @property
    def n_contigs(self) -> int:
        return len(self.contigs)


@dataclass
class TeacherOutput:
    """A teacher's outputs on one training batch of ``B`` contigs.

    ``logits`` (``B x C``): what the student distils from, one row per index of the batch.
    ``fit_logits``: what the teacher's own loss is computed on, either ``B x C`` (one model)
    or ``k x B x C`` (``k`` models scored on the same batch, e.g. cross-fitted heads), with
    ``fit_mask`` (``k x B``, 0/1) saying which rows each of the ``k`` learns from; the loss
    is then the mean over the ``k`` of each one's weighted mean over its rows.
    ``fit_rows``: if set, ``fit_logits`` (and ``fit_mask``) cover only the first
    ``fit_rows`` contigs of the batch (a random subset: batches are drawn shuffled).
    """

    logits: torch.Tensor
    fit_logits: torch.Tensor
    fit_mask: torch.Tensor | None = None
    fit_rows: int | None = None


class TeacherModel(nn.Module):
    """A module producing logits over the student's label space for a batch of contigs.

    Subclasses implement :meth:`forward` (``indices`` -> ``len(indices) x n_outputs``
    logits; may be stochastic in training, e.g. random windows) and may override
    :meth:`predict` (evaluation; deterministic), :meth:`start_epoch` and
    :meth:`training_step`. ``learning_rate`` and ``weight_decay`` configure the teacher's
    Adam optimiser (the paper: 1e-4 for a head on frozen embeddings).

    During training the forward passes may run under bfloat16 autocast (``--kd-precision``):
    logits may come back as bf16 (the trainer computes every loss in float32), and plain
    ``nn.Dropout`` modules are swapped for :class:`taxometer_kd.training.fastops.Dropout`.
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

    def training_step(self, indices: torch.Tensor) -> TeacherOutput:
        """The outputs of one training batch. By default the student distils the very logits
        the teacher learns from; a teacher whose distillation logits must not come from
        parameters trained on the same labels (:class:`CrossFitHeadTeacher`) overrides this."""
        logits = self(indices)
        return TeacherOutput(logits, logits)

    def embeddings(self) -> np.ndarray | None:
        """Per-contig frozen features (n_contigs x d) if the teacher has them (Taxometer_G)."""
        return None
