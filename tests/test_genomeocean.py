"""GenomeOcean teacher: checkpoint resolution, whole-contig windows, embedding cache, embed CLI.

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA, saved like a real checkpoint and loaded through ``--teacher-option path=DIR``:
nothing comes from the Hugging Face hub.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from taxometer_kd import (  # noqa: E402
    CrossFitHeadTeacher,
    EmbeddingHeadTeacher,
    TeacherContext,
    registry,
)
from taxometer_kd.cache import (  # noqa: E402
    EmbeddingCache,
    default_cache_root,
    sequence_hash,
)
from taxometer_kd.io import InMemoryContigs  # noqa: E402
from taxometer_kd_plugins import genomeocean as go  # noqa: E402

CONTEXT = 64  # max_position_embeddings of the tiny model
DNA = np.frombuffer(b"ACGT", dtype=np.uint8)


def random_dna(rng: np.random.Generator, n: int, gc: float = 0.5) -> bytes:
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return DNA[rng.choice(4, size=n, p=p)].tobytes()


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny GenomeOcean-like checkpoint: Mistral weights (safetensors) + a [CLS]/[SEP] BPE tokenizer."""
    from tokenizers import Tokenizer, models, trainers
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny-genomeocean")
    rng = np.random.default_rng(0)
    corpus = [random_dna(rng, 3000, gc).decode() for gc in np.linspace(0.3, 0.7, 30)]
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    trainer = trainers.BpeTrainer(
        vocab_size=256,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"],
        initial_alphabet=list("ACGTN"),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    tok.save_pretrained(d)
    config = MistralConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        sliding_window=None,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
    )
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(d)
    assert list(d.glob("*.safetensors")) and not list(d.glob("*.bin"))
    return d


@pytest.fixture(scope="session")
def contigs() -> list[bytes]:
    rng = np.random.default_rng(1)
    # ~3.4 bp per token here: 1 to ~12 windows of 62 sequence tokens; one has lower case
    seqs = [random_dna(rng, n) for n in (150, 400, 1200, 2500, 90, 700, 1000)]
    seqs[5] = seqs[5][:300].lower() + seqs[5][300:]
    return seqs


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Never touch the network; a private, empty HF cache; one thread."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def spec(name="genomeocean-100m"):
    return registry.get_teacher(name)


def make_ctx(seqs, cache_dir, *, checkpoint=None, name="genomeocean-100m", n_outputs=3, device="cpu", **options):
    raw = {k.replace("_", "-"): str(v) for k, v in options.items()}
    if checkpoint is not None:
        raw["path"] = str(checkpoint)
    return TeacherContext(
        contigs=InMemoryContigs(list(seqs)),
        n_outputs=n_outputs,
        options=spec(name).validate_options(raw),
        device=torch.device(device),
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
    )


def compute(builder, ctx, seqs=None):
    """Run the model path directly (no cache): {index: vector}."""
    out = {}
    builder.compute(ctx, list(ctx.contigs.to_list() if seqs is None else seqs), lambda i, v: out.__setitem__(i, v))
    return np.stack([out[i] for i in range(len(out))])


