"""Built-in distillation losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from taxometer_kd import hookimpl


def kl_distillation(tau: float):
    """Hinton et al.'s soft-target loss, as in TaxDistill eq. (5)::

        tau^2 / N * sum_i KL( softmax(z_T / tau) || softmax(z_S / tau) )

    ``teacher_logits`` must already be detached (the core does that).
    """
    if not tau > 0:
        raise ValueError(f"temperature must be > 0, not {tau}")

    def loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        log_q_s = F.log_softmax(student_logits / tau, dim=-1)
        log_q_t = F.log_softmax(teacher_logits / tau, dim=-1)
        kl = (log_q_t.exp() * (log_q_t - log_q_s)).sum(-1)
        return (tau * tau) * kl.mean()

    return loss


def mse_logits(tau: float):
    """Mean squared error between temperature-scaled logits (centred per contig), times tau^2.

    An alternative to KL that ignores the softmax saturation; mostly for ablations.
    """

    def loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        s = student_logits / tau
        t = teacher_logits / tau
        s = s - s.mean(-1, keepdim=True)
        t = t - t.mean(-1, keepdim=True)
        return (tau * tau) * ((s - t) ** 2).mean(-1).mean()

    return loss


@hookimpl
def register_distillation_losses(register):
    register("kl", kl_distillation, aliases=("kd", "hinton"), description="tau^2 * KL(q_T || q_S), the paper's loss")
    register("mse", mse_logits, description="tau^2 * MSE of centred, temperature-scaled logits")
