"""End-to-end scale benchmark: the whole ``vamb taxometer``, stock and ``--teacher default``,
on synthetic catalogues of 250k to 2M+ contigs, with time and peak RSS per stage.

For each size the catalogue (:mod:`benchmarks.catalogue`) is made, or reused, under
``benchmarks/work/scale/<size>/data/``; then, one at a time, each as its own process with
``-pe EPOCHS -p THREADS`` and ``OMP_NUM_THREADS=THREADS``:

- ``stock``: ``TAXOMETER_KD_DISABLE=1 python -c "import sys, torch; torch.manual_seed(S);
  sys.argv = ['vamb', 'taxometer', ...]; from vamb.__main__ import main; main()"`` (as
  :data:`benchmarks.plan.STOCK_WRAPPER`: stock Vamb, seeded);
- ``kd``: ``vamb taxometer ... --teacher default --alpha 0.3 --temperature 4``.

While a run goes, the memory of its process and all its descendants is sampled every
``--interval`` seconds (``rss.tsv`` in the run's directory): ``VmRSS`` (``/proc/<pid>/status``)
of a process alone, the sum of ``Pss`` (``/proc/<pid>/smaps_rollup``) while it has children
(stock Vamb's DataLoader worker is forked: a sum of VmRSS would count the shared data
twice; that sum is kept too, ``peak_vmrss_sum_mib``). The samples are given to stages by
the timestamps of the lines of the run's ``log.txt`` (:data:`MARKERS`): startup (Python, torch, Vamb), composition (TNF), depths,
labels (reading the taxonomy, the label graph; stock also builds its model and data loaders
there), teacher (kd), training (kd: from 'Teacher ready', so the student's data too),
prediction (and writing) and exit. Epoch times come from the 'Epoch: k' lines; the first
epoch holds one-off set-up, so the steady epoch time is the mean of the others, and the run
at Vamb's 100 epochs is extrapolated as ``wall + (100 - EPOCHS) x steady epoch``.

With ``--repeat R`` each method runs R times per size, interleaved (stock kd, kd stock,
stock kd, ...: a drift of the machine's speed falls on both alike); the kd/stock ratios are
taken per repeat, from runs that ran next to each other, and their median is reported.
Before each run the cores something else keeps busy are sampled from /proc/stat for 3 s
(a warning above 0.25; the load average would still remember the previous run's tail).

Results go to ``benchmarks/results/scale_cpu.json`` (written atomically after every run, so
an interrupted benchmark keeps what it finished) and a Markdown table is printed. A run
with an ``ok`` record of the same settings is not redone unless ``--force``.

What a run measured is :mod:`benchmarks.scale_measure` (memory sampling, stages from the
log); the catalogues and the runs are :mod:`benchmarks.scale_runs`; this module holds the
results, the report and the command line.

    python -m benchmarks.scale                               # 250k, 1M, 2M contigs, 20 samples
    python -m benchmarks.scale --sizes 20k --methods stock,kd --dry-run
    python -m benchmarks.scale --sizes 1M --repeat 2 --force   # paired runs for the epoch ratio
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import catalogue
from benchmarks.execute import code_version, write_json
from benchmarks.plan import ROOT, rel
from benchmarks.scale_measure import STAGES
from benchmarks.scale_runs import (
    build_command,
    catalogue_dir,
    catalogue_matches,
    estimated_bytes,
    machine,
    make_catalogue,
    parse_size,
    run_config,
    run_dir,
    run_key,
    run_one,
    say,
    size_label,
    versions,
)

WORK = ROOT / "benchmarks" / "work" / "scale"
OUT = ROOT / "benchmarks" / "results" / "scale_cpu.json"
METHODS = ("stock", "kd")


# ----------------------------------------------------------------------------- results


def _pair_ratios(s: dict[str, Any], k: dict[str, Any]) -> dict[str, float | None]:
    def r(key: str) -> float | None:
        a, b = k.get(key), s.get(key)
        return round(a / b, 3) if a and b else None

    return {
        "peak_rss": r("peak_rss_mib"),
        "epoch": r("epoch_s"),
        "wall": r("wall_s"),
        "extrapolated_100": r("extrapolated_100_s"),
    }


def ratios(runs: dict[str, dict[str, Any]], label: str) -> dict[str, Any] | None:
    """kd/stock at one size: per repeat (the stock and kd runs of repeat r ran next to each
    other), and the median over the repeats (the headline numbers)."""
    pairs = []
    for rep in sorted({r.get("repeat", 1) for r in runs.values() if r.get("label") == label}):
        s, k = runs.get(run_key(label, "stock", rep)), runs.get(run_key(label, "kd", rep))
        if s and k and s.get("status") == k.get("status") == "ok":
            pairs.append({"repeat": rep} | _pair_ratios(s, k))
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for key in ("peak_rss", "epoch", "wall", "extrapolated_100"):
        values = [p[key] for p in pairs if p[key] is not None]
        out[key] = round(statistics.median(values), 3) if values else None
    if len(pairs) > 1:
        out["pairs"] = pairs
    return out


def _gib(mib: float | None) -> str:
    return "—" if mib is None else f"{mib / 1024:.2f} GiB"


def _secs(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s:.1f} s" if s < 600 else f"{s / 60:.1f} min"


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    order = sorted(
        runs.values(),
        key=lambda r: (r["size"], r.get("repeat", 1), METHODS.index(r["method"]) if r["method"] in METHODS else 9),
    )
    head = ["contigs", "method", "wall (pe E)", *STAGES[:-1], "epoch 1 / steady", "peak RSS", "100 epochs (extrap.)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rec in order:
        if rec.get("status") != "ok":
            lines.append(
                f"| {rec['size']:,} | {rec['method']} | failed (exit {rec.get('returncode')}) |"
                + " |" * (len(head) - 3)
            )
            continue
        st = rec["stages"]
        method = rec["method"] + (f" (repeat {rec['repeat']})" if rec.get("repeat", 1) > 1 else "")
        cells = [f"{rec['size']:,}", method, f"{_secs(rec['wall_s'])} (pe {rec['config']['epochs']})"]
        cells += [f"{_secs(st[s]['s'])}, {_gib(st[s]['peak_rss_mib'])}" if s in st else "—" for s in STAGES[:-1]]
        cells += [
            f"{_secs(rec.get('first_epoch_s'))} / {_secs(rec.get('epoch_s'))}",
            _gib(rec["peak_rss_mib"]),
            _secs(rec.get("extrapolated_100_s")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    rows = [(label, r) for label, r in result.get("ratios", {}).items() if r]
    if rows:
        lines += [
            "",
            "| contigs | kd/stock peak RSS | epoch | whole run (pe E) | whole run at 100 epochs | epoch per repeat |",
            "|---|---|---|---|---|---|",
        ]
        for label, r in sorted(rows, key=lambda x: parse_size(x[0])):
            each = ", ".join(str(p["epoch"]) for p in r.get("pairs", [])) or "—"
            lines.append(
                f"| {label} | {r['peak_rss']} | {r['epoch']} | {r['wall']} | {r['extrapolated_100']} | {each} |"
            )
    return "\n".join(lines)


def load_result(path: Path) -> dict[str, Any]:
    try:
        old = json.loads(path.read_text())
        if isinstance(old, dict) and isinstance(old.get("runs"), dict):
            return old
    except (OSError, ValueError):
        pass
    return {"runs": {}, "catalogues": {}}


def save(path: Path, result: dict[str, Any], args: argparse.Namespace) -> None:
    result["benchmark"] = "scale: whole vamb taxometer, stock vs --teacher default, per stage"
    result["machine"], result["versions"], result["code"] = args.machine, args.versions, args.code
    result["updated"] = datetime.now().isoformat(timespec="seconds")
    result["ratios"] = {
        lab: ratios(result["runs"], lab) for lab in sorted({r["label"] for r in result["runs"].values()})
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, result)


def done(result: dict[str, Any], n: int, method: str, args: argparse.Namespace, repeat: int = 1) -> bool:
    rec = result["runs"].get(run_key(size_label(n), method, repeat))
    return bool(rec) and rec.get("status") == "ok" and rec.get("config") == run_config(args, method)


def schedule(methods: list[str], repeats: int) -> list[tuple[int, str]]:
    """(repeat, method) in run order: A B, B A, A B, ... so that a drift of the machine's
    speed over the hour falls on both methods alike."""
    return [(r, m) for r in range(1, repeats + 1) for m in (methods if r % 2 else methods[::-1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="250k,1M,2M", help="numbers of contigs, e.g. 250k,1M,2M or 20000 (default 250k,1M,2M)"
    )
    parser.add_argument("--samples", type=int, default=20, help="samples of the catalogues (default 20)")
    parser.add_argument("--epochs", type=int, default=2, help="-pe of every run (default 2)")
    parser.add_argument("--methods", default="stock,kd", help="stock, kd or both (default stock,kd)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each method this many times per size, interleaved (stock kd, kd stock, ...); the kd/stock "
        "ratios are the median over the repeats (default 1)",
    )
    parser.add_argument("--threads", type=int, default=2, help="-p and OMP_NUM_THREADS (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="--seed of the runs (stock: torch.manual_seed) (default 1)")
    parser.add_argument("--data-seed", type=int, default=1, help="seed of the catalogues (default 1)")
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sampling interval, s (default 0.2)")
    parser.add_argument("--work", type=Path, default=WORK, help=f"work dir (default {rel(WORK)})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"results JSON (default {rel(OUT)})")
    parser.add_argument("--force", action="store_true", help="redo runs that have an ok record")
    parser.add_argument(
        "--keep-npz", action="store_true", help="keep Vamb's composition.npz and abundance.npz in each run"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be made and run; run nothing")
    args = parser.parse_args(argv)
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        parser.error(f"--methods: unknown {', '.join(bad) or '(none given)'}; choose from {', '.join(METHODS)}")
    if not sizes or min(args.samples, args.epochs, args.threads, args.repeat) < 1 or args.interval <= 0:
        parser.error("--sizes, --samples, --epochs, --threads, --repeat and --interval must be positive")
    args.work, args.out = args.work.resolve(), args.out.resolve()
    args.code, args.machine, args.versions = code_version(), machine(), versions()
    result = load_result(args.out)

    if args.dry_run:
        say(
            f"scale benchmark (dry run): sizes {', '.join(map(size_label, sizes))}, {args.samples} samples, "
            f"-pe {args.epochs}, -p {args.threads}, methods {', '.join(methods)}; results {rel(args.out)}"
        )
        for n in sizes:
            data = catalogue_dir(args.work, n)
            have = catalogue_matches(catalogue.read_info(data), n, args.samples, args.data_seed)
            say(
                f"{size_label(n)}: catalogue {rel(data)}: {'present' if have else 'to make'} "
                f"(~{estimated_bytes(n, args.samples) / 1e9:.1f} GB, {catalogue.default_genomes(n, args.samples)} genomes)"
            )
            for rep, method in schedule(methods, args.repeat):
                state = "done" if done(result, n, method, args, rep) and not args.force else "to run"
                _, _, shown = build_command(method, data, run_dir(args.work, n, method, rep) / "out", args)
                say(f"  {method}{f' (repeat {rep})' if rep > 1 else ''}: {state}: {shown}")
        return 0

    for n in sizes:
        todo = [(r, m) for r, m in schedule(methods, args.repeat) if args.force or not done(result, n, m, args, r)]
        if not todo:
            say(f"[scale] {size_label(n)}: done ({', '.join(methods)})")
            continue
        result["catalogues"][size_label(n)] = make_catalogue(n, args, result["catalogues"].get(size_label(n)))
        save(args.out, result, args)
        for rep, method in todo:
            rec = run_one(n, method, args, rep)
            result["runs"][run_key(size_label(n), method, rep)] = rec
            save(args.out, result, args)
            if rec["status"] == "ok":
                say(
                    f"[scale] {size_label(n)} {method} (repeat {rep}): {_secs(rec['wall_s'])}, peak RSS {_gib(rec['peak_rss_mib'])}, "
                    f"epoch {_secs(rec.get('epoch_s'))}, 100 epochs ~{_secs(rec.get('extrapolated_100_s'))}"
                )
            else:
                say(
                    f"[scale] {size_label(n)} {method} (repeat {rep}): FAILED (exit {rec['returncode']}); see {rec['dir']}/stderr.txt"
                )
    say("")
    say(markdown(result))
    say(f"\nwritten: {rel(args.out)}")
    return 1 if any(r.get("status") != "ok" for r in result["runs"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
