"""The command line of :mod:`benchmarks.run`: its modes and their defaults, the options
(:func:`parse_args`), the settings a work dir's finished runs depend on, and
``--run-kinds`` (which runs an invocation may start)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from benchmarks import confidence, metrics
from benchmarks.plan import ALPHAS, MAIN_ALPHA, MAIN_TEMPERATURE, MOCK64, ROOT, TEMPERATURES, RunSpec

#: defaults of each mode; every one can be overridden on the command line
MODES: dict[str, dict[str, Any]] = {
    # a smoke test: a few hundred real contigs, two labellers, few epochs, one teacher, no ablations
    "quick": dict(
        data=str(MOCK64),
        subset=500,
        seeds="1,2",
        epochs=10,
        batch_size=128,
        threads=1,
        default_labellers=("mmseqs2", "kraken2"),
        all_teachers=False,
        ablations=False,
    ),
    # the benchmark: all contigs and labellers, Taxometer's 100 epochs and batch size, seeds 1,2,3, ablations
    "full": dict(
        data=str(MOCK64),
        subset=0,
        seeds="1,2,3",
        epochs=100,
        batch_size=None,
        threads=2,
        default_labellers=None,
        all_teachers=True,
        ablations=True,
    ),
}
CONFIDENCE_CUTS = ",".join(f"{c:g}" for c in confidence.CUTS)
# settings a work dir's finished runs depend on: a resumed benchmark must use the same ones
RUN_SETTINGS = ("data", "subset", "epochs", "batch_size", "threads", "cuda", "min_length", "teacher_options", "kd_args")
#: options that --kd-args may not set: the benchmark sets them per run (or they name the method)
KD_ARGS_RESERVED = (
    "--teacher", "--alpha", "--temperature", "--label-confidence", "--student-input",
    "--outdir", "--fasta", "--abundance_tsv", "--taxonomy", "-pe", "-pt", "-p", "-m", "--seed", "--cuda",
)  # fmt: skip


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark: stock Taxometer against taxometer-kd, per initial labeller, over several seeds.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mode", choices=sorted(MODES), default="quick", help="defaults for the options below [quick]")
    p.add_argument(
        "--data",
        help="data dir (labels/<labeller>.tsv, abundance.tsv, truth.tsv, FASTA or build_contigs.py) "
        "or synthetic[:tiny|small|demo] [../shared/data/mock64]",
    )
    p.add_argument("--subset", type=int, help="use N random contigs of the data (0 = all) [quick: 500, full: 0]")
    p.add_argument(
        "--labellers",
        help="comma-separated labellers [quick: mmseqs2,kraken2 where present, else the "
        "first two; full: every labels/*.tsv]",
    )
    p.add_argument(
        "--teachers",
        help="comma-separated teachers; the first is the main one (Sankey, ablations) "
        "[quick: the first teacher needing no download; full: every teacher needing no download]",
    )
    p.add_argument("--seeds", help="comma-separated seeds [quick: 1,2; full: 1,2,3]")
    p.add_argument("--epochs", type=int, help="-pe of every run [quick: 10; full: 100, Taxometer's default]")
    p.add_argument("--batch-size", type=int, help="-pt of every run [quick: 128; full: Vamb's default, 1024]")
    p.add_argument(
        "--threads", type=int, help="-p and OMP_NUM_THREADS of every run [quick: 1; full: 2, Vamb's default]"
    )
    p.add_argument("--cuda", action="store_true", help="pass --cuda to every run")
    p.add_argument(
        "--teacher-option",
        action="append",
        metavar="KEY=VALUE",
        help="pass --teacher-option KEY=VALUE to every run with a teacher (repeatable; a work dir's runs all "
        "share the same ones, so use another --name to compare, e.g. train-heads=9) [none]",
    )
    p.add_argument(
        "--kd-args",
        metavar="ARGS",
        help="more options for every run with a teacher, as one shell-quoted string after '=', e.g. "
        "--kd-args='--abstain both --abstain-weight 6' (a work dir's runs all share them, so use another "
        "--name to compare; --alpha and --temperature are options of their own) [none]",
    )
    p.add_argument("--alpha", type=float, default=MAIN_ALPHA, help=f"alpha of the main runs [{MAIN_ALPHA}]")
    p.add_argument(
        "--temperature",
        type=float,
        default=MAIN_TEMPERATURE,
        help=f"temperature of the main runs [{MAIN_TEMPERATURE:g}]",
    )
    p.add_argument(
        "--ablations", action=argparse.BooleanOptionalAction, help="alpha and temperature sweeps [quick: no; full: yes]"
    )
    p.add_argument("--alphas", default=ALPHAS, help=f"alpha sweep (temperature fixed at --temperature) [{ALPHAS}]")
    p.add_argument(
        "--temperatures", default=TEMPERATURES, help=f"temperature sweep (alpha fixed at --alpha) [{TEMPERATURES}]"
    )
    p.add_argument(
        "--ablation-labeller", help="labeller of the sweeps [mmseqs2 where present (the paper's), else the first]"
    )
    p.add_argument(
        "--sankey-cut", type=float, default=0.5, choices=metrics.CUTS, help="score cut of the Sankey figures [0.5]"
    )
    p.add_argument(
        "--taxometer-g",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the Taxometer_G variant of each teacher with embeddings [yes]",
    )
    p.add_argument(
        "--confidence",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="where the data has labels/<labeller>.confidence.tsv or labels/confidence/<labeller>.tsv: "
        "also run taxometer-kd with "
        "--label-confidence and score the labels with the species dropped below each --confidence-cuts [yes]",
    )
    p.add_argument(
        "--confidence-cuts",
        default=CONFIDENCE_CUTS,
        help=f"confidence cuts of the filtered initial labels [{CONFIDENCE_CUTS}]",
    )
    p.add_argument("--dry-run", action="store_true", help="print the runs (and which are done) and stop")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="score the finished runs and write the report without starting the others (listed as not run)",
    )
    p.add_argument(
        "--run-kinds",
        help="start only the runs of these comma-separated kinds (stock, kd: the main kd runs and the "
        "alpha/temperature sweeps, kdconf, kdG); the others are "
        "scored where their results exist and listed as not run otherwise, so a later call without it "
        "adds them [all]",
    )
    p.add_argument("--name", help="benchmark name [MODE-DATANAME]")
    p.add_argument("--out", type=Path, help="results dir [benchmarks/results/NAME]")
    p.add_argument(
        "--work",
        type=Path,
        default=ROOT / "benchmarks" / "work",
        help="work dir root; runs go to WORK/NAME [benchmarks/work]",
    )
    args = p.parse_args(argv)
    for key, value in MODES[args.mode].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.kd_args = parse_kd_args(p, args.kd_args)
    return args


def parse_kd_args(p: argparse.ArgumentParser, text: str | None) -> list[str] | None:
    """``--kd-args``'s words (None when not given or empty); exits with a usage error when it
    cannot be split or sets what the benchmark sets per run."""
    if text is None:
        return None
    try:
        words = shlex.split(text)
    except ValueError as e:
        p.error(f"--kd-args {text!r}: {e}")
    taken = [w for w in words if w.split("=", 1)[0] in KD_ARGS_RESERVED]
    if taken:
        p.error(
            f"--kd-args may not set {', '.join(taken)}: the benchmark sets it per run "
            "(use --alpha / --temperature for the main runs)"
        )
    return words or None


RUN_KINDS = ("stock", "kd", "kdconf", "kdG")


def parse_run_kinds(text: str | None) -> set[str] | None:
    """``--run-kinds``: None (every kind) or the set named; an unknown kind is an error."""
    if text is None:
        return None
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    unknown = kinds - set(RUN_KINDS)
    if unknown or not kinds:
        raise SystemExit(
            f"--run-kinds: unknown kind(s) {', '.join(sorted(unknown)) or '(none given)'}; use {', '.join(RUN_KINDS)}"
        )
    return kinds


def starts(spec: RunSpec, kinds: set[str] | None) -> bool:
    """Whether this invocation may start ``spec`` (a finished run is scored either way)."""
    return kinds is None or spec.kind in kinds
