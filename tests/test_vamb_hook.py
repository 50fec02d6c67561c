"""The flags on the stock `vamb taxometer` command, and nothing else touched."""

import os
import subprocess

import pytest
from conftest import BIN, run_cmd, vamb_inputs

KD_FLAGS = ["--teacher", "--alpha A", "--temperature", "--teacher-option", "--teacher-cache", "Knowledge distillation"]


def test_flags_on_vamb_taxometer_help():
    out = run_cmd(["vamb", "taxometer", "--help"], check=True).stdout
    for flag in KD_FLAGS:
        assert flag in out, flag


@pytest.mark.parametrize("sub", [["bin", "default"], ["bin", "taxvamb"], ["bin", "avamb"], ["recluster"]])
def test_other_subcommands_untouched(sub):
    with_hook = run_cmd(["vamb", *sub, "--help"])
    without = run_cmd(["vamb", *sub, "--help"], env={"TAXOMETER_KD_DISABLE": "1"})
    assert with_hook.returncode == without.returncode == 0
    assert "--teacher" not in with_hook.stdout and "Knowledge distillation" not in with_hook.stdout
    assert with_hook.stdout == without.stdout


def test_environment_variable_switches_it_off():
    out = run_cmd(["vamb", "taxometer", "--help"], env={"TAXOMETER_KD_DISABLE": "1"}).stdout
    assert "--teacher" not in out and "--outdir" in out
    proc = run_cmd(
        [str(BIN / "python"), "-c", "import sys; print('taxometer_kd' in sys.modules)"],
        env={"TAXOMETER_KD_DISABLE": "1"},
    )
    assert proc.stdout.strip() == "False"


def test_explicit_command_has_the_flags():
    out = run_cmd(["taxometer-kd", "taxometer", "--help"], check=True).stdout
    for flag in KD_FLAGS:
        assert flag in out
    # it works even when the start-up hook is switched off
    out = run_cmd(["taxometer-kd", "taxometer", "--help"], env={"TAXOMETER_KD_DISABLE": "1"}, check=True).stdout
    assert "--teacher" in out


def test_startup_hook_is_cheap():
    """The .pth hook imports no third-party module, and only vamb.__main__ triggers the rest."""
    code = (
        "import sys; heavy = [m for m in ('torch', 'numpy', 'pluggy', 'taxometer_kd.registry',"
        " 'taxometer_kd.vamb.patch', 'vamb') if m in sys.modules]; print(heavy);"
        " print('taxometer_kd.vamb.hook' in sys.modules)"
    )
    out = run_cmd([str(BIN / "python"), "-c", code], check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"
    # the import-time cost of the hook itself (cumulative microseconds, from -X importtime)
    err = run_cmd([str(BIN / "python"), "-X", "importtime", "-c", "pass"], check=True).stderr
    cost = [int(line.split("|")[1]) for line in err.splitlines() if line.strip().endswith("taxometer_kd.vamb.hook")]
    assert cost and cost[0] < 20_000  # well under 20 ms even on a loaded CI machine; ~1.5 ms here


def test_hook_is_not_part_of_vamb():
    """Reinstalling vamb cannot remove the hook: vamb's RECORD does not list it."""
    import importlib.metadata as md

    vamb_files = {str(f) for f in md.distribution("vamb").files}
    ours = {str(f) for f in md.distribution("taxometer-kd").files}
    assert "taxometer_kd_hook.pth" in ours
    assert not any(f.endswith(".pth") for f in vamb_files)


@pytest.mark.skipif(
    os.environ.get("TAXOMETER_KD_TEST_REINSTALL") != "1",
    reason="set TAXOMETER_KD_TEST_REINSTALL=1 to reinstall vamb in this venv (CI does)",
)
def test_survives_vamb_force_reinstall():
    pip = [str(BIN / "python"), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", "vamb==5.0.4"]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = run_cmd(["vamb", "taxometer", "--help"], check=True).stdout
    assert "--teacher" in out


def _run_taxometer(data, outdir, *extra, disable=False, seed=7):
    """vamb taxometer with torch seeded (stock Taxometer does not seed torch itself)."""
    code = (
        "import sys, torch; torch.manual_seed(int(sys.argv[1])); sys.argv = ['vamb'] + sys.argv[2:];"
        " from vamb.__main__ import main; main()"
    )
    args = [
        str(BIN / "python"),
        "-c",
        code,
        str(seed),
        "taxometer",
        "--outdir",
        str(outdir),
        *vamb_inputs(data),
        "-pe",
        "3",
        "-pt",
        "64",
        "-p",
        "1",
        "--seed",
        "1",
        *extra,
    ]
    return run_cmd(args, env={"TAXOMETER_KD_DISABLE": "1"} if disable else None)


def test_without_teacher_identical_to_stock(tiny_data, tmp_path):
    stock = _run_taxometer(tiny_data, tmp_path / "stock", disable=True)
    ours = _run_taxometer(tiny_data, tmp_path / "ours")
    assert stock.returncode == 0, stock.stderr
    assert ours.returncode == 0, ours.stderr
    a, b = tmp_path / "stock" / "results_taxometer.tsv", tmp_path / "ours" / "results_taxometer.tsv"
    assert a.read_text() == b.read_text()
    assert not (tmp_path / "ours" / "results_teacher.tsv").exists()
    # the comparison can fail: another torch seed gives other predictions
    other = _run_taxometer(tiny_data, tmp_path / "other", seed=8)
    assert other.returncode == 0
    assert (tmp_path / "other" / "results_taxometer.tsv").read_text() != a.read_text()
