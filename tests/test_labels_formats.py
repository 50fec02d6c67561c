"""``taxometer-kd labels``: each format on small hand-made files, plain and gzipped.

Expected lineages are written out by hand (labels_testdata), and expected confidences are
computed here from the raw numbers of each hand-made line, by each format's definition.
"""

from __future__ import annotations

import pytest
from labels_testdata import (
    BROSSIUS,
    BSUBTILIS,
    ECOLI,
    ENTERO,
    GAPELLA,
    SENTERICA,
    read_conf,
    read_labels,
    tsv,
    write_fasta,
    write_taxdump,
    write_text,
)

from taxometer_kd.errors import KDError
from taxometer_kd.labels.convert import convert, write_outputs

ECOLI_MM = (
    "-_cellular organisms;d_Bacteria;p_Pseudomonadota;c_Gammaproteobacteria;o_Enterobacterales;"
    "f_Enterobacteriaceae;g_Escherichia;s_Escherichia coli"
)


@pytest.fixture()
def env(tmp_path):
    return {"dir": tmp_path, "taxdump": write_taxdump(tmp_path / "taxdump"), "fasta": write_fasta(tmp_path / "c.fna")}


def run(env, fmt, text, gz=False, taxdump=True, name="raw.tsv"):
    raw = write_text(env["dir"] / (name + (".gz" if gz else "")), text, gz)
    conv = convert(fmt, raw, env["fasta"], env["taxdump"] if taxdump else None)
    write_outputs(conv, env["dir"] / "labels.tsv", env["dir"] / "conf.tsv")
    labels = read_labels(env["dir"] / "labels.tsv")
    assert list(labels) == [f"c{i}" for i in range(1, 10)]  # every FASTA contig, FASTA order
    return labels, read_conf(env["dir"] / "conf.tsv")


def raises(match, fn, *args, **kw):
    with pytest.raises(KDError, match=match) as info:
        fn(*args, **kw)
    return str(info.value)


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
        (("C", "c2", 562, 40, "562:3", "extra"), "expected 5 tab-separated columns, found 6"),
    ],
)
def test_kraken2_errors_name_file_and_line(env, line, match):
    text = tsv(("C", "c1", 562, 40, "562:3"), line)
    assert "raw.tsv, line 2: " in raises(match, run, env, "kraken2", text)


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


# ----------------------------------------------------------------------------- Metabuli

METABULI_HEADER = ("#is_classified", "name", "taxID", "query_length", "score", "rank", "taxID:match_count")
METABULI = [
    (1, "c1", 562, 400, 0.8125, "species", "562:30 561:2 "),
    (0, "c2", 0, 400, 0, "-", "-"),
    (1, "c3", 59201, 300, 0.5, "subspecies", "59201:10 "),
    (1, "c4", 1386, 300, 0.25, "genus", "1386:3 "),
]


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("gz", [False, True])
def test_metabuli(env, header, gz):
    labels, conf = run(env, "metabuli", tsv(*([METABULI_HEADER] if header else []), *METABULI), gz=gz)
    # one Bacillus in this file: no need to tell it apart
    assert labels == {
        "c1": ECOLI,
        "c2": "",
        "c3": SENTERICA,
        "c4": "d_Bacteria;p_Bacillota;c_Bacilli;o_Bacillales;f_Bacillaceae;g_Bacillus",
        "c5": "",
        "c6": "",
        "c7": "",
        "c8": "",
        "c9": "",
    }
    assert conf == pytest.approx(
        {"c1": 0.8125, "c2": 0.0, "c3": 0.5, "c4": 0.25, "c5": 0.0, "c6": 0.0, "c7": 0.0, "c8": 0.0, "c9": 0.0}
    )


