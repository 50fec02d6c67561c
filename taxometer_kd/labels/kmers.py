"""Parsers of per-sequence hit reports: Kraken2 ``--output`` and Centrifuge's classification file.

Both carry only taxids, so both need the taxdump the database was built with.

Confidence definitions:

- **Kraken2**: its own ``--confidence`` score, C/Q: of the k-mers that were looked up
  (every k-mer of the LCA list except the ambiguous ``A:n`` ones, k-mers not in the
  database, ``0:n``, included), the share whose taxon lies in the clade rooted at the
  assigned taxon. The ``|:|`` between the mates of a pair is skipped.
- **Centrifuge**: ``hitLength / queryLength``, the share of the contig's bases covered by
  the exact matches that support the assignment. It is the same kind of quantity as
  Kraken2's (the share of the sequence that supports the label) and needs no scale. The
  ``score`` column is not used: it is a sum of squared hit lengths (``(hit - 15)^2`` per
  hit), so it grows with the contig's length and has no natural maximum to divide by; and
  ``2ndBestScore`` equals ``score`` for the tied assignments that ``-k 1`` merges, so a
  margin built from it would call a well-supported higher-rank label uncertain. Where a
  contig has several lines (ties reported separately, ``numMatches`` > 1), its label is
  the lowest common ancestor of their taxa and its confidence the largest of their
  shares. Shares above 1 are clipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from taxometer_kd.errors import KDError
from taxometer_kd.labels.records import Record, contig_name, data_lines, need_columns, to_int
from taxometer_kd.labels.taxdump import Taxdump, UnknownTaxid

_USE_NAMES = re.compile(r"\(taxid\s+([0-9]+)\)\s*$")


def _kraken2_taxid(loc: str, field: str) -> int:
    field = field.strip()
    if field.isascii() and field.isdecimal():  # ASCII: not '²' (isdigit), nor full-width or Arabic-Indic digits
        return to_int(loc, field, "taxid")
    match = _USE_NAMES.search(field)
    if match is None:
        raise KDError(f"{loc}: taxid {field!r} is neither a number nor 'Name (taxid N)' (--use-names)")
    return to_int(loc, match.group(1), "taxid")


_HIT = r"(?:(?:[0-9]+|A):[0-9]+|\|:\|)"
_HITS = re.compile(rf"{_HIT}(?:\s+{_HIT})*")
_ONE_HIT = re.compile(_HIT)


def kraken2_confidence(loc: str, hits: str, call: int, taxdump: Taxdump) -> float | None:
    """Kraken2's confidence of ``call`` from a k-mer LCA list (None when no k-mer was looked up)."""
    hits = hits.strip()
    if not hits:
        return None
    if not _HITS.fullmatch(hits):
        token = next(t for t in hits.split() if not _ONE_HIT.fullmatch(t))
        raise KDError(f"{loc}: k-mer list item {token!r} is not 'taxid:count' or 'A:count'")
    # vectorised: a contig's list has thousands of items
    flat = hits.replace("|:|", " ").replace("A:", "-1:").replace(":", " ")
    try:
        pairs = np.array(flat.split(), dtype=np.int64).reshape(-1, 2)
    except (OverflowError, ValueError):  # ValueError: past Python's 4,300-digit limit of int()
        big = next(t for t in flat.split() if len(t.lstrip("-").lstrip("0")) > 19 or abs(int(t)) >= 2**63)
        shown = big if len(big) <= 30 else f"{big[:20]}... ({len(big)} digits)"
        raise KDError(f"{loc}: {shown} in the k-mer list is too large for a taxid or a count") from None
    # summed as floats: counts near the int64 limit would wrap around as integers
    looked_up = float(pairs[pairs[:, 0] >= 0, 1].sum(dtype=np.float64))  # ambiguous k-mers (-1) are not looked up
    found = pairs[pairs[:, 0] > 0]  # 0: looked up, not in the database
    taxa, where_ = np.unique(found[:, 0], return_inverse=True)
    per_taxon = np.bincount(where_, weights=found[:, 1], minlength=len(taxa))
    in_clade = 0
    for taxid, count in zip(taxa.tolist(), per_taxon.tolist()):
        try:
            inside = taxdump.in_clade(taxid, call)
        except UnknownTaxid as exc:
            raise KDError(f"{loc}: in the k-mer list, {exc}") from None
        in_clade += count if inside else 0
    return in_clade / looked_up if looked_up else None


