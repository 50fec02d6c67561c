"""Shared by the test_failures_* modules: run ``vamb taxometer`` on the tiny data, expect one clear
error, check that a failed run cleaned up, and edit a depth in the abundance table."""

from conftest import run_cmd, vamb_inputs
from test_e2e import EPOCHS


def vamb_run(data, out, *extra, fasta=None, abundance=None, taxonomy=None, epochs=EPOCHS, cmd=("vamb",), **kw):
    args = [
        *cmd,
        "taxometer",
        "--outdir",
        str(out),
        *vamb_inputs(data, fasta=fasta, abundance=abundance, taxonomy=taxonomy),
        *epochs,
        *extra,
    ]
    return run_cmd(args, **kw)


def one_error(proc, code=2):
    """The run failed with ``code`` and exactly one ERROR line, no traceback; returns the
    message (that line and the lines that continue it)."""
    assert proc.returncode == code, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, proc.stderr[-3000:]
    return proc.stderr[proc.stderr.index(errors[0]) :]


def assert_cleaned_up(out):
    """A failed run removed its output folder and kept its log beside it."""
    assert not out.exists()
    log = out.with_name(out.name + ".failed.log")
    assert log.is_file()
    return log.read_text()


def _edit_depth(src, dst, value):
    rows = open(src).read().splitlines()
    fields = rows[3].split("\t")
    fields[2] = value
    rows[3] = "\t".join(fields)
    dst.write_text("\n".join(rows) + "\n")
    return fields[0]
