"""Shared by the test_labels_formats_* modules: converting a raw labeller file through the ``env``
fixture of tests/conftest.py (a taxdump and a FASTA of contigs c1..c9), and expecting a KDError."""

from __future__ import annotations

import pytest
from labels_testdata import read_conf, read_labels, write_text

from taxometer_kd.errors import KDError
from taxometer_kd.labels.convert import convert, write_outputs


def run(env, fmt, text, gz=False, taxdump=True, name="raw.tsv"):
    raw = write_text(env["dir"] / (name + (".gz" if gz else "")), text, gz)
    conv = convert(fmt, raw, env["fasta"], env["taxdump"] if taxdump else None)
    write_outputs(conv, env["dir"] / "labels.tsv", env["dir"] / "conf.tsv")
    labels = read_labels(env["dir"] / "labels.tsv")
    assert list(labels) == [f"c{i}" for i in range(1, 10)]  # every FASTA contig, FASTA order
    return labels, read_conf(env["dir"] / "conf.tsv")


def raises(match, fn, *args, **kw):
    with pytest.raises(KDError, match=match) as info:
        fn(*args, **kw)
    return str(info.value)
