"""Calibrated scores (taxometer_kd.training.scores) by hand, and in a real run."""

import io

import numpy as np
import pytest
from conftest import run_cmd, vamb_inputs
from test_e2e import EPOCHS, check_results_file, fasta_names

from taxometer_kd.training.predict import format_calibrated_rows
from taxometer_kd.training.scores import (
    MIN_TOP,
    RankMap,
    ScoreCalibration,
    argmax_paths,
    choose_holdout,
    fit_calibration,
    label_paths,
    node_depths,
)

# root(0) -> A(1) -> {a1(3), a2(4)}; root -> B(2) -> b1(5)
NODES = np.array(["root", "A", "B", "a1", "a2", "b1"])
PARENTS = [-1, 0, 0, 1, 1, 2]


def test_argmax_paths_and_label_paths_by_hand():
    depth = node_depths(PARENTS)
    assert depth.tolist() == [0, 1, 1, 2, 2, 2]
    probs = np.array(
        [
            [1.0, 0.7, 0.3, 0.2, 0.5, 0.3],  # A (0.7), then its best child a2 (0.5)
            [1.0, 0.4, 0.6, 0.3, 0.1, 0.6],  # B, then b1
        ]
    )
    nodes, scores = argmax_paths(probs, PARENTS, depth)
    assert nodes.tolist() == [[1, 4], [2, 5]]
    np.testing.assert_allclose(scores, [[0.7, 0.5], [0.6, 0.6]])
    labels = label_paths(np.array([4, 1, 0]), PARENTS, depth, 2)
    assert labels.tolist() == [[1, 4], [1, -1], [-1, -1]]


def test_calibration_fit_by_hand():
    # depth-2 scores of 1000 held-out contigs: 500 at 0.4 of which the labeller names 125 (a
    # quarter), 500 at 0.8 of which it names 400 (0.8). The top tenth (score 0.8) sets pi = 0.8,
    # so g(0.4) = 0.25 / 0.8 = 0.3125 and g(0.8) = 0.8 / 0.8 = 1.
    n = 1000
    nodes = np.tile([[1, 3]], (n, 1))
    scores = np.column_stack([np.full(n, 0.9), np.r_[np.full(500, 0.4), np.full(500, 0.8)]])
    named = np.r_[np.arange(500) < 125, np.arange(500) < 400]
    labels = np.where(named[:, None], [[1, 3]], [[1, 4]])  # the others name a2
    cal = fit_calibration(nodes, scores, labels)
    m = cal.maps[2]
    assert m.pi == pytest.approx(0.8) and m.n == 1000
    np.testing.assert_allclose(m(np.array([0.4, 0.8, 0.6])), [0.3125, 1.0, (0.25 + 0.8) / 2 / 0.8])
    # every contig of depth 1 is named: pi 1, g = 1
    np.testing.assert_allclose(cal.maps[1](np.array([0.9])), [1.0])
    # a label that stops above depth 2 does not name its taxon: nobody names depth 2, no map
    stopped = labels.copy()
    stopped[:, 1] = -1
    assert 2 not in fit_calibration(nodes, scores, stopped).maps


def test_naming_rate_at_the_top_is_measured_on_at_least_min_top_contigs():
    # 300 held-out contigs with distinct scores: the labeller names the 20 highest-scored and
    # every other one below them. A tenth (30 contigs: 20 + 5 of 10 named) would say
    # pi = 25/30; the top is widened to the 100 highest: 20 + 40 of 80 named, pi = 0.6.
    assert MIN_TOP == 100
    n = 300
    nodes = np.tile([[1, 3]], (n, 1))
    order = np.arange(n)[::-1]  # contig i has the (i+1)-th highest score
    scores = np.column_stack([np.full(n, 0.99), 0.5 + 0.4 * (n - order) / n])
    named = (order < 20) | ((order >= 20) & (order % 2 == 0))
    labels = np.where(named[:, None], [[1, 3]], [[1, 4]])
    m = fit_calibration(nodes, scores, labels).maps[2]
    assert m.pi == pytest.approx(0.6)
    # fewer held-out contigs than MIN_TOP: the top is all of them
    few = fit_calibration(nodes[:50], scores[:50], labels[:50]).maps[2]
    assert few.pi == pytest.approx(float(named[:50].mean()))