def reference_embedding(checkpoint, seq: bytes, *, context=CONTEXT, layer=-1, pooling="mean"):
    """Straightforward re-implementation: one window at a time, transformers' hidden_states."""
    tok = transformers.PreTrainedTokenizerFast.from_pretrained(str(checkpoint))
    model = transformers.AutoModel.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
    ids = tok(seq.upper().decode(), add_special_tokens=False)["input_ids"]
    k = math.ceil(len(ids) / (context - 2))
    sizes = [len(ids) // k + (1 if i < len(ids) % k else 0) for i in range(k)]
    pieces, start = [], 0
    for size in sizes:
        window = [tok.cls_token_id, *ids[start : start + size], tok.sep_token_id]
        start += size
        with torch.no_grad():
            hs = model(input_ids=torch.tensor([window]), output_hidden_states=True).hidden_states[layer][0]
        body = hs[1:-1]  # sequence tokens only: no [CLS]/[SEP]
        pieces.append((body.sum(0) if pooling == "mean" else body.max(0).values, size))
    if pooling == "mean":
        return (sum(p for p, _ in pieces) / sum(n for _, n in pieces)).numpy()
    return torch.stack([p for p, _ in pieces]).max(0).values.numpy()


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


# ---------------------------------------------------------------------------- windows
def test_split_windows_and_batches():
    for n in (1, 61, 62, 63, 124, 125, 1000):
        w = go.split_windows(n, 62)
        assert len(w) == math.ceil(n / 62)
        assert [s for s, _ in w] == list(np.cumsum([0] + [length for _, length in w])[:-1])
        assert sum(length for _, length in w) == n
        lengths = [length for _, length in w]
        assert max(lengths) <= 62 and max(lengths) - min(lengths) <= 1
    assert go.split_windows(0, 62) == []
    lengths = np.array([64, 10, 64, 33, 5, 64, 40])
    batches = go.plan_batches(lengths, 128)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) * lengths[b].max() <= 128
        assert lengths[b[0]] == lengths[b].max()
    assert [len(b) for b in go.plan_batches(lengths, 10)] == [1] * len(lengths)  # over budget: alone


@pytest.mark.parametrize("max_tokens", [None, 16])
def test_whole_contig_is_windowed_and_framed(tmp_path, checkpoint, contigs, monkeypatch, max_tokens):
    opts = {} if max_tokens is None else {"max_tokens": max_tokens}
    ctx = make_ctx(contigs, tmp_path / "cache", checkpoint=checkpoint, **opts)
    builder = spec().build
    context = max_tokens or CONTEXT  # default 1024, capped by the model's 64 positions
    seen = []
    real_load = builder.load

    def load(ctx, settings):
        tok, model, dtype = real_load(ctx, settings)

        def grab(module, args, kwargs):
            seen.append((kwargs["input_ids"].clone(), kwargs.get("attention_mask")))

        model.register_forward_pre_hook(grab, with_kwargs=True)
        return tok, model, dtype

    monkeypatch.setattr(builder, "load", load)
    compute(builder, ctx)
    tok = transformers.PreTrainedTokenizerFast.from_pretrained(str(checkpoint))
    n_tokens = [len(tok(s.upper().decode(), add_special_tokens=False)["input_ids"]) for s in contigs]
    assert max(n_tokens) > 5 * (context - 2)  # at least one contig spans several windows
    rows = []
    for ids, mask in seen:
        lengths = mask.sum(1).tolist() if mask is not None else [ids.shape[1]] * ids.shape[0]
        assert ids.shape[1] <= context
        for r, length in enumerate(lengths):
            row = ids[r, :length].tolist()
            assert len(row) <= context
            assert row[0] == tok.cls_token_id and row[-1] == tok.sep_token_id
            assert tok.cls_token_id not in row[1:-1] and tok.sep_token_id not in row[1:-1]
            if mask is not None:
                assert ids[r, length:].eq(tok.pad_token_id).all() and mask[r, length:].eq(0).all()
            rows.append(len(row) - 2)
    assert len(rows) == sum(math.ceil(n / (context - 2)) for n in n_tokens)
    assert sum(rows) == sum(n_tokens)  # the whole contig, nothing truncated


