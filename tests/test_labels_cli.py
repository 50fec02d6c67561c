"""``taxometer-kd labels`` as a command: the synthetic data end to end through stock ``vamb
taxometer``, errors as one ERROR line, and the shared mock64 labels reproduced from the raw
outputs of the real labellers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_cmd, vamb_inputs
from labels_testdata import read_conf, tsv

from taxometer_kd.cli import main
from taxometer_kd.labels import read_confidence
from taxometer_kd.labels.convert import convert

RANKS = ("superkingdom", "phylum", "class", "order", "family", "genus", "species")
SHARED = ROOT.parent / "shared" / "data"


def taxdump_for(lineages, directory: Path) -> dict[str, int]:
    """A hand-made taxdump holding ``lineages`` (Vamb strings), with non-canonical nodes mixed in:
    ``cellular organisms`` above the domain, a ``clade`` between phylum and class, a ``strain``
    under every species. Returns {lineage prefix or '<species> strain': taxid}."""
    nodes = [(1, 1, "no rank", "root"), (2, 1, "no rank", "cellular organisms")]
    taxid: dict[str, int] = {}
    prefixes = sorted(
        {";".join(lin.split(";")[: i + 1]) for lin in lineages if lin for i in range(len(lin.split(";")))}
    )
    for prefix in prefixes:  # parents sort before their children
        *up, last = prefix.split(";")
        level = len(up)
        parent = taxid[";".join(up)] if up else 2
        if level == 2:  # put a clade between phylum and class
            clade = taxid.setdefault(";".join(up) + ";clade", 1000 + len(nodes))
            if clade == 1000 + len(nodes):
                nodes.append((clade, parent, "clade", f"{up[-1][2:]} clade"))
            parent = clade
        taxid[prefix] = 1000 + len(nodes)
        nodes.append((taxid[prefix], parent, RANKS[level], last[2:]))
        if level == 6:
            taxid[prefix + " strain"] = 1000 + len(nodes)
            nodes.append((taxid[prefix + " strain"], taxid[prefix], "strain", last[2:] + " strain A"))
    directory.mkdir()
    (directory / "nodes.dmp").write_text("".join(f"{t}\t|\t{p}\t|\t{r}\t|\t\t|\n" for t, p, r, _ in nodes))
    (directory / "names.dmp").write_text("".join(f"{t}\t|\t{n}\t|\t\t|\tscientific name\t|\n" for t, _, _, n in nodes))
    return taxid


def test_taxid_table_through_the_cli_and_stock_vamb_taxometer(tiny_data, tmp_path, capsys):
    rows = [line.split("\t") for line in tiny_data["taxonomy"].read_text().splitlines()[1:]]
    truth = [line.split("\t")[4] for line in tiny_data["truth"].read_text().splitlines()[1:]]
    taxid = taxdump_for([lin for _, lin in rows] + truth, tmp_path / "taxdump")
    table = []
    for i, (contig, lineage) in enumerate(rows):
        if not lineage:
            if i % 2:
                table.append((contig, 0))  # else absent from the table: unclassified too
        elif lineage.count(";") == 6 and i % 2 == 0:
            table.append((contig, taxid[lineage + " strain"], 0.5))  # a strain: written as its species
        else:
            table.append((contig, taxid[lineage]))
    (tmp_path / "table.tsv").write_text(tsv(("contig", "taxid"), *table[::-1]))  # any order in, FASTA order out
    # the command in-process (its error path runs as a subprocess below)
    assert (
        main(
            [
                "labels",
                "taxid",
                str(tmp_path / "table.tsv"),
                "--fasta",
                str(tiny_data["fasta"]),
                "--taxdump",
                str(tmp_path / "taxdump"),
                "-o",
                str(tmp_path / "labels.tsv"),
            ]
        )
        == 0
    )
    assert f"labels.tsv: {len(rows)} contigs (species " in capsys.readouterr().out
    # the synthetic generator's own taxonomy file, byte for byte
    assert (tmp_path / "labels.tsv").read_text() == tiny_data["taxonomy"].read_text()
    conf = read_conf(tmp_path / "labels.confidence.tsv")
    assert list(conf) == [r[0] for r in rows]
    assert {conf[r[0]] for r in rows if not r[1]} == {0.0} and set(conf.values()) == {0.0, 0.5, 1.0}

    out = tmp_path / "vamb"
    proc = run_cmd(
        [
            "vamb",
            "taxometer",
            "--outdir",
            str(out),
            *vamb_inputs(tiny_data, taxonomy=tmp_path / "labels.tsv"),
            "-pe",
            "1",
            "-pt",
            "64",
        ],
        env={"TAXOMETER_KD_DISABLE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = (out / "results_taxometer.tsv").read_text().splitlines()
    assert results[0] == "contigs\tpredictions\tscores" and len(results) == len(rows) + 1


def test_errors_are_one_line_exit_2_and_write_nothing(tiny_data, tmp_path):
    first = tiny_data["taxonomy"].read_text().splitlines()[1].split("\t")[0]
    (tmp_path / "taxdump").mkdir()
    (tmp_path / "taxdump" / "nodes.dmp").write_text("1\t|\t1\t|\tno rank\t|\n")
    (tmp_path / "taxdump" / "names.dmp").write_text("1\t|\troot\t|\t\t|\tscientific name\t|\n")
    (tmp_path / "bad.tsv").write_text(tsv(("contig", "taxid"), (first, 1), (first + "x", "one")))
    out = tmp_path / "labels.tsv"
    proc = run_cmd(
        [
            "taxometer-kd",
            "labels",
            "taxid",
            str(tmp_path / "bad.tsv"),
            "--taxdump",
            str(tmp_path / "taxdump"),
            "--fasta",
            str(tiny_data["fasta"]),
            "-o",
            str(out),
        ]
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0] == f"ERROR: {tmp_path / 'bad.tsv'}, line 3: taxid 'one' is not an integer"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tsv", "taxdump"]  # nothing written


# ----------------------------------------------------------------------------- shared mock64

MOCK64 = SHARED / "mock64"
WORK_K2 = ROOT / "benchmarks" / "work" / "labellers" / "mock64" / "kraken2" / "k2.out"


@pytest.fixture(scope="module")
def mock64_names():
    if not (MOCK64 / "abundance.tsv").is_file() or not (SHARED / "taxdump" / "nodes.dmp").is_file():
        pytest.skip("../shared/data/mock64 is not here")
    with open(MOCK64 / "abundance.tsv") as fh:
        return [row[0] for row in csv.reader(fh, delimiter="\t")][1:]  # = the FASTA's names, in order


@pytest.mark.parametrize(
    "fmt, raw, expected",
    [
        ("mmseqs2", MOCK64 / "labels" / "raw" / "mmseqs2_mm_lca.tsv.gz", "mmseqs2.tsv"),
        ("centrifuge", MOCK64 / "labels" / "raw" / "centrifuge_cf.out.gz", "centrifuge.tsv"),
        # the shared "raw" Kraken2 file is not Kraken2 --output but its calls in MMseqs2's
        # _lca.tsv columns (count columns empty), so it is read as mmseqs2
        ("mmseqs2", MOCK64 / "labels" / "raw" / "kraken2_k2_lca.tsv.gz", "kraken2.tsv"),
    ],
)
def test_mock64_raw_outputs_reproduce_the_shared_labels(mock64_names, tmp_path, fmt, raw, expected):
    conv = convert(fmt, raw, "unused.fna", SHARED / "taxdump", identifiers=mock64_names)
    assert conv.taxonomy_text() == (MOCK64 / "labels" / expected).read_text()  # every line identical
    (tmp_path / "c.tsv").write_text(conv.confidence_text())
    values = read_confidence(tmp_path / "c.tsv", mock64_names)
    unknown = np.isnan(values)
    assert unknown.sum() == sum(v is None for v in conv.confidence)
    assert ((values[~unknown] >= 0) & (values[~unknown] <= 1)).all()
    if raw.name != "kraken2_k2_lca.tsv.gz":  # the only one without the numbers confidence is made of
        assert not unknown.any()


def test_mock64_kraken2_output_reproduces_the_shared_labels(mock64_names, tmp_path):
    """Kraken2's own --output (--use-names), where a labellers run left one in the work dir:
    its first 8000 lines (most of the time goes into the k-mer lists) give the shared labels
    of those contigs."""
    if not WORK_K2.is_file():
        pytest.skip(f"{WORK_K2} is not here")
    with open(WORK_K2) as fh:
        head = [next(fh) for _ in range(8000)]
    (tmp_path / "k2.out").write_text("".join(head))
    wanted = {line.split("\t")[1] for line in head}
    names = [n for n in mock64_names if n in wanted]
    conv = convert("kraken2", tmp_path / "k2.out", "unused.fna", SHARED / "taxdump", identifiers=names)
    expected = [
        line
        for line in (MOCK64 / "labels" / "kraken2.tsv").read_text().splitlines()[1:]
        if line.split("\t")[0] in wanted
    ]
    assert conv.taxonomy_text().splitlines()[1:] == expected
    assert all(v is not None and 0 <= v <= 1 for v in conv.confidence)


@pytest.mark.parametrize("clash", ["-o raw", "--confidence-out raw", "-o fasta", "-o names.dmp"])
def test_an_output_that_is_an_input_is_refused(tmp_path, capsys, clash):
    from labels_testdata import write_fasta, write_taxdump

    taxdump, fasta, raw = write_taxdump(tmp_path / "td"), write_fasta(tmp_path / "c.fna"), tmp_path / "t.tsv"
    raw.write_text(tsv(("c1", 562)))
    inputs = {"raw": raw, "fasta": fasta, "names.dmp": taxdump / "names.dmp"}
    before = {p: p.read_bytes() for p in inputs.values()}
    flag, which = clash.split()
    out = {"-o": inputs[which], "--confidence-out": tmp_path / "labels.tsv"}
    if flag == "--confidence-out":
        out = {"-o": tmp_path / "labels.tsv", "--confidence-out": inputs[which]}
    args = ["labels", "taxid", str(raw), "--fasta", str(fasta), "--taxdump", str(taxdump)]
    assert main([*args, "-o", str(out["-o"]), "--confidence-out", str(out["--confidence-out"])]) == 2
    assert f"is the input {inputs[which]}" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in inputs.values()} == before  # no input overwritten
    assert not (tmp_path / "labels.tsv").exists()  # and nothing written


def test_a_failed_second_write_leaves_both_old_files(tmp_path, capsys, monkeypatch):
    """The labels and the confidence file are replaced together: a full disk while writing the
    confidence file must not leave new labels beside the old confidence."""
    from labels_testdata import write_fasta, write_taxdump

    import taxometer_kd.io as kd_io

    taxdump, fasta, raw = write_taxdump(tmp_path / "td"), write_fasta(tmp_path / "c.fna"), tmp_path / "t.tsv"
    raw.write_text(tsv(("c1", 562)))
    labels, conf = tmp_path / "labels.tsv", tmp_path / "conf.tsv"
    labels.write_text("old labels\n")
    conf.write_text("old confidence\n")
    real_fsync, calls = kd_io.os.fsync, []

    def fsync_fails_the_second_time(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(kd_io.os, "fsync", fsync_fails_the_second_time)
    args = ["labels", "taxid", str(raw), "--fasta", str(fasta), "--taxdump", str(taxdump)]
    assert main([*args, "-o", str(labels), "--confidence-out", str(conf)]) == 2
    assert f"cannot write {conf}: No space left on device" in capsys.readouterr().err
    assert (labels.read_text(), conf.read_text()) == ("old labels\n", "old confidence\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.fna", "conf.tsv", "labels.tsv", "t.tsv", "td"]

    monkeypatch.setattr(kd_io.os, "fsync", real_fsync)  # and with room on the disk, both are new
    assert main([*args, "-o", str(labels), "--confidence-out", str(conf)]) == 0
    assert labels.read_text().startswith("contigs\tpredictions") and conf.read_text().startswith("contigs\t")
