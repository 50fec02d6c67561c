"""Bad input: labels of short contigs, depths, label-file errors, inputs that crash Vamb; the real
command, one clear error, nothing left half-done.

Each case runs `vamb taxometer ... --teacher ...` in a subprocess on the project's tiny data
and checks the exit status, that stderr holds exactly one ERROR line that says what to fix,
that there is no traceback, and what is left on disk.
"""

import gzip

import pytest
from failures_helpers import _edit_depth, assert_cleaned_up, one_error, vamb_run
from test_e2e import check_results_file, fasta_names

# ----------------------------------------------------------------------------- 3. labels of short contigs


def test_label_lines_of_contigs_shorter_than_m_are_skipped_as_stock_does(tiny_data, tmp_path):
    lengths = [int(line.split("\t")[2]) for line in open(tiny_data["truth"]).read().splitlines()[1:]]
    n_short = sum(n < 3000 for n in lengths)
    assert 0 < n_short < len(lengths)
    proc = vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", "-m", "3000", "-pe", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = (tmp_path / "o" / "log.txt").read_text()
    assert f"Skipped {n_short} line(s) of {tiny_data['taxonomy']} whose contig is not in the composition" in log
    long_names = [n for n, length in zip(fasta_names(tiny_data["fasta"]), lengths) if length >= 3000]
    check_results_file(tmp_path / "o" / "results_taxometer.tsv", long_names)


# ----------------------------------------------------------------------------- 4. depths


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_depth_names_file_contig_and_sample(tiny_data, tmp_path, value):
    bad = tmp_path / "abundance.tsv"
    contig = _edit_depth(tiny_data["abundance"], bad, value)
    out = tmp_path / "o"
    line = one_error(vamb_run(tiny_data, out, "--teacher", "default", abundance=bad))
    assert f"--abundance_tsv {bad}: the depth of contig '{contig}' in sample 'S1' (depth column 2)" in line
    assert_cleaned_up(out)


def test_negative_depths_are_accepted_as_stock_does(tiny_data, tmp_path):
    bad = tmp_path / "abundance.tsv"
    _edit_depth(tiny_data["abundance"], bad, "-3.5")
    proc = vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", "-pe", "1", abundance=bad)
    assert proc.returncode == 0, proc.stderr[-2000:]
    check_results_file(tmp_path / "o" / "results_taxometer.tsv", fasta_names(tiny_data["fasta"]))


# ----------------------------------------------------------------------------- 7. label-file errors


def _labels(data, tmp_path, edit):
    rows = open(data["taxonomy"]).read().splitlines()
    path = tmp_path / "labels.tsv"
    path.write_text("\n".join(edit(rows)) + "\n")
    return path


def _two_parents(rows):
    header, body = rows[0], rows[1:]
    i = next(k for k, r in enumerate(body) if r.count(";") >= 5)
    ranks = body[i].split("\t")[1].split(";")
    j = next(k for k, r in enumerate(body) if r.count(";") >= 5 and r.split("\t")[1].split(";")[4] != ranks[4])
    other = body[j].split("\t")[1].split(";")
    other[5] = ranks[5]  # the same genus name under another family
    body[j] = body[j].split("\t")[0] + "\t" + ";".join(other[:6])
    return [header, *body]


def test_a_genus_under_two_families_names_the_lines_and_parents(tiny_data, tmp_path):
    path = _labels(tiny_data, tmp_path, _two_parents)
    line = one_error(vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", taxonomy=path))
    assert str(path) in line and "has the parent" in line and "on line" in line
    rows = path.read_text().splitlines()
    genus_lines = [n for n, r in enumerate(rows, start=1) if r.count(";") >= 5]
    assert any(f"line {n}" in line for n in genus_lines)
    assert line.count("'f_") == 2  # both parents named


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda rows: rows[1:], "line 1: expected the header 'contigs\\tpredictions'"),
        (lambda rows: [], "is empty: expected the header"),
        (
            lambda rows: [rows[0]] + [r.split("\t")[0] + "\t" for r in rows[1:]],
            "no contig of the composition has a label",
        ),
    ],
)
def test_label_file_errors_name_the_file(tiny_data, tmp_path, edit, needle):
    path = _labels(tiny_data, tmp_path, edit)
    line = one_error(vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", taxonomy=path))
    assert str(path) in line and needle in line


def test_gzipped_label_file(tiny_data, tmp_path):
    path = tmp_path / "labels.tsv.gz"
    path.write_bytes(gzip.compress(open(tiny_data["taxonomy"], "rb").read()))
    line = one_error(vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", taxonomy=path))
    assert f"{path} is compressed" in line and "decompress it first" in line
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- 9. inputs that crash Vamb


def _records(data):
    return open(data["fasta"]).read().split(">")[1:]


CRASHERS = {
    "empty FASTA": (lambda d, t: ("fasta", ""), "the file holds no sequences"),
    "duplicate headers": (
        lambda d, t: ("fasta", ">" + ">".join(_records(d) + _records(d)[:1])),
        "names must be unique",
    ),
    "N-only contig": (
        lambda d, t: (
            "fasta",
            ">" + _records(d)[0].split("\n")[0] + "\n" + "N" * 3000 + "\n>" + ">".join(_records(d)[1:]),
        ),
        "is all zeros",
    ),
    "too few depth rows": (
        lambda d, t: ("abundance", "\n".join(open(d["abundance"]).read().splitlines()[:-3]) + "\n"),
        "Too few rows in abundance TSV file",
    ),
    "too many depth rows": (
        lambda d, t: ("abundance", open(d["abundance"]).read() + "extra\t1\t1\t1\n"),
        "Too many rows in abundance TSV file",
    ),
}


def _write_crasher(data, tmp_path, case):
    make, _ = CRASHERS[case]
    which, text = make(data, tmp_path)
    path = tmp_path / ("contigs.fna" if which == "fasta" else "abundance.tsv")
    path.write_text(text)
    return {which: path}


@pytest.mark.parametrize("case", sorted(CRASHERS))
def test_inputs_that_crash_vamb_are_one_error_in_a_kd_run(tiny_data, tmp_path, case):
    files = _write_crasher(tiny_data, tmp_path, case)
    out = tmp_path / "o"
    line = one_error(vamb_run(tiny_data, out, "--teacher", "default", **files))
    which, path = next(iter(files.items()))
    assert f"--{'fasta' if which == 'fasta' else 'abundance_tsv'} {path}" in line and CRASHERS[case][1] in line
    assert_cleaned_up(out)


def test_truncated_gzip_fasta(tiny_data, tmp_path):
    data = gzip.compress(open(tiny_data["fasta"], "rb").read())
    path = tmp_path / "contigs.fna.gz"
    path.write_bytes(data[: len(data) // 2])
    line = one_error(vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", fasta=path))
    assert f"--fasta {path}" in line and "ended before the end-of-stream marker" in line


@pytest.mark.parametrize("case", ["duplicate headers", "too few depth rows"])
def test_without_teacher_vamb_behaves_as_before(tiny_data, tmp_path, case):
    """Stock runs keep Vamb's own behaviour on bad input: its traceback, exit 1, its outdir."""
    files = _write_crasher(tiny_data, tmp_path, case)
    proc = vamb_run(tiny_data, tmp_path / "o", **files)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert (tmp_path / "o" / "log.txt").is_file()
    assert not (tmp_path / "o.failed.log").exists()
