"""The benchmark (benchmarks/): metrics, aggregation, Sankey counts and layout, log parsing,
run bookkeeping on hand-made files, and a smoke test of the whole command on tiny data."""

import json
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conftest import run_cmd  # noqa: E402

from benchmarks import confidence, execute, figures, metrics, plan  # noqa: E402
from taxometer_kd import evaluate  # noqa: E402

UP = "d_B;p_P;c_C;o_O;f_F"
TRUTH = f"""contig\tgenome_id\tlength\treference_status\tlineage
c1\tg1\t2500\tin_reference\t{UP};g_A;s_A x
c2\tg1\t4000\tin_reference\t{UP};g_A;s_A x
c3\tg2\t12000\tnovel_strain\t{UP};g_A;s_A y
c4\tg3\t1200\tspecies_held_out\t{UP};g_B;s_B z
c5\tg3\t6000\tspecies_held_out\t{UP};g_B;s_B z
c6\tg2\t3000\tnovel_strain\t{UP};g_A;s_A y
"""
# Taxometer results; scores per rank d;p;c;o;f;g;s
RESULTS = f"""contigs\tpredictions\tscores
c1\t{UP};g_A;s_A x\t1;1;1;1;1;0.99;0.9
c2\t{UP};g_A;s_A y\t1;1;1;1;1;0.97;0.6
c3\t{UP};g_A\t1;1;1;1;1;0.85
c4\t{UP};g_A;s_A x\t1;1;1;1;0.7;0.99;0.99
c5\t\t
c6\t{UP};g_A;s_A y\t1;1;1;1;1;1.0;0.96
"""
# c1 correct; c2 unlabelled; c3 correct; c4 genus only (right genus); c5 wrong genus and species;
# c6 right genus, wrong species. No scores: the same at every cut.
INITIAL = f"""contigs\tpredictions
c1\t{UP};g_A;s_A x
c2\t
c3\t{UP};g_A;s_A y
c4\t{UP};g_B
c5\t{UP};g_A;s_A x
c6\t{UP};g_A;s_A x
"""


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, text in (("truth", TRUTH), ("results", RESULTS), ("initial", INITIAL)):
        paths[name] = tmp_path / f"{name}.tsv"
        paths[name].write_text(text)
    truth = evaluate.load_truth(paths["truth"])
    return truth, evaluate.load_labels(paths["results"]), evaluate.load_labels(paths["initial"])


def pick(rows, rank, cut, subset="all"):
    (row,) = [r for r in rows if r["rank"] == rank and r["cut"] == cut and r["subset"] == subset]
    return {k: row[k] for k in ("n", "correct", "wrong", "no_label")}, row


def test_species_and_genus_at_each_cut(files):
    truth, results, _ = files
    rows, _ = metrics.score_labels(results, truth, metrics.subset_masks(truth))
    # species, cut 0.5: correct c1 (0.9), c6 (0.96); wrong c2 (s_A y != s_A x, 0.6), c4 (s_A x != s_B z;
    # lowest score on its lineage 0.7); no label c3 (stops at genus), c5 (empty).
    # P = 2/4, R = 2/6, F1 = 2 PR/(P+R) = (1/3)/(5/6) = 0.4
    counts, row = pick(rows, "species", 0.5)
    assert counts == {"n": 6, "correct": 2, "wrong": 2, "no_label": 2}
    assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((0.5, 1 / 3, 0.4))
    # cut 0.8: c2 (0.6) and c4 (family 0.7 cuts genus and species too) lose their labels:
    # C 2, W 0, N 4: P = 1, R = 1/3, F1 = 0.5
    counts, row = pick(rows, "species", 0.8)
    assert counts == {"n": 6, "correct": 2, "wrong": 0, "no_label": 4}
    assert row["f1"] == pytest.approx(0.5)
    # cut 0.95: only c6 (0.96) keeps a species: C 1, N 5: P = 1, R = 1/6, F1 = 2/7
    counts, row = pick(rows, "species", 0.95)
    assert counts == {"n": 6, "correct": 1, "wrong": 0, "no_label": 5}
    assert row["f1"] == pytest.approx(2 / 7)
    # genus, cut 0.5: correct c1, c2, c3, c6; wrong c4 (g_A != g_B); no label c5: P = 0.8, R = 2/3, F1 = 8/11
    counts, row = pick(rows, "genus", 0.5)
    assert counts == {"n": 6, "correct": 4, "wrong": 1, "no_label": 1}
    assert row["f1"] == pytest.approx(8 / 11)
    # genus, cut 0.95: c3's genus (0.85) is cut, c4 is cut at its family: C 3 (c1 0.99, c2 0.97, c6), N 3
    counts, _ = pick(rows, "genus", 0.95)
    assert counts == {"n": 6, "correct": 3, "wrong": 0, "no_label": 3}


