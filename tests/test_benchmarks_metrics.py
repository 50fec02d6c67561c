"""The benchmark (benchmarks/): metrics, subsets, PR curves, label transitions and the Sankey layout,
aggregation over seeds, on hand-made files with counts worked out in comments."""

import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from scoring_testdata import RESULTS, TRUTH, UP  # noqa: E402

from benchmarks import figures, metrics  # noqa: E402
from taxometer_kd import evaluate  # noqa: E402

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
