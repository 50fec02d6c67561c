"""``taxometer-kd labels``: the Metabuli and plain taxid formats on small hand-made files, plain and
gzipped, and inputs that cannot be read.

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
    write_text,
)

from taxometer_kd.labels.convert import convert

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
        (("c2", "5_62"), "taxid '5_62' is not an integer"),  # int('5_62') is 562
        (("c2", "\uff15\uff16\uff12"), "is not an integer"),  # full-width digits: int() reads 562
        (("c2", 562, "1_0"), "confidence '1_0' is not a number"),
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


def test_corrupt_gzip_stream_is_one_clear_error(env, tmp_path):
    data = bytearray(write_text(tmp_path / "w.tsv.gz", tsv(*[(f"x{i}", 0) for i in range(5000)]), gz=True).read_bytes())
    data[200:260] = bytes(b ^ 0xFF for b in data[200:260])  # damage the deflate stream, not the trailer
    (tmp_path / "bad.tsv.gz").write_bytes(bytes(data))
    raises(
        r"bad\.tsv\.gz, line \d+: could not read the file",
        convert,
        "taxid",
        tmp_path / "bad.tsv.gz",
        env["fasta"],
        env["taxdump"],
    )


def test_a_byte_that_is_not_utf8_is_reported_on_its_own_line(env, tmp_path):
    rows = [(f"c{i}", 0) for i in range(1, 10)] + [(f"x{i}", 0) for i in range(3000)]  # past the decoder's chunk
    raw = tmp_path / "latin1.tsv"
    raw.write_bytes(tsv(*rows).encode() + "Sphingomonas sp. \u00e9\t0\n".encode("latin-1"))
    raises(rf"latin1\.tsv, line {len(rows) + 1}: not UTF-8", convert, "taxid", raw, env["fasta"], env["taxdump"])


@pytest.mark.parametrize("gz", [False, True])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_contig(env, gz):
    labels, conf = run(env, "taxid", "\ufeff" + tsv(("c1", 562), ("c2", 590, 0.5)).replace("\n", "\r\n"), gz=gz)
    assert labels["c1"] == ECOLI and conf["c1"] == 1.0 and conf["c2"] == 0.5


@pytest.mark.parametrize(
    "fmt, text", [("taxid", ""), ("kraken2", "\n\n"), ("centrifuge", "readID\ttaxID\thitLength\tqueryLength\n")]
)
def test_a_file_without_a_single_call_is_an_error_not_all_unclassified(env, fmt, text):
    raises(r"raw\.tsv: no classification lines", run, env, fmt, text)