@pytest.mark.parametrize("layer,pooling", [(-1, "mean"), (-1, "max"), (1, "mean"), (0, "mean"), (-2, "max")])
def test_matches_a_window_by_window_reference(tmp_path, checkpoint, contigs, layer, pooling):
    ctx = make_ctx(contigs, None, checkpoint=checkpoint, layer=layer, pooling=pooling)
    got = compute(spec().build, ctx)
    want = np.stack([reference_embedding(checkpoint, s, layer=layer, pooling=pooling) for s in contigs])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_independent_of_batch_and_padding(tmp_path, checkpoint, contigs, monkeypatch):
    builder = spec().build
    alone = np.concatenate([compute(builder, make_ctx([s], None, checkpoint=checkpoint)) for s in contigs])
    for budget in (CONTEXT, 3 * CONTEXT + 5, 100_000):  # one window per batch ... everything at once
        together = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint, batch_tokens=budget))
        np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)
    assert builder.last_stats["padded_tokens"] > builder.last_stats["tokens"]  # padding did happen
    # shuffled order, another window budget for the batches
    perm = np.random.default_rng(3).permutation(len(contigs))
    shuffled = compute(builder, make_ctx([contigs[i] for i in perm], None, checkpoint=checkpoint, batch_tokens=200))
    np.testing.assert_allclose(shuffled, alone[perm], rtol=0, atol=1e-5)
    # the model is causal and padding is on the right: the mask does not change real tokens
    monkeypatch.setattr(builder, "mask_padding", False)
    unmasked = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint, batch_tokens=100_000))
    np.testing.assert_allclose(unmasked, alone, rtol=0, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_embeddings_match_cpu_fp32(checkpoint, contigs):
    """CUDA path: bf16 weights (dtype auto), fp32 vectors back, close to the CPU's fp32 ones,
    and still independent of what else is in the batch."""
    builder = spec().build
    cpu = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint))
    assert builder.last_stats["dtype"] == "float32"
    gpu = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint, device="cuda"))
    assert builder.last_stats["dtype"] == "bfloat16"
    assert gpu.dtype == np.float32 and gpu.shape == cpu.shape and np.isfinite(gpu).all()
    cosine = (gpu * cpu).sum(1) / (np.linalg.norm(gpu, axis=1) * np.linalg.norm(cpu, axis=1))
    assert cosine.min() > 0.99, cosine
    assert not np.array_equal(gpu, cpu)  # it really ran in another precision
    alone = np.concatenate(
        [compute(builder, make_ctx([s], None, checkpoint=checkpoint, device="cuda")) for s in contigs]
    )
    np.testing.assert_allclose(gpu, alone, rtol=0, atol=0.05 * np.abs(alone).max())


def test_layer_and_pooling_options(tmp_path, checkpoint, contigs):
    builder = spec().build
    last = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint))
    assert last.shape == (len(contigs), 32) and np.isfinite(last).all()
    same = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint, layer=2))  # 2 blocks: 2 == -1
    np.testing.assert_array_equal(same, last)
    for other in ({"layer": 1}, {"layer": 0}, {"pooling": "max"}, {"max_tokens": 16}):
        assert not np.allclose(compute(builder, make_ctx(contigs, None, checkpoint=checkpoint, **other)), last)
    with pytest.raises(ValueError, match="layer=3 is out of range"):
        builder.identity(make_ctx(contigs, None, checkpoint=checkpoint, layer=3))


