"""``taxometer-kd embed``: fill a teacher's embedding cache without training.

::

    taxometer-kd embed --teacher genomeocean-500m --fasta contigs.fna.gz --out CACHE [--cuda]
    torchrun --nproc-per-node 4 -m taxometer_kd embed --teacher go-4b --fasta contigs.fna --out CACHE --cuda

Then train with ``--teacher-cache CACHE`` and the same teacher options: the teacher finds
every contig's vector in the cache (by sequence hash) and computes nothing.

Under ``torchrun`` each process joins a process group (gloo on CPU, nccl with ``--cuda``;
``LOCAL_RANK`` picks the GPU). Every rank streams the FASTA once for the contigs' hashes
and scans the cache; the contigs still missing are split across ranks by size (greedy,
longest first, onto the least loaded rank: the token count of a contig is proportional to
its length); each rank streams the FASTA again for the DNA of its own share, writes its own
shards, and rank 0 writes the cache's ``index.json`` once all ranks are done. The vectors
are the same as with one process.

Each phase ends at a barrier that carries every rank's status: when a rank fails, every rank
stops at the end of that phase, the others saying which rank failed (no rank waits for the
process group's timeout). Shards already written are kept; a rerun computes the rest.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from taxometer_kd.distributed import DistInfo, failed_ranks, init_distributed, split_by_size
from taxometer_kd.errors import KDError


def add_embed_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--teacher", required=True, help="teacher name or alias (see `taxometer-kd teachers`)")
    parser.add_argument(
        "--teacher-option",
        dest="teacher_option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a teacher option (repeatable), as for training",
    )
    parser.add_argument("--fasta", required=True, type=Path, help="contigs (FASTA, may be gzipped)")
    parser.add_argument(
        "--out", required=True, type=Path, help="embedding cache directory; pass it to training as --teacher-cache"
    )
    parser.add_argument("--min-length", type=int, default=2000, help="skip contigs shorter than this many bp [2000]")
    parser.add_argument("--cuda", action="store_true", help="embed on the GPU (LOCAL_RANK's under torchrun)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taxometer-kd embed",
        description="Fill a teacher's embedding cache without training (one process, or one per GPU under torchrun).",
    )
    return add_embed_arguments(parser)


class RankFailed(RuntimeError):
    """A rank failed under ``torchrun``; raised on every rank, each having logged why."""


#: what ``main`` reports as one ERROR line (anything else: with its traceback)
USER_ERRORS = (KDError, ValueError, KeyError, FileNotFoundError, RuntimeError, ImportError)


def _step(info: DistInfo, what: str, fn: Callable[[], Any]) -> Any:
    """Run one phase ``fn`` on this rank, then a barrier that carries its real status.

    A failure is held until the barrier, so every rank reaches every barrier (a rank that
    raised straight away would leave the others waiting at the next one until the process
    group's timeout). If any rank failed, every rank logs it (the failing rank its error,
    the others which rank failed), meets the others once more, so that every message is out
    before torchrun stops the group, and raises :class:`RankFailed`.
    """
    if not info.active:
        return fn()
    from loguru import logger

    try:
        result, error = fn(), None
    except Exception as exc:
        result, error = None, exc
    failed = failed_ranks(info, error is None)
    if not failed:
        return result
    ranks = f"rank{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))}"
    if error is None:
        logger.error(
            f"embed: {ranks} failed while {what} (see its error); stopping. "
            "The shards written so far are kept for a rerun"
        )
    elif isinstance(error, USER_ERRORS):
        logger.error(str(error))
    else:
        logger.opt(exception=error).error(f"embed: unexpected error while {what}: {type(error).__name__}: {error}")
    failed_ranks(info, True)
    raise RankFailed(f"embed: {ranks} failed while {what}") from error


class _FastaRows:
    """The records of ``fasta`` (those of at least ``min_length`` bp, numbered in file order)
    listed in ``rows`` (record number -> row), streamed as ``(row, DNA)``: one pass over the
    file, holding no other record's DNA."""

    def __init__(
        self, fasta: Path, min_length: int, rows: dict[int, int], identifiers: Sequence[str], lengths: Sequence[int]
    ):
        self.fasta, self.min_length, self.rows = fasta, min_length, rows
        self.identifiers = list(identifiers)
        self.lengths = np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.identifiers)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        from taxometer_kd.io import iter_fasta

        seen = 0
        for k, (name, seq) in enumerate(iter_fasta(self.fasta, self.min_length)):
            row = self.rows.get(k)
            if row is None:
                continue
            if name != self.identifiers[row] or len(seq) != self.lengths[row]:
                raise KDError(f"{self.fasta} changed while it was being read (record {k + 1}, {name!r})")
            seen += 1
            yield row, seq
        if seen != len(self.rows):
            raise KDError(f"{self.fasta} changed while it was being read ({seen} of {len(self.rows)} records found)")


