"""Bad input, kills and odd set-ups: the real command, one clear error, nothing left half-done.

Each case runs `vamb taxometer ... --teacher ...` in a subprocess on the project's tiny data
and checks the exit status, that stderr holds exactly one ERROR line that says what to fix,
that there is no traceback, and what is left on disk.
"""

import gzip
import os
import signal
import stat
import subprocess
import time

import pytest
from conftest import BIN, run_cmd
from test_e2e import EPOCHS, check_results_file, fasta_names


def vamb_run(data, out, *extra, fasta=None, abundance=None, taxonomy=None, epochs=EPOCHS, cmd=("vamb",), **kw):
    args = [
        *cmd,
        "taxometer",
        "--outdir",
        str(out),
        "--fasta",
        str(fasta or data["fasta"]),
        "--abundance_tsv",
        str(abundance or data["abundance"]),
        "--taxonomy",
        str(taxonomy or data["taxonomy"]),
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


# ----------------------------------------------------------------------------- 1. option values


@pytest.mark.parametrize(
    "teacher, option, needle",
    [
        ("default", "dropout=2", "option dropout=2 is out of range: allowed [0, 1)"),
        ("kmer", "dropout=-0.5", "option dropout=-0.5 is out of range: allowed [0, 1)"),
        ("cnn", "dropout=2", "option dropout=2 is out of range"),
        ("kmer", "folds=0", "option folds=0 is out of range: allowed [1, 100]"),
        ("genes", "folds=-1", "option folds=-1 is out of range: allowed [1, 100]"),
        ("kmer", "folds=5000", "option folds=5000 is out of range: allowed [1, 100]"),
        ("kmer", "lr=nan", "option lr=nan is out of range: allowed (0, 1]"),
        ("kmer", "lr=-1", "option lr=-1 is out of range"),
        ("cnn", "window=0", "option window=0 is out of range: allowed [32, 65536]"),
        ("cnn", "channels=0", "option channels=0 is out of range: allowed [1, 1024]"),
    ],
)
def test_option_values_are_range_checked_before_anything_is_written(tiny_data, tmp_path, teacher, option, needle):
    proc = vamb_run(tiny_data, tmp_path / "o", "--teacher", teacher, "--teacher-option", option)
    assert needle in one_error(proc)
    assert not (tmp_path / "o").exists() and not list(tmp_path.iterdir())


def test_teachers_listing_shows_the_ranges():
    out = run_cmd(["taxometer-kd", "teachers", "-v"], check=True).stdout
    assert "--teacher-option dropout=... [0.2] dropout in the head; allowed: [0, 1)" in out
    assert (
        "--teacher-option folds=... [10] cross-fitting folds (1: one head trained on all labels); allowed: [1, 100]"
        in out
    )


def test_many_folds_for_few_contigs_warn(tiny_data, tmp_path):
    proc = vamb_run(tiny_data, tmp_path / "o", "--teacher", "kmer", "--teacher-option", "folds=20", "-pe", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "folds=20 for 300 contigs: about 15 contigs per fold" in proc.stderr


# ----------------------------------------------------------------------------- 2. teacher build errors


BROKEN_PLUGIN = """
import taxometer_kd

def build(ctx):
    raise RuntimeError("the broken teacher cannot read its model")

@taxometer_kd.hookimpl
def register_teachers(register):
    register(taxometer_kd.TeacherSpec(name="broken", description="raises in build", build=build))
"""


def _plugin_env(tmp_path, module, source, entry):
    (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[taxometer_kd]\n{entry} = {module}\n")
    return {"PYTHONPATH": str(tmp_path)}


def test_any_exception_from_a_teacher_build_is_one_clear_error(tiny_data, tmp_path):
    env = _plugin_env(tmp_path, "broken_teacher_plugin", BROKEN_PLUGIN, "broken")
    out = tmp_path / "o"
    line = one_error(vamb_run(tiny_data, out, "--teacher", "broken", env=env))
    assert "teacher broken could not be built: the broken teacher cannot read its model" in line
    log = assert_cleaned_up(out)
    assert "Traceback" in log and "RuntimeError" in log  # the traceback is kept for a bug report


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


def _edit_depth(src, dst, value):
    rows = open(src).read().splitlines()
    fields = rows[3].split("\t")
    fields[2] = value
    rows[3] = "\t".join(fields)
    dst.write_text("\n".join(rows) + "\n")
    return fields[0]


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


# ----------------------------------------------------------------------------- 5. python -m vamb


def test_python_m_vamb_has_the_flags_and_runs(tiny_data, tmp_path):
    help_text = run_cmd([str(BIN / "python"), "-m", "vamb", "taxometer", "--help"], check=True).stdout
    assert "Knowledge distillation (taxometer-kd)" in help_text and "--teacher NAME" in help_text
    proc = vamb_run(
        tiny_data, tmp_path / "o", "--teacher", "default", "-pe", "1", cmd=(str(BIN / "python"), "-m", "vamb")
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "o" / "results_teacher.tsv").is_file()
    # and with the hook off, python -m vamb is stock vamb
    off = run_cmd([str(BIN / "python"), "-m", "vamb", "taxometer", "--help"], env={"TAXOMETER_KD_DISABLE": "1"})
    assert off.returncode == 0 and "--teacher" not in off.stdout


# ----------------------------------------------------------------------------- 6. file modes


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_outputs_get_the_permissions_of_a_normal_open(tiny_data, tmp_path, umask, mode):
    proc = vamb_run(tiny_data, tmp_path / "o", "--teacher", "default", "-pe", "1", preexec_fn=lambda: os.umask(umask))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("results_taxometer.tsv", "results_teacher.tsv", "predictor_model.pt", "teacher_model.pt"):
        assert stat.S_IMODE((tmp_path / "o" / name).stat().st_mode) == mode, name


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


# ----------------------------------------------------------------------------- 8. what a failed run leaves


def test_after_a_failure_the_same_command_runs_again(tiny_data, tmp_path):
    abundance = tmp_path / "abundance.tsv"
    _edit_depth(tiny_data["abundance"], abundance, "nan")
    out = tmp_path / "o"
    one_error(vamb_run(tiny_data, out, "--teacher", "default", "-pe", "1", abundance=abundance))
    assert "the depth of contig" in assert_cleaned_up(out)
    abundance.write_text(open(tiny_data["abundance"]).read())  # the user fixes the input ...
    proc = vamb_run(tiny_data, out, "--teacher", "default", "-pe", "1", abundance=abundance)  # ... same command
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "results_taxometer.tsv").is_file()
    assert not out.with_name("o.failed.log").exists()  # the stale log of the failed attempt is gone


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_cleans_up(tiny_data, tmp_path, sig, code):
    out = tmp_path / "o"
    args = [
        str(BIN / "vamb"),
        "taxometer",
        "--outdir",
        str(out),
        "--fasta",
        str(tiny_data["fasta"]),
        "--abundance_tsv",
        str(tiny_data["abundance"]),
        "--taxonomy",
        str(tiny_data["taxonomy"]),
        "-pe",
        "500",
        "-pt",
        "128",
        "-p",
        "1",
        "--teacher",
        "default",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("TAXOMETER_KD_DISABLE", None)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "log.txt"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and "Epoch: 1\t" in log.read_text():
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    line = one_error(subprocess.CompletedProcess(args, proc.returncode, "", err), code)
    assert ("interrupted (SIGINT)" if sig == signal.SIGINT else "terminated (SIGTERM)") in line
    assert "Epoch: 1" in assert_cleaned_up(out)


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


def test_existing_outdir_is_one_error(tiny_data, tmp_path):
    (tmp_path / "o").mkdir()
    line = one_error(vamb_run(tiny_data, tmp_path / "o", "--teacher", "default"))
    assert "already exists" in line
    assert (tmp_path / "o").is_dir()  # not ours: left alone


@pytest.mark.parametrize("case", ["offline", "nonexistent", "empty folder", "pickle only"])
def test_genomeocean_checkpoint_problems_are_one_error_before_vamb_starts(tiny_data, tmp_path, case):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    folder = tmp_path / "GO-500M"
    option = []
    if case == "nonexistent":
        option = ["--teacher-option", "path=/nonexistent/GO-500M"]
    elif case != "offline":
        folder.mkdir()
        if case == "pickle only":
            (folder / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")
        option = ["--teacher-option", f"path={folder}"]
    out = tmp_path / "o"
    line = one_error(vamb_run(tiny_data, out, "--teacher", "genomeocean-500m", *option, env=env))
    needle = {
        "offline": "pGenomeOcean/GenomeOcean-500M is not available",
        "nonexistent": "no such directory",
        "empty folder": "config.json is missing",
        "pickle only": "only PyTorch pickle weights",
    }[case]
    assert needle in line and "Traceback" not in line
    assert not out.exists() and not out.with_name("o.failed.log").exists()  # refused before Vamb started
