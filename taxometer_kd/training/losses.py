"""The losses of joint training: Vamb's hierarchical loss per row (:class:`RowWeightedLoss`),
and the TaxDistill objective of one batch (:func:`distillation_step_losses`)."""

from __future__ import annotations

import torch
import vamb

from taxometer_kd.errors import KDError
from taxometer_kd.teachers.base import TeacherOutput
from taxometer_kd.training import fastops


def distillation_step_losses(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    onehot: torch.Tensor,
    student_hier,
    hier_t: torch.Tensor,
    kd_loss,
    alpha: float,
    alt: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, student hierarchical, KD, teacher hierarchical) for one batch.

    ``hier_t`` is the teacher's own (hierarchical) loss on the batch; ``alt`` an optional
    second target per row for the student (see :class:`RowWeightedLoss`).
    """
    hier_s = student_hier(student_logits, onehot) if alt is None else student_hier(student_logits, onehot, alt=alt)
    if alpha < 1.0:
        kd = kd_loss(student_logits, teacher_logits.detach())
    else:
        kd = torch.zeros((), device=student_logits.device)
    total = hier_t + alpha * hier_s + (1.0 - alpha) * kd
    return total, hier_s, kd, hier_t


class RowWeightedLoss:
    """A Vamb hierarchical loss as a weighted mean over contigs, without host syncs.

    Row weights ride on the one-hot targets (Vamb's losses read the target as
    ``argmax(onehot)``, so scaling a row keeps its target); an optional 0/1 ``mask`` selects
    rows (cross-fitting). With all weights 1 it equals Vamb's mean-reduced loss.

    ``logits`` may carry leading dimensions (``k x B x C`` for ``k`` heads scored on the same
    ``B`` contigs, with a ``k x B`` mask): the result then has shape ``k``, one weighted mean
    per head, computed in one pass (no per-head slices, whose backward would allocate and
    zero-fill the whole ``k x B x C`` gradient once per head).
    """

    def __init__(self, name: str, tree):
        hl = vamb.hloss_misc
        self.name = name
        if name == "flat_softmax":
            self._module = hl.FlatSoftmaxNLL(tree, reduction="none")
        elif name == "soft_margin":
            self._module = vamb.taxvamb_encode.init_hier_loss(name, tree).loss_fn
        else:
            raise KDError(f"no per-contig form of the {name} loss")

    def to(self, device) -> RowWeightedLoss:
        self._module = self._module.to(device)
        return self

    def _rows(self, logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        labels = torch.argmax(onehot, dim=1)
        if self.name == "flat_softmax":
            # vamb.hloss_misc.FlatSoftmaxNLL.forward, broadcasting over leading dimensions
            return fastops.flat_softmax_nll(logits, self._module.leaf_masks[labels])
        # vamb.hloss_misc.MarginLoss.forward (soft, label_order None) without its mean
        m = self._module
        index = labels.unsqueeze(-1).expand(*logits.shape[:-1], 1)
        label_score = logits.gather(-1, index).squeeze(-1)
        return -label_score + torch.logsumexp(logits + m.tau * m.margin[labels], dim=-1)

    def __call__(
        self,
        logits: torch.Tensor,
        onehot: torch.Tensor,
        mask: torch.Tensor | None = None,
        alt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Weighted mean over rows; ``alt`` (weighted one-hots like ``onehot``) adds a second
        target to each row: the row's loss is then the weighted sum over both targets, and
        its weight the sum of both weights."""
        w = onehot.amax(1)
        if mask is not None:
            w = w * mask
        w = w.expand(logits.shape[:-1])
        logits = logits.float()  # bf16 logits from an autocast forward: the loss in fp32
        num = self._rows(logits, onehot) * w
        if alt is None:
            return num.sum(-1) / w.sum(-1).clamp_min(1e-12)
        wa = alt.amax(1)
        if mask is not None:
            wa = wa * mask
        wa = wa.expand(logits.shape[:-1])
        num = num + self._rows(logits, alt) * wa
        return num.sum(-1) / (w + wa).sum(-1).clamp_min(1e-12)


def teacher_loss(
    out: TeacherOutput, onehot: torch.Tensor, hier: RowWeightedLoss, alt: torch.Tensor | None = None
) -> torch.Tensor:
    """The teacher's own hierarchical loss on a batch (see :class:`TeacherOutput`)."""
    if out.fit_rows is not None:  # the fit logits cover the batch's first rows only
        onehot = onehot[: out.fit_rows]
        alt = None if alt is None else alt[: out.fit_rows]
    return hier(out.fit_logits, onehot, out.fit_mask, alt=alt).mean()  # the mean over k models, if k
