"""Calibration of the scores (taxometer_kd.calibration): reliability bins, ECE and precision at
cuts on hand-made scores whose expected values are worked out below, and the evaluate command's
calibration table and --reliability-out file."""

import numpy as np
import pytest

from taxometer_kd import calibration, evaluate

# 10 contigs with a label and a score (0 = correct, 1 = wrong), plus three that take no part:
# no label (code 2), a label without a score (gate inf), and no label with no score
SCORES = [0.52, 0.58, 0.6, 0.64, 0.72, 0.85, 0.88, 0.93, 0.97, 1.0, 0.99, np.inf, np.inf]
CODES = [0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 2, 0, 2]


def arrays():
    return np.array(CODES, dtype=np.int8), np.array(SCORES, dtype=float)


def test_reliability_bins_by_hand():
    bins = calibration.reliability(*arrays())
    assert [(b["low"], b["high"]) for b in bins] == [
        (0.5, 0.55),
        (0.55, 0.6),
        (0.6, 0.65),
        (0.65, 0.7),
        (0.7, 0.75),
        (0.75, 0.8),
        (0.8, 0.85),
        (0.85, 0.9),
        (0.9, 0.95),
        (0.95, 1.0),
    ]
    # [0.5,0.55): 0.52 C; [0.55,0.6): 0.58 W; [0.6,0.65): 0.6 C (an edge opens its bin), 0.64 W;
    # [0.7,0.75): 0.72 C; [0.85,0.9): 0.85 C, 0.88 W; [0.9,0.95): 0.93 C; [0.95,1]: 0.97 C, 1.0 C
    expected = {
        0: (1, 1, 1.0, 0.52),
        1: (1, 0, 0.0, 0.58),
        2: (2, 1, 0.5, 0.62),
        4: (1, 1, 1.0, 0.72),
        7: (2, 1, 0.5, 0.865),
        8: (1, 1, 1.0, 0.93),
        9: (2, 2, 1.0, 0.985),
    }
    for k, b in enumerate(bins):
        if k in expected:
            n, c, share, mean = expected[k]
            assert (b["n"], b["correct"]) == (n, c), k
            assert (b["share_correct"], b["mean_score"]) == pytest.approx((share, mean)), k
        else:
            assert (b["n"], b["correct"], b["share_correct"], b["mean_score"]) == (0, 0, None, None), k


def test_ece_by_hand():
    # |share - mean| per bin: 0.48, 0.58, 0.12, 0.28, 0.365, 0.07, 0.015, weighted by 1,1,2,1,2,1,2 over 10:
    # (0.48 + 0.58 + 0.24 + 0.28 + 0.73 + 0.07 + 0.03) / 10 = 2.41 / 10
    assert calibration.ece(calibration.reliability(*arrays())) == pytest.approx(0.241)
    # perfectly calibrated: 4 contigs at 0.75, 3 correct; 2 at 0.5, 1 correct
    codes = np.array([0, 0, 0, 1, 0, 1], dtype=np.int8)
    gates = np.array([0.75, 0.75, 0.75, 0.75, 0.5, 0.5])
    assert calibration.ece(calibration.reliability(codes, gates)) == pytest.approx(0.0)
    # nothing scored: no ECE
    assert calibration.ece(calibration.reliability(np.array([2], dtype=np.int8), np.array([np.inf]))) is None


def test_scores_below_the_range_count_in_the_first_bin():
    bins = calibration.reliability(np.array([0, 1], dtype=np.int8), np.array([0.3, 0.51]))
    assert bins[0]["n"] == 2 and bins[0]["mean_score"] == pytest.approx(0.405)


