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
them as not run): a partial report of a benchmark too long for one sitting; ``--run-kinds``
starts only some kinds of run, and a later call without it adds the others.

This module is the command line only: the plan is :mod:`benchmarks.plan`, running and
resuming :mod:`benchmarks.execute`, scoring :mod:`benchmarks.collect`.
"""

from __future__ import annotations

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

from benchmarks import metrics
from benchmarks.collect import collect, write_outputs
from benchmarks.execute import code_version, execute, known_not_applicable, not_run_record, run_state, write_json
from benchmarks.plan import (
    INITIAL,
    ROOT,
    STOCK,
    STOCK_WRAPPER,
    default_ablation_labeller,
    make_plan,
    prepare_dataset,
    rel,
    say,
)
from benchmarks.run_args import (
    RUN_SETTINGS,
    _floats,
    _names,
    parse_args,
    parse_run_kinds,
    starts,
)


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
        # absent (None) rather than [] when not given, so work dirs made before the option still resume
        "teacher_options": args.teacher_option or None,
        "kd_args": args.kd_args,
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
