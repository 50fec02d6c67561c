"""How the knowledge-distillation flags reach the stock ``vamb taxometer`` command.

:func:`install` is called on the freshly executed ``vamb.__main__`` module (by the
start-up hook in ``_autohook``, or directly by ``taxometer-kd taxometer``). It wraps
three module-level names that ``vamb.__main__.main`` looks up at call time:

- ``add_predictor_arguments``: after vamb's own arguments, adds the "knowledge
  distillation" group, but only to the ``taxometer`` subparser;
- ``TaxometerOptions.from_args``: also reads the KD options (errors here come before
  vamb creates the output directory);
- ``run_taxonomy_predictor``: without ``--teacher`` it calls vamb's own function
  unchanged; with it, :func:`taxometer_kd.distill.run_distillation`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DISABLE_ENV = "TAXOMETER_KD_DISABLE"
GROUP_TITLE = "Knowledge distillation (taxometer-kd)"


#: (flag, argparse keyword arguments) of every knowledge-distillation flag; each ``dest`` is
#: prefixed ``kd_`` so that none can clash with vamb's own (vamb already has an ``alpha``)
KD_FLAGS: tuple[tuple[str, dict], ...] = (
    ("--teacher", dict(dest="kd_teacher", metavar="NAME",
                       help="teacher model, e.g. 'default' or genomeocean-500m [none: stock Taxometer]")),
    ("--alpha", dict(dest="kd_alpha", metavar="A", type=float,
                     help="weight of the hierarchical loss; 1-A weighs the distillation loss [0.3]")),
    ("--temperature", dict(dest="kd_temperature", metavar="T", type=float, help="distillation temperature tau [4]")),
    ("--teacher-option", dict(dest="kd_teacher_options", metavar="KEY=VALUE", action="append",
                              help="an option of the teacher, validated by it (repeatable)")),
    ("--teacher-cache", dict(dest="kd_teacher_cache", metavar="DIR", type=Path,
                             help="directory of cached teacher embeddings [~/.cache/taxometer-kd]")),
    ("--teacher-fasta", dict(dest="kd_teacher_fasta", metavar="PATH", type=Path,
                             help="contig FASTA for the teacher when --composition is used instead of --fasta")),
    ("--kd-loss", dict(dest="kd_loss", metavar="NAME", help="distillation loss [kl]")),
    ("--teacher-lr", dict(dest="kd_teacher_lr", metavar="LR", type=float,
                          help="teacher learning rate [the teacher's own default]")),
    ("--abstain", dict(dest="kd_abstain", choices=("none", "teacher", "both"),
                       help="add a 'none of the known children' leaf under each taxon; 'teacher' trains "
                       "the teacher to read a label that stops at a taxon as such an abstention [teacher]")),
    ("--abstain-weight", dict(dest="kd_abstain_weight", metavar="W", type=float,
                              help="weight of an abstention in the teacher's loss, relative to a taxon label [2]")),
    ("--student-input", dict(dest="kd_student_input", choices=("tnf", "embedding"),
                             help="student features: TNF (Taxometer) or the teacher's embeddings "
                             "(Taxometer_G) [tnf]")),
    ("--kd-precision", dict(dest="kd_precision", choices=("auto", "float32", "bfloat16"),
                            help="precision of the training forward passes; auto: bfloat16 autocast where "
                            "the device multiplies bf16 in hardware (CUDA with bf16, CPUs with AMX), "
                            "else float32 [auto]")),
)


def add_kd_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        title=GROUP_TITLE,
        description=(
            "Train Taxometer jointly with a teacher model and distil its soft labels (TaxDistill).\n"
            "List teachers with `taxometer-kd teachers`. "
            f"Set {DISABLE_ENV}=1 to hide these flags."
        ),
    )
    for flag, kwargs in KD_FLAGS:
        group.add_argument(flag, default=None, **kwargs)


def _is_taxometer_parser(parser: argparse.ArgumentParser) -> bool:
    return parser.prog.split()[-1:] == ["taxometer"]


def install(mod) -> None:
    """Patch a freshly imported ``vamb.__main__`` module (idempotent)."""
    if getattr(mod, "_taxometer_kd_installed", False):
        return
    original_add = mod.add_predictor_arguments
    original_from_args = mod.TaxometerOptions.__dict__["from_args"].__func__
    original_run = mod.run_taxonomy_predictor

    def add_predictor_arguments(subparser):
        result = original_add(subparser)
        if _is_taxometer_parser(subparser):
            add_kd_arguments(subparser)
        return result

    def from_args(cls, args):
        from taxometer_kd.distill import KDError, KDOptions, fail

        try:
            kd = KDOptions.from_args(args)
        except KDError as exc:
            fail(f"vamb taxometer: {exc}")
        opt = original_from_args(cls, args)
        opt.kd = kd
        return opt

    def run_taxonomy_predictor(opt):
        kd = getattr(opt, "kd", None)
        if kd is None:
            return original_run(opt)
        from taxometer_kd.distill import KDError, fail, run_distillation

        try:
            return run_distillation(opt, kd, mod)
        except KDError as exc:
            fail(str(exc))

    mod.add_predictor_arguments = add_predictor_arguments
    mod.TaxometerOptions.from_args = classmethod(from_args)
    mod.run_taxonomy_predictor = run_taxonomy_predictor
    mod._taxometer_kd_installed = True


def main_taxometer(argv: list[str]) -> None:
    """``taxometer-kd taxometer ARGS``: the same run as ``vamb taxometer ARGS`` with the flags."""
    import vamb.__main__ as vmain

    install(vmain)  # also when the start-up hook is disabled
    old_argv = sys.argv
    sys.argv = ["taxometer-kd", "taxometer", *argv]
    try:
        vmain.main()
    finally:
        sys.argv = old_argv
