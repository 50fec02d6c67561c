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

Results go to ``benchmarks/results/scale_cpu.json`` (written atomically after every run, so
an interrupted benchmark keeps what it finished) and a Markdown table is printed. A run
with an ``ok`` record of the same settings is not redone unless ``--force``.

    python -m benchmarks.scale                               # 250k, 1M, 2M contigs, 20 samples
    python -m benchmarks.scale --sizes 20k --methods stock,kd --dry-run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import catalogue
from benchmarks.execute import code_version, write_json
from benchmarks.plan import MAIN_ALPHA, MAIN_TEMPERATURE, ROOT, STOCK_WRAPPER, rel

WORK = ROOT / "benchmarks" / "work" / "scale"
OUT = ROOT / "benchmarks" / "results" / "scale_cpu.json"
METHODS = ("stock", "kd")
STAGES = ("startup", "composition", "depths", "labels", "teacher", "training", "prediction", "exit")
#: per method: (stage, pattern of the log line that starts it), in the order they come;
#: 'startup' runs from the process's start to the first of them, 'exit' to its end
MARKERS = {
    "stock": (
        ("composition", r"\| Loading TNF\s*$"),
        ("depths", r"\| Loading depths\s*$"),
        ("labels", r"Processed abundance in"),
        ("training", r"Starting training the taxonomy predictor"),
        ("prediction", r"Finished training the taxonomy predictor in"),
        ("exit", r"Completed taxonomy predictions in"),
    ),
    "kd": (
        ("composition", r"\| Loading TNF\s*$"),
        ("depths", r"\| Loading depths\s*$"),
        ("labels", r"Processed abundance in"),
        ("teacher", r"Preparing teacher"),
        ("training", r"Teacher ready in"),
        ("prediction", r"Finished joint training in"),
        ("exit", r"Completed taxonomy predictions in"),
    ),
}
#: the line after which the first epoch starts
EPOCH_START = {"stock": r"Starting training the taxonomy predictor", "kd": r"Starting joint training"}
_EPOCH = re.compile(r"\tEpoch: (\d+)\t")
_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \| [A-Z]+ *\| (.*)$")
FULL_EPOCHS = 100  # Vamb's default -pe
LARGE_BYPRODUCTS = ("composition.npz", "abundance.npz")


