"""--confidence-cut: the labeller's confidence as a hard cut of the labels before training."""

import numpy as np
from conftest import run_cmd, vamb_inputs
from test_e2e import EPOCHS
from test_label_confidence import _run, _write_confidence
from vamb.taxonomy import ContigTaxonomy

from taxometer_kd.training.label_space import cut_labels


class _Taxonomy:  # what cut_labels reads of vamb.taxonomy.Taxonomy
    def __init__(self, lineages):
        self.contig_taxonomies = [None if x is None else ContigTaxonomy(x.split(";") if x else []) for x in lineages]


def test_labels_below_the_cut_lose_their_lowest_rank_and_the_rest_are_kept():
    tax = _Taxonomy(["d_B;g_E;s_E coli", "d_B;g_E;s_E coli", "d_B;g_E", "d_B;g_E;s_E x", None, "", "d_B;g_E;s_E y"])
    conf = np.array([0.01, 0.5, 0.02, np.nan, 0.0, 0.0, 0.05])
    assert cut_labels(tax, conf, 0.05) == 2
    got = [None if t is None else ";".join(t.ranks) for t in tax.contig_taxonomies]
    # below the cut: species -> genus, genus -> domain; at or above it, of unknown confidence
    # (NaN) or unlabelled: unchanged
    assert got == ["d_B;g_E", "d_B;g_E;s_E coli", "d_B", "d_B;g_E;s_E x", None, "", "d_B;g_E;s_E y"]
    assert cut_labels(tax, np.full(7, 0.999), 1.0) == 5  # every label with a rank left


def _cut_by_hand(data, confidence, cut, path):
    """The label file with the species of every contig whose confidence is below ``cut`` dropped,
    as a user would write it with awk; returns how many labels were cut."""
    lines = open(data["taxonomy"]).read().splitlines()
    out = [lines[0]]
    n_cut = 0
    for line in lines[1:]:
        contig, lineage = line.split("\t")
        if lineage and confidence[contig] < cut:
            lineage = ";".join(lineage.split(";")[:-1])
            n_cut += 1
        out.append(f"{contig}\t{lineage}")
    path.write_text("\n".join(out) + "\n")
    return n_cut


def test_the_cut_is_the_same_run_as_labels_cut_by_hand(small_data, tmp_path):
    """The flag must train exactly as taxometer-kd does on a label file cut by hand beforehand
    (the scores' calibration included: it then reads the cut labels too), and differ from the run
    on the uncut labels and from the soft weighting."""
    data = small_data
    rng = np.random.default_rng(4)
    truth = [line.split("\t") for line in open(data["truth"]).read().splitlines()[1:]]
    # the held-out species mostly below the cut, the rest mostly above it
    # rounded as _write_confidence writes them, so that the cut by hand sees the file's values
    conf = {r[0]: round(rng.uniform(0, 0.2) if r[3] == "species_held_out" else rng.uniform(0.05, 1), 4) for r in truth}
    conf_file = _write_confidence(tmp_path / "c.tsv", data, lambda r: conf[r[0]])
    by_hand = tmp_path / "cut_labels.tsv"
    n_cut = _cut_by_hand(data, conf, 0.1, by_hand)
    assert n_cut > 50
    args = [*EPOCHS, "--calibration-holdout", "0.2"]
    flag = _run(data, tmp_path / "flag", *args, "--label-confidence", str(conf_file), "--confidence-cut", "0.1")
    log = (tmp_path / "flag" / "log.txt").read_text()
    assert f"{n_cut} labels below 0.1 lose their lowest rank" in log
    hand = _run_on_labels(data, tmp_path / "hand", by_hand, *args)
    assert flag == hand
    assert flag != _run(data, tmp_path / "plain", *args)
    assert flag != _run(data, tmp_path / "soft", *args, "--label-confidence", str(conf_file))


def _run_on_labels(data, out, labels, *extra):
    cmd = ["vamb", "taxometer", "--outdir", str(out), *vamb_inputs(data, taxonomy=labels), "--teacher", "default"]
    proc = run_cmd([*cmd, *extra])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (out / "results_taxometer.tsv").read_text()


def test_cut_errors_are_one_line(tiny_data, tmp_path):
    conf = _write_confidence(tmp_path / "c.tsv", tiny_data, lambda r: 0.5)
    cases = [
        (["--confidence-cut", "0.1"], "--confidence-cut applies only together with --label-confidence FILE"),
        (["--label-confidence", str(conf), "--confidence-cut", "0"], "--confidence-cut must be above 0"),
        (["--label-confidence", str(conf), "--confidence-cut", "1.5"], "--confidence-cut must be above 0"),
        (["--label-confidence", str(conf), "--confidence-cut", "nan"], "--confidence-cut must be above 0"),
    ]
    for i, (extra, message) in enumerate(cases):
        out = tmp_path / f"o{i}"
        cmd = ["vamb", "taxometer", "--outdir", str(out), *vamb_inputs(tiny_data), *EPOCHS, "--teacher", "default"]
        proc = run_cmd(cmd + extra)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert message in proc.stderr, proc.stderr[-2000:]
        assert not out.exists()