def test_subsets_by_reference_status_and_length(files):
    truth, results, _ = files
    masks = metrics.subset_masks(truth)
    # lengths 1200 (c4), 2500 (c1), 3000 (c6: lower bounds are included), 4000 (c2), 6000 (c5), 12000 (c3);
    # no contig below 1 kb nor in 1.5-2 kb: those bins are left out
    assert metrics.length_bins(masks) == [
        "length 1-1.5 kb",
        "length 2-3 kb",
        "length 3-5 kb",
        "length 5-10 kb",
        "length >=10 kb",
    ]
    rows, _ = metrics.score_labels(results, truth, masks)
    # species, cut 0.5 (outcomes: c1 C, c2 W, c3 N, c4 W, c5 N, c6 C)
    assert pick(rows, "species", 0.5, "in_reference")[0] == {"n": 2, "correct": 1, "wrong": 1, "no_label": 0}  # c1, c2
    assert pick(rows, "species", 0.5, "novel_strain")[0] == {"n": 2, "correct": 1, "wrong": 0, "no_label": 1}  # c3, c6
    counts, row = pick(rows, "species", 0.5, "known_species")  # c1, c2, c3, c6: P = 2/3, R = 2/4
    assert counts == {"n": 4, "correct": 2, "wrong": 1, "no_label": 1}
    assert (row["precision"], row["recall"]) == pytest.approx((2 / 3, 0.5))
    assert pick(rows, "species", 0.5, "species_held_out")[0] == {
        "n": 2,
        "correct": 0,
        "wrong": 1,
        "no_label": 1,
    }  # c4, c5
    assert pick(rows, "species", 0.5, "length 3-5 kb")[0] == {"n": 2, "correct": 1, "wrong": 1, "no_label": 0}  # c6, c2
    assert pick(rows, "species", 0.5, "length 1-1.5 kb")[0] == {"n": 1, "correct": 0, "wrong": 1, "no_label": 0}  # c4


def test_initial_labels_are_the_same_at_every_cut(files):
    truth, _, initial = files
    rows, _ = metrics.score_labels(initial, truth, {"all": np.ones(6, dtype=bool)})
    # species: correct c1, c3; wrong c5, c6; no label c2, c4 (genus only). genus: correct c1, c3, c4, c6; wrong c5
    for cut in metrics.CUTS:
        assert pick(rows, "species", cut)[0] == {"n": 6, "correct": 2, "wrong": 2, "no_label": 2}
        assert pick(rows, "genus", cut)[0] == {"n": 6, "correct": 4, "wrong": 1, "no_label": 1}


def test_gates_match_the_lineage_cut(files):
    truth, results, initial = files
    # the lowest score down to species: c1 0.9, c2 0.6, c4 0.7 (its family), c6 0.96; c3 and c5 have no species
    codes, gates = evaluate.outcome_gates(results, truth, "species")
    assert codes.tolist() == [0, 1, 2, 1, 2, 0]
    assert gates.tolist() == [0.9, 0.6, np.inf, 0.7, np.inf, 0.96]
    for labels in (results, initial):
        for rank in ("species", "genus", "family"):
            for t in (0.0, 0.5, 0.6, 0.7, 0.75, 0.85, 0.9, 0.96, 0.97, 0.99, 1.0):
                expected = []
                for c in truth.lineage:
                    pred = evaluate._cut(labels.names.get(c, {}), labels.scores.get(c), t).get(
                        evaluate.rank_index(rank)
                    )
                    expected.append(
                        2 if pred is None else 0 if pred == truth.lineage[c].get(evaluate.rank_index(rank)) else 1
                    )
                assert evaluate.outcome_codes(labels, truth, rank, t).tolist() == expected, (rank, t)


def test_pr_on_grid_matches_evaluate(files):
    truth, results, _ = files
    codes, gates = evaluate.outcome_gates(results, truth, "species")
    grid = [0.5, 0.6, 0.65, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 1.0]
    curve = metrics.pr_on_grid(codes, gates, grid)
    slow = evaluate.pr_curve(results, truth, "species", grid)
    assert curve["precision"] == pytest.approx([p["precision"] for p in slow])
    assert curve["recall"] == pytest.approx([p["recall"] for p in slow])
    # by hand: at 0.65 c2 (0.6) is cut: C 2 (c1, c6), W 1 (c4, 0.7): P = 2/3, R = 1/3; at 0.97 nothing is left
    assert (curve["precision"][2], curve["recall"][2]) == pytest.approx((2 / 3, 1 / 3))
    assert (curve["precision"][-2], curve["recall"][-2]) == (0.0, 0.0)
    assert metrics.PR_GRID[0] == 0.5 and metrics.PR_GRID[-1] == 1.0


