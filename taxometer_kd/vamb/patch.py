"""The three functions of ``vamb.__main__`` that taxometer-kd wraps.

:func:`install` is called on the namespace of a freshly executed ``vamb.__main__`` (by the
start-up hook in :mod:`taxometer_kd.vamb.hook`, or directly by ``taxometer-kd taxometer``).
``vamb.__main__.main`` looks these names up at call time:

- ``add_predictor_arguments``: after vamb's own arguments, adds the "knowledge
  distillation" group, but only to the ``taxometer`` subparser;
- ``TaxometerOptions.from_args``: also reads and checks the KD options (errors here come
  before vamb creates the output directory);
- ``run_taxonomy_predictor``: without ``--teacher`` it calls vamb's own function
  unchanged; with it, :func:`taxometer_kd.run.run_distillation`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import MutableMapping
from typing import Any, NoReturn

DISABLE_ENV = "TAXOMETER_KD_DISABLE"


class _Namespace:
    """Attribute access to a module's namespace dict (``vamb_main.FASTAPath``)."""

    def __init__(self, namespace: MutableMapping[str, Any]):
        self._ns = namespace

    def __getattr__(self, name: str) -> Any:
        try:
            return self._ns[name]
        except KeyError:
            raise AttributeError(name) from None


def _is_taxometer_parser(parser: argparse.ArgumentParser) -> bool:
    return parser.prog.split()[-1:] == ["taxometer"]


def fail(message: str) -> NoReturn:
    """Log a user error the way vamb logs, then exit with status 2."""
    from loguru import logger

    logger.error(message)
    sys.exit(2)


def install(namespace: MutableMapping[str, Any]) -> None:
    """Wrap the functions of a ``vamb.__main__`` namespace (idempotent)."""
    if namespace.get("_taxometer_kd_installed", False):
        return
    vamb_main = _Namespace(namespace)
    original_add = namespace["add_predictor_arguments"]
    options_class = namespace["TaxometerOptions"]
    original_from_args = options_class.__dict__["from_args"].__func__
    original_run = namespace["run_taxonomy_predictor"]

    def add_predictor_arguments(subparser: argparse.ArgumentParser) -> Any:
        result = original_add(subparser)
        if _is_taxometer_parser(subparser):
            from taxometer_kd.options import add_kd_arguments

            add_kd_arguments(subparser, DISABLE_ENV)
        return result

    def from_args(cls: type, args: argparse.Namespace) -> Any:
        from taxometer_kd.errors import KDError
        from taxometer_kd.options import KDOptions

        try:
            kd = KDOptions.from_args(args)
        except KDError as exc:
            fail(f"vamb taxometer: {exc}")
        opt = original_from_args(cls, args)
        opt.kd = kd
        return opt

    def run_taxonomy_predictor(opt: Any) -> Any:
        kd = getattr(opt, "kd", None)
        if kd is None:
            return original_run(opt)
        from taxometer_kd.errors import KDError
        from taxometer_kd.run import run_distillation

        try:
            return run_distillation(opt, kd, vamb_main)
        except KDError as exc:
            fail(str(exc))

    namespace["add_predictor_arguments"] = add_predictor_arguments
    options_class.from_args = classmethod(from_args)
    namespace["run_taxonomy_predictor"] = run_taxonomy_predictor
    namespace["_taxometer_kd_installed"] = True


def main_taxometer(argv: list[str]) -> None:
    """``taxometer-kd taxometer ARGS``: the same run as ``vamb taxometer ARGS`` with the flags."""
    import vamb.__main__ as vmain

    install(vars(vmain))  # also when the start-up hook is disabled
    old_argv = sys.argv
    sys.argv = ["taxometer-kd", "taxometer", *argv]
    try:
        vmain.main()
    finally:
        sys.argv = old_argv
