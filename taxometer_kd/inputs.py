"""Checks of a distillation run's inputs, with errors that name the file, the line and the
contig, before Vamb's own parsers (which would stop with a count or a traceback)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import vamb

from taxometer_kd.errors import KDError


def check_taxonomy_file(path: Path, identifiers: Sequence[str]) -> None:
    """Line-level checks of an initial-label file, before vamb parses it.

    Vamb would stop on most of these too, but with a count or a traceback; this names the
    file, the line and the contig.
    """
    known = set(identifiers)
    seen: dict[str, int] = {}
    with open(path) as fh:
        header = fh.readline().rstrip("\r\n")
        if header != vamb.taxonomy.TAXONOMY_HEADER:
            raise KDError(
                f"{path}, line 1: expected the header {vamb.taxonomy.TAXONOMY_HEADER!r}, found {header!r}"
            )
        for lineno, line in enumerate(fh, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise KDError(f"{path}, line {lineno}: expected 2 tab-separated columns, found {len(fields)}")
            contig, lineage = fields
            if contig in seen:
                raise KDError(f"{path}, line {lineno}: contig {contig!r} already given on line {seen[contig]}")
            seen[contig] = lineno
            if contig not in known:
                raise KDError(
                    f"{path}, line {lineno}: contig {contig!r} is not among the {len(known)} contigs of the "
                    "composition (not in the FASTA, or shorter than -m)"
                )
            if lineage and any(not r.strip() for r in lineage.split(";")):
                raise KDError(f"{path}, line {lineno}: empty rank in lineage {lineage!r}")
    missing = [c for c in identifiers if c not in seen]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise KDError(f"{path}: {len(missing)} contig(s) of the composition have no line: {shown}")


def read_taxonomy(path: Path, comp_metadata):
    """The initial labels as Vamb's ``Taxonomy``, after :func:`check_taxonomy_file`."""
    check_taxonomy_file(path, comp_metadata.identifiers)
    try:
        return vamb.taxonomy.Taxonomy.from_file(path, comp_metadata, False)
    except ValueError as exc:  # e.g. a taxon under two parents
        raise KDError(str(exc)) from None
