"""The joint training loop of student and teacher (TaxDistill, paper section 3).

On every batch (every contig, labelled or not, so unlabelled contigs get the KD signal)::

    L_teacher = L_hier(z_T)
    L_student = alpha * L_hier(z_S) + (1 - alpha) * L_KD(z_S, sg(z_T))
    L_total   = L_teacher + L_student

with ``L_KD = tau^2 * KL(softmax(z_T/tau) || softmax(z_S/tau))`` by default.
"""

from __future__ import annotations

import contextlib
import math
import time

import torch
import torch.nn.functional as F
from loguru import logger

from taxometer_kd.errors import KDError
from taxometer_kd.teachers.base import TeacherModel
from taxometer_kd.training import fastops
from taxometer_kd.training.data import TrainData
from taxometer_kd.training.losses import RowWeightedLoss, distillation_step_losses, teacher_loss
from taxometer_kd.training.optim import student_optimizer


def train_jointly(
    student,
    teacher: TeacherModel,
    data: TrainData,
    kd_loss,
    alpha: float,
    nepochs: int,
    batchsize: int,
    seed: int,
    teacher_lr: float | None = None,
    log_every: int = 1,
    precision: str = "float32",
) -> list[dict[str, float]]:
    """Train student and teacher together on the same shuffled batches; returns per-epoch stats.

    ``precision="bfloat16"`` runs both networks' forward passes under bfloat16 autocast
    (matrix products in bf16, accumulated in fp32); the losses, gradients' accumulation into
    the fp32 parameters and the optimisers stay in float32.
    """
    device = data.depths.device
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if precision == "bfloat16"
        else contextlib.nullcontext
    )
    # Both networks' hierarchical loss: Vamb's (same values, tested), in a per-row form that
    # also weights and masks rows (teacher) and takes stacked heads (cross-fitting)
    hier = RowWeightedLoss(student.hierloss.name, student.tree).to(device)
    fastops.swap_dropout(student)  # Vamb's nn.Dropout -> same p, cheaper mask on CPU
    fastops.swap_dropout(teacher)
    # The student keeps Taxometer's optimiser: D-Adaptation Adam (lr=1, decoupled decay); on
    # a GPU in a form that takes the same steps with its scalars on the device (no host sync)
    opt_s = student_optimizer(student.parameters(), device)
    t_params = [p for p in teacher.parameters() if p.requires_grad]
    opt_t = (
        torch.optim.Adam(
            t_params,
            lr=teacher_lr or teacher.learning_rate,
            weight_decay=teacher.weight_decay,
            fused=device.type in ("cpu", "cuda"),  # one kernel: 2 ms a step on CPU, not 7.6-10.6
        )
        if t_params
        else None
    )
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed % (2**63))
    n = data.n
    drop_last = n > batchsize
    nbatches = n // batchsize if drop_last else 1
    history: list[dict[str, float]] = []
    for epoch in range(nepochs):
        t0 = time.time()
        student.train()
        teacher.train()
        teacher.start_epoch(epoch)
        perm = torch.randperm(n, generator=gen).to(device)
        sums = torch.zeros(3, device=device)
        for b in range(nbatches):
            idx = perm[b * batchsize : (b + 1) * batchsize]
            onehot = F.one_hot(data.targets[idx], num_classes=data.n_classes).float()
            onehot_t = (
                onehot
                if data.teacher_targets is None
                else F.one_hot(data.teacher_targets[idx], num_classes=data.n_classes).float()
            )
            if data.teacher_weights is not None:  # a row's weight rides on its one-hot entry
                onehot_t = onehot_t * data.teacher_weights[idx].unsqueeze(1)
            alt_s = alt_t = None
            if data.target_weights is not None:  # label confidence, calibration hold-out
                onehot = onehot * data.target_weights[idx].unsqueeze(1)
            if data.alt_targets is not None:  # --label-confidence: a second, weighted target per row
                alt_s = _weighted_onehot(data.alt_targets, data.alt_weights, idx, data.n_classes)
                alt_t = _weighted_onehot(data.teacher_alt_targets, data.teacher_alt_weights, idx, data.n_classes)
            with autocast():
                z_s = student(data.depths[idx], data.tnf[idx], data.total[idx], data.weights[idx]).float()
                out_t = teacher.training_step(idx)
                loss_t = teacher_loss(out_t, onehot_t, hier, alt_t)
            z_t = out_t.logits.float()
            if z_t.shape != z_s.shape:
                raise KDError(
                    f"the teacher returned logits of shape {tuple(z_t.shape)}, the student {tuple(z_s.shape)}"
                )
            total, hs, kd, ht = distillation_step_losses(z_s, z_t, onehot, hier, loss_t, kd_loss, alpha, alt_s)
            opt_s.zero_grad(set_to_none=True)
            if opt_t is not None:
                opt_t.zero_grad(set_to_none=True)
            total.backward()
            opt_s.step()
            if opt_t is not None:
                opt_t.step()
            sums += torch.stack((hs.detach(), kd.detach(), ht.detach()))
        hs_m, kd_m, ht_m = (sums / nbatches).tolist()
        if not all(math.isfinite(v) for v in (hs_m, kd_m, ht_m)):
            raise KDError(f"training diverged in epoch {epoch + 1} (a loss is not finite)")
        stats = {"epoch": epoch + 1, "student_ce": hs_m, "kd": kd_m, "teacher_ce": ht_m, "seconds": time.time() - t0}
        history.append(stats)
        if (epoch + 1) % log_every == 0 or epoch + 1 == nepochs:
            logger.info(
                f"\tEpoch: {epoch + 1}\tCE: {hs_m:.7f}\tKD: {kd_m:.5f}\tTeacher CE: {ht_m:.5f}"
                f"\tBatchsize: {batchsize}\t{stats['seconds']:.2f} s"
            )
    student.eval()
    teacher.eval()
    return history


def _weighted_onehot(targets, weights, idx, n_classes: int) -> torch.Tensor:
    return F.one_hot(targets[idx], num_classes=n_classes).float() * weights[idx].unsqueeze(1)
