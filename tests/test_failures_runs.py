"""Kills and odd set-ups: python -m vamb, file modes, what a failed or interrupted run leaves, an
existing output folder; the real command, one clear error, nothing left half-done.

Each case runs `vamb taxometer ... --teacher ...` in a subprocess on the project's tiny data
and checks the exit status, that stderr holds exactly one ERROR line that says what to fix,
that there is no traceback, and what is left on disk.
"""

import os
import signal
import stat
import subprocess
import time

import pytest
from conftest import BIN, run_cmd, vamb_inputs
from failures_helpers import _edit_depth, assert_cleaned_up, one_error, vamb_run

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
        *vamb_inputs(tiny_data),
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
    # A parent that ignores SIGINT (a pytest-xdist worker does) passes SIG_IGN on through exec,
    # and Python then installs no KeyboardInterrupt handler: the run would never see Ctrl-C,
    # as in a background job of a shell. Start it the way a terminal does, with the default.
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
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


def test_existing_outdir_is_one_error(tiny_data, tmp_path):
    (tmp_path / "o").mkdir()
    line = one_error(vamb_run(tiny_data, tmp_path / "o", "--teacher", "default"))
    assert "already exists" in line
    assert (tmp_path / "o").is_dir()  # not ours: left alone