def test_calibrated_scores_never_increase_down_a_path_and_cut_at_the_threshold():
    cal = ScoreCalibration(
        {
            1: RankMap(np.array([0.0, 1.0]), np.array([0.0, 0.5]), 0.5, 100),
            2: RankMap(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.5, 100),
        }
    )
    # depth 1: g = p; depth 2: g = 2p, but a child never above its parent, and a raw mass of
    # at most 0.5 is never raised (0.45 would be 0.9)
    out = cal.apply(np.array([[0.7, 0.6], [0.9, 0.45], [0.3, 0.2]]))
    np.testing.assert_allclose(out, [[0.7, 0.7], [0.9, 0.45], [0.3, 0.2]])
    # the log shows what apply() does: depth 2 maps 0.3 to 0.3 (not 0.6) and 0.7 to 1.0
    assert cal.describe((0.3, 0.7))[1].endswith("0.3 -> 0.300, 0.7 -> 1.000")
    fh = io.StringIO()
    probs = np.array([[1.0, 0.7, 0.3, 0.2, 0.6, 0.3], [1.0, 0.3, 0.7, 0.1, 0.2, 0.7]])
    identity_and_half = ScoreCalibration(
        {
            1: RankMap(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 1.0, 9),
            2: RankMap(np.array([0.0, 1.0]), np.array([0.0, 0.5]), 1.0, 9),
        }
    )
    format_calibrated_rows(fh, probs, ["c1", "c2"], NODES, PARENTS, node_depths(PARENTS), 0.5, identity_and_half)
    # c1: A 0.7, a2 0.6 -> 0.3 (cut); c2: B 0.7, b1 0.7 -> 0.35 (cut)
    assert fh.getvalue() == "c1\tA\t0.7\nc2\tB\t0.7\n"


def test_holdout_is_a_seeded_share():
    a = choose_holdout(1000, 0.1, seed=3)
    assert len(a) == 100 and len(set(a)) == 100 and (np.diff(a) > 0).all()
    assert np.array_equal(a, choose_holdout(1000, 0.1, seed=3))
    assert not np.array_equal(a, choose_holdout(1000, 0.1, seed=4))
    assert len(choose_holdout(1000, 0.0, seed=3)) == 0


def _species_scores(path):
    out = []
    for line in open(path).read().splitlines()[1:]:
        _, lineage, scores = line.split("\t")
        out.append(float(scores.split(";")[6]) if lineage.count(";") >= 6 else 0.0)
    return np.array(out)


def test_with_right_labels_the_scores_of_correct_contigs_rise_above_095(small_data, tmp_path):
    """Labels that are all right (the truth): calibrated species scores of the correct contigs
    go above 0.95, where the raw distilled scores stay compressed below."""
    data = small_data
    rows = [line.split("\t") for line in open(data["truth"]).read().splitlines()[1:]]
    perfect = tmp_path / "truth_labels.tsv"
    perfect.write_text("contigs\tpredictions\n" + "".join(f"{r[0]}\t{r[4]}\n" for r in rows))
    species = {r[0]: r[4].split(";")[6] for r in rows}
    runs = {}
    # the share of correct contigs at >= 0.95 after calibration moves with the seed on data this
    # small (seeds 1 / 2 / 3 gave 0.955 / 0.847 / 0.858 on 2026-11-27: the top of the map is fitted
    # on few held-out contigs, see README "Scores you can cut"), so two seeds are checked
    for name, share, seed in (("raw", "0", "2"), ("calibrated", "0.2", "2"), ("calibrated1", "0.2", "1")):
        out = tmp_path / name
        proc = run_cmd(
            [
                "vamb",
                "taxometer",
                "--outdir",
                str(out),
                *vamb_inputs(data, taxonomy=perfect),
                "-pe",
                "20",
                "-pt",
                "64",
                "-p",
                "1",
                "--seed",
                seed,
                "--teacher",
                "default",
                "--calibration-holdout",
                share,
            ]
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        check_results_file(out / "results_taxometer.tsv", fasta_names(data["fasta"]))
        lines = [line.split("\t") for line in (out / "results_taxometer.tsv").read_text().splitlines()[1:]]
        correct = np.array([len(r[1].split(";")) == 7 and r[1].split(";")[6] == species[r[0]] for r in lines])
        assert correct.mean() > 0.9  # right labels: the model is right too
        runs[name] = _species_scores(out / "results_taxometer.tsv")[correct]
    assert "Score calibration (student), depth 7" in (tmp_path / "calibrated" / "log.txt").read_text()
    assert (runs["raw"] >= 0.95).mean() < 0.5
    assert (runs["calibrated"] >= 0.95).mean() > 0.8 and (runs["calibrated1"] >= 0.95).mean() > 0.8


def test_calibration_holdout_range(tiny_data, tmp_path):
    proc = run_cmd(
        [
            "vamb",
            "taxometer",
            "--outdir",
            str(tmp_path / "o"),
            *vamb_inputs(tiny_data),
            *EPOCHS,
            "--teacher",
            "default",
            "--calibration-holdout",
            "0.9",
        ]
    )
    assert proc.returncode == 2 and "--calibration-holdout must be between 0 and 0.5, not 0.9" in proc.stderr