# ---------------------------------------------------------------------------- cache
def test_cache_reuse_resume_and_keys(tmp_path, checkpoint, contigs, monkeypatch):
    cache_dir = tmp_path / "cache"
    builder = spec().build
    calls = []
    real_compute = builder.compute

    def counting(ctx, sequences, emit):
        calls.append(len(sequences))
        return real_compute(ctx, sequences, emit)

    monkeypatch.setattr(builder, "compute", counting)
    ctx = make_ctx(contigs, cache_dir, checkpoint=checkpoint)

    # a subset first ...
    stats = builder.fill_cache(make_ctx(contigs[:3], cache_dir, checkpoint=checkpoint))
    assert (stats.n_computed, stats.n_cached) == (3, 0)
    # ... then a run killed after two more finished contigs (one shard per contig) ...
    monkeypatch.setattr(builder, "shard_size", 1)
    emitted = []

    def dying(ctx, sequences, emit):
        def emit_then_die(i, v):
            emit(i, v)
            emitted.append(i)
            if len(emitted) == 2:
                raise KeyboardInterrupt("killed")

        return counting(ctx, sequences, emit_then_die)

    monkeypatch.setattr(builder, "compute", dying)
    with pytest.raises(KeyboardInterrupt):
        builder.fill_cache(ctx)
    monkeypatch.setattr(builder, "compute", counting)
    # ... then the full set: only the missing ones go through the model
    features = builder.features(ctx)
    assert calls == [3, 4, 2]
    assert builder.last_stats["contigs"] == 2
    np.testing.assert_allclose(
        features, compute(builder, make_ctx(contigs, None, checkpoint=checkpoint)), rtol=0, atol=1e-5
    )
    calls.clear()

    # reuse: same contigs renamed and reordered, in a "different run": nothing computed
    rev = make_ctx(contigs[::-1], cache_dir, checkpoint=checkpoint)
    rev.contigs.identifiers = [f"other{i}" for i in range(len(contigs))]
    teacher = builder(rev)
    assert calls == []
    np.testing.assert_array_equal(teacher.embeddings(), features[::-1])

    # the cache layout: key.json, index.json, complete .npz shards only
    cache = builder.open_cache(ctx)
    assert cache.dir.parent == cache_dir / "genomeocean"
    key = json.loads((cache.dir / "key.json").read_text())
    assert key["identity"]["layer"] == 2 and key["identity"]["pooling"] == "mean"
    assert key["identity"]["max_tokens"] == CONTEXT and key["provenance"]["source"] == "path"
    index = json.loads((cache.dir / "index.json").read_text())
    assert index["n_vectors"] == len(contigs) and index["dim"] == 32
    files = sorted(p.name for p in (cache.dir / "shards").iterdir())
    assert files == sorted(s["file"] for s in index["shards"]) and all(f.endswith(".npz") for f in files)
    assert sum(s["n"] for s in index["shards"]) == len(contigs)
    with np.load(cache.dir / "shards" / files[0], allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert z["vectors"].dtype == np.float32 and z["hashes"].dtype == np.dtype("S32")
    assert meta["dtype"] == "float32" and meta["key"] == cache.key and meta["teacher"] == "genomeocean-100m"

    # keys: what changes the vectors changes the key; -1 and 2 are the same layer here
    def key_of(**o):
        return builder.open_cache(make_ctx(contigs, cache_dir, checkpoint=checkpoint, **o)).key

    base = key_of()
    assert key_of(layer=2) == base and key_of(batch_tokens=100) == base
    # the precision: auto is float32 on the CPU (the same numbers, the same key); bfloat16 is not
    assert key["identity"]["dtype"] == "float32" and key["identity"]["attention"] == "sdpa"
    assert key_of(dtype="float32") == base
    keys = {key_of(layer=1), key_of(layer=0), key_of(pooling="max"), key_of(max_tokens=32), key_of(dtype="bfloat16")}
    assert len(keys) == 5 and base not in keys


def test_attention_implementation_is_in_the_key(tmp_path, checkpoint, contigs, monkeypatch):
    from taxometer_kd_plugins.genomeocean import builder as go_builder

    builder = spec().build
    ctx = make_ctx(contigs, tmp_path / "cache", checkpoint=checkpoint)
    base = builder.open_cache(ctx).key
    monkeypatch.setattr(go_builder, "resolve_attention", lambda device, dtype: "flash_attention_2")
    assert builder.identity(ctx)[0]["attention"] == "flash_attention_2"
    assert builder.open_cache(ctx).key != base


def test_attention_and_dtype_are_resolved_as_load_would(monkeypatch):
    """Without a GPU or flash-attn: what ``load`` would pick, decided without loading a model."""
    import importlib.machinery
    import types

    from taxometer_kd_plugins.genomeocean import builder as go_builder

    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(go_builder, "_ATTENTION", {})
    monkeypatch.setattr(transformers.utils, "is_flash_attn_2_available", lambda: True)
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # not installed
    assert go.resolve_attention(cuda, torch.bfloat16) == "sdpa"
    fake = types.ModuleType("flash_attn")
    fake.__spec__ = importlib.machinery.ModuleSpec("flash_attn", None)
    monkeypatch.setitem(sys.modules, "flash_attn", fake)  # installed and importable
    monkeypatch.setattr(go_builder, "_ATTENTION", {})
    assert go.resolve_attention(cuda, torch.bfloat16) == "flash_attention_2"
    assert go.resolve_attention(cuda, torch.float32) == "sdpa"  # flash-attn needs half precision
    assert go.resolve_attention(cpu, torch.bfloat16) == "sdpa"
    monkeypatch.setattr(go_builder, "_ATTENTION", {})
    monkeypatch.setattr(transformers.utils, "is_flash_attn_2_available", lambda: False)  # e.g. too old
    assert go.resolve_attention(cuda, torch.bfloat16) == "sdpa"

    # dtype auto: bfloat16 only where the GPU has it natively (V100/T4 emulate it)
    def gpu(native):
        return lambda including_emulation=True: native or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", gpu(False))
    assert go.resolve_torch_dtype("auto", cuda) == torch.float32
    assert go.resolve_torch_dtype("bfloat16", cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", gpu(True))
    assert go.resolve_torch_dtype("auto", cuda) == torch.bfloat16
    assert go.resolve_torch_dtype("auto", cpu) == go.resolve_torch_dtype("float32", cuda) == torch.float32


KILLABLE = """
import sys, time
from taxometer_kd import embed, registry
builder = registry.get_teacher("go-100m").build
builder.shard_size = 1  # one shard per finished contig
real = builder.compute
def slow(ctx, sequences, emit):
    def emit_slowly(i, v):
        emit(i, v)
        time.sleep(0.5)
    return real(ctx, sequences, emit_slowly)
builder.compute = slow
sys.exit(embed.main(sys.argv[1:]))
"""


def test_resume_after_sigkill(tmp_path, checkpoint, contigs):
    import signal
    import time

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    out = tmp_path / "emb"
    argv = [
        "--teacher",
        "go-100m",
        "--teacher-option",
        f"path={checkpoint}",
        "--fasta",
        str(fasta),
        "--out",
        str(out),
        "--min-length",
        "50",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, *argv],
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(out.glob("genomeocean/*/shards/*.npz"))) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    done = len(list(out.glob("genomeocean/*/shards/*.npz")))
    assert 2 <= done < len(contigs)
    builder = spec().build
    ctx = make_ctx(contigs, out, checkpoint=checkpoint)
    stats = builder.fill_cache(ctx)
    assert (stats.n_cached, stats.n_computed) == (done, len(contigs) - done)
    assert builder.last_stats["contigs"] == len(contigs) - done  # only those went through the model
    want = compute(builder, make_ctx(contigs, None, checkpoint=checkpoint))
    np.testing.assert_allclose(load_cached(out, checkpoint, contigs), want, rtol=0, atol=1e-5)


def test_sequence_hash_and_lookup_by_content(tmp_path):
    assert sequence_hash(b"acgtN") == sequence_hash(b"ACGTN") == sequence_hash("ACGTN")
    assert sequence_hash(b"ACGT") != sequence_hash(b"ACGA")
    cache = EmbeddingCache(tmp_path, "test", {"a": 1})
    hashes = [sequence_hash(s) for s in (b"AAA", b"CCC", b"GGG")]
    vecs = np.arange(9, dtype=np.float32).reshape(3, 3)
    cache.write_shard(hashes[:2], vecs[:2])
    cache.write_shard(hashes[2:], vecs[2:], prefix="rank001")
    again = EmbeddingCache(tmp_path, "test", {"a": 1})  # a later run: reads the shards back
    np.testing.assert_array_equal(again.get([hashes[2], hashes[0]]), vecs[[2, 0]])
    assert again.missing([hashes[1], sequence_hash(b"TTT"), sequence_hash(b"TTT")]) == [sequence_hash(b"TTT")]
    assert EmbeddingCache(tmp_path, "test", {"a": 2}).dir != again.dir
    with pytest.raises(KeyError):
        again.get([sequence_hash(b"TTT")])
    with pytest.raises(ValueError, match="NaN"):
        again.write_shard([sequence_hash(b"TTT")], np.full((1, 3), np.nan, dtype=np.float32))


def test_shards_are_written_atomically(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path, "test", {"a": 1})
    cache.write_shard([sequence_hash(b"A")], np.ones((1, 4), np.float32))

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.write_shard([sequence_hash(b"C")], np.ones((1, 4), np.float32))
    monkeypatch.undo()
    leftovers = list((cache.dir / "shards").iterdir())
    assert len(leftovers) == 1 and leftovers[0].suffix == ".npz"  # no partial shard, no temp file
    assert len(EmbeddingCache(tmp_path, "test", {"a": 1})) == 1
    # a shard damaged behind our back is skipped (its contigs get recomputed), not fatal
    (cache.dir / "shards" / "damaged.npz").write_bytes(b"PK\x03\x04 truncated")
    again = EmbeddingCache(tmp_path, "test", {"a": 1})
    assert len(again) == 1 and again.missing([sequence_hash(b"A"), sequence_hash(b"C")]) == [sequence_hash(b"C")]


def test_default_cache_root_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "taxometer-kd"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_root() == Path.home() / ".cache" / "taxometer-kd"


# ---------------------------------------------------------------------------- embed CLI
def write_fasta(path: Path, seqs, short=b"ACGTACGTAC") -> Path:
    with open(path, "wb") as fh:
        for i, s in enumerate(seqs):
            fh.write(b">contig_%d some description\n" % i)
            for j in range(0, len(s), 60):
                fh.write(s[j : j + 60] + b"\n")
        fh.write(b">too_short\n" + short + b"\n")
    return path


def load_cached(out: Path, checkpoint: Path, seqs) -> np.ndarray:
    cache = spec().build.open_cache(make_ctx(seqs, out, checkpoint=checkpoint))
    return cache.get([sequence_hash(s) for s in seqs])


def test_embed_cli_fills_the_cache(tmp_path, checkpoint, contigs, monkeypatch):
    from taxometer_kd import embed

    fasta = write_fasta(tmp_path / "contigs.fna", [*contigs, contigs[2].lower()])  # one twice
    out = tmp_path / "emb"
    argv = [
        "--teacher",
        "go-100m",
        "--teacher-option",
        f"path={checkpoint}",
        "--fasta",
        str(fasta),
        "--out",
        str(out),
        "--min-length",
        "50",
    ]
    # the FASTA is streamed, never read whole
    monkeypatch.setattr("taxometer_kd.io.read_fasta", lambda *a: pytest.fail("the whole FASTA was read"))
    summary = embed.run_embed(embed.build_parser().parse_args(argv))
    assert summary["contigs"] == len(contigs) + 1 and summary["distinct"] == len(contigs)
    assert summary["computed"] == len(contigs)
    assert summary["cached_before"] == 0
    again = embed.run_embed(embed.build_parser().parse_args(argv))
    assert again["computed"] == 0 and again["cached_before"] == len(contigs)
    want = compute(spec().build, make_ctx(contigs, None, checkpoint=checkpoint))
    np.testing.assert_allclose(load_cached(out, checkpoint, contigs), want, rtol=0, atol=1e-5)

    # training with --teacher-cache OUT finds everything: the model is not even loaded
    builder = spec().build
    monkeypatch.setattr(builder, "load", lambda *a: pytest.fail("the model was loaded"))
    teacher = builder(make_ctx(contigs, out, checkpoint=checkpoint))
    np.testing.assert_allclose(teacher.embeddings(), want, rtol=0, atol=1e-5)

    assert embed.main(argv) == 0
    assert embed.main(["--teacher", "no-such-teacher", "--fasta", str(fasta), "--out", str(out)]) == 1
    assert embed.main([*argv, "--teacher-option", "pooling=cls"]) == 1


def test_embed_streams_only_its_rows(tmp_path, contigs):
    from taxometer_kd.embed import _FastaRows
    from taxometer_kd.errors import KDError

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    wanted = {5: 0, 1: 1, 3: 2}  # record number -> row of this process's share
    names = [f"contig_{k}" for k in wanted]
    rows = _FastaRows(fasta, 50, wanted, names, [len(contigs[k]) for k in wanted])
    assert len(rows) == 3 and sorted(rows) == [(0, contigs[5].upper()), (1, contigs[1]), (2, contigs[3])]
    write_fasta(fasta, contigs[:4])  # the file changed between the two passes
    with pytest.raises(KDError, match="changed while it was being read"):
        list(rows)


def test_split_by_size_balances():
    from taxometer_kd.embed import split_by_size

    sizes = [100, 10, 60, 50, 40, 5]
    parts = split_by_size(sizes, 2)
    assert sorted(i for p in parts for i in p) == list(range(6))
    loads = sorted(sum(sizes[i] for i in p) for p in parts)
    assert loads == [125, 140]  # greedy, largest first: within 4/3 of the optimum (130/135)
    assert split_by_size(sizes, 2) == parts  # deterministic: every rank computes the same split
    sizes = np.random.default_rng(0).integers(2_000, 300_000, 500).tolist()
    loads = [sum(sizes[i] for i in p) for p in split_by_size(sizes, 4)]
    assert max(loads) - min(loads) <= max(sizes)
    assert split_by_size([3, 2], 4)[2:] == [[], []]


def test_two_process_gloo_equals_single_process(tmp_path, checkpoint, contigs):
    from taxometer_kd import embed

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    common = [
        "--teacher",
        "go-100m",
        "--teacher-option",
        f"path={checkpoint}",
        "--fasta",
        str(fasta),
        "--min-length",
        "50",
    ]
    single = tmp_path / "single"
    embed.run_embed(embed.build_parser().parse_args([*common, "--out", str(single)]))
    multi = tmp_path / "multi"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TAXOMETER_KD_DIST_TIMEOUT_HOURS="0.05")
    env.pop("TAXOMETER_KD_DISABLE", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "taxometer_kd",
        "embed",
        *common,
        "--out",
        str(multi),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[rank 1/2]" in proc.stderr and "[rank 0/2]" in proc.stderr
    np.testing.assert_allclose(
        load_cached(multi, checkpoint, contigs), load_cached(single, checkpoint, contigs), rtol=0, atol=1e-5
    )
    cache = spec().build.open_cache(make_ctx(contigs, multi, checkpoint=checkpoint))
    shards = [p.name for p in (cache.dir / "shards").glob("*.npz")]
    assert any(s.startswith("rank000") for s in shards) and any(s.startswith("rank001") for s in shards)
    index = json.loads((cache.dir / "index.json").read_text())
    assert index["n_vectors"] == len(contigs) and len(index["shards"]) == len(shards)


FAILING_RANK = """
import os, sys
from taxometer_kd import embed, registry
builder = registry.get_teacher("go-100m").build
where = os.environ["FAIL_AT"]
if os.environ["RANK"] == os.environ["FAIL_RANK"]:
    def fail(*args, **kwargs):
        raise RuntimeError(f"injected failure in {where}")
    setattr(builder, where, fail)
sys.exit(embed.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("rank,where", [("0", "open_cache"), ("1", "compute")])
def test_a_failing_rank_ends_a_torchrun_job(tmp_path, checkpoint, contigs, rank, where):
    """Rank 0 failing before the first barrier (resolving the checkpoint, opening the cache),
    or rank 1 failing while the other embeds: both processes stop within seconds, with the
    error on the failing rank and, on the other, which rank failed."""
    import time

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    script = tmp_path / "failing_rank.py"
    script.write_text(FAILING_RANK)
    out = tmp_path / "emb"
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TAXOMETER_KD_DIST_TIMEOUT_HOURS="0.03",
        FAIL_RANK=rank,
        FAIL_AT=where,
    )
    env.pop("TAXOMETER_KD_DISABLE", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
        "--teacher",
        "go-100m",
        "--teacher-option",
        f"path={checkpoint}",
        "--fasta",
        str(fasta),
        "--out",
        str(out),
        "--min-length",
        "50",
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - start
    log = proc.stdout[-4000:] + proc.stderr[-6000:]
    assert proc.returncode != 0, log
    assert elapsed < 60, f"{elapsed:.0f} s: the ranks waited for the timeout\n{log}"
    other = 1 - int(rank)
    assert re.search(rf"\[rank {rank}/2\] injected failure in {where}", proc.stderr), log
    assert re.search(rf"\[rank {other}/2\] embed: rank {rank} failed while", proc.stderr), log
    ranks_log = proc.stderr.split("exitcode")[0]  # what the ranks wrote, before torchrun's own report
    assert "Traceback" not in ranks_log, log  # one ERROR line per rank
    assert not (out / "genomeocean").exists() or not list(out.rglob("index.json"))


# ---------------------------------------------------------------------------- the teacher
def test_teacher_gives_logits_and_trains(tmp_path, checkpoint):
    rng = np.random.default_rng(5)
    gcs = (0.25, 0.5, 0.75)  # three "genomes" told apart by composition
    seqs, labels = [], []
    for label, gc in enumerate(gcs):
        for _ in range(8):
            seqs.append(random_dna(rng, int(rng.integers(200, 900)), gc))
            labels.append(label)
    ctx = make_ctx(seqs, tmp_path / "cache", checkpoint=checkpoint, n_outputs=3, hidden="16", head_lr="0.01")
    teacher = spec().build(ctx)
    assert isinstance(teacher, EmbeddingHeadTeacher)
    assert teacher.learning_rate == 0.01 and teacher.embeddings().shape == (len(seqs), 32)
    idx = torch.arange(len(seqs))
    y = torch.tensor(labels)
    assert teacher(idx[:5]).shape == (5, 3)
    assert teacher.predict(idx).shape == (len(seqs), 3)
    opt = torch.optim.Adam(teacher.parameters(), lr=teacher.learning_rate, weight_decay=teacher.weight_decay)
    teacher.train()
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(teacher(idx), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    teacher.eval()
    assert (teacher.predict(idx).argmax(1) == y).float().mean() > 0.9
    # the paper's default head: lr 1e-4, (512, 512) hidden
    default = spec().build(make_ctx(seqs, tmp_path / "cache", checkpoint=checkpoint, n_outputs=7))
    assert default.learning_rate == 1e-4 and default(idx[:4]).shape == (4, 7)
    # cross-fitted heads on the same cached embeddings
    crossfit = spec().build(make_ctx(seqs, tmp_path / "cache", checkpoint=checkpoint, n_outputs=7, folds="4"))
    assert isinstance(crossfit, CrossFitHeadTeacher) and crossfit.folds == 4
    assert crossfit(idx[:4]).shape == (4, 7)


# ---------------------------------------------------------------------------- vamb taxometer, end to end
@pytest.mark.slow
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")),
    ],
)
def test_vamb_taxometer_with_a_local_checkpoint(tiny_data, tmp_path, checkpoint, device):
    """`vamb taxometer --teacher genomeocean-100m --teacher-option path=DIR`: the tiny checkpoint
    goes through the same loading, windowing and cache code as a real one; a second run finds
    every embedding in the cache and gives the same results."""
    from test_e2e import check_results_file, fasta_names, taxometer

    cache = tmp_path / "cache"

    def run(out):
        return taxometer(
            tiny_data,
            out,
            "--teacher",
            "genomeocean-100m",
            "--teacher-option",
            f"path={checkpoint}",
            "--teacher-option",
            "hidden=16",
            "--teacher-cache",
            str(cache),
            *(["--cuda"] if device == "cuda" else []),
        )

    first = run(tmp_path / "a")
    assert first.returncode == 0, first.stderr
    log = (tmp_path / "a" / "log.txt").read_text()
    assert "genomeocean-100m" in log and f"Device: {device}" in log
    assert re.search(r"0 of \d+ distinct contigs found in the embedding cache .*; computing \d+", log)
    for name in ("results_taxometer.tsv", "results_teacher.tsv"):
        check_results_file(tmp_path / "a" / name, fasta_names(tiny_data["fasta"]))
    assert list(cache.rglob("*.npz"))  # shards on disk
    second = run(tmp_path / "b")
    assert second.returncode == 0, second.stderr
    assert re.search(r"all \d+ distinct contigs found in the embedding cache", (tmp_path / "b" / "log.txt").read_text())
    if device == "cpu":  # same seed, same cached vectors: the same labels
        assert (tmp_path / "b" / "results_taxometer.tsv").read_text() == (
            tmp_path / "a" / "results_taxometer.tsv"
        ).read_text()
