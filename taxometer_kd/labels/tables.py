"""Parsers of one-call-per-contig tables: MMseqs2 ``_lca.tsv``, Metabuli ``classifications.tsv``
and a plain ``contig<TAB>taxid`` table.

Confidence definitions:

- **MMseqs2**: the ``support`` of its LCA vote. MMseqs2's ``easy-taxonomy`` on contigs
  splits each contig into ORF fragments, searches them and votes (columns 5-8 of
  ``_lca.tsv``: number of fragments, fragments assigned a taxon, fragments agreeing with
  the label, support = the share of the assigned fragments' weight, by default
  ``-log(E-value)``, that lies in the label's clade). Fragments without any hit are not
  counted against the label: a contig's unassigned ORFs (hypothetical proteins, say) say
  little about which taxon its assigned ones point to (an earlier version multiplied by
  the assigned share; on mock64 that no longer separated the contigs of species missing
  from the database from correct ones, support alone did: median 0.76 against 1.0). A file
  whose count columns are empty gives no confidence.
- **Metabuli**: its ``score`` column (Metabuli's DNA-level identity score, in [0, 1]).
- **taxid**: the optional third column; 1 for a classified contig without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from taxometer_kd.errors import KDError
from taxometer_kd.labels.lineage import Node
from taxometer_kd.labels.records import (
    Record,
    contig_name,
    data_lines,
    is_integer,
    is_number,
    lineage_text,
    looks_like_lineage,
    need_columns,
    to_int,
    to_unit,
)
from taxometer_kd.labels.taxdump import Taxdump


def _is_count(field: str, real: bool = False) -> bool:
    field = field.strip()
    if not field:
        return True
    return is_number(field) if real else is_integer(field)


def _mmseqs2_confidence(loc: str, counts: list[str]) -> float | None:
    if not any(c.strip() for c in counts):
        return None
    total = to_int(loc, counts[0], "number of fragments")
    assigned = to_int(loc, counts[1], "number of assigned fragments")
    agreeing = to_int(loc, counts[2], "number of fragments agreeing with the label")
    support = to_unit(loc, counts[3], "support", tolerance=0.005)  # written rounded to 2-3 digits
    if not agreeing <= assigned <= total:
        raise KDError(
            f"{loc}: fragment counts must satisfy agreeing <= assigned <= total, found {agreeing}, {assigned}, {total}"
        )
    return support if total else None


def parse_mmseqs2(path: Path, taxdump: Taxdump | None) -> Iterator[Record]:
    """MMseqs2 ``easy-taxonomy`` ``_lca.tsv`` (``createtsv`` of a taxonomy result).

    Columns: query, taxid, rank, name; then, for contigs searched as ORF fragments, the
    four fragment columns; then optionally ``--lca-ranks`` and the ``--tax-lineage``
    column (names with ``--tax-lineage 1``, used when there is no taxdump; taxids with
    ``--tax-lineage 2``, where the taxdump is needed). Taxid 0 is unclassified.
    """
    for number, loc, fields in data_lines(path):
        need_columns(loc, fields, 4, "query, taxid, rank, name")
        contig = contig_name(loc, fields[0])
        taxid = to_int(loc, fields[1], "taxid")
        rest = fields[4:]
        confidence = None
        if len(rest) >= 4 and all(_is_count(f) for f in rest[:3]) and _is_count(rest[3], real=True):
            confidence = _mmseqs2_confidence(loc, rest[:4])
            rest = rest[4:]
        text: tuple[Node, ...] | None = None
        if taxid == 0:
            text = ()
        elif rest and looks_like_lineage(rest[-1]):
            text = lineage_text(loc, rest[-1])
        yield Record(contig, number, taxid, text, confidence)


_METABULI_DEFAULT = ("is_classified", "name", "taxID", "query_length", "score", "rank")


def parse_metabuli(path: Path, taxdump: Taxdump | None) -> Iterator[Record]:
    """Metabuli ``JobID_classifications.tsv``.

    Columns are found by the ``#is_classified  name  taxID  query_length  score  rank
    [lineage]  taxID:match_count`` header of recent versions; without a header, by the
    positions of older versions (classified, name, taxid, length, score, rank, matches).
    """
    columns: dict[str, int] = {name: i for i, name in enumerate(_METABULI_DEFAULT)}
    first = True
    for number, loc, fields in data_lines(path):
        if fields[0].startswith("#"):
            if first:
                header = [f.strip() for f in fields]
                header[0] = header[0].lstrip("#").strip()
                columns = {name: i for i, name in enumerate(header)}
                missing = [c for c in ("is_classified", "name", "taxID", "score") if c not in columns]
                if missing:
                    raise KDError(f"{loc}: the header lacks the column(s) {', '.join(missing)}")
            first = False
            continue
        first = False
        need = max(columns[c] for c in ("is_classified", "name", "taxID", "score")) + 1
        need_columns(loc, fields, need, "is_classified, name, taxID, query_length, score, ...")
        contig = contig_name(loc, fields[columns["name"]])
        classified = fields[columns["is_classified"]].strip()
        if classified not in ("0", "1"):
            raise KDError(f"{loc}: is_classified must be 0 or 1, found {classified!r}")
        taxid = to_int(loc, fields[columns["taxID"]], "taxid") if classified == "1" else 0
        confidence = to_unit(loc, fields[columns["score"]], "score") if taxid else 0.0
        text: tuple[Node, ...] | None = () if not taxid else None
        col = columns.get("lineage")
        if taxid and col is not None and col < len(fields) and looks_like_lineage(fields[col]):
            text = lineage_text(loc, fields[col])
        yield Record(contig, number, taxid, text, confidence)


def parse_taxid(path: Path, taxdump: Taxdump | None) -> Iterator[Record]:
    """A plain ``contig<TAB>taxid[<TAB>confidence]`` table.

    Lines starting with ``#`` are comments; a first line whose second column is a word
    with ``tax`` in it (``taxid``, ``taxID``, ...) is a header. An empty taxid or 0 is
    unclassified.
    """
    first = True
    for number, loc, fields in data_lines(path):
        if fields[0].startswith("#"):
            continue
        if first and len(fields) >= 2 and "tax" in fields[1].lower() and not _is_count(fields[1]):
            first = False
            continue
        first = False
        if not 2 <= len(fields) <= 3:
            raise KDError(
                f"{loc}: expected 2 or 3 tab-separated columns (contig, taxid[, confidence]), found {len(fields)}"
            )
        contig = contig_name(loc, fields[0])
        taxid = to_int(loc, fields[1], "taxid") if fields[1].strip() else 0
        confidence = 1.0
        if len(fields) == 3 and fields[2].strip():
            confidence = to_unit(loc, fields[2], "confidence", tolerance=0.0)
        yield Record(contig, number, taxid, () if not taxid else None, confidence if taxid else 0.0)
