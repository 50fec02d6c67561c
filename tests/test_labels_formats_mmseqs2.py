"""``taxometer-kd labels``: the MMseqs2 format on small hand-made files, plain and gzipped.

Expected lineages are written out by hand (labels_testdata), and expected confidences are
computed here from the raw numbers of each hand-made line, by each format's definition.
"""

from __future__ import annotations

import pytest
from labels_formats_helpers import raises, run
from labels_testdata import (
    BROSSIUS,
    BSUBTILIS,
    ECOLI,
    GAPELLA,
    SENTERICA,
    tsv,
)

ECOLI_MM = (
    "-_cellular organisms;d_Bacteria;p_Pseudomonadota;c_Gammaproteobacteria;o_Enterobacterales;"
    "f_Enterobacteriaceae;g_Escherichia;s_Escherichia coli"
)


# ----------------------------------------------------------------------------- MMseqs2

MMSEQS2 = tsv(
    ("c1", 562, "species", "Escherichia coli", 10, 8, 6, "0.700", ECOLI_MM),
    ("c2", 83333, "strain", "Escherichia coli K-12", 4, 4, 4, "1.000", ECOLI_MM + ";-_Escherichia coli K-12"),
    ("c3", 0, "no rank", "unclassified", 3, 0, 0, "0.000", ""),
    ("c4", 1, "no rank", "root", 5, 5, 5, "1.000", "-_root"),
    (
        "c5",
        9002,
        "species",
        "Gapella alpha",
        2,
        1,
        1,
        "1.000",
        "-_cellular organisms;d_Bacteria;p_Pseudomonadota;c_Gammaproteobacteria;o_Enterobacterales;g_Gapella;s_Gapella alpha",
    ),
    (
        "c7",
        1423,
        "species",
        "Bacillus subtilis",
        6,
        3,
        2,
        "0.500",
        (
            "-_cellular organisms;d_Bacteria;p_Bacillota;-_Terrabacteria-like clade;c_Bacilli;o_Bacillales;"
            "f_Bacillaceae;g_Bacillus;s_Bacillus subtilis"
        ),
    ),
    (
        "c8",
        7020,
        "species",
        "Bacillus rossius",
        1,
        1,
        1,
        "1.000",
        "-_cellular organisms;d_Eukaryota;p_Arthropoda;c_Insecta;o_Phasmatodea;f_Bacillidae;g_Bacillus;s_Bacillus rossius",
    ),
    ("c9", 9999, "species", "Escherichia coli", 2, 2, 1, "0.550", ECOLI_MM),
)
MMSEQS2_LABELS = {
    "c1": ECOLI,
    "c2": ECOLI,
    "c3": "",
    "c4": "",
    "c5": GAPELLA,
    "c6": "",
    "c7": BSUBTILIS,
    "c8": BROSSIUS,
    "c9": ECOLI,
}
# the support column (fragment counts only checked); 0 for contigs without a label
MMSEQS2_CONF = {
    "c1": 0.700,
    "c2": 1.0,
    "c3": 0.0,
    "c4": 0.0,
    "c5": 1.0,
    "c6": 0.0,
    "c7": 0.5,
    "c8": 1.0,
    "c9": 0.55,
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("taxdump", [True, False])
def test_mmseqs2(env, gz, taxdump):
    # with the taxdump the taxids decide (merged 9999 -> 562); without it, the lineage text
    labels, conf = run(env, "mmseqs2", MMSEQS2, gz=gz, taxdump=taxdump)
    assert labels == MMSEQS2_LABELS
    assert conf == pytest.approx(MMSEQS2_CONF, rel=1e-5)


def test_mmseqs2_without_counts_or_lineage(env):
    text = tsv(
        ("c1", 562, "species", "Escherichia coli"),
        ("c3", 0, "no rank", "unclassified"),
        ("c7", 59201, "subspecies", "Salmonella enterica subsp. enterica"),
    )
    labels, conf = run(env, "mmseqs2", text)
    assert labels["c1"] == ECOLI and labels["c7"] == SENTERICA and labels["c3"] == ""
    assert "c1" not in conf and "c7" not in conf  # nothing to compute one from: unknown
    assert conf["c3"] == 0.0 and conf["c2"] == 0.0
    msg = raises("--taxdump", run, env, "mmseqs2", text, taxdump=False)
    assert "raw.tsv, line 1:" in msg


def test_mmseqs2_empty_counts_like_the_shared_kraken2_table(env):
    labels, conf = run(
        env, "mmseqs2", tsv(("c1", 561, "genus", "Escherichia", "", "", "", "", ECOLI.rsplit(";", 1)[0])), taxdump=False
    )
    assert labels["c1"] == ECOLI.rsplit(";", 1)[0] and "c1" not in conf


@pytest.mark.parametrize(
    "line, match",
    [
        (("c2", "x", "species", "E"), "taxid 'x' is not an integer"),
        (("c2", 562, "species", "E", 3, 4, 1, "1.0"), "agreeing <= assigned <= total"),
        (("c2", 562, "species", "E", 3, 3, 1, "1.7"), "support 1.7 is outside"),
        (("c2", 562), "at least 4 tab-separated columns"),
        (
            ("c2", 562, "species", "E", 3, 3, 3, "1.0", "d_Bacteria;c_Gammaproteobacteria;p_Pseudomonadota"),
            "out of rank order",
        ),
        (("c2", 562, "species", "E", 3, 3, 3, "1.0", "d_Bacteria;Gammaproteobacteria"), None),  # not a lineage: ignored
        (("zz", 562, "species", "E"), "contig 'zz' is not in the FASTA"),
        (("c1", 562, "species", "E"), r"contig 'c1' appears again \(first on line 1\)"),
        (("c2", 424242, "species", "E"), "taxid 424242 is not in the taxdump"),
    ],
)
def test_mmseqs2_errors_name_file_and_line(env, line, match):
    text = tsv(("c1", 562, "species", "Escherichia coli"), line)
    if match is None:
        assert run(env, "mmseqs2", text)[0]["c2"] == ECOLI
        return
    assert "raw.tsv, line 2: " in raises(match, run, env, "mmseqs2", text)
