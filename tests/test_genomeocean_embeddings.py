"""GenomeOcean teacher: whole-contig windows and batches, embeddings against a window-by-window reference.

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA (the session fixture ``checkpoint``, tests/conftest.py and genomeocean_helpers.py),
saved like a real checkpoint and loaded through ``--teacher-option path=DIR``: nothing comes
from the Hugging Face hub.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genomeocean_helpers import (  # noqa: E402
    CONTEXT,
    _offline,  # noqa: F401  (autouse: offline, a private HF cache, one thread)
    compute,
    make_ctx,
    spec,
)

from taxometer_kd_plugins import genomeocean as go  # noqa: E402


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
