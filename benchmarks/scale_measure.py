"""Measuring one run of the scale benchmark (:mod:`benchmarks.scale`): the memory of its
process tree, sampled while it runs (:func:`run_sampled`), and its stages and epochs, from
the timestamps of its log (:func:`summarise`)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.plan import ROOT

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


# ----------------------------------------------------------------------------- memory


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
