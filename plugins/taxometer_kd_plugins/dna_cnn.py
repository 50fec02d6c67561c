"""A teacher that needs no download: a 1-D CNN over the contigs' DNA, trained from scratch.

Every training step draws, for each contig of the batch, a fresh random window of
``window`` bp on a random strand (contigs come in either orientation), one-hot encodes it
on the device and runs a small convolutional network with global average+max pooling.
At prediction time the logits of ``predict-windows`` windows spread evenly over the
contig, on both strands, are averaged. All DNA lives on the training device as one
uint8 tensor, so a batch is pure index arithmetic.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from taxometer_kd import TeacherContext, TeacherModel, TeacherOption, TeacherSpec, encode_dna, hookimpl, parse_bool

# one-hot rows for codes A C G T N (N = all zero)
_ONEHOT = torch.cat([torch.eye(4), torch.zeros(1, 4)])
_COMPLEMENT = torch.tensor([3, 2, 1, 0, 4], dtype=torch.uint8)


class PackedDNA(nn.Module):
    """All contigs' DNA as one uint8 code tensor (A,C,G,T,N = 0..4, a byte per base) plus
    offsets and lengths, filled in one streamed pass over ``contigs`` (row order by offset)."""

    codes: torch.Tensor  # buffers (register_buffer), declared for type checkers
    offsets: torch.Tensor
    lengths: torch.Tensor
    onehot: torch.Tensor
    complement: torch.Tensor

    def __init__(self, contigs):
        super().__init__()
        lengths = np.asarray(contigs.lengths, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        codes = np.empty(int(lengths.sum()) + 1, dtype=np.uint8)
        for i, s in contigs:
            codes[offsets[i] : offsets[i] + len(s)] = encode_dna(s)
        codes[-1] = 4  # an N used as padding for contigs shorter than a window
        self.register_buffer("codes", torch.from_numpy(codes), persistent=False)
        self.register_buffer("offsets", torch.from_numpy(offsets), persistent=False)
        self.register_buffer("lengths", torch.from_numpy(lengths), persistent=False)
        self.register_buffer("onehot", _ONEHOT.clone(), persistent=False)
        self.register_buffer("complement", _COMPLEMENT.clone(), persistent=False)

    def windows(self, indices: torch.Tensor, starts: torch.Tensor, width: int, reverse: torch.Tensor) -> torch.Tensor:
        """One-hot windows (B x 4 x width); ``starts`` are clamped, short contigs padded with N."""
        lengths = self.lengths[indices]
        ar = torch.arange(width, device=indices.device)
        pos = starts.unsqueeze(1) + ar.unsqueeze(0)
        valid = pos < lengths.unsqueeze(1)
        flat = torch.where(
            valid, self.offsets[indices].unsqueeze(1) + pos, torch.full_like(pos, self.codes.numel() - 1)
        )
        codes = self.codes[flat]
        rc = self.complement[codes.long()].flip(1)  # always computed: no host sync on a GPU
        codes = torch.where(reverse.unsqueeze(1), rc, codes)
        return self.onehot[codes.long()].transpose(1, 2)

    def random_starts(self, indices: torch.Tensor, width: int) -> torch.Tensor:
        span = (self.lengths[indices] - width + 1).clamp_min(1)
        return (torch.rand(indices.shape, device=indices.device) * span).long()


class DNACNN(nn.Module):
    def __init__(self, n_outputs: int, channels: int = 64, dropout: float = 0.2):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            # stride 3 over 12 bp: codon-phase aware, and 3x less work downstream
            nn.Conv1d(4, c, kernel_size=12, stride=3),
            nn.BatchNorm1d(c),
            nn.ReLU(),
            nn.Conv1d(c, c, kernel_size=5, padding=2),
            nn.BatchNorm1d(c),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(c, 2 * c, kernel_size=5, padding=2),
            nn.BatchNorm1d(2 * c),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(4 * c, 2 * c), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * c, n_outputs)
        )

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        h = self.features(onehot)
        pooled = torch.cat((h.mean(-1), h.amax(-1)), dim=1)
        return self.head(pooled)


class DNACNNTeacher(TeacherModel):
    description = "1-D CNN over random DNA windows, trained jointly from scratch"

    def __init__(self, ctx: TeacherContext):
        super().__init__()
        o = ctx.options
        self.window = int(o["window"])
        self.predict_windows = int(o["predict-windows"])
        self.use_rc = bool(o["rc"])
        self.learning_rate = float(o["lr"])
        self.dna = PackedDNA(ctx.contigs)
        self.net = DNACNN(ctx.n_outputs, channels=int(o["channels"]), dropout=float(o["dropout"]))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        starts = self.dna.random_starts(indices, self.window)
        if self.use_rc:
            reverse = torch.rand(indices.shape, device=indices.device) < 0.5
        else:
            reverse = torch.zeros(indices.shape, dtype=torch.bool, device=indices.device)
        return self.net(self.dna.windows(indices, starts, self.window, reverse))

    @torch.no_grad()
    def predict(self, indices: torch.Tensor) -> torch.Tensor:
        """Average logits over evenly spaced windows on both strands."""
        k = self.predict_windows
        span = (self.dna.lengths[indices] - self.window).clamp_min(0)
        frac = (torch.arange(k, device=indices.device, dtype=torch.float32) + 0.5) / k
        starts = (span.unsqueeze(1).float() * frac.unsqueeze(0)).long()  # B x k
        rep = indices.repeat_interleave(k)
        flat_starts = starts.reshape(-1)
        total: torch.Tensor | None = None
        strands = (False, True) if self.use_rc else (False,)
        for rev in strands:
            reverse = torch.full(rep.shape, rev, dtype=torch.bool, device=indices.device)
            logits = self.net(self.dna.windows(rep, flat_starts, self.window, reverse))
            mean = logits.view(len(indices), k, -1).mean(1)
            total = mean if total is None else total + mean
        assert total is not None  # at least one strand
        return total / len(strands)


def build(ctx: TeacherContext) -> DNACNNTeacher:
    return DNACNNTeacher(ctx)


OPTIONS = (
    TeacherOption("window", int, 512, "window length in bp", low=32, high=65536),
    TeacherOption("channels", int, 64, "convolution channels", low=1, high=1024),
    TeacherOption("dropout", float, 0.2, "dropout in the head", low=0, high=1, high_open=True),
    TeacherOption("predict-windows", int, 8, "windows per contig and strand at prediction", low=1, high=256),
    TeacherOption("rc", parse_bool, True, "random strand in training, both strands at prediction"),
    TeacherOption("lr", float, 1e-3, "Adam learning rate", low=0, high=1, low_open=True),
)


@hookimpl
def register_teachers(register):
    register(
        TeacherSpec(
            name="dna-cnn",
            description=DNACNNTeacher.description,
            build=build,
            options=OPTIONS,
        ),
        aliases=("cnn",),
    )
