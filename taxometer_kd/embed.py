"""``taxometer-kd embed``: fill a teacher's embedding cache without training.

::

    taxometer-kd embed --teacher genomeocean-500m --fasta contigs.fna.gz --out CACHE [--cuda]
    torchrun --nproc-per-node 4 -m taxometer_kd embed --teacher go-4b --fasta contigs.fna --out CACHE --cuda

Then train with ``--teacher-cache CACHE`` and the same teacher options: the teacher finds
every contig's vector in the cache (by sequence hash) and computes nothing.

Under ``torchrun`` each process joins a process group (gloo on CPU, nccl with ``--cuda``;
``LOCAL_RANK`` picks the GPU). Every rank reads the FASTA and scans the cache; the contigs
still missing are split across ranks by size (greedy, longest first, onto the least loaded
rank: the token count of a contig is proportional to its length); each rank writes its own
shards, and rank 0 writes the cache's ``index.json`` once all ranks are done. The vectors
are the same as with one process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from taxometer_kd.distributed import all_ok, init_distributed, split_by_size


def add_embed_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--teacher", required=True, help="teacher name or alias (see `taxometer-kd teachers`)")
    parser.add_argument("--teacher-option", dest="teacher_option", action="append", default=[],
                        metavar="KEY=VALUE", help="a teacher option (repeatable), as for training")
    parser.add_argument("--fasta", required=True, type=Path, help="contigs (FASTA, may be gzipped)")
    parser.add_argument("--out", required=True, type=Path,
                        help="embedding cache directory; pass it to training as --teacher-cache")
    parser.add_argument("--min-length", type=int, default=2000,
                        help="skip contigs shorter than this many bp [2000]")
    parser.add_argument("--cuda", action="store_true", help="embed on the GPU (LOCAL_RANK's under torchrun)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taxometer-kd embed",
        description="Fill a teacher's embedding cache without training (one process, or one per GPU under torchrun).",
    )
    return add_embed_arguments(parser)


def run_embed(args: argparse.Namespace) -> dict[str, Any]:
    """Fill the cache for ``args`` (see :func:`add_embed_arguments`); returns a summary."""
    import torch
    from loguru import logger

    from taxometer_kd import registry
    from taxometer_kd.cache import CachedFeatureBuilder, sequence_hash
    from taxometer_kd.io import InMemoryContigs, read_fasta
    from taxometer_kd.options import parse_key_values
    from taxometer_kd.teachers.base import TeacherContext

    info = init_distributed(args.cuda)
    if info.world > 1:
        tag = f"[rank {info.rank}/{info.world}] "
        logger.configure(patcher=lambda record: record.update(message=tag + record["message"]))
    try:
        spec = registry.get_teacher(args.teacher)
        builder = spec.build
        if not isinstance(builder, CachedFeatureBuilder):
            raise ValueError(
                f"teacher {spec.name!r} has no frozen per-contig embeddings to precompute; "
                "`embed` works with teachers built on taxometer_kd.embedding_cache.CachedFeatureBuilder"
            )
        options = spec.validate_options(parse_key_values(args.teacher_option))
        if args.cuda and not torch.cuda.is_available():
            raise RuntimeError("--cuda was given but CUDA is not available")
        device = torch.device("cuda", info.local_rank) if args.cuda else torch.device("cpu")

        t0 = time.monotonic()
        names, seqs = read_fasta(args.fasta, args.min_length)
        logger.info(f"embed: {len(seqs)} contigs of >= {args.min_length} bp in {args.fasta}")
        ctx = TeacherContext(
            contigs=InMemoryContigs(seqs, names), n_outputs=0, options=options, device=device,
            cache_dir=Path(args.out),
        )
        # Rank 0 resolves (and downloads, if it has to) first; then the others.
        if info.rank == 0:
            cache = builder.open_cache(ctx)
        all_ok(info, True)
        if info.rank != 0:
            cache = builder.open_cache(ctx)
        hashes = [sequence_hash(s) for s in seqs]
        first: dict[str, int] = {}
        for i, h in enumerate(hashes):
            first.setdefault(h, i)
        todo = cache.missing(first)
        # Every rank has scanned the cache before any rank writes to it.
        all_ok(info, True)
        parts = split_by_size([len(seqs[first[h]]) for h in todo], info.world)
        mine = [todo[j] for j in parts[info.rank]]
        logger.info(
            f"embed: {len(first) - len(todo)} of {len(first)} distinct contigs already cached; "
            f"{len(todo)} to compute, {len(mine)} ({sum(len(seqs[first[h]]) for h in mine):,} bp) by this process"
        )
        sub = TeacherContext(
            contigs=InMemoryContigs([seqs[first[h]] for h in mine], [names[first[h]] for h in mine]),
            n_outputs=0, options=options, device=device, cache_dir=Path(args.out),
        )
        ok = False
        try:
            stats = builder.fill_cache(sub, cache=cache, shard_prefix=f"rank{info.rank:03d}", hashes=mine)
            ok = True
        finally:
            everyone_ok = all_ok(info, ok)
        if not everyone_ok:
            raise RuntimeError("embed: another rank failed; the shards written so far are kept for a rerun")
        summary = {
            "cache_dir": str(cache.dir), "contigs": len(seqs), "distinct": len(first),
            "cached_before": len(first) - len(todo), "computed": len(todo),
            "computed_here": stats.n_computed, "rank": info.rank, "world": info.world,
            "seconds": time.monotonic() - t0, "stats": stats.extra,
        }
        if info.rank == 0:
            cache.refresh()
            absent = cache.missing(first)
            if absent:
                raise RuntimeError(f"embed: {len(absent)} contigs are still missing from {cache.dir}")
            index = cache.write_index()
            logger.info(
                f"embed: done: {len(first)} distinct contigs in {cache.dir} ({len(todo)} computed, "
                f"{summary['seconds']:.1f} s); index {index.name}. Train with --teacher-cache {args.out}"
            )
        all_ok(info, True)
        return summary
    finally:
        if info.active:
            import torch.distributed as dist

            dist.destroy_process_group()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    import vamb  # noqa: F401  (importing vamb removes loguru's handlers: add ours after it)
    from loguru import logger

    from taxometer_kd.errors import KDError

    logger.remove()
    handler = logger.add(sys.stderr, level="INFO", format="{time:YYYY-MM-DD HH:mm:ss} | {level: <7} | {message}")
    code = 0
    try:
        run_embed(args)
    except (KDError, ValueError, KeyError, FileNotFoundError, RuntimeError, ImportError) as exc:
        logger.error(str(exc))
        code = 1
    finally:
        logger.remove(handler)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Under torchrun, gloo's C++ worker threads can abort the process ("terminate called
        # without an active exception", SIGABRT) while the interpreter finalises, after all the
        # work is written and the process group destroyed; seen once in four 2-rank runs here.
        # Leave without finalisation instead: the shards and the index are already on disk.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