def test_transition_matrix_counts(files):
    truth, results, initial = files
    before = evaluate.outcome_codes(initial, truth, "species")  # c1 C, c2 N, c3 C, c4 N, c5 W, c6 W
    after = evaluate.outcome_codes(results, truth, "species", 0.5)  # c1 C, c2 W, c3 N, c4 W, c5 N, c6 C
    m = metrics.transition_matrix(before, after)
    # rows before (C, W, N), columns after: C->C c1, C->N c3; W->C c6, W->N c5; N->W c2, c4
    assert m.tolist() == [[1, 0, 1], [1, 0, 1], [0, 2, 0]]
    assert m.sum(axis=1).tolist() == [2, 2, 2] and m.sum(axis=0).tolist() == [2, 2, 2]
    with pytest.raises(ValueError):
        metrics.transition_matrix(before, after[:3])


def test_sankey_layout_tiles_every_node():
    m = [[1, 0, 1], [1, 0, 1], [0, 2, 0]]
    lay = figures.sankey_layout(m, gap=0.02)
    # 6 contigs share 1 - 2 x 0.02 = 0.96 of the height: 0.16 each; nodes of 2 are 0.32 high, 0.02 apart
    assert np.allclose(lay["left"], [(0.68, 1.0), (0.34, 0.66), (0.0, 0.32)])
    assert np.allclose(lay["right"], lay["left"])
    assert [(i, j, n) for i, j, n, _, _ in lay["flows"]] == [(0, 0, 1), (0, 2, 1), (1, 0, 1), (1, 2, 1), (2, 1, 2)]
    # correct -> correct takes the top of both correct nodes; correct -> no label the top of the right no-label node
    assert lay["flows"][0][3] == pytest.approx((0.84, 1.0)) and lay["flows"][0][4] == pytest.approx((0.84, 1.0))
    assert lay["flows"][1][3] == pytest.approx((0.68, 0.84)) and lay["flows"][1][4] == pytest.approx((0.16, 0.32))
    for side, k in (("left", 3), ("right", 4)):
        for node, (y0, y1) in enumerate(lay[side]):
            col = 0 if side == "left" else 1
            spans = sorted(f[k] for f in lay["flows"] if f[col] == node)
            assert spans[0][0] == pytest.approx(y0) and spans[-1][1] == pytest.approx(y1)
            assert all(a[1] == pytest.approx(b[0]) for a, b in pairwise(spans))
    with pytest.raises(ValueError):
        figures.sankey_layout([[1, 2], [3, 4]])


def test_aggregate_mean_sd_min_max():
    rows = [
        {"method": "kd", "seed": 1, "f1": 0.5, "correct": 10},
        {"method": "kd", "seed": 2, "f1": 0.7, "correct": 14},
        {"method": "kd", "seed": 3, "f1": 0.6, "correct": 12},
        {"method": "stock", "seed": 1, "f1": 0.4, "correct": None},
    ]
    out = metrics.aggregate(rows, ("method",), ("f1", "correct"))
    kd, stock = out
    # f1: mean 0.6; deviations -0.1, 0.1, 0: sample sd = sqrt(0.02 / 2) = 0.1
    assert kd["n_seeds"] == 3
    assert (kd["f1_mean"], kd["f1_sd"], kd["f1_min"], kd["f1_max"]) == pytest.approx((0.6, 0.1, 0.5, 0.7))
    assert (kd["correct_mean"], kd["correct_sd"]) == pytest.approx((12, 2))
    # one seed: sd 0; a missing value is skipped, not counted as 0
    assert (stock["f1_mean"], stock["f1_sd"]) == (0.4, 0.0)
    assert stock["correct_mean"] is None
    mean = metrics.mean_curve(
        [
            {"threshold": [0.5, 1], "precision": [0.8, 1.0], "recall": [0.6, 0.0]},
            {"threshold": [0.5, 1], "precision": [0.6, 0.0], "recall": [0.4, 0.0]},
        ]
    )
    assert mean["precision"] == pytest.approx([0.7, 0.5]) and mean["recall"] == pytest.approx([0.5, 0.0])


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


def test_default_ablation_labeller_is_mmseqs2_where_present():
    assert plan.default_ablation_labeller(["centrifuge", "kraken2", "mmseqs2"]) == "mmseqs2"
    assert plan.default_ablation_labeller(["kraken2", "centrifuge"]) == "kraken2"


def _fake_dataset(tmp_path):
    (tmp_path / "labels").mkdir()
    for f in ("contigs.fna", "abundance.tsv", "truth.tsv", "labels/mm.tsv"):
        (tmp_path / f).write_text("")
    return plan.Dataset(
        "fake",
        "fake",
        tmp_path / "contigs.fna",
        tmp_path / "abundance.tsv",
        tmp_path / "truth.tsv",
        {"mm": tmp_path / "labels" / "mm.tsv"},
    )


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
    assert dropped == {0.05: 0, 0.1: 0, 0.2: wl, 0.3: wl, 0.5: wl, 0.7: wl, 0.9: wl}
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
