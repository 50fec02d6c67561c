"""Shared by the test_benchmarks_* modules: a data set of empty files for run bookkeeping."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import plan  # noqa: E402


def _fake_dataset(tmp_path):
    (tmp_path / "labels").mkdir()
    for f in ("contigs.fna", "abundance.tsv", "truth.tsv", "labels/mm.tsv"):
        (tmp_path / f).write_text("")
    return plan.Dataset(
        "fake",
        "fake",
        tmp_path / "contigs.fna",
        tmp_path / "abundance.tsv",
        tmp_path / "truth.tsv",
        {"mm": tmp_path / "labels" / "mm.tsv"},
    )
