"""The models and the work of :mod:`benchmarks.embedding_throughput`: the GenomeOcean shapes (see
that module for where they come from), the token ids, random contigs, and the FLOP accounting
(block matmuls and causal attention over the windows' real lengths).
"""

from __future__ import annotations

import math

import numpy as np

from taxometer_kd_plugins.genomeocean import split_windows

VOCAB = 4096
BP_PER_TOKEN = 4.7
PAD, UNK, CLS, SEP = 0, 1, 2, 3

SHAPES = {
    "100m": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        intermediate_size=3072,
        max_position_embeddings=1024,
    ),
    "500m": dict(
        hidden_size=1536,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        intermediate_size=8192,
        max_position_embeddings=1024,
    ),
    "4b": dict(
        hidden_size=3072,
        num_hidden_layers=24,
        num_attention_heads=24,
        num_key_value_heads=8,
        intermediate_size=16384,
        max_position_embeddings=10240,
    ),
}
DEFAULT_TOKENS = {"100m": 6_000_000, "500m": 3_000_000, "4b": 600_000}  # timed tokens per model


def make_contigs(rng: np.random.Generator, total_tokens: int, min_bp: int, max_bp: int) -> list[np.ndarray]:
    out, n = [], 0
    while n < total_tokens:
        bp = math.exp(rng.uniform(math.log(min_bp), math.log(max_bp)))
        k = max(1, round(bp / BP_PER_TOKEN))
        out.append(rng.integers(4, VOCAB, size=k, dtype=np.int64))
        n += k
    return out


def matmul_params(cfg) -> int:
    h, hq = cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim
    kv = cfg.num_key_value_heads * cfg.head_dim
    return cfg.num_hidden_layers * (h * hq + 2 * h * kv + hq * h + 3 * h * cfg.intermediate_size)


def model_flops(cfg, window_lengths: np.ndarray) -> tuple[float, float]:
    """(matmul FLOPs, causal attention FLOPs) for windows of the given real lengths."""
    tokens = float(window_lengths.sum())
    hq = cfg.num_attention_heads * cfg.head_dim
    attn = cfg.num_hidden_layers * 2.0 * hq * float((window_lengths.astype(np.float64) ** 2).sum())
    return 2.0 * matmul_params(cfg) * tokens, attn


def window_lengths(contigs, context: int) -> np.ndarray:
    return np.array([length + 2 for c in contigs for _, length in split_windows(len(c), context - 2)])
