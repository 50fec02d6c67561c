"""Read a confidence file (``contigs<TAB>confidence``) into an array in a run's contig order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from taxometer_kd.errors import KDError
from taxometer_kd.labels.lines import iter_lines, where
from taxometer_kd.labels.records import is_number

CONFIDENCE_HEADER = "contigs\tconfidence"


def read_confidence(path: Path | str, identifiers: Sequence[str], skip_unknown: bool = False) -> np.ndarray:
    """The confidence of each contig of ``identifiers``, as float32, in that order.

    The file is what ``taxometer-kd labels`` writes: the header ``contigs<TAB>confidence``,
    then one ``contig<TAB>value`` line per contig, the value in [0, 1] (plain or
    compressed). A contig of ``identifiers`` that the file does not list gets NaN,
    meaning "unknown": the converter leaves out exactly the labelled contigs whose
    labeller gave nothing to compute a confidence from, and a caller should treat NaN as
    "no information" (e.g. the label's ordinary weight), not as 0.

    Errors (:class:`KDError`, naming the file and line): a missing or wrong header, a line
    without exactly two columns, a value that is not a number or lies outside [0, 1]
    (NaN included), a contig listed twice, a contig not among ``identifiers`` (unless
    ``skip_unknown``: a training run skips the contigs shorter than ``-m``, as it skips their
    label lines). Blank lines are skipped.
    """
    path = Path(path)
    row = {name: i for i, name in enumerate(identifiers)}
    if len(row) != len(identifiers):
        raise KDError("read_confidence: the contig identifiers contain duplicates")
    values = np.full(len(identifiers), np.nan, dtype=np.float32)
    first_line: dict[str, int] = {}
    header_seen = False
    for number, line in iter_lines(path):
        loc = where(path, number)
        if not header_seen:
            if line.rstrip() != CONFIDENCE_HEADER:
                raise KDError(f"{loc}: expected the header {CONFIDENCE_HEADER!r}, found {line[:80]!r}")
            header_seen = True
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise KDError(f"{loc}: expected 2 tab-separated columns (contig, confidence), found {len(fields)}")
        contig, text = fields[0].strip(), fields[1].strip()
        i = row.get(contig)
        if i is None and skip_unknown:
            continue
        if i is None:
            raise KDError(f"{loc}: contig {contig!r} is not among the run's contigs")
        seen = first_line.setdefault(contig, number)
        if seen != number:
            raise KDError(f"{loc}: contig {contig!r} appears again (first on line {seen})")
        if not is_number(text):  # float() also takes '0_1' (1.0) and non-ASCII digits
            raise KDError(f"{loc}: confidence {text!r} is not a number")
        value = float(text)
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise KDError(f"{loc}: confidence {text} is outside [0, 1]")
        values[i] = value
    if not header_seen:
        raise KDError(f"{path}: the file is empty (expected the header {CONFIDENCE_HEADER!r})")
    return values
