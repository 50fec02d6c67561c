"""Smoke test of benchmarks/training_speed.py (the numbers themselves are measured by hand)."""

import json
import sys
from pathlib import Path

from conftest import ROOT, run_cmd


def test_training_speed_benchmark_runs(tmp_path):
    out = tmp_path / "speed.json"
    proc = run_cmd([sys.executable, str(ROOT / "benchmarks" / "training_speed.py"), "--sizes", "3000",
                    "--epochs", "2", "--species", "40", "--embedding-dim", "32", "--threads", "1", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert "ratio kd/stock" in proc.stdout
    data = json.loads(out.read_text())
    row = data["rows"][0]
    for which in ("stock", "kd"):
        assert row[which]["n"] == 3000 and row[which]["epoch_s"] > 0 and row[which]["peak_rss_gib"] > 0
    assert row["ratio_epoch"] == row["kd"]["epoch_s"] / row["stock"]["epoch_s"]
