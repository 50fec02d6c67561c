"""benchmarks.make_case (the harder benchmark case) and the parts of benchmarks.labellers that
need no Debian tool; the Kraken2 round trip runs only where kraken2 is installed."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from benchmarks import labellers, make_case

COMPLEMENT = str.maketrans("ACGT", "TGCA")
# species -> number of strains: three multi-strain and three single-strain species
SPECIES = {"Alpha one": 3, "Alpha two": 2, "Beta three": 2, "Gamma four": 1, "Delta five": 1, "Delta six": 1}
TINY = dict(length_median=3000.0, min_length=1000, max_length=20000)


def _lineage(species: str, sep: str) -> str:
    genus = species.split()[0]
    parts = (
        ("d", "Bacteria"),
        ("p", "Phy"),
        ("c", "Cla"),
        ("o", "Ord"),
        ("f", "Fam" + genus),
        ("g", genus),
        ("s", species),
    )
    return ";".join(f"{rank}{sep}{name}" for rank, name in parts)


@pytest.fixture(scope="module")
def genomes(tmp_path_factory) -> Path:
    """10 small genomes in 6 species (strains share 98 % of their bases); one has a plasmid."""
    d = tmp_path_factory.mktemp("genomes")
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", dtype="S1")
    rows = []
    for si, (species, n) in enumerate(SPECIES.items()):
        base = rng.integers(0, 4, size=int(rng.integers(30_000, 50_000)))
        for k in range(n):
            seq = np.where(rng.random(base.size) < 0.02, rng.integers(0, 4, size=base.size), base)
            records = [letters[seq].tobytes().decode()]
            if si == 0 and k == 0:
                records.append(letters[rng.integers(0, 4, size=4000)].tobytes().decode())
            gid = f"g{si}_{k}"
            with gzip.open(d / f"{gid}.fna.gz", "wt") as fh:
                for r, text in enumerate(records):
                    fh.write(f">{gid}|{r + 1}\n" + "\n".join(text[i : i + 70] for i in range(0, len(text), 70)) + "\n")
            rows.append((gid, "test", f"{gid}.fna.gz", len(records), sum(map(len, records)), _lineage(species, "__")))
    with open(d / "genomes.tsv", "w") as fh:
        fh.write("genome_id\tsource\tfile\tn_records\tlength\tlineage\n")
        fh.writelines("\t".join(map(str, r)) + "\n" for r in rows)
    return d


@pytest.fixture(scope="module")
def case(genomes, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("case") / "c"
    make_case.make_case(out, 7, genomes, **TINY)
    return out


def _table(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _fasta(path: Path) -> dict[str, str]:
    seqs, name = defaultdict(list), None
    for line in open(path):
        if line.startswith(">"):
            name = line[1:].strip()
        else:
            seqs[name].append(line.strip())
    return {k: "".join(v) for k, v in seqs.items()}


def test_deterministic_for_a_seed(genomes, case, tmp_path):
    make_case.make_case(tmp_path / "again", 7, genomes, **TINY)
    make_case.make_case(tmp_path / "other", 8, genomes, **TINY)
    for name in ("contigs.coords.tsv", "contigs.fna", "abundance.tsv", "truth.tsv", "reference_genomes.tsv"):
        assert (case / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert (case / "contigs.coords.tsv").read_bytes() != (tmp_path / "other" / "contigs.coords.tsv").read_bytes()


def test_files_and_columns(case):
    heads = {
        name: open(case / name).readline().rstrip("\n").split("\t")
        for name in ("contigs.coords.tsv", "abundance.tsv", "truth.tsv", "reference_genomes.tsv")
    }
    assert heads["contigs.coords.tsv"] == ["contig", "genome_id", "record", "start", "end", "strand"]
    assert heads["abundance.tsv"] == ["contigname", "S0", "S1", "S2", "S3"]
    assert heads["truth.tsv"] == ["contig", "genome_id", "length", "reference_status", "lineage"]
    assert heads["reference_genomes.tsv"] == ["genome_id", "reference_status", "lineage"]
    coords, truth, abundance = (_table(case / n) for n in ("contigs.coords.tsv", "truth.tsv", "abundance.tsv"))
    names = [r["contig"] for r in coords]
    assert 100 <= len(names) <= 1000
    assert (
        names
        == [r["contig"] for r in truth]
        == [r["contigname"] for r in abundance]
        == list(_fasta(case / "contigs.fna"))
    )
    # per-sample numbering S{sample}C{n}, n = 1, 2, ...
    for s in {n.split("C")[0] for n in names}:
        assert [n for n in names if n.startswith(s + "C")] == [
            f"{s}C{i}" for i in range(1, sum(n.startswith(s + "C") for n in names) + 1)
        ]
    lengths = [int(r["length"]) for r in truth]
    assert min(lengths) >= TINY["min_length"] and max(lengths) <= TINY["max_length"]
    assert all(
        r["lineage"].startswith("d_Bacteria;p_Phy;") and ";s_" in r["lineage"] and "__" not in r["lineage"]
        for r in truth
    )
    # a contig has depth in its own sample
    assert all(float(r[r["contigname"].split("C")[0]]) > 0 for r in abundance)
    assert {r["strand"] for r in coords} == {"+", "-"}


def test_reference_one_strain_per_species_and_share(genomes, case):
    species = {r["genome_id"]: r["lineage"].split(";")[-1] for r in _table(genomes / "genomes.tsv")}
    ref = _table(case / "reference_genomes.tsv")
    assert sorted(r["genome_id"] for r in ref) == sorted(species)
    by_species = defaultdict(list)
    for r in ref:
        by_species[species[r["genome_id"]]].append(r["reference_status"])
    kept = 0
    for statuses in by_species.values():
        if "species_held_out" in statuses:
            assert set(statuses) == {"species_held_out"}
        else:
            kept += 1
            assert statuses.count("in_reference") == 1 and set(statuses) <= {"in_reference", "novel_strain"}
    assert kept == 4  # 2/3 of the multi-strain species and 2/3 of the others
    # the same holds for other seeds and shares
    rng = np.random.default_rng(3)
    rows = make_case.read_genomes(genomes)
    for fraction, expected in ((1 / 3, 2), (1.0, 6)):
        status = make_case.choose_reference(rows, fraction, rng)
        assert sum(v == "in_reference" for v in status.values()) == expected


def test_contigs_are_slices_of_the_genomes(genomes, case):
    records = {r["genome_id"]: make_case.read_records(genomes / r["file"]) for r in _table(genomes / "genomes.tsv")}
    fasta = _fasta(case / "contigs.fna")
    for row in _table(case / "contigs.coords.tsv"):
        piece = records[row["genome_id"]][int(row["record"])][int(row["start"]) : int(row["end"])]
        if row["strand"] == "-":
            piece = piece[::-1].translate(COMPLEMENT)
        assert fasta[row["contig"]] == piece, row["contig"]


def test_reference_status_consistent(case):
    status = {r["genome_id"]: r["reference_status"] for r in _table(case / "reference_genomes.tsv")}
    truth = _table(case / "truth.tsv")
    assert all(r["reference_status"] == status[r["genome_id"]] for r in truth)
    assert set(labellers.reference_genomes(case)) == {g for g, s in status.items() if s == "in_reference"}


def _taxdump(d: Path) -> Path:
    d.mkdir()
    nodes = [
        ("1", "1", "no rank", "root"),
        ("2", "1", "superkingdom", "Bacteria"),
        ("3", "2", "phylum", "Phy"),
        ("4", "3", "genus", "Alpha"),
        ("5", "4", "species", "Alpha one"),
        ("6", "4", "species", "Alpha two"),
    ]
    (d / "nodes.dmp").write_text("".join(f"{t}\t|\t{p}\t|\t{r}\t|\n" for t, p, r, _ in nodes))
    (d / "names.dmp").write_text("".join(f"{t}\t|\t{n}\t|\t\t|\tscientific name\t|\n" for t, _, _, n in nodes))
    return d


def test_kraken2_output_in_lca_columns(tmp_path):
    taxdump = _taxdump(tmp_path / "taxdump")
    (tmp_path / "k2.out").write_text(
        "C\tS0C1\tAlpha one (taxid 5)\t3000\t5:10 0:2\n"
        "C\tS0C2\tAlpha (taxid 4)\t2500\t4:3\n"
        "U\tS0C3\tunclassified (taxid 0)\t2100\t0:20\n"
    )
    labellers.kraken2_to_lca(tmp_path / "k2.out", taxdump, tmp_path / "k2_lca.tsv")
    assert (tmp_path / "k2_lca.tsv").read_text().splitlines() == [
        "S0C1\t5\tspecies\tAlpha one\t\t\t\t\td_Bacteria;p_Phy;g_Alpha;s_Alpha one",
        "S0C2\t4\tgenus\tAlpha\t\t\t\t\td_Bacteria;p_Phy;g_Alpha",
        "S0C3\t0\tno rank\tunclassified\t\t\t\t\t",
    ]


@pytest.mark.skipif(not (shutil.which("kraken2-build") and shutil.which("kraken2")), reason="kraken2 not installed")
def test_kraken2_round_trip(genomes, case, tmp_path):
    """Build a Kraken2 database of the case's reference genomes and label its contigs (~5 s)."""
    ref = {r["genome_id"] for r in _table(case / "reference_genomes.tsv") if r["reference_status"] == "in_reference"}
    taxdump = tmp_path / "taxdump"
    taxdump.mkdir()
    rows = _table(genomes / "genomes.tsv")
    ranks = ("superkingdom", "phylum", "class", "order", "family", "genus", "species")
    ids: dict[tuple, int] = {(): 1}
    nodes, names = ["1\t|\t1\t|\tno rank\t|\n"], ["1\t|\troot\t|\t\t|\tscientific name\t|\n"]
    for r in rows:
        path: tuple = ()
        for rank, part in zip(ranks, r["lineage"].split(";")):
            parent, path = ids[path], (*path, part)
            if path not in ids:
                ids[path] = len(ids) + 1
                nodes.append(f"{ids[path]}\t|\t{parent}\t|\t{rank}\t|\n")
                names.append(f"{ids[path]}\t|\t{part.split('__', 1)[1]}\t|\t\t|\tscientific name\t|\n")
        r["taxid"] = ids[path]
    (taxdump / "nodes.dmp").write_text("".join(nodes))
    (taxdump / "names.dmp").write_text("".join(names))
    (taxdump / "genome_taxid.tsv").write_text("".join(f"{r['genome_id']}\t{r['taxid']}\n" for r in rows))
    labellers.main(
        [
            "--data",
            str(case),
            "--work",
            str(tmp_path / "work"),
            "--tools",
            "kraken2",
            "--threads",
            "1",
            "--genomes",
            str(genomes),
            "--taxdump",
            str(taxdump),
        ]
    )
    calls = {line.split("\t")[0]: line.rstrip("\n").split("\t") for line in open(tmp_path / "work/kraken2/k2_lca.tsv")}
    truth = _table(case / "truth.tsv")
    assert set(calls) == {r["contig"] for r in truth}
    in_ref = [r for r in truth if r["genome_id"] in ref]
    correct = sum(calls[r["contig"]][8].endswith(r["lineage"].split(";")[-1]) for r in in_ref)
    assert correct >= 0.95 * len(in_ref)
    # resumable: a second run skips the finished steps
    labellers.main(
        [
            "--data",
            str(case),
            "--work",
            str(tmp_path / "work"),
            "--tools",
            "kraken2",
            "--threads",
            "1",
            "--genomes",
            str(genomes),
            "--taxdump",
            str(taxdump),
        ]
    )
    assert "output exists, skipped" in (tmp_path / "work/labellers.log").read_text()