def test_metabuli_gtdb_lineage_without_taxdump(env):
    head = (*METABULI_HEADER[:6], "lineage", *METABULI_HEADER[6:])
    gtdb = (
        "d__Bacteria;p__Pseudomonadota;c__Gammaproteobacteria;o__Enterobacterales;f__Enterobacteriaceae;"
        "g__Escherichia;s__Escherichia coli"
    )
    text = tsv(
        head,
        (1, "c1", 562, 400, 0.9, "species", gtdb, "562:3"),
        (1, "c2", 17, 400, 0.4, "subspecies", "d_d__Bacteria;p_p__Pseudomonadota;-_RS_GCF_1", "17:3"),
        (0, "c3", 0, 400, 0, "-", "-", "-"),
    )
    labels, conf = run(env, "metabuli", text, taxdump=False)
    assert labels["c1"] == ECOLI and labels["c2"] == "d_Bacteria;p_Pseudomonadota" and labels["c3"] == ""
    assert conf["c1"] == pytest.approx(0.9) and conf["c2"] == pytest.approx(0.4)
    msg = raises(
        "is_classified must be 0 or 1", run, env, "metabuli", tsv(head, (2, "c1", 562, 400, 0.9, "s", "x", "y"))
    )
    assert "raw.tsv, line 2: " in msg
    msg = raises("score 1.5 is outside", run, env, "metabuli", tsv(head, (1, "c1", 562, 400, 1.5, "s", gtdb, "y")))
    assert "raw.tsv, line 2: " in msg


# ----------------------------------------------------------------------------- plain taxids


@pytest.mark.parametrize("gz", [False, True])
def test_taxid_table(env, gz):
    text = "# made by hand\n" + tsv(
        ("contig", "taxid"),
        ("c1", 562, 0.9),
        ("c2", 83333),
        ("c3", 0),
        ("c4", ""),
        ("c5", 9002, ""),
        ("c7", 1423),
        ("c8", 7020, 0.25),
        ("c9", 1, 0.5),
    )
    labels, conf = run(env, "taxid", text, gz=gz)
    assert labels == {
        "c1": ECOLI,
        "c2": ECOLI,
        "c3": "",
        "c4": "",
        "c5": GAPELLA,
        "c6": "",
        "c7": BSUBTILIS,
        "c8": BROSSIUS,
        "c9": "",
    }  # c9 at the root: no canonical rank, no label
    assert conf == {"c1": 0.9, "c2": 1.0, "c3": 0.0, "c4": 0.0, "c5": 1.0, "c6": 0.0, "c7": 1.0, "c8": 0.25, "c9": 0.0}


@pytest.mark.parametrize(
    "line, match",
    [
        (("c2", 562, "1.5"), "confidence 1.5 is outside"),
        (("c2", 562, "high"), "confidence 'high' is not a number"),
        (("c2", 562, 0.5, "x"), "expected 2 or 3 tab-separated columns"),
        (("c2", "5x"), "taxid '5x' is not an integer"),
        (("", 562), "the contig name is empty"),
    ],
)
def test_taxid_errors_name_file_and_line(env, line, match):
    assert "raw.tsv, line 2: " in raises(match, run, env, "taxid", tsv(("c1", 562), line))


# ----------------------------------------------------------------------------- inputs


def test_bad_inputs_are_one_clear_error(env, tmp_path):
    good = tsv(("c1", 562))
    raises("cannot open the file", convert, "taxid", tmp_path / "absent.tsv", env["fasta"], env["taxdump"])
    raw = write_text(tmp_path / "t.tsv", good)
    raises("nodes.dmp is missing", convert, "taxid", raw, env["fasta"], tmp_path)
    raises("not a directory", convert, "taxid", raw, env["fasta"], tmp_path / "nowhere")
    raises("could not read the FASTA", convert, "taxid", raw, tmp_path / "absent.fna", env["taxdump"])
    raises("unknown label format", convert, "blast", raw, env["fasta"], env["taxdump"])
    whole = write_text(tmp_path / "w.tsv.gz", "".join(f"# comment {i}\n" for i in range(5000)), gz=True).read_bytes()
    cut = tmp_path / "cut.tsv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    raises(r"cut\.tsv\.gz, line \d+: could not read the file", convert, "taxid", cut, env["fasta"], env["taxdump"])
