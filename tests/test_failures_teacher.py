"""Bad teacher set-ups: option values out of range, a teacher whose build fails, GenomeOcean
checkpoint problems; the real command, one clear error, nothing left half-done.

Each case runs `vamb taxometer ... --teacher ...` in a subprocess on the project's tiny data
and checks the exit status, that stderr holds exactly one ERROR line that says what to fix,
that there is no traceback, and what is left on disk.
"""

import pytest
from conftest import run_cmd
from failures_helpers import assert_cleaned_up, one_error, vamb_run

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
