"""Checks of a distillation run's inputs, with errors that name the file, the line and the
contig, before Vamb's own parsers (which would stop with a count or a traceback).

Vamb's rules are kept: a label line for a contig that is not in the composition (shorter
than ``-m``, say) is skipped, as stock Taxometer skips it; every contig of the composition
needs a line; a taxon name may have one parent and one rank only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import vamb
from loguru import logger

from taxometer_kd.errors import KDError

T = TypeVar("T")

_HEADER = vamb.taxonomy.TAXONOMY_HEADER


def _shown(names: Sequence[str], limit: int = 5) -> str:
    return ", ".join(repr(m) for m in names[:limit]) + (" ..." if len(names) > limit else "")


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic[:4] == b"\xfd7zX":
        raise KDError(f"{path} is compressed; Vamb reads the label file as plain text: decompress it first")
    return open(path)


class _TreeCheck:
    """Vamb's rule that a taxon has one rank and one parent, with the lines that break it."""

    def __init__(self, path: Path):
        self.path = path
        self.rank: dict[str, tuple[int, int]] = {}
        self.parent: dict[str, tuple[str, int]] = {}

    def add(self, ranks: list[str], lineno: int) -> None:
        for depth, name in enumerate(ranks):
            first = self.rank.setdefault(name, (depth, lineno))
            if first[0] != depth:
                raise KDError(
                    f"{self.path}, line {lineno}: {name!r} is rank {depth + 1} of its lineage here but rank "
                    f"{first[0] + 1} on line {first[1]}; Vamb needs each taxon name at one rank only"
                )
        for parent, child in pairwise(ranks):
            first_parent, first_line = self.parent.setdefault(child, (parent, lineno))
            if first_parent != parent:
                raise KDError(
                    f"{self.path}, line {lineno}: {child!r} has the parent {parent!r} here but {first_parent!r} "
                    f"on line {first_line}; Vamb needs one parent per taxon name (rename one of the two, "
                    "e.g. `taxometer-kd labels` makes homonyms distinct)"
                )


def check_taxonomy_header(path: Path) -> None:
    """What Vamb reads of the label file before a run starts: it exists, is plain text, has
    the header. Vamb itself would stop on these with a traceback."""
    path = Path(path)
    if not path.is_file():
        raise KDError(f"--taxonomy {path}: no such file")
    with _open_text(path) as fh:
        try:
            header = fh.readline().rstrip("\r\n")
        except UnicodeDecodeError:
            raise KDError(f"{path} is not a text file; expected Vamb's taxonomy TSV") from None
    if not header:
        raise KDError(f"{path} is empty: expected the header {_HEADER!r} and a line per contig")
    if header != _HEADER:
        raise KDError(f"{path}, line 1: expected the header {_HEADER!r}, found {header!r}")


def check_taxonomy_file(path: Path, identifiers: Sequence[str]) -> int:
    """Line-level checks of an initial-label file, before vamb parses it.

    Returns the number of lines skipped because their contig is not in the composition.
    Vamb would stop on most problems too, but with a count or a traceback; this names the
    file, the line and the contig.
    """
    known = set(identifiers)
    seen: dict[str, int] = {}
    tree = _TreeCheck(path)
    skipped: list[str] = []
    n_labelled = 0
    with _open_text(path) as fh:
        header = fh.readline().rstrip("\r\n")
        if not header:
            raise KDError(f"{path} is empty: expected the header {_HEADER!r} and a line per contig")
        if header != _HEADER:
            raise KDError(f"{path}, line 1: expected the header {_HEADER!r}, found {header!r}")
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
            ranks = lineage.split(";") if lineage else []
            if any(not r.strip() for r in ranks):
                raise KDError(f"{path}, line {lineno}: empty rank in lineage {lineage!r}")
            if contig not in known:
                skipped.append(contig)
                continue
            n_labelled += bool(ranks)
            tree.add(ranks, lineno)
    missing = [c for c in identifiers if c not in seen]
    if missing:
        raise KDError(f"{path}: {len(missing)} contig(s) of the composition have no line: {_shown(missing)}")
    if n_labelled == 0:
        raise KDError(
            f"{path}: no contig of the composition has a label (every lineage is empty); "
            "Taxometer needs some labelled contigs to learn from"
        )
    return len(skipped)


def read_taxonomy(path: Path, comp_metadata: Any) -> Any:
    """The initial labels as Vamb's ``Taxonomy``, after :func:`check_taxonomy_file`."""
    skipped = check_taxonomy_file(path, comp_metadata.identifiers)
    if skipped:
        logger.info(
            f"\tSkipped {skipped} line(s) of {path} whose contig is not in the composition "
            "(shorter than -m, or absent from the FASTA), as stock Taxometer does"
        )
    try:
        return vamb.taxonomy.Taxonomy.from_file(path, comp_metadata, False)
    except ValueError as exc:  # a rule of Vamb's that the checks above did not anticipate
        raise KDError(f"{path}: {exc}") from None


def check_abundance(matrix: np.ndarray, identifiers: Sequence[str], samples: Sequence[str], source: str) -> None:
    """Depths must be finite (stock Taxometer accepts negative ones, and so does this)."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        row, col = (int(x[0]) for x in np.nonzero(bad))
        sample = samples[col] if col < len(samples) else f"column {col + 1}"
        raise KDError(
            f"{source}: the depth of contig {identifiers[row]!r} in sample {sample!r} (depth column {col + 1}) "
            f"is {matrix[row, col]}; depths must be finite numbers ({int(bad.sum())} such value(s) in all)"
        )


def check_fasta_has_records(path: Path) -> None:
    """An empty FASTA, said plainly (Vamb would log its own error and then raise)."""
    from taxometer_kd.io import iter_fasta

    if next(iter(iter_fasta(path)), None) is None:
        raise KDError(f"--fasta {path}: the file holds no sequences")


def vamb_step(what: str, step: Callable[[], T]) -> T:
    """Run one of Vamb's parsers; its errors become one :class:`KDError` naming ``what``
    (e.g. ``--fasta contigs.fna``) instead of a traceback."""
    try:
        return step()
    except (ValueError, EOFError, OSError, AssertionError) as exc:
        message = str(exc).strip() or type(exc).__name__
        raise KDError(f"{what}: {message}") from None
