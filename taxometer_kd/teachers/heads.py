"""Learnable heads over frozen per-contig features: the building blocks of the teachers
whose features are computed once (GenomeOcean embeddings, k-mer profiles, gene features).

- :class:`FrozenFeatures`: the feature matrix, held once, standardised per column on lookup;
- :class:`EmbeddingHeadTeacher`: one MLP head (the paper's teacher over GenomeOcean);
- :class:`CrossFitHeadTeacher`: ``folds`` heads, cross-fitted so that the logits a contig is
  distilled from never come from parameters trained on its own label.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
from loguru import logger
from torch import nn

from taxometer_kd.teachers.base import TeacherModel, TeacherOutput
from taxometer_kd.training import fastops
from taxometer_kd.training.fastops import Dropout


def mlp(n_in: int, hidden: Sequence[int], n_out: int, dropout: float = 0.2) -> nn.Sequential:
    """A plain MLP head: Linear -> LeakyReLU -> Dropout -> BatchNorm per hidden layer."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.LeakyReLU(), Dropout(dropout), nn.BatchNorm1d(h)]
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class FrozenFeatures(nn.Module):
    """A frozen per-contig feature matrix, standardised per column as rows are looked up.

    With ``dtype=torch.float32`` the matrix is held once, as given (shared with the caller's
    float32 array; a teacher's cached embeddings are the biggest thing in a run: 1M contigs
    x 1536 is 5.7 GiB), with the column means and sds; ``rows(indices)`` returns the
    standardised rows of a batch, the same values a standardised copy would hold.

    With ``dtype=torch.bfloat16`` (for training under bf16 autocast) the standardised
    values are computed once, in float32 exactly as ``rows`` would, and stored in bf16: half
    the memory, and the very values the head's first matrix product sees under autocast,
    which casts its input to bf16 anyway. Training is then bit for bit the same; only
    float32 work outside autocast (the teacher's final predictions) sees the bf16 rounding.
    """

    matrix: torch.Tensor  # buffers (register_buffer), declared for type checkers
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, features: np.ndarray, standardise: bool = True, dtype: torch.dtype = torch.float32):
        super().__init__()
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"frozen features are stored in float32 or bfloat16, not {dtype}")
        arr = np.asarray(features)
        if arr.ndim != 2:
            raise ValueError(f"features must be a 2-D matrix, not shape {tuple(arr.shape)}")
        arr = np.require(arr, dtype=np.float32, requirements="C")
        with warnings.catch_warnings():  # a read-only (memory-mapped) array: never written
            warnings.simplefilter("ignore", UserWarning)
            feats = torch.as_tensor(arr)
        n, d = feats.shape
        step = max(1, _CHUNK_ELEMENTS // max(d, 1))
        total = torch.zeros(d, dtype=torch.float64)
        for a in range(0, n, step):  # chunk by chunk: no full-size temporaries
            chunk = feats[a : a + step]
            if not torch.isfinite(chunk).all():
                raise ValueError("teacher features contain NaN or infinite values")
            total += chunk.sum(0, dtype=torch.float64)
        if standardise:
            mean = total / max(n, 1)
            ss = torch.zeros_like(total)
            for a in range(0, n, step):
                ss += (feats[a : a + step].double() - mean).square().sum(0)
            std = (ss / max(n - 1, 1)).sqrt().clamp_min(1e-6)
        else:
            mean, std = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
        mean32, std32 = mean.float(), std.float()
        self.prestandardised = dtype == torch.bfloat16
        if self.prestandardised:
            stored = torch.empty((n, d), dtype=torch.bfloat16)
            for a in range(0, n, step):
                stored[a : a + step] = ((feats[a : a + step] - mean32) / std32).to(torch.bfloat16)
            feats = stored
        self.register_buffer("matrix", feats, persistent=False)
        self.register_buffer("mean", mean32, persistent=False)
        self.register_buffer("std", std32, persistent=False)

    @property
    def shape(self) -> torch.Size:
        return self.matrix.shape

    def rows(self, indices: torch.Tensor) -> torch.Tensor:
        if self.prestandardised:
            return self.matrix.index_select(0, indices).float()
        return (self.matrix.index_select(0, indices) - self.mean) / self.std

    def standardised(self) -> torch.Tensor:
        """The whole standardised matrix (a copy; for tests and small data)."""
        if self.prestandardised:
            return self.matrix.float()
        return (self.matrix - self.mean) / self.std

    def numpy(self) -> np.ndarray:
        """The features as float32 (as given; standardised where stored in bf16)."""
        return self.matrix.float().cpu().numpy() if self.prestandardised else self.matrix.cpu().numpy()


_CHUNK_ELEMENTS = 1 << 22  # per chunk of rows: 32 MiB in float64


class EmbeddingHeadTeacher(TeacherModel):
    """A learnable head over a frozen per-contig feature matrix (GenomeOcean, k-mers, ...).

    Features stay on the training device as given (:class:`FrozenFeatures`), so a batch is
    one index-select, standardised per column on the fly.
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
        feature_dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.frozen = FrozenFeatures(features, standardise, feature_dtype)
        self.head = mlp(self.frozen.shape[1], hidden, n_outputs, dropout)
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.head(self.frozen.rows(indices))

    def embeddings(self) -> np.ndarray | None:
        return self.frozen.numpy()


class GroupedMLP(nn.Module):
    """``k`` independent MLPs evaluated together (one batched matmul per layer)."""

    def __init__(self, k: int, n_in: int, hidden: Sequence[int], n_out: int, dropout: float = 0.2):
        super().__init__()
        sizes = [n_in, *hidden, n_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in pairwise(sizes):
            w = torch.empty(k, a, b)
            for i in range(k):  # nn.Linear's default initialisation, per member
                nn.init.kaiming_uniform_(w[i].T, a=5**0.5)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.empty(k, 1, b).uniform_(-(a**-0.5), a**-0.5)))
        self.act = nn.LeakyReLU()
        self.p = dropout

    def _layers(self, h: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                # one dropout mask for the k heads: each head's units still drop with p
                h = fastops.dropout(self.act(h), self.p, self.training, shared_leading=1)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B x n_in) -> (k x B x n_out): every row through every member."""
        return self._layers(x.unsqueeze(0).expand(self.weights[0].shape[0], -1, -1))

    def forward_slots(self, x: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
        """(S x n_in), (S,) -> (S x n_out): row ``s`` through member ``member[s]`` only.

        The rows are grouped by member into one padded ``k x M x n_in`` batch (``M`` the
        largest group; one host sync to read it), so the cost is that of about ``S`` rows,
        not ``k * S``."""
        k = self.weights[0].shape[0]
        order = torch.argsort(member, stable=True)
        counts = torch.bincount(member, minlength=k)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(member), device=member.device)  # row -> place in member order
        width = int(counts.max())
        slot = member * width + rank - starts[member]  # row -> its place in the flat k x M batch
        h = x.new_zeros(k * width, x.shape[1]).index_copy_(0, slot, x)
        out = self._layers(h.view(k, width, -1))
        return out.reshape(k * width, -1).index_select(0, slot)


class CrossFitHeadTeacher(TeacherModel):
    """Heads over frozen per-contig features, cross-fitted so that no contig's own label
    reaches the logits it is distilled from.

    The contigs are split at random into ``folds`` folds; head ``k`` gives the logits of the
    contigs inside fold ``k`` and learns only from contigs outside it. A teacher trained on
    the very labels the student sees would, with enough capacity, memorise them, noise
    included, and distil the noisy labels back. Out-of-fold logits say instead what a
    contig's neighbours in the teacher's feature space were labelled: where those disagree,
    or stop above species, the teacher is unsure, and so is the student.

    ``train_heads``: how many of the ``folds - 1`` heads that may learn from a contig do so
    at each step, drawn at random per contig and step. With ``folds - 1`` every row goes
    through every head (``folds`` output layers per row, more than the student costs); with
    1 (the default) a row goes through two heads only, its own (for its distillation
    logits) and one that learns from it: over the epochs every head still sees every
    contig outside its fold, and the guarantee is the same.

    ``learn_share`` (sampled form only): the share of each batch's rows that go through a
    learning head; the rest only get their own head's (distillation) logits. Every row
    still gets distillation logits; a head learns from fewer rows per epoch, and the step
    costs less (the learning heads' forward and backward are most of the teacher's cost).
    """

    fold: torch.Tensor  # a buffer (register_buffer): each contig's fold

    def __init__(
        self,
        features: np.ndarray,
        n_outputs: int,
        hidden: Sequence[int] = (256,),
        dropout: float = 0.2,
        folds: int = 5,
        seed: int = 0,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        feature_dtype: torch.dtype = torch.float32,
        train_heads: int | None = None,
        learn_share: float = 1.0,
    ):
        super().__init__()
        if folds < 1:
            raise ValueError(f"folds must be >= 1, not {folds}")
        train_heads = folds - 1 if train_heads is None else train_heads
        if folds > 1 and not 1 <= train_heads <= folds - 1:
            raise ValueError(f"train-heads must be between 1 and folds - 1 = {folds - 1}, not {train_heads}")
        if not 0.0 < learn_share <= 1.0:
            raise ValueError(f"learn-share must be in (0, 1], not {learn_share}")
        self.frozen = FrozenFeatures(features, dtype=feature_dtype)
        n, d = self.frozen.shape
        if folds > 1 and n < 50 * folds:
            logger.warning(
                f"folds={folds} for {n} contigs: about {n // folds} contigs per fold; each head is "
                "trained on all other folds, so fewer folds train as well and faster"
            )
        gen = torch.Generator().manual_seed(seed % (2**63))
        self.register_buffer("fold", torch.randint(folds, (n,), generator=gen))
        self.folds = folds
        self.train_heads = train_heads
        self.learn_share = learn_share
        self.heads = GroupedMLP(folds, d, hidden, n_outputs, dropout)
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

    @property
    def dense(self) -> bool:
        """Every row through every head (one head, or every other head trains on each row)."""
        return self.folds == 1 or self.train_heads == self.folds - 1

    def _own(self, all_logits: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return all_logits[self.fold[indices], torch.arange(len(indices), device=indices.device)]

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        if self.dense:
            return self._own(self.heads(self.frozen.rows(indices)), indices)
        return self.heads.forward_slots(self.frozen.rows(indices), self.fold[indices])

    def training_step(self, indices: torch.Tensor) -> TeacherOutput:
        if not self.dense:
            return self._sampled_step(indices)
        all_logits = self.heads(self.frozen.rows(indices))
        if self.folds == 1:
            return TeacherOutput(all_logits[0], all_logits[0])
        # head k learns from the contigs outside fold k (a 0/1 row mask: no host sync)
        heads = torch.arange(self.folds, device=indices.device).unsqueeze(1)
        return TeacherOutput(self._own(all_logits, indices), all_logits, (self.fold[indices] != heads).float())

    def _sampled_step(self, indices: torch.Tensor) -> TeacherOutput:
        """Each row through its own head; the first ``learn_share`` of the (shuffled) batch's
        rows also through ``train_heads`` others drawn at random, which learn from them.

        The own head's logits are only distilled from (detached): they are computed without
        autograd, so the backward pass covers the learning heads' rows alone."""
        b, m, k = len(indices), self.train_heads, self.folds
        h = b if self.learn_share >= 1.0 else max(1, round(b * self.learn_share))
        own = self.fold[indices]
        offsets = torch.rand(h, k - 1, device=indices.device).argsort(1)[:, :m] + 1  # distinct, never 0
        learners = (own[:h].unsqueeze(1) + offsets) % k  # h x m, never the row's own fold
        x = self.frozen.rows(indices)
        with torch.no_grad():
            logits = self.heads.forward_slots(x, own)
        rows = x[:h] if m == 1 else x[:h].repeat_interleave(m, dim=0)
        fit = self.heads.forward_slots(rows, learners.reshape(-1)).view(h, m, -1).transpose(0, 1)  # m x h x C
        return TeacherOutput(logits, fit, fit_rows=h if h < b else None)

    def embeddings(self) -> np.ndarray | None:
        return self.frozen.numpy()
