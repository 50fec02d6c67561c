"""What every format parser yields, and the field checks they share.

A parser turns one labeller file into :class:`Record` objects, one per contig, each
knowing the line it came from, so that the converter can name ``FILE, line N`` in any
later error (unknown contig, duplicate, taxid missing from the taxdump).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from taxometer_kd.errors import KDError
from taxometer_kd.labels.lineage import Node, parse_lineage_text
from taxometer_kd.labels.lines import iter_lines, where

# plain ASCII numbers only: int() and float() also take '1_000' and full-width or Arabic-Indic digits
INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
NUMBER = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)", re.ASCII | re.IGNORECASE
)


def is_integer(text: str) -> bool:
    """Whether ``text`` (stripped) is a plain ASCII integer."""
    return INTEGER.fullmatch(text.strip()) is not None


def is_number(text: str) -> bool:
    """Whether ``text`` (stripped) is a plain ASCII decimal number (or inf / nan, which callers refuse)."""
    return NUMBER.fullmatch(text.strip()) is not None


@dataclass(frozen=True)
class Record:
    """One contig's call in a labeller's file.

    ``taxid`` 0 means unclassified unless ``text`` holds a lineage; ``text`` is the
    canonical lineage parsed from the file's own lineage column (None: the file has
    none); ``confidence`` is None when the file holds nothing to compute one from.
    """

    contig: str
    line: int
    taxid: int = 0
    text: tuple[Node, ...] | None = None
    confidence: float | None = None


def data_lines(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """``(line number, location prefix, tab-separated fields)`` of the non-blank lines."""
    for number, line in iter_lines(path):
        if line.strip():
            yield number, where(path, number), line.split("\t")


def need_columns(loc: str, fields: Sequence[str], n: int, what: str) -> None:
    """Raise unless there are at least ``n`` fields."""
    if len(fields) < n:
        raise KDError(f"{loc}: expected at least {n} tab-separated columns ({what}), found {len(fields)}")


def contig_name(loc: str, field: str) -> str:
    """The contig name of a line (not empty)."""
    name = field.strip()
    if not name:
        raise KDError(f"{loc}: the contig name is empty")
    return name


def to_int(loc: str, field: str, what: str, minimum: int = 0) -> int:
    """``field`` as an integer of at least ``minimum``."""
    if not is_integer(field):
        raise KDError(f"{loc}: {what} {field!r} is not an integer")
    try:
        value = int(field.strip())
    except ValueError:  # over Python's limit on the digits of an int (4,300)
        raise KDError(f"{loc}: {what} {field.strip()[:20]!r}... has too many digits") from None
    if value < minimum:
        raise KDError(f"{loc}: {what} {value} is below {minimum}")
    return value


def to_float(loc: str, field: str, what: str) -> float:
    """``field`` as a finite number."""
    if not is_number(field):
        raise KDError(f"{loc}: {what} {field!r} is not a number")
    value = float(field.strip())
    if not math.isfinite(value):
        raise KDError(f"{loc}: {what} {field!r} is not a finite number")
    return value


def to_unit(loc: str, field: str, what: str, tolerance: float = 1e-6) -> float:
    """``field`` as a number in [0, 1] (values within ``tolerance`` outside are clipped)."""
    value = to_float(loc, field, what)
    if not -tolerance <= value <= 1 + tolerance:
        raise KDError(f"{loc}: {what} {value:g} is outside [0, 1]")
    return min(1.0, max(0.0, value))


def lineage_text(loc: str, field: str) -> tuple[Node, ...]:
    """The canonical nodes of a lineage column."""
    try:
        return parse_lineage_text(field)
    except ValueError as exc:
        raise KDError(f"{loc}: {exc}") from None


def looks_like_lineage(field: str) -> bool:
    """Whether a column is a named lineage (``d_Bacteria;p_...`` or ``d__Bacteria;...``)."""
    items = [i.strip() for i in field.split(";") if i.strip()]
    return bool(items) and all(len(i) >= 2 and i[1] == "_" for i in items)
