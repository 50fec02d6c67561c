"""Hand-made inputs for the tests of ``taxometer-kd labels``: a small taxdump and a FASTA.

The taxdump has, besides ordinary lineages, the cases the converter must handle: nodes
without a canonical rank (``no rank``, ``clade``, ``strain``, ``subspecies``), a genus
without a family, two genera named *Bacillus* in different families, a synonym in
names.dmp and a merged taxid.
"""

from __future__ import annotations

import gzip
from pathlib import Path

# taxid, parent, rank, scientific name
NODES = [
    (1, 1, "no rank", "root"),
    (131567, 1, "no rank", "cellular organisms"),
    (2, 131567, "superkingdom", "Bacteria"),
    (1224, 2, "phylum", "Pseudomonadota"),
    (1236, 1224, "class", "Gammaproteobacteria"),
    (91347, 1236, "order", "Enterobacterales"),
    (543, 91347, "family", "Enterobacteriaceae"),
    (561, 543, "genus", "Escherichia"),
    (562, 561, "species", "Escherichia coli"),
    (83333, 562, "strain", "Escherichia coli K-12"),
    (9100, 561, "no rank", "environmental samples"),
    (9101, 9100, "species", "Escherichia sp. env1"),
    (590, 543, "genus", "Salmonella"),
    (28901, 590, "species", "Salmonella enterica"),
    (59201, 28901, "subspecies", "Salmonella enterica subsp. enterica"),
    (9001, 91347, "genus", "Gapella"),  # no family between order and genus
    (9002, 9001, "species", "Gapella alpha"),
    (1239, 2, "phylum", "Bacillota"),
    (1783272, 1239, "clade", "Terrabacteria-like clade"),
    (91061, 1783272, "class", "Bacilli"),
    (1385, 91061, "order", "Bacillales"),
    (186817, 1385, "family", "Bacillaceae"),
    (1386, 186817, "genus", "Bacillus"),
    (1423, 1386, "species", "Bacillus subtilis"),
    (2759, 131567, "superkingdom", "Eukaryota"),
    (6656, 2759, "phylum", "Arthropoda"),
    (50557, 6656, "class", "Insecta"),
    (7017, 50557, "order", "Phasmatodea"),
    (7018, 7017, "family", "Bacillidae"),
    (55087, 7018, "genus", "Bacillus"),  # the stick insects' Bacillus
    (7020, 55087, "species", "Bacillus rossius"),
]
SYNONYMS = [(562, "Bacillus coli")]
MERGED = [(9999, 562)]

ECOLI = (
    "d_Bacteria;p_Pseudomonadota;c_Gammaproteobacteria;o_Enterobacterales;"
    "f_Enterobacteriaceae;g_Escherichia;s_Escherichia coli"
)
ENTERO = "d_Bacteria;p_Pseudomonadota;c_Gammaproteobacteria;o_Enterobacterales;f_Enterobacteriaceae"
SENTERICA = ENTERO + ";g_Salmonella;s_Salmonella enterica"
GAPELLA = (
    "d_Bacteria;p_Pseudomonadota;c_Gammaproteobacteria;o_Enterobacterales;"
    "f_unclassified Enterobacterales;g_Gapella;s_Gapella alpha"
)
BSUBTILIS_PLAIN = "d_Bacteria;p_Bacillota;c_Bacilli;o_Bacillales;f_Bacillaceae;g_Bacillus;s_Bacillus subtilis"
BSUBTILIS = "d_Bacteria;p_Bacillota;c_Bacilli;o_Bacillales;f_Bacillaceae;g_Bacillus (Bacillaceae);s_Bacillus subtilis"
BROSSIUS = "d_Eukaryota;p_Arthropoda;c_Insecta;o_Phasmatodea;f_Bacillidae;g_Bacillus (Bacillidae);s_Bacillus rossius"

CONTIGS = [f"c{i}" for i in range(1, 10)]


def write_taxdump(directory: Path, merged: bool = True) -> Path:
    """Write nodes.dmp, names.dmp (and merged.dmp) into ``directory``; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "nodes.dmp", "w") as fh:
        for taxid, parent, rank, _ in NODES:
            fh.write(f"{taxid}\t|\t{parent}\t|\t{rank}\t|\t\t|\t0\t|\t1\t|\t11\t|\t1\t|\t0\t|\t1\t|\t0\t|\t0\t|\t\t|\n")
    with open(directory / "names.dmp", "w") as fh:
        for taxid, _, _, name in NODES:
            fh.write(f"{taxid}\t|\t{name}\t|\t\t|\tscientific name\t|\n")
        for taxid, name in SYNONYMS:
            fh.write(f"{taxid}\t|\t{name}\t|\t\t|\tsynonym\t|\n")
    if merged:
        with open(directory / "merged.dmp", "w") as fh:
            for old, new in MERGED:
                fh.write(f"{old}\t|\t{new}\t|\n")
    return directory


def write_fasta(path: Path, names: list[str] = CONTIGS) -> Path:
    """A FASTA with one short record per name, in that order."""
    path.write_text("".join(f">{n} some description\nACGTACGTAC\nGGTTAA\n" for n in names))
    return path


def write_text(path: Path, text: str, gz: bool = False) -> Path:
    """Write ``text`` to ``path`` (gzip-compressed when ``gz``)."""
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def tsv(*rows: tuple) -> str:
    """Tab-separated lines."""
    return "".join("\t".join(str(x) for x in row) + "\n" for row in rows)


def read_labels(path: Path) -> dict[str, str]:
    """A converted taxonomy file as {contig: lineage}, checking the header and one line per contig."""
    lines = path.read_text().splitlines()
    assert lines[0] == "contigs\tpredictions"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 2 for r in rows)
    return dict(rows)


def read_conf(path: Path) -> dict[str, float]:
    """A confidence file as {contig: value}."""
    lines = path.read_text().splitlines()
    assert lines[0] == "contigs\tconfidence"
    return {c: float(v) for c, v in (line.split("\t") for line in lines[1:])}
