#!/usr/bin/env python
"""Throughput of the GenomeOcean whole-contig embedding path, on random-weight models of the real shapes.

What is timed is the production code path: ``taxometer_kd_plugins.genomeocean.WindowEmbedder``
(windows of at most the model context framed by [CLS]/[SEP], length-sorted batches under
a token budget, right padding, masked mean pooling in fp32, window -> contig combination),
running a ``transformers`` ``MistralModel`` with random weights in bfloat16 on CUDA
(``flash_attention_2`` if ``flash_attn`` is installed, else ``sdpa``). Tokenization is not
timed: the contigs are random token ids (ids 4..4095; 0-3 are the special tokens) with
lengths drawn log-uniformly from 2-100 kb at 4.7 bp per token.

In the same run the GPU's bf16 matmul peak is measured (square ``torch.matmul`` loops,
n = 4096, 8192, 16384; the best is kept), and the model's achieved TFLOP/s is reported as
a share of it. Model FLOPs per run = 2 x (matmul parameters of the blocks) x (real tokens,
[CLS]/[SEP] included, padding excluded) + attention: per block and window of L tokens,
2 x L^2 x d for QK^T plus the same for AV, halved for causal attention (= 2 L^2 d). The
token-embedding lookup is not a matmul and no LM head runs (the embedding path uses the
base model), so neither is counted.

Shapes. GenomeOcean publishes its configs on the Hugging Face hub only, which this project
cannot reach; the shapes below are derived from what is public and stated as such:

* all: Mistral blocks, vocabulary 4096 (BPE), untied LM head; context 1024 (100M, 500M),
  10240 (4B) (GenomeOcean README; ``genomeocean/embedding.py`` MODEL_TOKEN_LIMITS);
  hidden 768 / 1536 / 3072 (given).
* 4B: the hub lists two safetensors shards of 4.99 + 3.52 GB (bf16: 4.255e9 parameters)
  and a ``model.safetensors.index.json`` of 18 kB, which is what a 24-block Mistral index
  measures (18,005 bytes; 22 blocks: 16.5 kB, 26 blocks: 19.5 kB). With 24 blocks and
  hidden 3072, 4.255e9 parameters are met exactly by intermediate 16384 and grouped-query
  attention with a K/V width of 1024: 24 blocks x 176.17e6 + 2 x 4096 x 3072 = 4.253e9
  (8.506 GB). Heads: 24 of 128 (8 K/V heads) -- 48 of 64 would give the same FLOPs.
* 500M: the hub lists one model.safetensors of 1.08 GB (bf16: ~540e6 parameters). The
  4B's proportions (intermediate 16/3 x hidden, K/V width hidden/3) at hidden 1536 give
  44.04e6 per block, and 12 blocks + embeddings + head = 541.1e6 (1.082 GB): 12 blocks,
  intermediate 8192, 12 heads of 128, 4 K/V heads.
* 100M: no file size was available. Assumed: 12 blocks, intermediate 3072 (4 x hidden),
  12 heads of 64 and 4 K/V heads: 103.8e6 block parameters, 110e6 in all. Unverified.

Usage::

    python benchmarks/embedding_throughput.py                  # GPU: 100m, 500m, 4b in bf16
    python benchmarks/embedding_throughput.py --models 500m    # the paper's teacher only
    python benchmarks/embedding_throughput.py --quick          # CPU smoke test (< 1 min)

``--quick`` runs the 100M shape with 2 blocks in float32 on the CPU over a few contigs
(2-10 kb), with a float32 matmul "peak" of n=1024. Results go to
``benchmarks/results/embedding_throughput_<device>.json``. Target on an H100: the 500M
shape at >= 40% of the measured bf16 peak.

The shapes, contigs and FLOP accounting are :mod:`benchmarks.embedding_shapes`, the matmul peak
and the timed model run :mod:`benchmarks.embedding_timing`; this module is the command.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))  # run from a checkout without installing, too
sys.path.insert(0, str(ROOT))

from benchmarks.embedding_shapes import BP_PER_TOKEN, DEFAULT_TOKENS, SHAPES  # noqa: E402
from benchmarks.embedding_timing import bench_model, device_slug, measure_peak  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=sorted(SHAPES), default=None)
    p.add_argument("--quick", action="store_true", help="CPU smoke test: 100M shape, 2 blocks, fp32, few contigs")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if CUDA is available")
    p.add_argument("--tokens", type=int, default=None, help="timed tokens per model (default depends on the model)")
    p.add_argument("--batch-tokens", type=int, default=None, help="token budget per batch [65536 CUDA, 8192 CPU]")
    p.add_argument("--dtype", choices=("auto", "bfloat16", "float32"), default="auto")
    p.add_argument(
        "--no-mask",
        action="store_true",
        help="do not pass the padding mask (same vectors for a causal model; SDPA keeps its flash path)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="JSON output (default benchmarks/results/...)")
    args = p.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() and not (args.cpu or args.quick) else "cpu")
    if args.dtype == "auto":
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    else:
        dtype = getattr(torch, args.dtype)
    attn = "sdpa"
    if device.type == "cuda" and dtype != torch.float32:
        import importlib.util

        if importlib.util.find_spec("flash_attn") is not None:
            attn = "flash_attention_2"
    batch_tokens = args.batch_tokens or (65536 if device.type == "cuda" else 8192)
    models = args.models or (["100m"] if args.quick else ["100m", "500m", "4b"])

    print(
        f"device: {device} ({device_slug(device)}), dtype {str(dtype).replace('torch.', '')}, attention {attn}, "
        f"torch {torch.__version__}",
        flush=True,
    )
    if args.quick:
        peak = measure_peak(device, dtype, (1024,), seconds=0.5)
    elif device.type == "cuda":
        peak = measure_peak(device, dtype, (4096, 8192, 16384), seconds=1.0)
    else:
        peak = measure_peak(device, dtype, (1024, 2048), seconds=1.0)
    print(
        f"measured matmul peak: {peak['tflops']:.2f} TFLOP/s ({str(dtype).replace('torch.', '')}, n={peak['n']})",
        flush=True,
    )

    results = []
    for name in models:
        if args.quick:
            r = bench_model(
                name,
                SHAPES[name],
                device=device,
                dtype=dtype,
                attn=attn,
                total_tokens=args.tokens or 4_000,
                batch_tokens=batch_tokens,
                seed=args.seed,
                layers=2,
                min_bp=2_000,
                max_bp=10_000,
                mask_padding=not args.no_mask,
            )
        else:
            r = bench_model(
                name,
                SHAPES[name],
                device=device,
                dtype=dtype,
                attn=attn,
                total_tokens=args.tokens or DEFAULT_TOKENS[name],
                batch_tokens=batch_tokens,
                seed=args.seed,
                mask_padding=not args.no_mask,
            )
        r["share_of_peak"] = r["achieved_tflops"] / peak["tflops"]
        results.append(r)
        print(
            f"{name:>5} ({r['shape']['num_hidden_layers']} blocks, {r['parameters'] / 1e6:,.1f} M params): "
            f"{r['tokens_per_s']:,.0f} tokens/s (~{r['bp_per_s_estimate'] / 1e6:,.2f} Mbp/s), "
            f"{r['contigs_per_s']:,.1f} contigs/s, {r['achieved_tflops']:.2f} TFLOP/s = "
            f"{100 * r['share_of_peak']:.1f}% of measured peak "
            f"[{r['contigs']} contigs, {r['windows']} windows, {r['tokens']:,} tokens, "
            f"padding +{100 * r['padding_overhead']:.1f}%, {r['seconds']:.2f} s"
            + (f", {r['peak_memory_gib']:.1f} GiB" if "peak_memory_gib" in r else "")
            + "]",
            flush=True,
        )

    import transformers

    report = {
        "benchmark": "embedding_throughput",
        "mode": "quick" if args.quick else "full",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_threads": torch.get_num_threads(),
        "bp_per_token": BP_PER_TOKEN,
        "peak": {"dtype": str(dtype).replace("torch.", ""), **peak},
        "flop_accounting": "2 x block matmul parameters x real tokens (incl. CLS/SEP, excl. padding) "
        "+ causal attention 2 x L^2 x d per block and window",
        "results": results,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    suffix = "_nomask" if args.no_mask else ""
    out = args.out or ROOT / "benchmarks" / "results" / f"embedding_throughput_{device_slug(device)}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
