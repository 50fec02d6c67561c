"""read_confidence: the confidence file as float32 in a run's contig order, NaN = unknown."""

from __future__ import annotations

import numpy as np
import pytest
from labels_testdata import tsv, write_text

from taxometer_kd.errors import KDError
from taxometer_kd.labels import read_confidence

HEADER = ("contigs", "confidence")


@pytest.mark.parametrize("gz", [False, True])
def test_values_in_the_given_order_missing_is_nan(tmp_path, gz):
    path = write_text(tmp_path / "c.tsv", tsv(HEADER, ("b", "0.25"), ("a", "1"), ("d", "0")) + "\n", gz)
    values = read_confidence(path, ["a", "b", "c", "d"])
    assert values.dtype == np.float32 and values.shape == (4,)
    assert values[0] == 1.0 and values[1] == 0.25 and values[3] == 0.0
    assert np.isnan(values[2])  # not in the file: unknown


@pytest.mark.parametrize(
    "body, line, match",
    [
        ([("a", "1.5")], 2, "confidence 1.5 is outside"),
        ([("a", "-0.1")], 2, "confidence -0.1 is outside"),
        ([("a", "nan")], 2, "confidence nan is outside"),
        ([("a", "0.5"), ("b", "high")], 3, "confidence 'high' is not a number"),
        ([("a", "0_1")], 2, "confidence '0_1' is not a number"),  # float('0_1') is 1.0
        ([("a", "\u0660.5")], 2, "is not a number"),  # float() reads an Arabic-Indic zero there: 0.5
        ([("a", "0.5"), ("a", "0.5")], 3, r"contig 'a' appears again \(first on line 2\)"),
        ([("zz", "0.5")], 2, "contig 'zz' is not among the run's contigs"),
        ([("a", "0.5", "x")], 2, "expected 2 tab-separated columns"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path, body, line, match):
    path = write_text(tmp_path / "c.tsv", tsv(HEADER, *body))
    with pytest.raises(KDError, match=match) as info:
        read_confidence(path, ["a", "b"])
    assert f"c.tsv, line {line}: " in str(info.value)


def test_bad_header_or_file(tmp_path):
    with pytest.raises(KDError, match=r"c\.tsv, line 1: expected the header"):
        read_confidence(write_text(tmp_path / "c.tsv", tsv(("contigs", "predictions"), ("a", "s_x"))), ["a"])
    with pytest.raises(KDError, match="the file is empty"):
        read_confidence(write_text(tmp_path / "e.tsv", ""), ["a"])
    with pytest.raises(KDError, match="cannot open the file"):
        read_confidence(tmp_path / "absent.tsv", ["a"])


def test_a_utf8_byte_order_mark_before_the_header(tmp_path):
    path = write_text(tmp_path / "c.tsv", "\ufeff" + tsv(HEADER, ("a", "0.25")))
    assert read_confidence(path, ["a"])[0] == 0.25


def test_an_integer_past_pythons_digit_limit_is_a_located_error():
    from taxometer_kd.labels.records import to_int

    assert to_int("f, line 3", " 0042 ", "taxid") == 42
    with pytest.raises(KDError, match=r"^f, line 3: taxid '9{20}'\.\.\. has too many digits$"):
        to_int("f, line 3", "9" * 5000, "taxid")
