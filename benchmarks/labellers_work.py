"""The labellers' work dir (:class:`Work`: resumable steps with ``.done`` markers, a log, one JSON
line per step run) and the tools it runs with their native outputs; see :mod:`benchmarks.labellers`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

TOOLS = ("mmseqs2", "kraken2", "centrifuge")
#: the native output of each tool, relative to WORKDIR/<tool>/
OUTPUTS = {"mmseqs2": "mm_lca.tsv", "kraken2": "k2.out", "centrifuge": "cf.out"}
#: the shared raw file each output is compared with (``DIR/labels/raw/``)
SHARED_RAW = {
    "mmseqs2": "mmseqs2_mm_lca.tsv.gz",
    "kraken2": "kraken2_k2_lca.tsv.gz",
    "centrifuge": "centrifuge_cf.out.gz",
}


class Work:
    """A work dir: steps with ``.done`` markers, a log and one JSON line per step run."""

    def __init__(self, root: Path, threads: int):
        self.root, self.threads = root, threads
        root.mkdir(parents=True, exist_ok=True)

    def log(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)
        with open(self.root / "labellers.log", "a") as fh:
            fh.write(line + "\n")

    def step(self, name: str, cmd: list[str], cwd: Path) -> None:
        """Run ``cmd`` once: skipped when ``cwd/.done.<name>`` exists (thread-safe: waits for its own child)."""
        done = cwd / f".done.{name}"
        if done.exists():
            self.log(f"{name}: done before, skipped")
            return
        cwd.mkdir(parents=True, exist_ok=True)
        self.log(f"{name}: {' '.join(cmd)}")
        t0, load0 = time.time(), os.getloadavg()[0]
        with open(cwd / f"{name}.stderr", "w") as err, open(cwd / f"{name}.stdout", "w") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        seconds = time.time() - t0
        rec = dict(
            step=name,
            dir=str(cwd.relative_to(self.root)),
            cmd=cmd,
            rc=rc,
            seconds=round(seconds, 1),
            max_rss_mb=round(usage.ru_maxrss / 1024),
            threads=self.threads,
            load_before=round(load0, 2),
            load_after=round(os.getloadavg()[0], 2),
            finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        with open(self.root / "steps.jsonl", "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        self.log(
            f"{name}: exit {rc} in {seconds:.1f} s, peak RSS {rec['max_rss_mb']} MB, load {load0:.1f} -> {rec['load_after']}"
        )
        if rc != 0:
            tail = (cwd / f"{name}.stderr").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{name} failed (exit {rc}); end of its stderr:\n{tail}")
        done.touch()