def parse_kraken2(path: Path, taxdump: Taxdump | None) -> Iterator[Record]:
    """Kraken2 ``--output`` lines: C/U, name, taxid (or ``Name (taxid N)``), length, k-mer LCA list."""
    assert taxdump is not None  # the converter checks that kraken2 has its taxdump
    for number, loc, fields in data_lines(path):
        need_columns(loc, fields, 4, "C/U, sequence name, taxid, length, k-mer LCA list")
        if len(fields) > 5:
            raise KDError(f"{loc}: expected 5 tab-separated columns, found {len(fields)} (is this Kraken2 --output?)")
        status = fields[0].strip()
        if status not in ("C", "U"):
            raise KDError(f"{loc}: the first column must be C or U, found {status!r} (is this Kraken2 --output?)")
        contig = contig_name(loc, fields[1])
        taxid = _kraken2_taxid(loc, fields[2]) if status == "C" else 0
        if taxid == 0:
            yield Record(contig, number, 0, (), 0.0)
            continue
        if taxid not in taxdump:
            raise KDError(f"{loc}: {UnknownTaxid(taxid, taxdump.directory)}")
        hits = fields[4] if len(fields) == 5 else ""
        yield Record(contig, number, taxid, None, kraken2_confidence(loc, hits, taxid, taxdump))


_CENTRIFUGE_COLUMNS = ("readID", "seqID", "taxID", "score", "2ndBestScore", "hitLength", "queryLength", "numMatches")


def parse_centrifuge(path: Path, taxdump: Taxdump | None) -> Iterator[Record]:
    """Centrifuge's classification output (``-S``), with or without its header line.

    The header's names locate the columns (so ``--tab-fmt-cols`` orders work if they keep
    ``readID``, ``taxID``, ``hitLength`` and ``queryLength``). Consecutive lines of one
    read are one contig; taxID 0 is unclassified.
    """
    assert taxdump is not None
    col = {name: i for i, name in enumerate(_CENTRIFUGE_COLUMNS)}
    first = True
    group: list[tuple[int, str, int, float | None]] = []  # (line, loc, taxid, share)
    name = ""
    for number, loc, fields in data_lines(path):
        if first and "readID" in (f.strip() for f in fields):
            col = {f.strip(): i for i, f in enumerate(fields)}
            missing = [c for c in ("readID", "taxID", "hitLength", "queryLength") if c not in col]
            if missing:
                raise KDError(f"{loc}: the header lacks the column(s) {', '.join(missing)}")
            first = False
            continue
        first = False
        need_columns(
            loc,
            fields,
            max(col[c] for c in ("readID", "taxID", "hitLength", "queryLength")) + 1,
            "readID, seqID, taxID, score, 2ndBestScore, hitLength, queryLength, numMatches",
        )
        read = contig_name(loc, fields[col["readID"]])
        taxid = to_int(loc, fields[col["taxID"]], "taxID")
        hit = to_int(loc, fields[col["hitLength"]], "hitLength")
        length = to_int(loc, fields[col["queryLength"]], "queryLength")
        share = min(1.0, hit / length) if length else None
        if group and read != name:
            yield _centrifuge_record(name, group, taxdump)
            group = []
        name = read
        group.append((number, loc, taxid, share))
    if group:
        yield _centrifuge_record(name, group, taxdump)


def _centrifuge_record(read: str, group: list[tuple[int, str, int, float | None]], taxdump: Taxdump) -> Record:
    taxa = [taxid for _, _, taxid, _ in group if taxid]
    if not taxa:
        return Record(read, group[0][0], 0, (), 0.0)
    for _, loc, taxid, _ in group:
        if taxid and taxid not in taxdump:
            raise KDError(f"{loc}: {UnknownTaxid(taxid, taxdump.directory)}")
    try:
        call = taxdump.lca(taxa)
    except ValueError as exc:
        raise KDError(f"{group[0][1]}: {exc}") from None
    shares = [s for _, _, taxid, s in group if taxid and s is not None]
    return Record(read, group[0][0], call, None, max(shares) if shares else None)
