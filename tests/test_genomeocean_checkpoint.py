"""GenomeOcean teacher: registration, checkpoint resolution (path, hub cache), pre-flight checks, fingerprint.

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA (the session fixture ``checkpoint``, tests/conftest.py and genomeocean_helpers.py),
saved like a real checkpoint and loaded through ``--teacher-option path=DIR``: nothing comes
from the Hugging Face hub.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genomeocean_helpers import (  # noqa: E402
    _offline,  # noqa: F401  (autouse: offline, a private HF cache, one thread)
    make_ctx,
    spec,
)

from taxometer_kd_plugins import genomeocean as go  # noqa: E402


# ---------------------------------------------------------------------------- registration
def test_teachers_registered_with_options():
    for name, alias, ctx_len in (
        ("genomeocean-100m", "go-100m", 1024),
        ("genomeocean-500m", "go-500m", 1024),
        ("genomeocean-4b", "go-4b", 10240),
    ):
        s = spec(alias)
        assert s.name == name and s.needs_download
        assert {o.name for o in s.options} == {
            "path",
            "revision",
            "layer",
            "pooling",
            "max-tokens",
            "batch-tokens",
            "dtype",
            "head-lr",
            "hidden",
            "folds",
        }
        assert go.MODELS[name].context == ctx_len
        opts = s.validate_options({})
        assert opts["layer"] == -1 and opts["pooling"] == "mean" and opts["head-lr"] == 1e-4
        assert opts["dtype"] == "auto" and opts["path"] is None and opts["max-tokens"] is None
    opts = spec().validate_options({"hidden": "256,128", "pooling": "max", "dtype": "bfloat16"})
    assert opts["hidden"] == (256, 128)
    with pytest.raises(ValueError, match="pooling"):
        spec().validate_options({"pooling": "cls"})
    with pytest.raises(ValueError, match="max-tokens"):
        spec().validate_options({"max-tokens": "0"})


def test_listing_teachers_does_not_import_transformers():
    code = (
        "import sys; from taxometer_kd import registry; registry.get_teacher('go-4b'); "
        "assert 'transformers' not in sys.modules, 'transformers imported'; print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install 'taxometer-kd\[genomeocean\]'"):
        go._import_transformers()


# ---------------------------------------------------------------------------- checkpoints
def test_path_must_exist(tmp_path):
    with pytest.raises(go.CheckpointError) as err:
        go.resolve_checkpoint("pGenomeOcean/GenomeOcean-100M", path=tmp_path / "nowhere")
    msg = str(err.value)
    assert "no such directory" in msg and "nowhere" in msg
    assert "huggingface-cli download pGenomeOcean/GenomeOcean-100M" in msg and "--teacher-option path=" in msg


def test_pickle_only_checkpoint_is_refused(tmp_path, checkpoint):
    d = tmp_path / "bin-only"
    d.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(checkpoint / name, d / name)
    (d / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(go.CheckpointError, match=r"pytorch_model\.bin.*safetensors only"):
        go.resolve_checkpoint("pGenomeOcean/GenomeOcean-100M", path=d)


def test_incomplete_checkpoint_lists_what_is_missing(tmp_path, checkpoint):
    d = tmp_path / "no-tokenizer"
    shutil.copytree(checkpoint, d)
    (d / "tokenizer.json").unlink()
    with pytest.raises(go.CheckpointError, match=r"tokenizer\.json"):
        go.resolve_checkpoint("pGenomeOcean/GenomeOcean-100M", path=d)


def test_hub_id_missing_offline_names_id_and_cache(tmp_path):
    hub = tmp_path / "hf-home" / "hub"
    with pytest.raises(go.CheckpointError) as err:
        go.resolve_checkpoint(
            "pGenomeOcean/GenomeOcean-500M", alternatives=("DOEJGI/GenomeOcean-500M",), teacher="genomeocean-500m"
        )
    msg = str(err.value)
    assert "pGenomeOcean/GenomeOcean-500M" in msg and "DOEJGI/GenomeOcean-500M" in msg
    assert str(hub) in msg and "HF_HUB_OFFLINE=1" in msg
    assert "huggingface-cli download pGenomeOcean/GenomeOcean-500M" in msg
    assert "--teacher-option path=" in msg
    # the same single error through the teacher itself
    ctx = make_ctx([b"ACGT" * 10], tmp_path / "cache", name="genomeocean-500m")
    with pytest.raises(go.CheckpointError, match="GenomeOcean-500M"):
        spec("genomeocean-500m").build(ctx)


def _fake_hub_cache(hub: Path, repo_id: str, checkpoint: Path, commit="0123456789abcdef0123456789abcdef01234567"):
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    shutil.copytree(checkpoint, snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snap


def test_hub_cache_is_used_offline_and_honours_hf_home(tmp_path, checkpoint):
    hub = tmp_path / "hf-home" / "hub"
    snap = _fake_hub_cache(hub, "pGenomeOcean/GenomeOcean-100M", checkpoint)
    got = go.resolve_checkpoint("pGenomeOcean/GenomeOcean-100M")
    assert got.source == "hub-cache" and got.directory == snap.resolve() and got.commit == snap.name
    # the older DOEJGI/ id is found too
    shutil.rmtree(hub)
    snap = _fake_hub_cache(hub, "DOEJGI/GenomeOcean-100M", checkpoint)
    got = go.resolve_checkpoint("pGenomeOcean/GenomeOcean-100M", alternatives=("DOEJGI/GenomeOcean-100M",))
    assert got.repo_id == "DOEJGI/GenomeOcean-100M" and got.directory == snap.resolve()


def preflight(name="genomeocean-100m", **options):
    s = spec(name)
    return s.preflight(s.validate_options({k.replace("_", "-"): str(v) for k, v in options.items()}))


def test_preflight_without_network_names_the_hub_id_and_cache(tmp_path):
    # the autouse fixture: HF_HUB_OFFLINE=1 and an empty HF_HOME under tmp_path
    with pytest.raises(go.CheckpointError) as err:
        preflight("go-500m")
    assert isinstance(err.value, RuntimeError)  # what vamb taxometer's pre-flight reports
    msg = str(err.value)
    assert "teacher genomeocean-500m" in msg and "pGenomeOcean/GenomeOcean-500M is not available" in msg
    assert "HF_HUB_OFFLINE=1" in msg and str(tmp_path / "hf-home" / "hub") in msg
    assert "huggingface-cli download pGenomeOcean/GenomeOcean-500M" in msg


def test_preflight_on_bad_paths(tmp_path, checkpoint):
    with pytest.raises(go.CheckpointError, match=r"path=/nonexistent/GO-100M: no such directory"):
        preflight(path="/nonexistent/GO-100M")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(go.CheckpointError) as err:
        preflight(path=empty)
    msg = str(err.value)
    assert f"{empty} is not a usable checkpoint" in msg and "config.json is missing" in msg
    assert "no *.safetensors weight file" in msg and "tokenizer.json" in msg and "--teacher-option path=" in msg
    pickles = tmp_path / "bin-only"
    pickles.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(checkpoint / name, pickles / name)
    (pickles / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(
        go.CheckpointError, match=r"only PyTorch pickle weights \(pytorch_model\.bin\).*safetensors only"
    ):
        preflight(path=pickles)


def test_preflight_passes_without_loading_the_model(tmp_path, checkpoint, monkeypatch):
    builder = spec().build
    monkeypatch.setattr(builder, "load", lambda *a: pytest.fail("the model was loaded"))
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", lambda *a, **k: pytest.fail("the model was loaded"))
    assert preflight(path=checkpoint) is None
    with pytest.raises(ValueError, match="layer=5 is out of range"):
        preflight(path=checkpoint, layer=5)
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install 'taxometer-kd\[genomeocean\]'"):
        preflight(path=checkpoint)


def test_vamb_taxometer_options_run_the_preflight():
    """``vamb taxometer --teacher go-100m --teacher-option path=...`` fails on the options,
    before Vamb reads any input, with the checkpoint's message as one KDError line."""
    import argparse

    from taxometer_kd.errors import KDError
    from taxometer_kd.options import FLAGS, KDOptions

    args = argparse.Namespace(**{f.dest: None for f in FLAGS})
    args.kd_teacher, args.kd_teacher_options = "go-100m", ["path=/nonexistent/GO-100M"]
    with pytest.raises(KDError, match="path=/nonexistent/GO-100M: no such directory"):
        KDOptions.from_args(args)


def test_fingerprint_is_content_based(tmp_path, checkpoint):
    copy = tmp_path / "copy"
    shutil.copytree(checkpoint, copy)
    os.utime(copy / "model.safetensors", (1, 1))
    assert go.checkpoint_fingerprint(copy) == go.checkpoint_fingerprint(checkpoint)
    from safetensors.torch import load_file, save_file

    tensors = load_file(copy / "model.safetensors")
    name = next(k for k in tensors if "mlp" in k)
    tensors[name] = tensors[name] + 1.0  # same shapes, other weights
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert go.checkpoint_fingerprint(copy) != go.checkpoint_fingerprint(checkpoint)
