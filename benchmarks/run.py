"""Benchmark: stock Taxometer against taxometer-kd, per initial labeller, over several seeds.

    python -m benchmarks.run --mode quick|full [--data DIR|synthetic[:SIZE]] [--labellers a,b]
                             [--teachers a,b] [--seeds 1,2,3] [--name NAME] [--out DIR]

For every labeller (``labels/<labeller>.tsv`` of the data dir) and seed it runs stock
``vamb taxometer`` (the real stock code path: ``TAXOMETER_KD_DISABLE=1``, through a tiny
wrapper that seeds torch, which stock Taxometer does not do itself), ``vamb taxometer
--teacher T`` for each teacher, and the Taxometer_G variant (``--student-input embedding
--alpha 1``) where the teacher has embeddings; with ``--ablations`` also the alpha and
temperature sweeps; where the data set has a labeller's own confidence
(``labels/<labeller>.confidence.tsv``), also the kd runs with ``--label-confidence`` and the
initial labels with the species dropped below a sweep of confidence cuts
(:mod:`benchmarks.confidence`; ``--no-confidence`` turns this off). Every run keeps its
output directory under the work dir and is skipped when its result file exists, so an
interrupted benchmark resumes. Then it scores everything (:mod:`benchmarks.collect`,
:mod:`benchmarks.metrics`) and writes JSON, CSV, figures and ``report.md``
(:mod:`benchmarks.report`) to ``benchmarks/results/<name>/``. Exit status 1 when a run failed.
``--report-only`` scores the finished runs without starting the others (the report lists
them as not run): a partial report of a benchmark too long for one sitting.

This module is the command line only: the plan is :mod:`benchmarks.plan`, running and
resuming :mod:`benchmarks.execute`, scoring :mod:`benchmarks.collect`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import confidence, metrics
from benchmarks.collect import collect, write_outputs
from benchmarks.execute import code_version, execute, known_not_applicable, not_run_record, run_state, write_json
from benchmarks.plan import (
    ALPHAS,
    INITIAL,
    MAIN_ALPHA,
    MAIN_TEMPERATURE,
    MOCK64,
    ROOT,
    STOCK,
    STOCK_WRAPPER,
    TEMPERATURES,
    RunSpec,
    default_ablation_labeller,
    make_plan,
    prepare_dataset,
    rel,
    say,
)

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
RUN_SETTINGS = ("data", "subset", "epochs", "batch_size", "threads", "cuda", "min_length")


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n\n")[0],
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
        help="where the data has labels/<labeller>.confidence.tsv: also run taxometer-kd with "
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
        help="start only the runs of these comma-separated kinds (stock, kd, kdconf, kdG); the others are "
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
    return args


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


def main(argv: list[str] | None = None) -> int:
    began = time.time()
    args = parse_args(argv)
    run_kinds = parse_run_kinds(args.run_kinds)
    from taxometer_kd import registry

    reg = registry.teachers()
    if args.teachers:
        try:
            teachers = [reg.resolve(t) for t in _names(args.teachers)]
        except registry.UnknownNameError as exc:
            raise SystemExit(f"--teachers: {exc}") from None
    else:
        free = [n for n in reg.names() if not reg.get(n).needs_download]
        if not free:
            raise SystemExit("no registered teacher works without a download; name one with --teachers")
        try:
            default = reg.resolve("default")
        except registry.UnknownNameError:
            default = None
        if default in free:  # the teacher `--teacher default` names comes first (the main one)
            free = [default] + [n for n in free if n != default]
        teachers = free if args.all_teachers else free[:1]
    seeds = [int(s) for s in _names(args.seeds)]
    dataname = args.data.replace(":", "-") if args.data.startswith("synthetic") else Path(args.data).resolve().name
    name = args.name or f"{args.mode}-{dataname}"
    work = (args.work / name).resolve()
    out = (args.out or ROOT / "benchmarks" / "results" / name).resolve()
    work.mkdir(parents=True, exist_ok=True)

    ds = prepare_dataset(args.data, args.subset, args.work.resolve(), work)
    if args.labellers:
        labellers = _names(args.labellers)
    elif args.default_labellers:
        labellers = [lab for lab in args.default_labellers if lab in ds.labels] or list(ds.labels)[:2]
    else:
        labellers = list(ds.labels)
    unknown = [lab for lab in labellers if lab not in ds.labels]
    if unknown:
        raise SystemExit(f"no labels/{unknown[0]}.tsv in {ds.source} (labellers there: {', '.join(ds.labels)})")
    ablation_labeller = args.ablation_labeller or default_ablation_labeller(labellers)
    if ablation_labeller not in labellers:
        raise SystemExit(f"--ablation-labeller {ablation_labeller}: not among the labellers ({', '.join(labellers)})")
    cfg = {
        "data": str(Path(args.data).resolve()) if not args.data.startswith("synthetic") else args.data,
        "subset": args.subset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "cuda": args.cuda,
        "min_length": ds.min_length,
    }
    cfg_path = work / "settings.json"
    if cfg_path.is_file():
        old = json.loads(cfg_path.read_text())
        diff = [k for k in RUN_SETTINGS if old.get(k) != cfg.get(k)]
        if diff:
            raise SystemExit(
                f"{rel(work)} holds runs made with other settings ({', '.join(f'{k}={old.get(k)!r}' for k in diff)}); "
                "use another --name or delete that dir"
            )

    confident = [lab for lab in labellers if lab in ds.confidence] if args.confidence else []
    confidence_cuts = _floats(args.confidence_cuts)
    methods, runs = make_plan(
        labellers,
        teachers,
        seeds,
        args.ablations,
        _floats(args.alphas),
        _floats(args.temperatures),
        ablation_labeller,
        args.alpha,
        args.temperature,
        args.taxometer_g,
        confident,
        confidence_cuts,
    )
    say(
        f"benchmark {name}: {ds.source}, {ds.n_contigs} contigs; labellers {', '.join(labellers)}; "
        f"teachers {', '.join(teachers)}; seeds {', '.join(map(str, seeds))}; {args.epochs} epochs; {len(runs)} runs"
    )
    if confident:
        say(
            f"  labeller confidence: {', '.join(confident)} (taxometer-kd + --label-confidence; species dropped "
            f"below confidence {', '.join(map(str, confidence_cuts))})"
        )
    say(f"  work dir {rel(work)}, results {rel(out)}")
    if args.dry_run:
        not_applicable = known_not_applicable(runs, work)
        for i, spec in enumerate(runs, 1):
            say(
                f"[{i}/{len(runs)}] {spec.labeller} {spec.run_id} seed {spec.seed}: {run_state(spec, work, not_applicable)}"
            )
        return 0
    write_json(cfg_path, cfg)

    records: list[dict[str, Any]] = []
    not_applicable = known_not_applicable(runs, work)
    run_cfg = cfg | {"code": code_version()}
    for i, spec in enumerate(runs, 1):
        what = f"[{i}/{len(runs)}] {spec.labeller} {spec.run_id} seed {spec.seed}"
        held = args.report_only or not starts(spec, run_kinds)
        if held and not spec.result(work).is_file():
            rec = not_run_record(spec, work, not_applicable)
            records.append(rec)
            why = "--report-only" if args.report_only else "--run-kinds"
            say(
                f"{what}: " + (f"not run ({why})" if rec["status"] == "not_run" else f"not applicable ({rec['error']})")
            )
            continue
        rec = execute(spec, ds, run_cfg, work, not_applicable)
        records.append(rec)
        if rec.get("reused"):
            say(f"{what}: result exists, skipped")
        elif rec["status"] == "ok":
            say(f"{what}: ok in {rec['wall_s']:.1f} s, peak RSS {rec['peak_rss_mb']:.0f} MiB")
        elif rec["status"] == "not_applicable":
            say(f"{what}: not applicable ({rec['error']})")
        else:
            say(f"{what}: FAILED ({rec['error'].splitlines()[0]}); see {rec['dir']}/stderr.txt")

    main_teacher = teachers[0] if teachers else None
    sankey_pairs = [(INITIAL.key, STOCK.key)]
    if main_teacher:
        sankey_pairs = [
            (INITIAL.key, f"kd:{main_teacher}"),
            (STOCK.key, f"kd:{main_teacher}"),
            (INITIAL.key, STOCK.key),
        ]
    say("scoring ...")
    scored = collect(ds, labellers, methods, runs, records, work, sankey_pairs, confident, confidence_cuts)
    results = {
        "name": name,
        "mode": args.mode,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv),
        "config": cfg
        | {
            "seeds": seeds,
            "labellers": labellers,
            "teachers": teachers,
            "main_teacher": main_teacher,
            "alpha": args.alpha,
            "temperature": args.temperature,
            "ablations": args.ablations,
            "alphas": _floats(args.alphas),
            "temperatures": _floats(args.temperatures),
            "ablation_labeller": ablation_labeller if args.ablations else None,
            "cuts": list(metrics.CUTS),
            "sankey_cut": args.sankey_cut,
            "work": rel(work),
            "out": rel(out),
            "confidence": args.confidence,
            "confidence_cuts": confidence_cuts,
            "confident_labellers": confident,
            "stock_wrapper": STOCK_WRAPPER,
        },
        "environment": _environment(),
        "methods": [asdict(m) for m in methods],
        "runs": records,
        **scored,
    }
    results["elapsed_s"] = round(time.time() - began, 1)
    write_outputs(results, out)
    from benchmarks import report

    report.write_report(results, out)
    say("")
    say(report.console_table(results))
    failed = [r for r in records if r["status"] == "failed"]
    not_run = sum(r["status"] == "not_run" for r in records)
    if not_run:
        say(
            f"\n{not_run} of {len(records)} runs not run (--report-only or --run-kinds): "
            "the tables hold fewer seeds or methods than planned"
        )
    say(f"\nwrote {rel(out)}/report.md (+ results.json, *.csv, figures/) in {results['elapsed_s']:.0f} s")
    if failed:
        say(f"{len(failed)} run(s) FAILED: " + ", ".join(f"{r['dir']}" for r in failed))
        return 1
    return 0


def _environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "code": code_version(),
    }
    try:
        env["git"] = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            or None
        )
    except OSError:
        env["git"] = None
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("torch", "vamb", "taxometer-kd", "numpy"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = None
    return env


if __name__ == "__main__":
    sys.exit(main())
