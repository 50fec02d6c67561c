"""``taxometer-kd labels``: the Kraken2 and Centrifuge formats on small hand-made files, plain and gzipped.

Expected lineages are written out by hand (labels_testdata), and expected confidences are
computed here from the raw numbers of each hand-made line, by each format's definition.
"""

from __future__ import annotations

import pytest
from labels_formats_helpers import raises, run
from labels_testdata import (
    ECOLI,
    ENTERO,
    GAPELLA,
    SENTERICA,
    tsv,
)

# ----------------------------------------------------------------------------- Kraken2

KRAKEN2 = tsv(
    ("C", "c1", 562, 40, "562:5 561:3 0:4 A:2 543:1 |:| 83333:2 A:10"),
    ("C", "c2", 561, 40, "562:5 590:5 561:2 0:8"),
    ("U", "c3", 0, 40, "0:36"),
    ("C", "c4", 83333, 40, "83333:3 562:1 A:4"),
    ("C", "c5", 9999, 40, "562:2 9999:2 561:4"),
)
KRAKEN2_NAMES = (
    KRAKEN2.replace("\t562\t40", "\tEscherichia coli (taxid 562)\t40")
    .replace("\t561\t40", "\tEscherichia (taxid 561)\t40")
    .replace("\t0\t40", "\tunclassified (taxid 0)\t40")
    .replace("\t83333\t40", "\tEscherichia coli K-12 (taxid 83333)\t40")
    .replace("\t9999\t40", "\tEscherichia coli (taxid 9999)\t40")
)


@pytest.mark.parametrize("text", [KRAKEN2, KRAKEN2_NAMES], ids=["taxids", "use-names"])
@pytest.mark.parametrize("gz", [False, True])
def test_kraken2(env, text, gz):
    labels, conf = run(env, "kraken2", text, gz=gz)
    assert labels == {
        "c1": ECOLI,
        "c2": ECOLI.rsplit(";", 1)[0],
        "c3": "",
        "c4": ECOLI,
        "c5": ECOLI,
        "c6": "",
        "c7": "",
        "c8": "",
        "c9": "",
    }
    # C / Q: k-mers in the clade of the call / all k-mers except A:n (0:n counted, |:| skipped)
    c1 = (5 + 2) / (5 + 3 + 4 + 1 + 2)  # clade of 562: 562, its strain 83333
    c2 = (5 + 2) / (5 + 5 + 2 + 8)  # clade of 561: 562, 561; not Salmonella 590
    c4 = 3 / (3 + 1)  # clade of the strain: only itself
    c5 = (2 + 2) / (2 + 2 + 4)  # merged 9999 is 562
    assert conf == pytest.approx(
        {"c1": c1, "c2": c2, "c3": 0.0, "c4": c4, "c5": c5, "c6": 0.0, "c7": 0.0, "c8": 0.0, "c9": 0.0}, rel=1e-5
    )


@pytest.mark.parametrize(
    "line, match",
    [
        (("X", "c2", 562, 40, "562:3"), "first column must be C or U"),
        (("C", "c2", 562, 40, "562-3"), "item '562-3' is not 'taxid:count' or 'A:count'"),
        (("C", "c2", 562, 40, "562:3 777777:2"), "in the k-mer list, taxid 777777 is not in the taxdump"),
        (("C", "c2", "Escherichia coli", 40, "562:3"), "neither a number nor 'Name \\(taxid N\\)'"),
        (("C", "c2", "\u00b2", 40, "562:3"), "neither a number nor"),  # '²'.isdigit(), but int() refuses it
        (("C", "c2", "\u0665\u0666\u0662", 40, "562:3"), "neither a number nor"),  # int() reads '٥٦٢' as 562
        (("C", "c2", 562, 40, "\u0665\u0666\u0662:3"), "is not 'taxid:count'"),
        (("C", "c2", 562, 40, "562:3", "extra"), "expected 5 tab-separated columns, found 6"),
        (("C", "c2", 562, 40, f"562:{2**63}"), "9223372036854775808 in the k-mer list is too large"),
        (
            ("C", "c2", 562, 40, "562:" + "9" * 5000),
            r"99999999999999999999\.\.\. \(5000 digits\) in the k-mer list is too",
        ),
        (("C", "c2", "9" * 5000, 40, "562:3"), "taxid '9999.* has too many digits"),
    ],
)
def test_kraken2_errors_name_file_and_line(env, line, match):
    text = tsv(("C", "c1", 562, 40, "562:3"), line)
    assert "raw.tsv, line 2: " in raises(match, run, env, "kraken2", text)


