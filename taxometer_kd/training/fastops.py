"""Cheaper forms of a few training ops, same mathematics.

Profiling the joint training on CPU (``benchmarks/training_speed.py``) found two ops
worth replacing:

- dropout's ``bernoulli_``, about 30% of an epoch once the matrix products ran in
  bfloat16: PyTorch draws one float per element. :class:`Dropout` draws 16 random bits per
  element instead and keeps an element when they are at least ``p * 2**16`` (so the drop
  rate is ``p`` to within ``2**-16``), about twice as fast on CPU;
- Vamb's flat-softmax NLL (log-softmax, mask, logsumexp and their autograd):
  :func:`flat_softmax_nll` computes it in one exp pass with its analytic gradient, about
  3x faster on CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def dropout(x: torch.Tensor, p: float, training: bool = True, shared_leading: int = 0) -> torch.Tensor:
    """Dropout; with ``shared_leading=j`` one mask is drawn for the trailing dimensions and
    shared along the first ``j`` (e.g. ``k`` independent heads: each head still sees
    Bernoulli(1-p) dropout of its own units, at 1/k of the random draws)."""
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    shape = x.shape[shared_leading:]
    if x.device.type != "cpu":
        keep = torch.rand(shape, device=x.device) >= p
    else:
        # four 15-bit uniform draws from each 63-bit one (random_() on int64 fills [0, 2**63)):
        # a quarter of the generator calls of one draw per element
        n = shape.numel()
        bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_()
        lanes = bits.view(torch.int16)[:n].view(shape) & 0x7FFF
        keep = lanes >= round(p * 32768)
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - p)))


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same ``p``, same behaviour in eval mode) with the cheaper CPU mask."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace or x.device.type != "cpu":
            return super().forward(x)  # PyTorch's fused kernel off the CPU
        return dropout(x, self.p, self.training)


def swap_dropout(module: nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` inside ``module`` by :class:`Dropout`; returns how many."""
    swapped = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout and not child.inplace:
                setattr(parent, name, Dropout(child.p).train(child.training))
                swapped += 1
    return swapped


class _FlatSoftmaxNLL(torch.autograd.Function):
    """Per-row ``-log(sum of softmax(z) over the label's leaves)``: one exp pass forward, and
    the gradient ``softmax(z) - softmax(z restricted to the label's leaves)`` from it."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = z.amax(-1, keepdim=True)
        e = torch.exp(z - m)
        s_all = e.sum(-1, keepdim=True)
        em = e * mask
        s_y = em.sum(-1, keepdim=True)
        loss = (torch.log(s_all) - torch.log(s_y)).squeeze(-1)
        # Where the label's leaves all sit ~70 nats or more below the top logit their
        # exponentials underflow: those rows are redone with a shift of their own.
        low = (s_y < 1e-30).squeeze(-1)
        rows = low.nonzero(as_tuple=True)
        q_low = None
        if rows[0].numel():
            z_low = z[rows].masked_fill(~mask.expand_as(z)[rows], -torch.inf)
            lse_y = torch.logsumexp(z_low, -1, keepdim=True)
            loss[rows] = (m[rows] + torch.log(s_all[rows]) - lse_y).squeeze(-1)
            q_low = torch.exp(z_low - lse_y)
            s_y = s_y.masked_fill(low.unsqueeze(-1), 1.0)
        ctx.rows = rows
        ctx.save_for_backward(e, em, s_all, s_y, q_low)
        return loss

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        e, em, s_all, s_y, q_low = ctx.saved_tensors
        g = g.unsqueeze(-1)
        grad = torch.addcmul(e * (g / s_all), em, g / s_y, value=-1.0)
        if q_low is not None:
            grad[ctx.rows] -= g[ctx.rows] * q_low
        return grad, None


def flat_softmax_nll(z: torch.Tensor, leaf_mask: torch.Tensor) -> torch.Tensor:
    """Vamb's flat-softmax hierarchical NLL per row.

    ``z``: logits over the leaves (``... x B x C``); ``leaf_mask``: ``B x C``, true on the
    leaves under each row's label. Equal to ``-logsumexp(log_softmax(z) where leaf_mask)``
    (``vamb.hloss_misc.FlatSoftmaxNLL``), about 3x faster on CPU. Elsewhere (CUDA) that
    formula is used as is: the fast form needs a host check for underflowing rows.
    """
    if z.device.type != "cpu":
        logp = F.log_softmax(z, dim=-1)
        return -torch.logsumexp(logp.masked_fill(~leaf_mask, -torch.inf), dim=-1)
    return _FlatSoftmaxNLL.apply(z, leaf_mask)
