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
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Callable, MutableMapping
from pathlib import Path
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


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that a run can clean up like on Ctrl-C."""


def guarded_run(opt: Any, body: Callable[[], Any], log_format: Any = None) -> Any:
    """Run a distillation run so that a failure leaves nothing half-done.

    Any failure (a user error, Ctrl-C, SIGTERM, a bug) ends with one ERROR line on stderr
    and exit status 2 (bad input or set-up), 130 (SIGINT), 143 (SIGTERM) or 1 (anything
    else). The output folder, which Vamb created for this run (it refuses an existing one),
    is removed, so that the same command can simply be run again; its ``log.txt`` is kept
    beside it as ``OUTDIR.failed.log`` (with the traceback, for an unexpected error).
    """
    from taxometer_kd.errors import KDError

    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)
    try:
        result = body()
        failed_log_path(Path(opt.general.out_dir)).unlink(missing_ok=True)  # an earlier attempt's
        return result
    except KDError as exc:
        clean_up_and_exit(opt.general.out_dir, str(exc), 2, exc.__cause__, log_format)
    except KeyboardInterrupt:
        clean_up_and_exit(opt.general.out_dir, "interrupted (SIGINT)", 130, None, log_format)
    except Terminated:
        clean_up_and_exit(opt.general.out_dir, "terminated (SIGTERM)", 143, None, log_format)
    except Exception as exc:
        message = f"unexpected error, probably a bug in taxometer-kd: {type(exc).__name__}: {exc}"
        clean_up_and_exit(opt.general.out_dir, message, 1, exc, log_format)
    finally:
        signal.signal(signal.SIGTERM, previous)


def failed_log_path(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".failed.log")


def clean_up_and_exit(out_dir: Path, message: str, code: int, exc: BaseException | None, log_format: Any) -> NoReturn:
    """Log ``message``, keep the log as ``OUTDIR.failed.log``, remove ``out_dir``, exit ``code``."""
    from loguru import logger

    out_dir = Path(out_dir)
    kept = failed_log_path(out_dir)
    where = f"the log is in {kept}" if (out_dir / "log.txt").is_file() else "no log was written"
    logger.error(f"{message} ({where}; {out_dir} was removed, so the same command can be run again)")
    logger.remove()  # closes log.txt (and stderr: re-added below for anything after)
    logger.add(sys.stderr, format=log_format) if log_format is not None else logger.add(sys.stderr)
    log = out_dir / "log.txt"
    if log.is_file():
        if exc is not None:
            with open(log, "a") as fh:
                fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        os.replace(log, kept)
    shutil.rmtree(out_dir, ignore_errors=True)
    sys.exit(code)


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
            if kd is not None and getattr(args, "taxonomy", None) is not None:
                from taxometer_kd.inputs import check_taxonomy_header

                check_taxonomy_header(args.taxonomy)
        except KDError as exc:
            fail(f"vamb taxometer: {exc}")
        if kd is None:
            opt = original_from_args(cls, args)
        else:  # Vamb's own checks of the command line, as one line instead of a traceback
            try:
                opt = original_from_args(cls, args)
            except FileExistsError as exc:
                fail(
                    f"vamb taxometer: --outdir {exc} already exists; Vamb writes into a new folder: "
                    "remove it or choose another"
                )
            except (ValueError, OSError, argparse.ArgumentTypeError) as exc:
                fail(f"vamb taxometer: {exc}")
        opt.kd = kd
        return opt

    def run_taxonomy_predictor(opt: Any) -> Any:
        kd = getattr(opt, "kd", None)
        if kd is None:
            return original_run(opt)
        from taxometer_kd.run import run_distillation

        return guarded_run(opt, lambda: run_distillation(opt, kd, vamb_main), namespace.get("format_log"))

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
