"""The knowledge-distillation options: every flag, its default and its check, in one place.

:data:`FLAGS` describes the flags of ``vamb taxometer``'s "Knowledge distillation" group;
:class:`KDOptions` holds their values for one run, with the defaults taken from that same
table. :meth:`KDOptions.from_args` reads them from Vamb's parsed arguments and checks
everything that needs no data (ranges, the teacher and its options, files that must
exist, the teacher's own pre-flight checks) before Vamb reads any input or creates its
output folder.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from taxometer_kd import registry
from taxometer_kd.errors import KDError

ABSTAIN_MODES = ("none", "teacher", "both")
PRECISIONS = ("auto", "float32", "bfloat16")
STUDENT_INPUTS = ("tnf", "embedding")


@dataclass(frozen=True)
class Flag:
    """One flag: ``--name`` sets :class:`KDOptions` field ``field`` (argparse dest ``kd_<field>``)."""

    flag: str
    field: str
    default: Any
    help: str
    metavar: str | None = None
    type: Any = None
    choices: tuple[str, ...] | None = None
    repeat: bool = False

    @property
    def dest(self) -> str:  # prefixed so that none clashes with vamb's own (vamb has an `alpha`)
        return f"kd_{self.field}"

    def add_to(self, group: Any) -> None:
        kwargs: dict[str, Any] = {"dest": self.dest, "default": None, "help": self.help}
        if self.default is not None and not self.repeat:
            kwargs["help"] += f" [{self.default}]"
        if self.repeat:
            kwargs["action"] = "append"
        if self.metavar:
            kwargs["metavar"] = self.metavar
        if self.type is not None:
            kwargs["type"] = self.type
        if self.choices is not None:
            kwargs["choices"] = self.choices
        group.add_argument(self.flag, **kwargs)


#: every knowledge-distillation flag; ``--teacher`` switches distillation on
FLAGS: tuple[Flag, ...] = (
    Flag(
        "--teacher",
        "teacher",
        None,
        "teacher model, e.g. 'default' or genomeocean-500m [none: stock Taxometer]",
        metavar="NAME",
    ),
    Flag(
        "--alpha",
        "alpha",
        0.3,
        "weight of the hierarchical loss; 1-A weighs the distillation loss",
        metavar="A",
        type=float,
    ),
    Flag("--temperature", "temperature", 4.0, "distillation temperature tau", metavar="T", type=float),
    Flag(
        "--teacher-option",
        "teacher_options",
        None,
        "an option of the teacher, validated by it "
        "(repeatable; `taxometer-kd teachers -v` lists them with their ranges)",
        metavar="KEY=VALUE",
        repeat=True,
    ),
    Flag(
        "--teacher-cache",
        "cache_dir",
        None,
        "directory of cached teacher embeddings [~/.cache/taxometer-kd]",
        metavar="DIR",
        type=Path,
    ),
    Flag(
        "--teacher-fasta",
        "teacher_fasta",
        None,
        "contig FASTA for the teacher when --composition is used instead of --fasta",
        metavar="PATH",
        type=Path,
    ),
    Flag("--kd-loss", "loss", "kl", "distillation loss (`taxometer-kd losses`)", metavar="NAME"),
    Flag(
        "--teacher-lr",
        "teacher_lr",
        None,
        "teacher learning rate [the teacher's own default]",
        metavar="LR",
        type=float,
    ),
    Flag(
        "--abstain",
        "abstain",
        "teacher",
        "add a 'none of the known children' leaf under each taxon; "
        "'teacher' trains the teacher to read a label that stops at a taxon as such an abstention",
        choices=ABSTAIN_MODES,
    ),
    Flag(
        "--abstain-weight",
        "abstain_weight",
        2.0,
        "weight of an abstention in the teacher's loss, relative to a taxon label; with --label-confidence "
        "a label of confidence c weighs c for its taxon and (1-c)*W for the abstention, so the teacher "
        "abstains where the labels' confidence averages below W/(1+W)",
        metavar="W",
        type=float,
    ),
    Flag(
        "--student-input",
        "student_input",
        "tnf",
        "student features: TNF (Taxometer) or the teacher's embeddings (Taxometer_G)",
        choices=STUDENT_INPUTS,
    ),
    Flag(
        "--label-confidence",
        "label_confidence",
        None,
        "the labeller's confidence in each label "
        "(contigs<TAB>confidence in [0, 1], as `taxometer-kd labels --confidence-out` writes it): a label of "
        "confidence c counts as itself with weight c and as its parent taxon with weight 1-c",
        metavar="FILE",
        type=Path,
    ),
    Flag(
        "--confidence-cut",
        "confidence_cut",
        None,
        "with --label-confidence: a hard cut instead of the weighting; a label whose confidence is below C "
        "loses its lowest rank (a species label becomes a genus label, as if the labeller had stopped there) "
        "and every other label counts whole. The scale is the labeller's own (e.g. 0.05 for Kraken2's k-mer share) "
        "[none: weight each label by its confidence]",
        metavar="C",
        type=float,
    ),
    Flag(
        "--calibration-holdout",
        "calibration_holdout",
        0.1,
        "share of the contigs whose labels are held out of "
        "training to calibrate the scores, so that a score of s means about s correct (0: Taxometer's raw "
        "softmax scores)",
        metavar="F",
        type=float,
    ),
    Flag(
        "--kd-precision",
        "precision",
        "auto",
        "precision of the training forward passes; auto: bfloat16 "
        "autocast where the device multiplies bf16 in hardware (CUDA with native bf16, CPUs with AMX), "
        "else float32",
        choices=PRECISIONS,
    ),
)
_FLAG = {f.field: f for f in FLAGS}


def _default(name: str) -> Any:
    return _FLAG[name].default


@dataclass
class KDOptions:
    """The knowledge-distillation options of one run (like Vamb's ``*Options`` classes)."""

    teacher: str
    alpha: float = _default("alpha")
    temperature: float = _default("temperature")
    teacher_options: dict[str, Any] = field(default_factory=dict)
    loss: str = _default("loss")
    cache_dir: Path | None = None
    teacher_fasta: Path | None = None
    student_input: str = _default("student_input")
    teacher_lr: float | None = None
    abstain: str = _default("abstain")
    abstain_weight: float = _default("abstain_weight")
    precision: str = _default("precision")
    label_confidence: Path | None = None
    confidence_cut: float | None = None
    calibration_holdout: float = _default("calibration_holdout")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> KDOptions | None:
        """``None`` when ``--teacher`` is absent (then the run is stock Taxometer)."""
        raw = {f.field: getattr(args, f.dest, None) for f in FLAGS}
        given: dict[str, Any] = {k: v for k, v in raw.items() if v not in (None, [])}
        if "teacher" not in given:
            if given:
                flags = ", ".join(_FLAG[k].flag for k in given)
                verb = "applies" if len(given) == 1 else "apply"
                raise KDError(f"{flags} {verb} only together with --teacher NAME")
            return None
        try:
            spec = registry.get_teacher(given["teacher"])
            given["teacher_options"] = spec.validate_options(parse_key_values(given.get("teacher_options", [])))
            given["loss"] = registry.losses().resolve(given.get("loss", _default("loss")))
        except (registry.UnknownNameError, ValueError) as exc:
            raise KDError(str(exc)) from None
        given["teacher"] = spec.name
        known = {f.name for f in fields(cls)}
        opt = cls(**{k: v for k, v in given.items() if k in known})
        opt.validate()
        if spec.preflight is not None:
            try:
                spec.preflight(opt.teacher_options)
            except (ValueError, ImportError, OSError, RuntimeError) as exc:
                raise KDError(str(exc)) from None
        return opt

    def validate(self) -> None:
        if not (isinstance(self.alpha, float) and 0.0 <= self.alpha <= 1.0):
            raise KDError(f"--alpha must be between 0 and 1 (the weight of the hierarchical loss), not {self.alpha}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise KDError(f"--temperature must be a positive number, not {self.temperature}")
        if self.student_input not in STUDENT_INPUTS:
            raise KDError(f"--student-input must be 'tnf' or 'embedding', not {self.student_input!r}")
        if self.abstain not in ABSTAIN_MODES:
            raise KDError(f"--abstain must be one of {', '.join(ABSTAIN_MODES)}, not {self.abstain!r}")
        if not (math.isfinite(self.abstain_weight) and self.abstain_weight > 0):
            raise KDError(f"--abstain-weight must be a positive number, not {self.abstain_weight}")
        if self.precision not in PRECISIONS:
            raise KDError(f"--kd-precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.teacher_lr is not None and not (math.isfinite(self.teacher_lr) and self.teacher_lr > 0):
            raise KDError(f"--teacher-lr must be a positive number, not {self.teacher_lr}")
        if self.teacher_fasta is not None and not Path(self.teacher_fasta).is_file():
            raise KDError(f"--teacher-fasta: no such file: {self.teacher_fasta}")
        if not (math.isfinite(self.calibration_holdout) and 0.0 <= self.calibration_holdout <= 0.5):
            raise KDError(f"--calibration-holdout must be between 0 and 0.5, not {self.calibration_holdout}")
        if self.label_confidence is not None and not Path(self.label_confidence).is_file():
            raise KDError(f"--label-confidence: no such file: {self.label_confidence}")
        if self.confidence_cut is not None:
            if self.label_confidence is None:
                raise KDError("--confidence-cut applies only together with --label-confidence FILE")
            if not (math.isfinite(self.confidence_cut) and 0.0 < self.confidence_cut <= 1.0):
                raise KDError(f"--confidence-cut must be above 0 and at most 1, not {self.confidence_cut}")
        if self.cache_dir is not None and Path(self.cache_dir).exists() and not Path(self.cache_dir).is_dir():
            raise KDError(f"--teacher-cache: {self.cache_dir} exists and is not a directory")


def parse_key_values(items: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; bad syntax and repeated keys are :class:`KDError`."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise KDError(f"--teacher-option expects KEY=VALUE, not {item!r}")
        if key in out:
            raise KDError(f"--teacher-option {key} is given twice")
        out[key] = value.strip()
    return out


def add_kd_arguments(parser: argparse.ArgumentParser, disable_env: str) -> None:
    """Add the "Knowledge distillation" group to ``vamb taxometer``'s parser."""
    group = parser.add_argument_group(
        title="Knowledge distillation (taxometer-kd)",
        description=(
            "Train Taxometer jointly with a teacher model and distil its soft labels (TaxDistill).\n"
            "List teachers with `taxometer-kd teachers`. "
            f"Set {disable_env}=1 to hide these flags."
        ),
    )
    for flag in FLAGS:
        flag.add_to(group)