def test_kraken2_counts_whose_sum_exceeds_int64(env):
    _, conf = run(env, "kraken2", tsv(("C", "c1", 562, 40, f"562:{2**62} 0:{2**62} 562:{2**62}")))
    assert conf["c1"] == pytest.approx(2 / 3)


def test_taxid_formats_need_a_taxdump(env):
    for fmt in ("kraken2", "centrifuge", "taxid"):
        raises("--taxdump DIR", run, env, fmt, KRAKEN2, taxdump=False)


# ----------------------------------------------------------------------------- Centrifuge

CF_HEADER = ("readID", "seqID", "taxID", "score", "2ndBestScore", "hitLength", "queryLength", "numMatches")
CENTRIFUGE = [
    ("c1", "NC_000913.3", 562, 81225, 0, 300, 400, 1),
    ("c2", "seqA", 562, 34225, 34225, 200, 1000, 2),  # a tie, reported on two lines: LCA
    ("c2", "seqB", 28901, 34225, 34225, 200, 1000, 2),
    ("c3", "unclassified", 0, 0, 0, 0, 500, 1),
    ("c4", "species", 59201, 60025, 0, 260, 250, 1),  # hitLength > queryLength: clipped
    ("c5", "genus", 9001, 400, 0, 35, 700, 1),
]


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("gz", [False, True])
def test_centrifuge(env, header, gz):
    labels, conf = run(env, "centrifuge", tsv(*([CF_HEADER] if header else []), *CENTRIFUGE), gz=gz)
    gapella_genus = GAPELLA.rsplit(";", 1)[0]
    assert labels == {
        "c1": ECOLI,
        "c2": ENTERO,
        "c3": "",
        "c4": SENTERICA,
        "c5": gapella_genus,
        "c6": "",
        "c7": "",
        "c8": "",
        "c9": "",
    }
    # hitLength / queryLength
    assert conf == pytest.approx(
        {
            "c1": 300 / 400,
            "c2": 200 / 1000,
            "c3": 0.0,
            "c4": 1.0,
            "c5": 35 / 700,
            "c6": 0.0,
            "c7": 0.0,
            "c8": 0.0,
            "c9": 0.0,
        },
        rel=1e-5,
    )


def test_centrifuge_columns_by_header_and_errors(env):
    order = [4, 0, 2, 6, 5]  # a --tab-fmt-cols order: 2ndBestScore readID taxID queryLength hitLength
    text = tsv([CF_HEADER[i] for i in order], *[[row[i] for i in order] for row in CENTRIFUGE[:2]])
    labels, conf = run(env, "centrifuge", text)
    assert labels["c1"] == ECOLI and conf["c1"] == pytest.approx(300 / 400)
    bad = tsv(CF_HEADER, CENTRIFUGE[0], ("c2", "s", 562, 1, 0, "x", 10, 1))
    assert "raw.tsv, line 3: hitLength 'x' is not an integer" in raises("hitLength", run, env, "centrifuge", bad)
    again = tsv(CF_HEADER, CENTRIFUGE[0], CENTRIFUGE[3], CENTRIFUGE[0])
    assert "raw.tsv, line 4: contig 'c1' appears again (first on line 2)" in raises(
        "again", run, env, "centrifuge", again
    )
    nohead = tsv(("readID", "taxID", "score"), ("c1", 562, 4))
    assert "raw.tsv, line 1: the header lacks the column(s) hitLength, queryLength" in raises(
        "lacks", run, env, "centrifuge", nohead
    )
