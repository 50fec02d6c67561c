"""The benchmark (benchmarks/): log parsing, the run plan, run bookkeeping on hand-made files,
--run-kinds, and a smoke test of the whole command on tiny data."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks_helpers import _fake_dataset  # noqa: E402
from conftest import run_cmd  # noqa: E402

from benchmarks import execute, plan  # noqa: E402

KD_LOG = """2026-01-01 10:00:00.000 | INFO    | 	Processed TNF in 1.5 seconds.
2026-01-01 10:00:01.000 | INFO    | 	Processed abundance in 0.5 seconds.
2026-01-01 10:00:01.500 | INFO    | 	Read 300 sequences in 0.25 s
2026-01-01 10:00:02.000 | INFO    | 	Teacher ready in 3.75 s (1000 trainable parameters)
2026-01-01 10:01:00.000 | INFO    | Finished joint training in 58.0 seconds.
2026-01-01 10:01:07.250 | INFO    | Completed taxonomy predictions in 67.25 seconds.
2026-01-01 10:01:07.300 | INFO    | Completed Vamb in 67.3 seconds.
"""
STOCK_LOG = """2026-01-01 10:00:00.000 | INFO    | 	Processed TNF in 2.0 seconds.
2026-01-01 10:00:00.000 | INFO    | 	Processed abundance in 1.0 seconds.
2026-01-01 10:00:59.000 | INFO    | Finished training the taxonomy predictor in 55.5 seconds.
2026-01-01 10:01:01.000 | INFO    | Completed taxonomy predictions in 57.5 seconds.
"""


def test_parse_log_timings():
    # load = TNF 1.5 + abundance 0.5 + DNA 0.25; prediction = 10:01:07.250 - 10:01:00.000
    assert execute.parse_log_timings(KD_LOG) == {
        "load_s": 2.25,
        "teacher_s": 3.75,
        "training_s": 58.0,
        "prediction_s": 7.25,
        "vamb_s": 67.3,
    }
    assert execute.parse_log_timings(STOCK_LOG) == {
        "load_s": 3.0,
        "teacher_s": None,
        "training_s": 55.5,
        "prediction_s": 2.0,
        "vamb_s": None,
    }
    assert set(execute.parse_log_timings("").values()) == {None}


def test_plan_runs_and_ablation_sweep():
    methods, runs = plan.make_plan(
        ["mm", "k2"], ["cnn", "other"], [1, 2], True, [0.3, 0.5, 0.8], [1, 2, 4, 6], "mm", 0.3, 4.0
    )
    keys = [m.key for m in methods]
    assert keys[:8] == [
        "initial",
        "stock",
        "kd:cnn",
        "teacher:cnn",
        "kdG:cnn",
        "kd:other",
        "teacher:other",
        "kdG:other",
    ]
    # one factor at a time around alpha 0.3, T 4, main teacher only
    assert keys[8:] == ["kd:cnn:a0.5:T4", "kd:cnn:a0.8:T4", "kd:cnn:a0.3:T1", "kd:cnn:a0.3:T2", "kd:cnn:a0.3:T6"]
    # per seed: 2 labellers x (stock + 2 x (kd + G)) + 5 sweep runs on mm = 15
    assert len(runs) == 2 * 15
    assert len({(r.labeller, r.run_id, r.seed) for r in runs}) == len(runs)
    sweep = [r for r in runs if r.run_id.startswith("kd-cnn-") and r.run_id != "kd-cnn-a0.3-T4"]
    assert {r.labeller for r in sweep} == {"mm"} and len(sweep) == 10


def test_teacher_options_reach_every_teacher_run_and_not_stock(tmp_path):
    ds = _fake_dataset(tmp_path)
    _, runs = plan.make_plan(["mm"], ["cnn"], [1], False, [], [], "mm", 0.3, 4.0)
    cfg = {"epochs": 1, "batch_size": None, "threads": 1, "cuda": False}
    plain = {r.kind: plan.build_command(r, ds, cfg, tmp_path / "out")[0] for r in runs}
    opts = cfg | {"teacher_options": ["train-heads=9", "folds=5"]}
    given = {r.kind: plan.build_command(r, ds, opts, tmp_path / "out")[0] for r in runs}
    assert given["stock"] == plain["stock"]
    for kind in ("kd", "kdG"):
        i = given[kind].index("--teacher")
        assert given[kind][i + 2 : i + 6] == ["--teacher-option", "train-heads=9", "--teacher-option", "folds=5"]
        assert [a for a in given[kind] if a not in ("--teacher-option", "train-heads=9", "folds=5")] == plain[kind]


def test_teacher_options_are_a_work_dir_setting(tmp_path):
    from benchmarks import run_args

    args = run_args.parse_args(["--teacher-option", "train-heads=9", "--teacher-option", "folds=5"])
    assert args.teacher_option == ["train-heads=9", "folds=5"]
    assert run_args.parse_args([]).teacher_option is None
    assert "teacher_options" in run_args.RUN_SETTINGS


def test_default_ablation_labeller_is_mmseqs2_where_present():
    assert plan.default_ablation_labeller(["centrifuge", "kraken2", "mmseqs2"]) == "mmseqs2"
    assert plan.default_ablation_labeller(["kraken2", "centrifuge"]) == "kraken2"


def test_failed_and_not_applicable_runs_are_recorded(tmp_path, monkeypatch):
    ds = _fake_dataset(tmp_path)
    cfg = {"epochs": 1, "batch_size": None, "threads": 1, "cuda": False}
    work = tmp_path / "work"
    script = {
        "stock": "import sys; sys.stderr.write('boom\\n'); sys.exit(3)",
        "kdG": "import sys; sys.stderr.write('2026 | ERROR   | needs embeddings; x has none\\n'); sys.exit(2)",
    }
    monkeypatch.setattr(plan, "build_command", lambda spec, *a: ([sys.executable, "-c", script[spec.kind]], {}))
    stock = plan.RunSpec("mm", "stock", 1, "stock", (("stock", "results_taxometer.tsv"),))
    rec = execute.execute(stock, ds, cfg, work, {})
    assert rec["status"] == "failed" and rec["returncode"] == 3
    assert "exit status 3" in rec["error"] and "boom" in rec["error"]
    assert json.loads((stock.directory(work) / "run.json").read_text())["status"] == "failed"
    na: dict = {}
    g1 = plan.RunSpec("mm", "kdG-x", 1, "kdG", (("kdG:x", "results_taxometer.tsv"),), "x", 1.0)
    rec = execute.execute(g1, ds, cfg, work, na)
    assert rec["status"] == "not_applicable" and "has none" in na["x"]
    g2 = plan.RunSpec("mm", "kdG-x", 2, "kdG", (("kdG:x", "results_taxometer.tsv"),), "x", 1.0)
    rec = execute.execute(g2, ds, cfg, work, na)  # not run again: the teacher is known to have no embeddings
    assert rec["status"] == "not_applicable" and not (g2.directory(work) / "stderr.txt").exists()
    # a later invocation (normal or --report-only) knows it from the work dir, for every labeller and seed
    g3 = plan.RunSpec("other", "kdG-x", 3, "kdG", (("kdG:x", "results_taxometer.tsv"),), "x", 1.0)
    kmer_g = plan.RunSpec("mm", "kdG-y", 1, "kdG", (("kdG:y", "results_taxometer.tsv"),), "y", 1.0)
    known = execute.known_not_applicable([kmer_g, g3, g1], work)
    assert set(known) == {"x"} and "has none" in known["x"]
    assert execute.not_run_record(g3, work, known)["status"] == "not_applicable"
    assert execute.not_run_record(kmer_g, work, known)["status"] == "not_run"
    assert execute.run_state(g3, work, known) == "not applicable" and execute.run_state(kmer_g, work, known) == "to run"
    assert not g3.directory(work).exists()
    # a run whose result exists is skipped; an earlier failed attempt is set aside and rerun
    out = stock.directory(work) / "out"
    out.mkdir(parents=True)
    (out / "results_taxometer.tsv").write_text("contigs\tpredictions\tscores\n")
    assert execute.execute(stock, ds, cfg, work, {})["reused"] is True
    assert execute.run_state(stock, work, known) == "done"


def test_quick_mode_smoke(tmp_path):
    """The whole command on the project's tiny synthetic data, 1 epoch: runs, resumes, reports."""
    args = [
        "python",
        "-m",
        "benchmarks.run",
        "--mode",
        "quick",
        "--data",
        "synthetic:tiny",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--threads",
        "1",
        "--name",
        "smoke",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "out"),
        "--ablations",
        "--alphas",
        "0.3,0.8",
        "--temperatures",
        "4",
    ]
    proc = run_cmd(args, cwd=ROOT, check=True, timeout=300)
    out = tmp_path / "out"
    for f in (
        "report.md",
        "results.json",
        "summary.csv",
        "metrics.csv",
        "runs.csv",
        "timings.csv",
        "pr_curves.csv",
        "transitions.csv",
        "figures/bars_species.png",
        "figures/pr_species.png",
        "figures/sankey_initial_to_kd.png",
        "figures/sankey_stock_to_kd.png",
        "figures/length_bins.png",
        "figures/ablation.png",
        "calibration.csv",
        "reliability.csv",
        "figures/reliability_species.png",
        "figures/reliability_genus.png",
    ):
        assert (out / f).is_file(), f
    res = json.loads((out / "results.json").read_text())
    status = {(r["run"], r["seed"]): r["status"] for r in res["runs"]}
    teacher = res["config"]["main_teacher"]
    assert status[("stock", 1)] == "ok" and status[(f"kd-{teacher}-a0.3-T4", 1)] == "ok"
    assert status[(f"kd-{teacher}-a0.8-T4", 1)] == "ok"
    assert status[(f"kdG-{teacher}", 1)] in ("ok", "not_applicable")
    methods = {s["method"] for s in res["summary"]}
    assert {"initial", "stock", f"kd:{teacher}", f"teacher:{teacher}", f"kd:{teacher}:a0.8:T4"} <= methods
    ok = [r for r in res["runs"] if r["status"] == "ok"]
    assert all(r["timings"]["training_s"] is not None and r["peak_rss_mb"] > 0 for r in ok)
    assert "Species level" in proc.stdout and "Taxometer (stock)" in proc.stdout
    report_md = (out / "report.md").read_text()
    assert "## Label transitions" in report_md and "## Ablations" in report_md
    # calibration: per method with scores and rank, ECE and precision at each cut (= the precision after that cut)
    calib = {(c["method"], c["rank"]): c for c in res["calibration_summary"]}
    assert ("initial", "species") not in calib
    for method in ("stock", f"kd:{teacher}"):
        for rank in ("species", "genus"):
            c = calib[(method, rank)]
            # after 1 epoch a method may label no contig at a rank: no ECE then
            assert (0 <= c["ece_mean"] <= 1) if c["scored_mean"] else c["ece_mean"] is None
            for cut in (0.5, 0.8, 0.95):
                row = next(
                    s
                    for s in res["summary"]
                    if (s["method"], s["rank"], s["cut"], s["subset"]) == (method, rank, cut, "all")
                )
                if c[f"n_at_{cut:g}_mean"]:
                    assert c[f"precision_at_{cut:g}_mean"] == pytest.approx(row["precision_mean"])
    assert any(c["scored_mean"] for c in calib.values())
    for rel in res["reliability"]:
        assert len(rel["bins"]) == 10
        assert sum(b["n"] for b in rel["bins"]) == pytest.approx(calib[(rel["method"], rel["rank"])]["scored_mean"])
    assert "## Calibration of the scores" in report_md and "| labeller | method | scored contigs | ECE |" in report_md
    assert "![species reliability](figures/reliability_species.png)" in report_md
    # no confidence file in the synthetic data: nothing of it in the plan or the report
    assert not res["confidence"]["labellers"] and not any(
        m["key"].startswith(("conf", "kdconf")) for m in res["methods"]
    )
    assert "## The labellers' own confidence" not in report_md and not (out / "confidence.csv").exists()
    # run again: every run is found in the work dir and skipped
    proc = run_cmd(args, cwd=ROOT, check=True, timeout=300)
    assert proc.stdout.count("result exists, skipped") == len(ok)
    # --report-only with a seed more: seed 2 is listed as not run, nothing of it is started or written
    n_seed1 = len(res["runs"])
    partial = [("1,2" if a == "1" and args[i - 1] == "--seeds" else a) for i, a in enumerate(args)] + ["--report-only"]
    proc = run_cmd(partial, cwd=ROOT, check=True, timeout=300)
    res = json.loads((out / "results.json").read_text())
    status = {(r["run"], r["seed"]): r["status"] for r in res["runs"]}
    assert status[("stock", 1)] == "ok" and status[("stock", 2)] == "not_run"
    assert not list((tmp_path / "work" / "smoke" / "runs").glob("*/*/seed2"))
    assert {r["seed"] for r in res["metrics"] if r["seed"] is not None} == {1}
    n_not_run = sum(s == "not_run" for s in status.values())
    assert (
        n_not_run == n_seed1
        and f"{n_not_run} of {2 * n_seed1} planned runs were not run" in (out / "report.md").read_text()
    )
    assert "stock`: seed 2" in (out / "report.md").read_text()


