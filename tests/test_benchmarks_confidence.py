"""The benchmark (benchmarks/) with the labellers' own confidence: the plan, the confidence-filtered
baselines, and a real run with --label-confidence."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks_helpers import _fake_dataset  # noqa: E402
from conftest import run_cmd  # noqa: E402

from benchmarks import confidence, plan  # noqa: E402
from taxometer_kd import evaluate  # noqa: E402

# ----------------------------------------------------------------------------- the labellers' confidence


def test_plan_with_label_confidence(tmp_path):
    methods, runs = plan.make_plan(
        ["mm", "k2"], ["cnn"], [1, 2], False, [], [], "mm", 0.3, 4.0, True, confident=["mm"], confidence_cuts=[0.1, 0.5]
    )
    keys = [m.key for m in methods]
    assert keys == [
        "initial",
        "conf:best",
        "stock",
        "kd:cnn",
        "kdconf:cnn",
        "teacher:cnn",
        "kdG:cnn",
        "conf:c0.1",
        "conf:c0.5",
    ]
    main = [m.key for m in methods if not m.ablation]
    assert "conf:c0.1" not in main and "conf:best" in main
    conf_runs = [r for r in runs if r.kind == "kdconf"]
    # the same kd run (alpha, temperature, seeds) with the labeller's confidence, only where it has a file
    assert [(r.labeller, r.run_id, r.seed) for r in conf_runs] == [
        ("mm", "kd-cnn-a0.3-T4-confidence", 1),
        ("mm", "kd-cnn-a0.3-T4-confidence", 2),
    ]
    assert len(runs) == 2 * (2 * 3 + 1)
    ds = _fake_dataset(tmp_path)
    ds.confidence = {"mm": tmp_path / "labels" / "mm.confidence.tsv"}
    cfg = {"epochs": 1, "batch_size": None, "threads": 1, "cuda": False}
    cmd, _ = plan.build_command(conf_runs[0], ds, cfg, tmp_path / "out")
    kd_cmd, _ = plan.build_command(
        next(r for r in runs if r.kind == "kd" and r.labeller == "mm"), ds, cfg, tmp_path / "out"
    )
    assert cmd == [*kd_cmd, "--label-confidence", str(ds.confidence["mm"].resolve())]
    # without confident labellers the plan is what it was
    assert plan.make_plan(["mm"], ["cnn"], [1], False, [], [], "mm", 0.3, 4.0, True, confident=[]) == plan.make_plan(
        ["mm"], ["cnn"], [1], False, [], [], "mm", 0.3, 4.0, True
    )


def test_drop_species_below_confidence():
    labels = evaluate.Labels(
        {
            "a": {5: "g_A", 6: "s_A x"},
            "b": {5: "g_A", 6: "s_A y"},
            "c": {5: "g_B"},
            "d": {},
            "e": {5: "g_C", 6: "s_C z"},
        },
        {k: None for k in "abcde"},
    )
    conf = np.array([0.9, 0.2, 0.1, np.nan, np.nan], dtype=np.float32)
    out, n = confidence.drop_species(labels, conf, 0.5)
    # b (0.2 < 0.5) loses its species; c has none to lose; e's confidence is unknown (NaN): kept
    assert n == 1
    assert out.names == {
        "a": {5: "g_A", 6: "s_A x"},
        "b": {5: "g_A"},
        "c": {5: "g_B"},
        "d": {},
        "e": {5: "g_C", 6: "s_C z"},
    }
    assert labels.names["b"] == {5: "g_A", 6: "s_A y"}  # the input is left as it was
    assert confidence.drop_species(labels, conf, 0.95)[1] == 2 and confidence.drop_species(labels, conf, 0.05)[1] == 0
    summary = [
        {"labeller": "mm", "method": f"conf:c{c:g}", "rank": "species", "cut": 0.5, "subset": "all", "f1_mean": f}
        for c, f in ((0.1, 0.7), (0.3, 0.8), (0.5, 0.8), (0.7, 0.6))
    ]
    # the best species F1; on a tie the lowest cut
    assert confidence.best_cuts(summary, ["mm", "k2"], [0.1, 0.3, 0.5, 0.7]) == {
        "mm": {"cut": 0.3, "method": "conf:c0.3", "f1": 0.8}
    }


def _confident_data(root: Path) -> Path:
    """Synthetic tiny data laid out as a data dir with two labellers, one with a confidence file:
    0.95 where the label's species is right, 0.15 where it is wrong, 0.5 on genus-only labels,
    and every 7th contig not listed."""
    from taxometer_kd import synthetic

    data = root / "data"
    paths = synthetic.make_metagenome(data, seed=1, size="tiny")
    (data / "labels").mkdir()
    (data / "labels" / "synthetic.tsv").write_text(paths["taxonomy"].read_text())
    (data / "labels" / "other.tsv").write_text(paths["taxonomy"].read_text())
    paths["taxonomy"].unlink()
    truth = evaluate.load_truth(data / "truth.tsv")
    labels = evaluate.load_labels(data / "labels" / "synthetic.tsv")
    lines = ["contigs\tconfidence"]
    for i, (contig, names) in enumerate(labels.names.items()):
        if i % 7 == 3 or not names:
            continue
        lines.append(f"{contig}\t{(0.95 if names[6] == truth.lineage[contig][6] else 0.15) if 6 in names else 0.5}")
    (data / "labels" / "synthetic.confidence.tsv").write_text("\n".join(lines) + "\n")
    return data


def test_confidence_in_the_benchmark_plan_and_baselines(tmp_path):
    """Plan (--dry-run) and the confidence-filtered baselines (--report-only: nothing is run) on the
    project's synthetic data with a confidence file written here."""
    data = _confident_data(tmp_path)
    base = [
        "python",
        "-m",
        "benchmarks.run",
        "--mode",
        "quick",
        "--data",
        str(data),
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "out"),
    ]
    proc = run_cmd([*base, "--name", "dry", "--dry-run", "--subset", "100"], cwd=ROOT, check=True, timeout=300)
    assert "labellers other, synthetic;" in proc.stdout  # the confidence file is no labeller
    assert "labeller confidence: synthetic" in proc.stdout
    conf_lines = [ln for ln in proc.stdout.splitlines() if "-confidence seed" in ln]
    assert len(conf_lines) == 1 and conf_lines[0].split("] ")[1].startswith("synthetic kd-")
    # the subset's confidence file holds the subset's contigs only
    sub = tmp_path / "work" / "dry" / "subset"
    kept = {ln.split("\t")[0] for ln in (sub / "truth.tsv").read_text().splitlines()[1:]}
    listed = [ln.split("\t")[0] for ln in (sub / "labels" / "synthetic.confidence.tsv").read_text().splitlines()[1:]]
    assert listed and set(listed) <= kept
    # --no-confidence: the plan of a data set without confidence files
    off = run_cmd(
        [*base, "--name", "dry", "--dry-run", "--subset", "100", "--no-confidence"], cwd=ROOT, check=True, timeout=300
    )
    (data / "labels" / "synthetic.confidence.tsv").rename(tmp_path / "conf.tsv")
    none = run_cmd([*base, "--name", "dry", "--dry-run", "--subset", "100"], cwd=ROOT, check=True, timeout=300)
    assert (
        off.stdout == none.stdout and "labeller confidence" not in none.stdout and "-confidence seed" not in none.stdout
    )
    # the layout benchmarks.labellers writes, labels/confidence/<labeller>.tsv, is found too
    (data / "labels" / "confidence").mkdir()
    (tmp_path / "conf.tsv").rename(data / "labels" / "confidence" / "synthetic.tsv")
    other = run_cmd([*base, "--name", "dry", "--dry-run", "--subset", "100"], cwd=ROOT, check=True, timeout=300)
    assert other.stdout == proc.stdout
    (data / "labels" / "confidence" / "synthetic.tsv").rename(data / "labels" / "synthetic.confidence.tsv")

    run_cmd([*base, "--name", "conf", "--report-only"], cwd=ROOT, check=True, timeout=300)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    # expected by hand from the truth and the labels: contigs with a wrong species and a listed
    # confidence (0.15) lose their species at every cut above 0.15, nothing else does
    truth = evaluate.load_truth(data / "truth.tsv")
    labels = evaluate.load_labels(data / "labels" / "synthetic.tsv")
    listed = {ln.split("\t")[0] for ln in (data / "labels" / "synthetic.confidence.tsv").read_text().splitlines()[1:]}
    c = w = wl = 0
    for contig, names in labels.names.items():
        if 6 in names:
            right = names[6] == truth.lineage[contig][6]
            c += right
            w += not right
            wl += (not right) and contig in listed
    assert wl > 0
    dropped = {d["cut"]: d["dropped"] for d in res["confidence"]["dropped"] if d["labeller"] == "synthetic"}
    assert 0.01 in confidence.CUTS and 0.9 in confidence.CUTS  # the sweep spans almost no support to sure
    assert dropped == {cut: wl if cut > 0.15 else 0 for cut in confidence.CUTS}
    rows = {
        (s["method"], s["cut"]): s
        for s in res["summary"]
        if s["labeller"] == "synthetic" and s["rank"] == "species" and s["subset"] == "all"
    }
    n = len(truth.lineage)
    for key, wrong in (("initial", w), ("conf:c0.1", w), ("conf:c0.2", w - wl), ("conf:c0.9", w - wl)):
        for cut in (0.5, 0.8):
            assert (rows[(key, cut)]["correct_mean"], rows[(key, cut)]["wrong_mean"]) == (c, wrong), key
    assert rows[("conf:c0.2", 0.5)]["no_label_mean"] == n - c - w + wl
    # the best cut: the lowest with the best F1 (0.2 .. 0.9 tie); only the labeller with a file
    assert res["confidence"]["best"] == {
        "synthetic": {"cut": 0.2, "method": "conf:c0.2", "f1": pytest.approx(rows[("conf:c0.2", 0.5)]["f1_mean"])}
    }
    assert not any(s["labeller"] == "other" and s["method"].startswith("conf:") for s in res["summary"])
    report_md = (tmp_path / "out" / "report.md").read_text()
    assert "## The labellers' own confidence" in report_md
    assert "| synthetic | best confidence-filtered labels (c = 0.2) |" in report_md
    assert "| other | best confidence-filtered labels" not in report_md
    assert (
        "| synthetic | initial labels, species dropped below confidence 0.2 | " in report_md and "**best**" in report_md
    )
    assert (tmp_path / "out" / "confidence.csv").is_file()
    assert any(
        r["run"] == "kd-" + res["config"]["main_teacher"] + "-a0.3-T4-confidence" and r["status"] == "not_run"
        for r in res["runs"]
    )


def _has_label_confidence() -> bool:
    proc = run_cmd(["vamb", "taxometer", "--help"], timeout=120)
    return "--label-confidence" in proc.stdout + proc.stderr


def test_confidence_run_end_to_end(tmp_path):
    """One real taxometer-kd + --label-confidence run (1 epoch) on the synthetic data, where vamb
    taxometer has the flag."""
    if not _has_label_confidence():
        pytest.skip("vamb taxometer has no --label-confidence yet")
    data = _confident_data(tmp_path)
    run_cmd(
        [
            "python",
            "-m",
            "benchmarks.run",
            "--mode",
            "quick",
            "--data",
            str(data),
            "--labellers",
            "synthetic",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--no-taxometer-g",
            "--name",
            "e2e",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    teacher = res["config"]["main_teacher"]
    assert {r["run"]: r["status"] for r in res["runs"]}[f"kd-{teacher}-a0.3-T4-confidence"] == "ok"
    assert f"kdconf:{teacher}" in {s["method"] for s in res["summary"]}
    assert "taxometer-kd (" + teacher + ") + confidence" in (tmp_path / "out" / "report.md").read_text()