def run_embed(args: argparse.Namespace) -> dict[str, Any]:
    """Fill the cache for ``args`` (see :func:`add_embed_arguments`); returns a summary.

    The FASTA is streamed twice (hashes and lengths; then the DNA of the contigs this
    process computes), never held in memory whole. Under torchrun every phase ends at a
    barrier that carries each rank's status (:func:`_step`): a failing rank stops them all.
    """
    import torch
    from loguru import logger

    from taxometer_kd import registry
    from taxometer_kd.cache import CachedFeatureBuilder, sequence_hash
    from taxometer_kd.io import InMemoryContigs, iter_fasta
    from taxometer_kd.options import parse_key_values
    from taxometer_kd.teachers.base import TeacherContext

    info = init_distributed(args.cuda)
    if info.world > 1:
        tag = f"[rank {info.rank}/{info.world}] "
        logger.configure(patcher=lambda record: record.update({"message": tag + record["message"]}))
    try:
        t0 = time.monotonic()

        def setup():
            spec = registry.get_teacher(args.teacher)
            if not isinstance(spec.build, CachedFeatureBuilder):
                raise ValueError(
                    f"teacher {spec.name!r} has no frozen per-contig embeddings to precompute; "
                    "`embed` works with teachers built on taxometer_kd.cache.CachedFeatureBuilder"
                )
            options = spec.validate_options(parse_key_values(args.teacher_option))
            if args.cuda and not torch.cuda.is_available():
                raise RuntimeError("--cuda was given but CUDA is not available")
            device = torch.device("cuda", info.local_rank) if args.cuda else torch.device("cpu")
            return spec.build, options, device

        builder, options, device = _step(info, "setting up", setup)
        # The cache's identity needs the options and the device only, no contigs.
        probe = TeacherContext(
            contigs=InMemoryContigs([]), n_outputs=0, options=options, device=device, cache_dir=Path(args.out)
        )
        # Rank 0 resolves (and downloads, if it has to) the checkpoint first; then the others.
        cache = _step(
            info, "opening the cache on rank 0", lambda: builder.open_cache(probe) if info.rank == 0 else None
        )

        def scan():
            names, lengths, hashes = [], [], []
            for name, seq in iter_fasta(args.fasta, args.min_length):
                names.append(name)
                lengths.append(len(seq))
                hashes.append(sequence_hash(seq))
            logger.info(f"embed: {len(hashes)} contigs of >= {args.min_length} bp in {args.fasta}")
            first: dict[str, int] = {}
            for i, h in enumerate(hashes):
                first.setdefault(h, i)
            opened = cache if cache is not None else builder.open_cache(probe)
            return opened, names, lengths, first, opened.missing(first)

        # Every rank has scanned the cache before any rank writes to it.
        cache, names, lengths, first, todo = _step(info, "reading the FASTA and scanning the cache", scan)
        parts = split_by_size([lengths[first[h]] for h in todo], info.world)
        mine = [todo[j] for j in parts[info.rank]]
        logger.info(
            f"embed: {len(first) - len(todo)} of {len(first)} distinct contigs already cached; "
            f"{len(todo)} to compute, {len(mine)} ({sum(lengths[first[h]] for h in mine):,} bp) by this process"
        )
        rows = _FastaRows(
            args.fasta,
            args.min_length,
            {first[h]: j for j, h in enumerate(mine)},
            [names[first[h]] for h in mine],
            [lengths[first[h]] for h in mine],
        )
        sub = TeacherContext(contigs=rows, n_outputs=0, options=options, device=device, cache_dir=Path(args.out))
        stats = _step(
            info,
            "embedding",
            lambda: builder.fill_cache(sub, cache=cache, shard_prefix=f"rank{info.rank:03d}", hashes=mine),
        )
        summary = {
            "cache_dir": str(cache.dir),
            "contigs": len(names),
            "distinct": len(first),
            "cached_before": len(first) - len(todo),
            "computed": len(todo),
            "computed_here": stats.n_computed,
            "rank": info.rank,
            "world": info.world,
            "seconds": time.monotonic() - t0,
            "stats": stats.extra,
        }

        def finish():
            if info.rank != 0:
                return
            cache.refresh()
            absent = cache.missing(first)
            if absent:
                raise RuntimeError(f"embed: {len(absent)} contigs are still missing from {cache.dir}")
            index = cache.write_index()
            logger.info(
                f"embed: done: {len(first)} distinct contigs in {cache.dir} ({len(todo)} computed, "
                f"{summary['seconds']:.1f} s); index {index.name}. Train with --teacher-cache {args.out}"
            )

        _step(info, "writing the index on rank 0", finish)
        return summary
    finally:
        if info.active:
            import torch.distributed as dist

            dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    import vamb  # noqa: F401  (importing vamb removes loguru's handlers: add ours after it)
    from loguru import logger

    logger.remove()
    handler = logger.add(sys.stderr, level="INFO", format="{time:YYYY-MM-DD HH:mm:ss} | {level: <7} | {message}")
    code = 0
    try:
        run_embed(args)
    except RankFailed:  # every rank has logged its part already
        code = 1
    except USER_ERRORS as exc:
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