def test_run_kinds_start_only_the_kinds_named():
    from benchmarks import run as bench_run

    stock = plan.RunSpec("mm", "stock", 1, "stock", (("stock", "results_taxometer.tsv"),))
    kdconf = plan.RunSpec("mm", "kd-x-confidence", 1, "kdconf", (("kdconf:x", "results_taxometer.tsv"),), "x")
    kinds = bench_run.parse_run_kinds("kd, kdconf")
    assert kinds == {"kd", "kdconf"}
    assert bench_run.starts(kdconf, kinds) and not bench_run.starts(stock, kinds)
    assert bench_run.parse_run_kinds(None) is None and bench_run.starts(stock, None)
    with pytest.raises(SystemExit, match=r"unknown kind.*teacher"):
        bench_run.parse_run_kinds("kd,teacher")
    with pytest.raises(SystemExit, match="none given"):
        bench_run.parse_run_kinds(",")


def test_kd_args_reach_every_teacher_run_and_not_stock(tmp_path):
    from benchmarks import run_args

    ds = _fake_dataset(tmp_path)
    _, runs = plan.make_plan(["mm"], ["cnn"], [1], False, [], [], "mm", 0.3, 4.0)
    cfg = {"epochs": 1, "batch_size": None, "threads": 1, "cuda": False}
    plain = {r.kind: plan.build_command(r, ds, cfg, tmp_path / "out")[0] for r in runs}
    words = run_args.parse_args(["--kd-args=--abstain both --abstain-weight '6'"]).kd_args
    assert words == ["--abstain", "both", "--abstain-weight", "6"]
    given = {r.kind: plan.build_command(r, ds, cfg | {"kd_args": words}, tmp_path / "out")[0] for r in runs}
    assert given["stock"] == plain["stock"]
    for kind in ("kd", "kdG"):
        assert given[kind] == plain[kind] + words