def test_precision_at_cuts_by_hand():
    got = calibration.precision_at_cuts(*arrays(), cuts=(0.5, 0.8, 0.95, 0.999))
    # >= 0.5: all 10 scored, 7 correct; >= 0.8: 0.85 C, 0.88 W, 0.93 C, 0.97 C, 1.0 C; >= 0.95: 0.97, 1.0; >= 0.999: 1.0
    assert [(x["cut"], x["n"], x["correct"]) for x in got] == [(0.5, 10, 7), (0.8, 5, 4), (0.95, 2, 2), (0.999, 1, 1)]
    assert [x["precision"] for x in got] == pytest.approx([0.7, 0.8, 1.0, 1.0])
    assert calibration.precision_at_cuts(*arrays(), cuts=(1.5,))[0] == {
        "cut": 1.5,
        "n": 0,
        "correct": 0,
        "precision": None,
    }


from scoring_testdata import RESULTS, TRUTH, UP  # noqa: E402


@pytest.fixture
def files(tmp_path):
    (tmp_path / "truth.tsv").write_text(TRUTH)
    (tmp_path / "results.tsv").write_text(RESULTS)
    (tmp_path / "initial.tsv").write_text(f"contigs\tpredictions\nc1\t{UP};g_A;s_A x\n")
    return tmp_path


def test_gate_is_the_lowest_score_down_to_the_rank(files):
    truth = evaluate.load_truth(files / "truth.tsv")
    labels = evaluate.load_labels(files / "results.tsv")
    # species: c1 correct (gate 0.9), c2 wrong (0.6), c4 wrong (family 0.7 is its lowest), c6 correct (0.96);
    # c3 has no species, c5 no label. Bins 0.6: W; 0.7: W; 0.9: C; 0.95: C.
    c = calibration.calibration(*evaluate.outcome_gates(labels, truth, "species"))
    assert c["n"] == 4
    assert [(b["low"], b["n"], b["correct"]) for b in c["bins"] if b["n"]] == [
        (0.6, 1, 0),
        (0.7, 1, 0),
        (0.9, 1, 1),
        (0.95, 1, 1),
    ]
    # ECE = (|0 - 0.6| + |0 - 0.7| + |1 - 0.9| + |1 - 0.96|) / 4 = 1.44 / 4
    assert c["ece"] == pytest.approx(0.36)
    # precision >= 0.5: 2 of 4; >= 0.8: c1, c6; >= 0.95: c6
    assert [(x["n"], x["precision"]) for x in c["cuts"]] == [(4, 0.5), (2, 1.0), (1, 1.0)]
    # genus (lowest score down to genus): c1 0.99 C, c2 0.97 C, c3 0.85 C, c4 0.7 W (g_A, truth g_B), c6 1.0 C
    g = calibration.calibration(*evaluate.outcome_gates(labels, truth, "genus"))
    assert g["n"] == 5 and [(x["n"], x["correct"]) for x in g["cuts"]] == [(5, 4), (4, 4), (3, 3)]


def test_evaluate_prints_calibration_and_writes_bins(files, capsys):
    out = files / "bins.tsv"
    evaluate.main(
        [
            "--truth",
            str(files / "truth.tsv"),
            "--reliability-out",
            str(out),
            f"tax={files / 'results.tsv'}",
            f"init={files / 'initial.tsv'}",
        ]
    )
    text = capsys.readouterr().out
    assert (
        "| method | rank | scored | ECE | precision at >= 0.5 (n) | precision at >= 0.8 (n) | precision at >= 0.95 (n) |"
        in text
    )
    assert "| tax | species | 4 | 0.360 | 0.500 (4) | 1.000 (2) | 1.000 (1) |" in text
    assert (
        "| tax | genus | 5 |" in text and "| init | species | " not in text.split("ECE")[1]
    )  # no scores, no calibration
    lines = out.read_text().splitlines()
    assert lines[0] == "method\trank\tbin_low\tbin_high\tn\tcorrect\tshare_correct\tmean_score"
    assert len(lines) == 1 + 2 * 10  # tax species and genus, 10 bins each
    assert "tax\tspecies\t0.6\t0.65\t1\t0\t0\t0.6" in lines
    assert "tax\tspecies\t0.5\t0.55\t0\t0\t\t" in lines
