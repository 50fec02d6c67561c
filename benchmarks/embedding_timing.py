"""The timing of :mod:`benchmarks.embedding_throughput`: the device's name, its measured matmul peak,
and one model's run through ``WindowEmbedder`` (warm-up, timed contigs, the result record).
"""

from __future__ import annotations

import re
import time

import numpy as np
import torch

from benchmarks.embedding_shapes import (
    BP_PER_TOKEN,
    CLS,
    PAD,
    SEP,
    VOCAB,
    make_contigs,
    matmul_params,
    model_flops,
    window_lengths,
)
from taxometer_kd_plugins.genomeocean import WindowEmbedder


def device_slug(device: torch.device) -> str:
    if device.type != "cuda":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_peak(device: torch.device, dtype: torch.dtype, sizes, seconds: float = 1.0) -> dict:
    """Best square-matmul throughput (TFLOP/s) over ``sizes``."""
    best = {"tflops": 0.0}
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        c = torch.empty(n, n, device=device, dtype=dtype)
        for _ in range(3):
            torch.matmul(a, b, out=c)
        _sync(device)
        t = time.perf_counter()
        torch.matmul(a, b, out=c)
        _sync(device)
        once = max(time.perf_counter() - t, 1e-6)
        iters = max(3, int(seconds / once))
        _sync(device)
        t = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, b, out=c)
        _sync(device)
        dt = time.perf_counter() - t
        tflops = 2 * n**3 * iters / dt / 1e12
        if tflops > best["tflops"]:
            best = {"tflops": tflops, "n": n, "iters": iters, "seconds": dt}
        del a, b, c
    return best


def bench_model(
    name: str,
    shape: dict,
    *,
    device,
    dtype,
    attn,
    total_tokens,
    batch_tokens,
    seed,
    layers=None,
    min_bp=2_000,
    max_bp=100_000,
    mask_padding=True,
) -> dict:
    from transformers import MistralConfig, MistralModel

    shape = dict(shape)
    if layers:
        shape["num_hidden_layers"] = layers
    cfg = MistralConfig(
        vocab_size=VOCAB,
        sliding_window=None,
        pad_token_id=PAD,
        bos_token_id=CLS,
        eos_token_id=SEP,
        tie_word_embeddings=False,
        **shape,
    )
    torch.manual_seed(seed)
    try:
        with torch.device(device):
            model = MistralModel._from_config(cfg, dtype=dtype, attn_implementation=attn)
    except (ImportError, ValueError) as exc:  # e.g. a flash_attn build that does not fit
        if attn == "sdpa":
            raise
        print(f"{attn} unavailable ({exc}); using sdpa", flush=True)
        with torch.device(device):
            model = MistralModel._from_config(cfg, dtype=dtype, attn_implementation="sdpa")
    model.requires_grad_(False)
    model.eval()
    context = cfg.max_position_embeddings
    emb = WindowEmbedder(
        model,
        context=context,
        layer=cfg.num_hidden_layers,
        pooling="mean",
        batch_tokens=batch_tokens,
        cls_id=CLS,
        sep_id=SEP,
        pad_id=PAD,
        device=device,
        name=name,
        log_seconds=1e9,
        mask_padding=mask_padding,
    )
    rng = np.random.default_rng(seed)
    sink = []

    def emit(i, v):
        sink.append(v)

    # warm-up: a full-context window, a short one, and a padded batch
    warm = [rng.integers(4, VOCAB, size=n, dtype=np.int64) for n in (3 * (context - 2), 300, 301, 1000)]
    emb.embed(warm, emit)
    _sync(device)

    contigs = make_contigs(rng, total_tokens, min_bp, max_bp)
    for key in emb.stats:
        emb.stats[key] = 0
    sink.clear()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t = time.perf_counter()
    emb.embed(contigs, emit)
    _sync(device)
    dt = time.perf_counter() - t
    assert len(sink) == len(contigs) and all(np.isfinite(v).all() for v in sink)

    wl = window_lengths(contigs, context)
    assert int(wl.sum()) == emb.stats["tokens"]
    mm, at = model_flops(cfg, wl)
    result = {
        "model": name,
        "shape": {
            k: getattr(cfg, k)
            for k in (
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "head_dim",
                "intermediate_size",
                "max_position_embeddings",
                "vocab_size",
            )
        },
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "matmul_parameters": matmul_params(cfg),
        "dtype": str(dtype).replace("torch.", ""),
        "attention": model.config._attn_implementation,
        "batch_tokens": batch_tokens,
        "mask_padding": mask_padding,
        "contigs": len(contigs),
        "contig_bp_range": [min_bp, max_bp],
        "windows": emb.stats["windows"],
        "batches": emb.stats["batches"],
        "tokens": emb.stats["tokens"],
        "padded_tokens": emb.stats["padded_tokens"],
        "padding_overhead": emb.stats["padded_tokens"] / emb.stats["tokens"] - 1,
        "seconds": dt,
        "tokens_per_s": emb.stats["tokens"] / dt,
        "bp_per_s_estimate": emb.stats["tokens"] / dt * BP_PER_TOKEN,
        "contigs_per_s": len(contigs) / dt,
        "matmul_tflop": mm / 1e12,
        "attention_tflop": at / 1e12,
        "achieved_tflops": (mm + at) / dt / 1e12,
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    del emb, model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result
