"""The student and its inputs on the training device.

The student is Vamb's own Taxometer model; its inputs are Vamb's (depths normalised per
sample, TNF, log total depth, the loss weight of each contig), made by Vamb's own
``make_dataloader`` and kept whole on the training device, so a batch is an index
selection (no DataLoader workers, no host round trips per batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import vamb


def build_student(nsamples: int, n_feature_cols: int, nodes, table_parent, ploss: str, device: torch.device):
    """Vamb's own Taxometer model (4 x 512), its first layer taking ``nsamples`` abundances,
    ``n_feature_cols`` composition features (TNF: 103; Taxometer_G: the teacher's embedding)
    and the total abundance.

    VAMB2Label sizes its first layer as nsamples + 103 + 1 and uses nsamples for nothing
    else here, so a wider feature block is passed through nsamples. A block narrower than
    103 - nsamples + 1 columns would make that argument < 1, which VAMB2Label refuses: then
    the model is built for one sample and its first layer replaced by one of the real width.
    """
    width_arg = nsamples + n_feature_cols - 103
    student = vamb.taxvamb_encode.VAMB2Label(
        max(width_arg, 1),
        len(nodes),
        nodes,
        table_parent,
        nhiddens=[512, 512, 512, 512],
        hier_loss=ploss,
        cuda=device.type == "cuda",
    )
    if width_arg < 1:
        first = student.encoderlayers[0]
        student.encoderlayers[0] = torch.nn.Linear(nsamples + n_feature_cols + 1, first.out_features).to(
            first.weight.device
        )
        student.nsamples = nsamples
    return student


@dataclass
class TrainData:
    """Student inputs (Vamb's normalisation), targets, all on the training device."""

    depths: torch.Tensor
    tnf: torch.Tensor
    total: torch.Tensor
    weights: torch.Tensor
    targets: torch.Tensor
    n_classes: int
    teacher_targets: torch.Tensor | None = None
    teacher_weights: torch.Tensor | None = None
    # a second target per row (a mixture: --label-confidence), with its weight
    target_weights: torch.Tensor | None = None
    alt_targets: torch.Tensor | None = None
    alt_weights: torch.Tensor | None = None
    teacher_alt_targets: torch.Tensor | None = None
    teacher_alt_weights: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return self.depths.shape[0]


def make_train_data(
    abundance: np.ndarray,
    tnfs: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    n_nodes: int,
    device: torch.device,
    student_features: np.ndarray | None = None,
    teacher_targets: np.ndarray | None = None,
    teacher_weights: np.ndarray | None = None,
    mixture: dict[str, np.ndarray | None] | None = None,
) -> TrainData:
    """Vamb's student inputs and the targets on ``device``. ``mixture`` holds the optional
    ``target_weights``, ``alt_targets``, ``alt_weights``, ``teacher_alt_targets`` and
    ``teacher_alt_weights`` of :func:`taxometer_kd.training.label_space.apply_confidence`."""
    loader = vamb.encode.make_dataloader(abundance, tnfs, lengths, batchsize=max(1, len(lengths)))
    depths, tnf, total, weights = loader.dataset.tensors
    if student_features is not None:  # Taxometer_G: embeddings replace TNF
        feats = np.array(student_features, dtype=np.float32)
        vamb.vambtools.zscore(feats, axis=0, inplace=True)
        tnf = torch.from_numpy(feats)
    return TrainData(
        depths=depths.detach().to(device),
        tnf=tnf.detach().to(device),
        total=total.detach().to(device),
        weights=weights.detach().to(device),
        targets=torch.as_tensor(targets, dtype=torch.long, device=device),
        # Vamb one-hot encodes labels with at least 105 classes; its losses take argmax
        n_classes=max(n_nodes, 105),
        teacher_targets=None
        if teacher_targets is None
        else torch.as_tensor(teacher_targets, dtype=torch.long, device=device),
        teacher_weights=None
        if teacher_weights is None
        else torch.as_tensor(teacher_weights, dtype=torch.float32, device=device),
        **{k: _tensor(v, device) for k, v in (mixture or {}).items()},
    )


def _tensor(values: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    if values is None:
        return None
    arr = np.asarray(values)
    return torch.as_tensor(arr, dtype=torch.long if arr.dtype.kind in "iu" else torch.float32, device=device)
