"""Smoke test of benchmarks/training_speed.py (the numbers themselves are measured by hand)."""

import json
import sys

from conftest import ROOT, run_cmd


def test_training_speed_benchmark_runs(tmp_path):
    out = tmp_path / "speed.json"
    proc = run_cmd(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "training_speed.py"),
            "--sizes",
            "3000",
            "--epochs",
            "2",
            "--species",
            "40",
            "--embedding-dim",
            "32",
            "--kmer-dim",
            "16",
            "--threads",
            "1",
            "--methods",
            "stock,kd-head,kd-crossfit,kd-crossfit-dense,student",
            "--precision",
            "float32",
            "--out",
            str(out),
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert "ratio kd-head/stock" in proc.stdout and "ratio kd-crossfit/stock" in proc.stdout
    data = json.loads(out.read_text())
    assert not list(tmp_path.glob("*.tmp"))  # written atomically
    row = data["rows"][0]
    for which in ("stock", "kd-head", "kd-crossfit", "kd-crossfit-dense", "student"):
        assert row[which]["n"] == 3000 and row[which]["epoch_s"] > 0 and row[which]["peak_rss_gib"] > 0
    # the k-mer teacher's default form (a row through two heads) and the dense one (all ten)
    assert row["kd-crossfit"]["train_heads"] == 1 and row["kd-crossfit-dense"]["train_heads"] == 9
    assert row["kd-crossfit"]["learn_share"] == 0.5 and row["kd-crossfit-dense"]["learn_share"] == 1.0
    for which in ("kd-head", "kd-crossfit", "kd-crossfit-dense", "student"):
        assert row[which]["precision"] == "float32"
        assert row[f"ratio_epoch_{which}"] == row[which]["epoch_s"] / row["stock"]["epoch_s"]


def test_training_speed_benchmark_refuses_unknown_method(tmp_path):
    proc = run_cmd(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "training_speed.py"),
            "--methods",
            "stock,kd-fast",
            "--out",
            str(tmp_path / "x.json"),
        ]
    )
    assert proc.returncode == 2 and "kd-fast" in proc.stderr
    assert not (tmp_path / "x.json").exists()
