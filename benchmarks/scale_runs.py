"""The runs of the scale benchmark (:mod:`benchmarks.scale`): sizes, the machine, the
catalogues (made, or reused, by ``python -m benchmarks.catalogue`` in a process of their own)
and one ``vamb taxometer`` run, stock or ``--teacher default``, measured
(:mod:`benchmarks.scale_measure`)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import catalogue, catalogue_plan
from benchmarks.plan import MAIN_ALPHA, MAIN_TEMPERATURE, STOCK_WRAPPER, rel
from benchmarks.scale_measure import run_sampled, summarise

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
    per_contig = catalogue_plan.MEAN_LENGTH * 81 / 80 + 10 + (8.5 * samples + 10) + 2 * 130
    return int(1.1 * n * per_contig + genomes * 3.25e6)


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
        "min_length": catalogue_plan.MIN_LENGTH,
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
        str(catalogue_plan.MIN_LENGTH),
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


def run_key(label: str, method: str, repeat: int = 1) -> str:
    """The record key of a run: ``1M/kd``, ``1M/kd/r2`` for its second repeat."""
    return f"{label}/{method}" + (f"/r{repeat}" if repeat > 1 else "")


def _cpu_times(stat: str) -> tuple[int, int]:
    """(busy, total) jiffies from the ``cpu`` line of /proc/stat's text."""
    fields = [int(x) for x in stat.splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def busy_cores(seconds: float = 3.0, read=lambda: Path("/proc/stat").read_text()) -> float | None:
    """How many cores something else keeps busy, sampled over ``seconds`` while this
    benchmark itself waits (None where /proc/stat cannot be read). Unlike the load
    average, it does not remember the previous run's last minute."""
    try:
        b0, t0 = _cpu_times(read())
        time.sleep(seconds)
        b1, t1 = _cpu_times(read())
    except (OSError, ValueError, IndexError):
        return None
    return (b1 - b0) / max(t1 - t0, 1) * (os.cpu_count() or 1)


def run_dir(work: Path, n: int, method: str, repeat: int = 1) -> Path:
    """A run's directory: ``<size>/runs/kd``, ``<size>/runs/kd-r2`` for its second repeat."""
    return work / size_label(n) / "runs" / (method + (f"-r{repeat}" if repeat > 1 else ""))


def run_one(n: int, method: str, args: argparse.Namespace, repeat: int = 1) -> dict[str, Any]:
    rdir = run_dir(args.work, n, method, repeat)
    out = rdir / "out"
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    cmd, env, shown = build_command(method, catalogue_dir(args.work, n), out, args)
    (rdir / "command.sh").write_text(shown + "\n")
    load_before = os.getloadavg()
    busy = busy_cores()
    if busy is not None and busy > 0.25:
        say(
            f"[scale] warning: {busy:.2f} cores busy before this run (load average {load_before[0]:.2f}): "
            "something else is running, the timings will be noisy"
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
        "repeat": repeat,
        "status": "ok" if ok else "failed",
        "returncode": measured["returncode"],
        "config": run_config(args, method),
        "command": shown,
        "dir": rel(rdir),
        "code": args.code,
        "machine": args.machine,
        "loadavg_before": [round(x, 2) for x in load_before],
        "busy_cores_before": None if busy is None else round(busy, 2),
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
