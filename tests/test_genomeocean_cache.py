"""GenomeOcean teacher: the embedding cache (reuse, resume, keys, atomic shards), attention and dtype.

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA (the session fixture ``checkpoint``, tests/conftest.py and genomeocean_helpers.py),
saved like a real checkpoint and loaded through ``--teacher-option path=DIR``: nothing comes
from the Hugging Face hub.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genomeocean_helpers import (  # noqa: E402
    CONTEXT,
    _offline,  # noqa: F401  (autouse: offline, a private HF cache, one thread)
    compute,
    load_cached,
    make_ctx,
    spec,
    write_fasta,
)

from taxometer_kd.cache import (  # noqa: E402
    EmbeddingCache,
    default_cache_root,
    sequence_hash,
)
from taxometer_kd_plugins import genomeocean as go  # noqa: E402


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