def test_kd_args_are_a_work_dir_setting_and_may_not_set_what_a_run_sets(capsys):
    from benchmarks import run_args

    assert "kd_args" in run_args.RUN_SETTINGS
    assert run_args.parse_args([]).kd_args is None
    assert run_args.parse_args(["--kd-args="]).kd_args is None
    for bad, why in (
        ("--alpha 0.1", "may not set --alpha"),
        ("--temperature=1", "may not set --temperature=1"),
        ("--seed 3", "may not set --seed"),
        ("--abstain 'both", "No closing quotation"),
    ):
        with pytest.raises(SystemExit) as e:
            run_args.parse_args([f"--kd-args={bad}"])
        assert e.value.code == 2
        assert why in capsys.readouterr().err


def test_kd_args_refuse_every_flag_a_run_sets(tmp_path):
    """benchmarks.run_args.KD_ARGS_RESERVED lists by hand what plan.build_command sets: every flag of
    every kind of run (batch size and --cuda included) must be in it, so that --kd-args can never
    set one twice."""
    from benchmarks import run_args

    _, runs = plan.make_plan(["mm"], ["cnn"], [1], False, [], [], "mm", 0.3, 4.0, True, confident=["mm"])
    ds = _fake_dataset(tmp_path)
    ds.confidence = {"mm": tmp_path / "labels" / "mm.confidence.tsv"}
    cfg = {"epochs": 1, "batch_size": 64, "threads": 1, "cuda": True, "teacher_options": ["folds=5"]}
    kinds = set()
    for spec in runs:
        if spec.kind == "stock":
            continue
        cmd, _ = plan.build_command(spec, ds, cfg, tmp_path / "out")
        kinds.add(spec.kind)
        flags = {word for word in cmd[1:] if word.startswith("-")}
        assert flags - {"--teacher-option"} <= set(run_args.KD_ARGS_RESERVED), spec.kind
    assert kinds == {"kd", "kdconf", "kdG"}
