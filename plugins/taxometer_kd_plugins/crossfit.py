"""The sampling options shared by the teachers built on :class:`CrossFitHeadTeacher`
(``kmer``, ``genes``): which heads learn from a contig at each step, and from how much of a
batch. Not a plugin itself (no entry point): the teachers' modules use it."""

from __future__ import annotations

from typing import Any

from taxometer_kd import TeacherOption


def sampling_options(learn_share: float) -> tuple[TeacherOption, TeacherOption]:
    """``train-heads`` (default 1) and ``learn-share`` (default ``learn_share``)."""
    return (
        TeacherOption(
            "train-heads",
            int,
            1,
            "heads a contig trains at each step, drawn among the folds-1 that may "
            "learn from it (folds-1: every one, the slower form of taxometer-kd 0.1)",
            low=1,
            high=99,
        ),
        TeacherOption(
            "learn-share",
            float,
            learn_share,
            "share of each batch's contigs that the learning heads train on (the rest only get "
            "their distillation logits); with train-heads < folds-1",
            low=0,
            high=1,
            low_open=True,
        ),
    )


def sampling_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """:class:`CrossFitHeadTeacher`'s ``train_heads`` and ``learn_share`` from validated options
    (``train-heads`` capped at folds - 1)."""
    return {
        "train_heads": min(int(options["train-heads"]), max(int(options["folds"]) - 1, 1)),
        "learn_share": float(options["learn-share"]),
    }
