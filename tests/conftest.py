import os
import subprocess
import sys
from pathlib import Path

import pytest
from labels_testdata import write_fasta, write_taxdump

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_cmd(args, env=None, check=False, timeout=600, **kw):
    """Run a command of the test venv; returns CompletedProcess with text output."""
    full_env = dict(os.environ)
    full_env.pop("TAXOMETER_KD_DISABLE", None)
    full_env.setdefault("OMP_NUM_THREADS", "1")
    if env:
        full_env.update(env)
    exe = args[0]
    if not os.path.isabs(exe) and (BIN / exe).exists():
        args = [str(BIN / exe), *args[1:]]
    proc = subprocess.run(args, env=full_env, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def vamb_inputs(data, fasta=None, abundance=None, taxonomy=None, composition=None) -> list[str]:
    """`vamb taxometer`'s input arguments for a data set made by the project (tiny_data, say);
    each file can be replaced; with ``composition`` (a composition.npz) it replaces ``--fasta``."""
    contigs = ["--composition", str(composition)] if composition else ["--fasta", str(fasta or data["fasta"])]
    return [
        *contigs,
        "--abundance_tsv",
        str(abundance or data["abundance"]),
        "--taxonomy",
        str(taxonomy or data["taxonomy"]),
    ]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A synthetic metagenome made by the project (no ../shared needed)."""
    from taxometer_kd import synthetic

    out = tmp_path_factory.mktemp("tiny")
    return synthetic.make_metagenome(out, seed=3, size="tiny", n_samples=3)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """The 'small' synthetic metagenome (800 contigs, 146 of held-out species), for effects that
    the tiny one has too few contigs to show."""
    from taxometer_kd import synthetic

    return synthetic.make_metagenome(tmp_path_factory.mktemp("small"), seed=3, size="small", n_samples=3)


@pytest.fixture(autouse=True)
def _fresh_registry():
    from taxometer_kd import plugins

    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A tiny GenomeOcean-like checkpoint (genomeocean_helpers.tiny_checkpoint) for the
    test_genomeocean_* modules, made once per session."""
    from genomeocean_helpers import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory)


@pytest.fixture(scope="session")
def contigs():
    """The test_genomeocean_* modules' contigs (genomeocean_helpers.contig_sequences)."""
    from genomeocean_helpers import contig_sequences

    return contig_sequences()


@pytest.fixture()
def env(tmp_path):
    """For the test_labels_formats_* modules: a taxdump and a FASTA of contigs c1..c9 (labels_testdata)."""
    return {"dir": tmp_path, "taxdump": write_taxdump(tmp_path / "taxdump"), "fasta": write_fasta(tmp_path / "c.fna")}
