"""Executing the runs of a benchmark and keeping their records.

Each run (:class:`benchmarks.plan.RunSpec`) lives in its own directory under the work dir:
``out/`` (Vamb's outdir), ``command.sh``, ``stdout.txt``, ``stderr.txt`` and ``run.json``
(its record: status, exit status, wall time, peak RSS, stage times from ``log.txt``). A run
whose result file exists is skipped (resuming); an unfinished ``out/`` is set aside as
``out.failed/``. A Taxometer_G run whose teacher has no embeddings is recorded as not
applicable, once per teacher (:func:`known_not_applicable` remembers it across invocations).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import plan
from benchmarks.plan import ROOT, Dataset, RunSpec, rel
from taxometer_kd.io import atomic_write_bytes

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")
_PATTERNS = {
    "tnf_s": r"Processed TNF in ([\d.]+) seconds",
    "abundance_s": r"Processed abundance in ([\d.]+) seconds",
    "sequences_s": r"\tRead \d+ sequences in ([\d.]+) s",
    "teacher_s": r"Teacher ready in ([\d.]+) s",
    "training_s": r"(?:Finished joint training|Finished training the taxonomy predictor) in ([\d.]+) seconds",
    "vamb_s": r"Completed Vamb in ([\d.]+) seconds",
}


def parse_log_timings(text: str) -> dict[str, float | None]:
    """Stage times of a ``vamb taxometer`` log (stock or distillation).

    ``load_s`` = TNF + abundance (+ reading the DNA for a teacher); ``teacher_s`` = teacher
    preparation / embedding ('Teacher ready in X s'); ``training_s`` ('Finished joint
    training in X seconds.' or stock's 'Finished training the taxonomy predictor in X
    seconds.'); ``prediction_s`` = from that line to 'Completed taxonomy predictions'
    (prediction and writing; both log lines' timestamps); ``vamb_s`` = Vamb's own total.
    """
    out: dict[str, float | None] = {k: None for k in ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s")}
    found: dict[str, float] = {}
    t_trained = t_done = None
    for line in text.splitlines():
        for key, pat in _PATTERNS.items():
            m = re.search(pat, line)
            if m:
                found[key] = float(m.group(1))
        stamp = _STAMP.match(line)
        if stamp and re.search(_PATTERNS["training_s"], line):
            t_trained = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f")
        if stamp and "Completed taxonomy predictions in" in line:
            t_done = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f")
    if "tnf_s" in found or "abundance_s" in found:
        out["load_s"] = sum(found.get(k, 0.0) for k in ("tnf_s", "abundance_s", "sequences_s"))
    for key in ("teacher_s", "training_s", "vamb_s"):
        out[key] = found.get(key)
    if t_trained is not None and t_done is not None:
        out["prediction_s"] = round((t_done - t_trained).total_seconds(), 3)
    return out


# ----------------------------------------------------------------------------- running


def _run_child(cmd: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> tuple[int, float, float]:
    """Run ``cmd``; return (exit status, wall seconds, peak RSS of the child in MiB)."""
    t0 = time.perf_counter()
    with open(stdout, "w") as fo, open(stderr, "w") as fe:
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe, cwd=ROOT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024.0  # Linux: KiB


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=str) + "\n").encode())


def _tail(path: Path, n: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _record(spec: RunSpec, work: Path) -> dict[str, Any]:
    return {
        "labeller": spec.labeller,
        "run": spec.run_id,
        "seed": spec.seed,
        "kind": spec.kind,
        "teacher": spec.teacher,
        "alpha": spec.alpha,
        "temperature": spec.temperature,
        "outputs": [m for m, _ in spec.outputs],
        "dir": rel(spec.directory(work)),
    }


def not_applicable_record(spec: RunSpec, work: Path, not_applicable: dict[str, str]) -> dict[str, Any] | None:
    """The record of a Taxometer_G run whose teacher is known to have no embeddings, else None."""
    if spec.kind == "kdG" and spec.teacher in not_applicable:
        return _record(spec, work) | {
            "status": "not_applicable",
            "reused": False,
            "error": not_applicable[spec.teacher],
        }
    return None


def not_run_record(spec: RunSpec, work: Path, not_applicable: dict[str, str]) -> dict[str, Any]:
    """The record of a run that ``--report-only`` did not start (nothing is written): not run,
    or not applicable where its teacher is known to have no embeddings (Taxometer_G)."""
    return not_applicable_record(spec, work, not_applicable) or _record(spec, work) | {
        "status": "not_run",
        "reused": False,
    }


def known_not_applicable(runs: list[RunSpec], work: Path) -> dict[str, str]:
    """Teachers whose Taxometer_G run an earlier invocation found not applicable (their
    ``run.json``), so that no later invocation tries or lists them as missing again."""
    found: dict[str, str] = {}
    for spec in runs:
        path = spec.directory(work) / "run.json"
        if spec.kind == "kdG" and spec.teacher is not None and spec.teacher not in found and path.is_file():
            old = json.loads(path.read_text())
            if old.get("status") == "not_applicable":
                found[spec.teacher] = old.get("error") or "the teacher has no embeddings"
    return found


def run_state(spec: RunSpec, work: Path, not_applicable: dict[str, str]) -> str:
    """What ``--dry-run`` says of a run: done, not applicable (known from the work dir) or to run."""
    if spec.result(work).is_file():
        return "done"
    return "not applicable" if not_applicable_record(spec, work, not_applicable) is not None else "to run"


def execute(
    spec: RunSpec, ds: Dataset, cfg: dict[str, Any], work: Path, not_applicable: dict[str, str]
) -> dict[str, Any]:
    """Run one ``vamb taxometer`` unless its result exists; returns the run's record."""
    rdir = spec.directory(work)
    out = rdir / "out"
    result = spec.result(work)
    record = _record(spec, work)
    if result.is_file():
        old = json.loads((rdir / "run.json").read_text()) if (rdir / "run.json").is_file() else {}
        record.update({k: old.get(k) for k in ("code", "command", "returncode", "wall_s", "peak_rss_mb")})
        record.update(status="ok", reused=True, timings=parse_log_timings(_read(out / "log.txt")))
        return record
    known = not_applicable_record(spec, work, not_applicable)
    if known is not None:
        rdir.mkdir(parents=True, exist_ok=True)
        write_json(rdir / "run.json", known)
        return known
    if out.exists():  # a crashed or interrupted earlier attempt: keep it aside, run again
        failed = rdir / "out.failed"
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(out, failed)
    rdir.mkdir(parents=True, exist_ok=True)
    cmd, env = plan.build_command(spec, ds, cfg, out)
    shown = (
        ("TAXOMETER_KD_DISABLE=1 " if spec.kind == "stock" else "")
        + f"OMP_NUM_THREADS={cfg['threads']} "
        + shlex.join(cmd)
    )
    (rdir / "command.sh").write_text(shown + "\n")
    rc, wall, rss = _run_child(cmd, env, rdir / "stdout.txt", rdir / "stderr.txt")
    stderr = _read(rdir / "stderr.txt")
    if rc == 0 and all((out / f).is_file() for _, f in spec.outputs):
        status = "ok"
    elif spec.kind == "kdG" and "has none" in stderr:
        status = "not_applicable"
        reason = next(
            (ln.split("| ", 2)[-1] for ln in stderr.splitlines() if "has none" in ln), "teacher has no embeddings"
        )
        assert spec.teacher is not None  # a kdG run has one
        not_applicable[spec.teacher] = f"{reason} (tried in {rel(rdir)})"
    else:
        status = "failed"
    record.update(
        status=status,
        reused=False,
        code=cfg.get("code"),
        command=shown,
        returncode=rc,
        wall_s=round(wall, 3),
        peak_rss_mb=round(rss, 1),
        timings=parse_log_timings(_read(out / "log.txt") or stderr),
    )
    if status == "not_applicable":
        assert spec.teacher is not None  # a kdG run has one
        record["error"] = not_applicable[spec.teacher]
    elif status == "failed":
        record["error"] = f"exit status {rc}; last lines of {rel(rdir / 'stderr.txt')}:\n{_tail(rdir / 'stderr.txt')}"
    write_json(rdir / "run.json", record)
    return record


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def code_version() -> str:
    """A hash of taxometer-kd's sources (``taxometer_kd/``, ``plugins/``): tells whether runs of a
    resumed benchmark were made by the same code."""
    h = hashlib.sha1()
    for path in sorted([*ROOT.glob("taxometer_kd/**/*.py"), *ROOT.glob("plugins/**/*.py")]):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]