def say(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------- sizes


def parse_size(text: str) -> int:
    """``250000``, ``250k``, ``1M``, ``1.5M`` -> number of contigs."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a number of contigs: {text!r}")
    n = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    if n < 1 or n != int(n):
        raise argparse.ArgumentTypeError(f"not a number of contigs: {text!r}")
    return int(n)


def size_label(n: int) -> str:
    """The name of a size: 250k, 1M, 2M, 20k, 300."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def estimated_bytes(n: int, samples: int) -> int:
    """Disk of a catalogue of ``n`` contigs (files and the temporary genome store), with margin."""
    genomes = catalogue.default_genomes(n, samples)
    per_contig = catalogue.MEAN_LENGTH * 81 / 80 + 10 + (8.5 * samples + 10) + 2 * 130
    return int(1.1 * n * per_contig + genomes * 3.25e6)


# ----------------------------------------------------------------------------- measuring


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        pass
    return out


def _vmrss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kib(pid: int) -> int | None:
    """PSS of ``pid`` (0 once it has exited; None where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    except (OSError, ValueError, IndexError):
        pass
    return None


def tree_rss_kib(pid: int) -> tuple[int, int, int]:
    """Memory of ``pid`` and all its descendants, KiB: ``(measure, VmRSS sum, processes)``.

    The measure is the VmRSS of a process alone, and the sum of the processes' PSS when it
    has children: a forked child (stock Vamb's DataLoader worker) shares its parent's pages,
    which a sum of VmRSS would count twice. 0 once the process has exited.
    """
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p not in pids:
            pids.append(p)
            todo += _children(p)
    rss = [_vmrss_kib(p) for p in pids]
    if len(pids) == 1 or not rss[0]:
        return rss[0], rss[0], 1
    pss = [_pss_kib(p) for p in pids]
    measure = sum(x if x is not None else r for x, r in zip(pss, rss))
    return measure, sum(rss), sum(r > 0 for r in rss)


def run_sampled(
    cmd: list[str], env: dict[str, str], stdout: Path, stderr: Path, interval: float = 0.2
) -> dict[str, Any]:
    """Run ``cmd``, sampling its tree's memory every ``interval`` s (:func:`tree_rss_kib`): exit
    status, start and end (``time.time()``), wall seconds, samples ``[(time, MiB)]``, the
    VmRSS sums and process counts of the samples ``[(MiB, n)]`` and ``ru_maxrss`` (MiB: the
    largest single process, from the kernel)."""
    samples: list[tuple[float, float]] = []
    details: list[tuple[float, int]] = []
    with open(stdout, "w") as fo, open(stderr, "w") as fe:
        t_start, t0 = time.time(), time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe, cwd=ROOT)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                now, (rss, rss_sum, nproc) = time.time(), tree_rss_kib(proc.pid)
                if rss:
                    samples.append((now, rss / 1024))
                    details.append((rss_sum / 1024, nproc))
                time.sleep(interval)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "returncode": proc.returncode,
        "t_start": t_start,
        "t_end": t_start + wall,
        "wall_s": wall,
        "samples": samples,
        "details": details,
        "ru_maxrss_mib": usage.ru_maxrss / 1024,
    }


# ----------------------------------------------------------------------------- logs -> stages


def log_lines(text: str) -> list[tuple[float, str]]:
    """``(time.time() of the line, message)`` of every timestamped line of a Vamb log."""
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out.append((datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp(), m.group(2)))
    return out


def stage_starts(lines: list[tuple[float, str]], method: str) -> dict[str, float]:
    """When each stage of ``method`` started: the first line matching its marker after the
    previous stage's (a stage whose line is missing, as in a failed run, is left out)."""
    starts: dict[str, float] = {}
    markers = list(MARKERS[method])
    for t, message in lines:
        for k, (stage, pattern) in enumerate(markers):
            if re.search(pattern, "| " + message):
                starts[stage] = t
                del markers[: k + 1]
                break
    return starts


def epoch_times(lines: list[tuple[float, str]], method: str) -> list[float]:
    """Seconds of each epoch: from the start of training (or the previous epoch's line) to
    its 'Epoch: k' line."""
    out, prev = [], None
    for t, message in lines:
        if prev is None and re.search(EPOCH_START[method], message):
            prev = t
        elif prev is not None and _EPOCH.search("\t" + message):
            out.append(round(t - prev, 3))
            prev = t
    return out


def split_stages(
    samples: list[tuple[float, float]], starts: dict[str, float], t_start: float, t_end: float
) -> dict[str, dict[str, Any]]:
    """Per stage: seconds, peak RSS (MiB) of the samples taken in it and their number.

    A stage runs from its start to the next stage's (the last one to ``t_end``); a sample
    at time t belongs to the stage with start <= t < next start. A stage without samples
    (shorter than the sampling interval) has peak None.
    """
    bounds = [("startup", t_start), *sorted(((s, t) for s, t in starts.items()), key=lambda x: x[1])]
    out = {}
    for i, (stage, t0) in enumerate(bounds):
        t1 = bounds[i + 1][1] if i + 1 < len(bounds) else t_end
        inside = [rss for t, rss in samples if t0 <= t < t1 or (i + 1 == len(bounds) and t == t1)]
        out[stage] = {
            "s": round(t1 - t0, 3),
            "peak_rss_mib": round(max(inside), 1) if inside else None,
            "samples": len(inside),
        }
    return out


def summarise(method: str, log_text: str, measured: dict[str, Any], epochs: int) -> dict[str, Any]:
    """A run's stages, epochs, peak RSS and the extrapolation to Vamb's 100 epochs."""
    lines = log_lines(log_text)
    starts = stage_starts(lines, method)
    stages = split_stages(measured["samples"], starts, measured["t_start"], measured["t_end"])
    per_epoch = epoch_times(lines, method)
    wall = measured["wall_s"]
    rec: dict[str, Any] = {
        "wall_s": round(wall, 3),
        "peak_rss_mib": round(max((r for _, r in measured["samples"]), default=0.0), 1),
        "ru_maxrss_mib": round(measured["ru_maxrss_mib"], 1),
        "peak_vmrss_sum_mib": round(max((r for r, _ in measured.get("details", [])), default=0.0), 1),
        "max_processes": max((n for _, n in measured.get("details", [])), default=1),
        "n_samples": len(measured["samples"]),
        "stages": stages,
        "epoch_times_s": per_epoch,
    }
    precision = next((m.split(":", 1)[1].strip() for _, m in lines if "Training precision:" in m), None)
    if precision:
        rec["precision"] = precision
    if per_epoch:
        steady = sum(per_epoch[1:]) / (len(per_epoch) - 1) if len(per_epoch) > 1 else per_epoch[0]
        rec.update(
            first_epoch_s=per_epoch[0],
            epoch_s=round(steady, 3),
            non_epoch_s=round(wall - len(per_epoch) * steady, 3),
            extrapolated_100_s=round(wall + (FULL_EPOCHS - len(per_epoch)) * steady, 1),
        )
    return rec


# ----------------------------------------------------------------------------- the runs


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            (ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("model name")), None
        )
        total = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        if total:
            info["memory_gib"] = round(int(total.group(1)) / 2**20, 1)
    except OSError:
        pass
    return info


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pkg in ("torch", "vamb", "numpy", "taxometer-kd"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def catalogue_dir(work: Path, n: int) -> Path:
    return work / size_label(n) / "data"


def catalogue_matches(info: dict[str, Any] | None, n: int, samples: int, seed: int) -> bool:
    if not info or info.get("version") != catalogue.VERSION:
        return False
    p = info.get("params", {})
    return (p.get("contigs"), p.get("samples"), p.get("seed"), p.get("genomes")) == (
        n,
        samples,
        seed,
        catalogue.default_genomes(n, samples),
    )


def make_catalogue(n: int, args: argparse.Namespace, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Make (or reuse) the catalogue of ``n`` contigs; returns its catalogue.json, with how
    its making was measured from outside (``known``: the record of an earlier invocation)."""
    data = catalogue_dir(args.work, n)
    info = catalogue.read_info(data)
    if info is not None and catalogue_matches(info, n, args.samples, args.data_seed):
        say(f"[scale] {size_label(n)}: reusing the catalogue in {rel(data)}")
        measured: dict[str, Any] = {
            k: known[k]
            for k in ("wall_s", "sampled_peak_rss_mib")
            if known and known.get("params") == info["params"] and k in known
        }
        return info | measured | {"reused": True}
    existing = args.work
    while not existing.exists():
        existing = existing.parent
    need, free = estimated_bytes(n, args.samples), shutil.disk_usage(existing).free
    if need > free:
        raise SystemExit(
            f"[scale] {size_label(n)}: the catalogue needs about {need / 1e9:.1f} GB, "
            f"only {free / 1e9:.1f} GB free under {args.work}"
        )
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.catalogue",
        str(data),
        "--contigs",
        str(n),
        "--samples",
        str(args.samples),
        "--seed",
        str(args.data_seed),
    ]
    say(f"[scale] {size_label(n)}: making the catalogue: {shlex.join(cmd)}")
    measured = run_sampled(
        cmd, dict(os.environ), data.parent / "catalogue.stdout", data.parent / "catalogue.stderr", args.interval
    )
    info = catalogue.read_info(data)
    if measured["returncode"] != 0 or info is None:
        tail = (data.parent / "catalogue.stderr").read_text(errors="replace").splitlines()[-10:]
        raise SystemExit(f"[scale] making the catalogue failed ({measured['returncode']}):\n" + "\n".join(tail))
    info = info | {
        "reused": False,
        "wall_s": round(measured["wall_s"], 2),
        "sampled_peak_rss_mib": round(max((r for _, r in measured["samples"]), default=0.0), 1),
    }
    say(
        f"[scale] {size_label(n)}: {info['bases'] / 1e9:.2f} Gbp in {info['wall_s']} s, peak RSS "
        f"{info['peak_rss_mib']} MiB, {sum(info['bytes'].values()) / 1e9:.2f} GB"
    )
    return info


def run_config(args: argparse.Namespace, method: str) -> dict[str, Any]:
    cfg = {
        "epochs": args.epochs,
        "threads": args.threads,
        "samples": args.samples,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "catalogue_version": catalogue.VERSION,
        "min_length": catalogue.MIN_LENGTH,
    }
    if method == "kd":
        cfg.update(teacher="default", alpha=MAIN_ALPHA, temperature=MAIN_TEMPERATURE)
    return cfg


def build_command(
    method: str, data: Path, out: Path, args: argparse.Namespace
) -> tuple[list[str], dict[str, str], str]:
    """The command line, environment and shown command (what ``command.sh`` holds) of a run."""
    vamb_args = [
        "taxometer",
        "--outdir",
        str(out),
        "--fasta",
        str(data / catalogue.FILES["fasta"]),
        "--abundance_tsv",
        str(data / catalogue.FILES["abundance"]),
        "--taxonomy",
        str(data / catalogue.FILES["labels"]),
        "-pe",
        str(args.epochs),
        "-p",
        str(args.threads),
        "-m",
        str(catalogue.MIN_LENGTH),
        "--seed",
        str(args.seed),
    ]
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    env.pop("TAXOMETER_KD_DISABLE", None)
    if method == "stock":
        env["TAXOMETER_KD_DISABLE"] = "1"
        cmd = [sys.executable, "-c", STOCK_WRAPPER.format(seed=args.seed, argv=json.dumps(["vamb", *vamb_args]))]
        shown = "TAXOMETER_KD_DISABLE=1 "
    else:
        vamb = Path(sys.executable).parent / "vamb"
        cmd = [
            str(vamb) if vamb.exists() else (shutil.which("vamb") or "vamb"),
            *vamb_args,
            "--teacher",
            "default",
            "--alpha",
            f"{MAIN_ALPHA:g}",
            "--temperature",
            f"{MAIN_TEMPERATURE:g}",
        ]
        shown = ""
    return cmd, env, shown + f"OMP_NUM_THREADS={args.threads} " + shlex.join(cmd)


def run_one(n: int, method: str, args: argparse.Namespace) -> dict[str, Any]:
    rdir = args.work / size_label(n) / "runs" / method
    out = rdir / "out"
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    cmd, env, shown = build_command(method, catalogue_dir(args.work, n), out, args)
    (rdir / "command.sh").write_text(shown + "\n")
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        say(
            f"[scale] warning: load average {load_before[0]:.2f} before this run: something else is running, "
            "the timings will be noisy"
        )
    say(f"[scale] {size_label(n)} {method}: running ({rel(rdir)})")
    measured = run_sampled(cmd, env, rdir / "stdout.txt", rdir / "stderr.txt", args.interval)
    with open(rdir / "rss.tsv", "w") as fh:
        fh.write("seconds\tmib\tvmrss_sum_mib\tprocesses\n")
        fh.writelines(
            f"{t - measured['t_start']:.3f}\t{r:.1f}\t{r_sum:.1f}\t{n}\n"
            for (t, r), (r_sum, n) in zip(measured["samples"], measured["details"])
        )
    log = (out / "log.txt").read_text(errors="replace") if (out / "log.txt").is_file() else ""
    ok = measured["returncode"] == 0 and (out / "results_taxometer.tsv").is_file()
    record = {
        "size": n,
        "label": size_label(n),
        "method": method,
        "status": "ok" if ok else "failed",
        "returncode": measured["returncode"],
        "config": run_config(args, method),
        "command": shown,
        "dir": rel(rdir),
        "code": args.code,
        "machine": args.machine,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "finished": datetime.now().isoformat(timespec="seconds"),
    } | summarise(method, log, measured, args.epochs)
    if not ok:
        tail = (rdir / "stderr.txt").read_text(errors="replace").splitlines()[-12:]
        record["error"] = "\n".join(tail)
    if not args.keep_npz:
        for name in LARGE_BYPRODUCTS:
            (out / name).unlink(missing_ok=True)
    return record


# ----------------------------------------------------------------------------- results


def ratios(runs: dict[str, dict[str, Any]], label: str) -> dict[str, Any] | None:
    s, k = runs.get(f"{label}/stock"), runs.get(f"{label}/kd")
    if not (s and k and s.get("status") == k.get("status") == "ok"):
        return None

    def r(key: str) -> float | None:
        a, b = k.get(key), s.get(key)
        return round(a / b, 3) if a and b else None

    return {
        "peak_rss": r("peak_rss_mib"),
        "epoch": r("epoch_s"),
        "wall": r("wall_s"),
        "extrapolated_100": r("extrapolated_100_s"),
    }


def _gib(mib: float | None) -> str:
    return "—" if mib is None else f"{mib / 1024:.2f} GiB"


def _secs(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s:.1f} s" if s < 600 else f"{s / 60:.1f} min"


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    order = sorted(
        runs.values(), key=lambda r: (r["size"], METHODS.index(r["method"]) if r["method"] in METHODS else 9)
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
        cells = [f"{rec['size']:,}", rec["method"], f"{_secs(rec['wall_s'])} (pe {rec['config']['epochs']})"]
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
            "| contigs | kd/stock peak RSS | epoch | whole run (pe E) | whole run at 100 epochs |",
            "|---|---|---|---|---|",
        ]
        for label, r in sorted(rows, key=lambda x: parse_size(x[0])):
            lines.append(f"| {label} | {r['peak_rss']} | {r['epoch']} | {r['wall']} | {r['extrapolated_100']} |")
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


def done(result: dict[str, Any], n: int, method: str, args: argparse.Namespace) -> bool:
    rec = result["runs"].get(f"{size_label(n)}/{method}")
    return bool(rec) and rec.get("status") == "ok" and rec.get("config") == run_config(args, method)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="250k,1M,2M", help="numbers of contigs, e.g. 250k,1M,2M or 20000 (default 250k,1M,2M)"
    )
    parser.add_argument("--samples", type=int, default=20, help="samples of the catalogues (default 20)")
    parser.add_argument("--epochs", type=int, default=2, help="-pe of every run (default 2)")
    parser.add_argument("--methods", default="stock,kd", help="stock, kd or both (default stock,kd)")
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
    if not sizes or args.samples < 1 or args.epochs < 1 or args.threads < 1 or args.interval <= 0:
        parser.error("--sizes, --samples, --epochs, --threads and --interval must be positive")
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
            for method in methods:
                state = "done" if done(result, n, method, args) and not args.force else "to run"
                _, _, shown = build_command(method, data, args.work / size_label(n) / "runs" / method / "out", args)
                say(f"  {method}: {state}: {shown}")
        return 0

    for n in sizes:
        todo = [m for m in methods if args.force or not done(result, n, m, args)]
        if not todo:
            say(f"[scale] {size_label(n)}: done ({', '.join(methods)})")
            continue
        result["catalogues"][size_label(n)] = make_catalogue(n, args, result["catalogues"].get(size_label(n)))
        save(args.out, result, args)
        for method in todo:
            rec = run_one(n, method, args)
            result["runs"][f"{size_label(n)}/{method}"] = rec
            save(args.out, result, args)
            if rec["status"] == "ok":
                say(
                    f"[scale] {size_label(n)} {method}: {_secs(rec['wall_s'])}, peak RSS {_gib(rec['peak_rss_mib'])}, "
                    f"epoch {_secs(rec.get('epoch_s'))}, 100 epochs ~{_secs(rec.get('extrapolated_100_s'))}"
                )
            else:
                say(f"[scale] {size_label(n)} {method}: FAILED (exit {rec['returncode']}); see {rec['dir']}/stderr.txt")
    say("")
    say(markdown(result))
    say(f"\nwritten: {rel(args.out)}")
    return 1 if any(r.get("status") != "ok" for r in result["runs"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
