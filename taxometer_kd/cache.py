"""A content-addressed, resumable on-disk cache of per-contig frozen embeddings.

Any teacher whose per-contig features come from a frozen model (GenomeOcean, k-mer
profiles, ...) can use it: the features are computed once, stored, and later runs (and
later *different* runs over other assemblies) reuse them.

Layout under a cache root (``--teacher-cache DIR``, default
``$XDG_CACHE_HOME/taxometer-kd`` or ``~/.cache/taxometer-kd``)::

    ROOT/<namespace>/<key>/key.json        what the vectors depend on (the identity, below)
    ROOT/<namespace>/<key>/shards/*.npz    the vectors: each shard holds ``hashes`` (n,) S32,
                                           ``vectors`` (n, d) float32 and ``meta`` (JSON text)
    ROOT/<namespace>/<key>/index.json      a manifest of the shards (written at the end of a run)

``<namespace>`` names the teacher family (``genomeocean``); ``<key>`` is a hash of the
*identity*: a JSON-able dict of everything the vectors depend on (model weights
fingerprint, layer, pooling, window size, algorithm version, ...). Two runs with the same
identity share vectors; anything that changes the numbers must change the identity.

Vectors are found by the hash of the contig's DNA (:func:`sequence_hash`, case-insensitive),
never by its name, so the same contig under another name, or in another run or assembly,
hits the cache.

Every shard is written to a temporary file and moved into place with :func:`os.replace`,
so a shard is either absent or complete. The shard files themselves are the source of
truth: a run that was killed leaves the shards it finished (but no updated index), and the
next run reads every ``*.npz`` under ``shards/`` and computes only what is missing.
Processes writing at the same time (one per rank under ``torchrun``) each write their own
uniquely named shards; no file is ever written by two processes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taxometer_kd.io import atomic_write_bytes

CACHE_FORMAT = 1
_SHARD_COUNTER = itertools.count()
_HASH_BYTES = 16  # blake2b-128, hex: 32 characters


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/taxometer-kd``, else ``~/.cache/taxometer-kd``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "taxometer-kd"


def sequence_hash(seq: bytes | bytearray | str) -> str:
    """Content hash of a contig's DNA (upper-cased first): 32 hex characters."""
    if isinstance(seq, str):
        seq = seq.encode()
    return hashlib.blake2b(bytes(seq).upper(), digest_size=_HASH_BYTES).hexdigest()


def identity_key(identity: dict[str, Any]) -> str:
    """The directory name for an identity: 24 hex characters of its canonical JSON's sha256."""
    canon = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:24]


def _atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


@dataclass
class _Entry:
    shard: str
    row: int


class EmbeddingCache:
    """The cached vectors of one identity (one model configuration).

    ``provenance`` is recorded in ``key.json`` for humans (where the model came from) but is
    not part of the key.
    """

    def __init__(
        self,
        root: Path | str | None,
        namespace: str,
        identity: dict[str, Any],
        provenance: dict[str, Any] | None = None,
    ):
        self.root = Path(root) if root is not None else default_cache_root()
        self.namespace = namespace
        self.identity = dict(identity)
        self.key = identity_key(self.identity)
        self.dir = self.root / namespace / self.key
        self.shard_dir = self.dir / "shards"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.dir / "key.json"
        if not key_file.exists():
            _atomic_write_json(
                key_file,
                {
                    "format": CACHE_FORMAT,
                    "namespace": namespace,
                    "key": self.key,
                    "identity": self.identity,
                    "provenance": provenance or {},
                },
            )
        self._entries: dict[str, _Entry] = {}
        self._shard_sizes: dict[str, int] = {}
        self._unreadable: set[str] = set()
        self.dim: int | None = None
        self.refresh()

    # ------------------------------------------------------------------ reading
    def shard_files(self) -> list[Path]:
        return sorted(p for p in self.shard_dir.glob("*.npz") if not p.name.startswith("."))

    def refresh(self) -> None:
        """(Re-)read the hashes of every shard on disk (cheap: vectors are not loaded)."""
        for path in self.shard_files():
            if path.name in self._shard_sizes or path.name in self._unreadable:
                continue
            try:
                with np.load(path, allow_pickle=False) as z:
                    hashes = z["hashes"]
                    shape = z["vectors"].shape if self.dim is None else None
            except Exception as exc:  # not ours, or damaged outside our control: recompute its contigs
                from loguru import logger

                logger.warning(f"embedding cache: skipping unreadable shard {path} ({type(exc).__name__}: {exc})")
                self._unreadable.add(path.name)
                continue
            if shape is not None:
                self.dim = int(shape[1])
            self._shard_sizes[path.name] = len(hashes)
            for row, h in enumerate(hashes):
                self._entries.setdefault(h.decode(), _Entry(path.name, row))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, seq_hash: str) -> bool:
        return seq_hash in self._entries

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """The hashes (in order, without repeats) that have no vector yet."""
        seen: set[str] = set()
        out = []
        for h in hashes:
            if h not in self._entries and h not in seen:
                seen.add(h)
                out.append(h)
        return out

    def get(self, hashes: Sequence[str]) -> np.ndarray:
        """The vectors of ``hashes`` as an (n, d) float32 matrix, in the given order."""
        absent = [h for h in hashes if h not in self._entries]
        if absent:
            raise KeyError(f"{len(absent)} of {len(hashes)} sequences are not in the cache {self.dir}")
        if not hashes:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for i, h in enumerate(hashes):
            e = self._entries[h]
            by_shard.setdefault(e.shard, []).append((i, e.row))
        out = np.empty((len(hashes), self.dim or 0), dtype=np.float32)
        for shard, pairs in by_shard.items():
            with np.load(self.shard_dir / shard, allow_pickle=False) as z:
                vectors = z["vectors"]
            dst, rows = zip(*pairs)
            out[list(dst)] = vectors[list(rows)]
        return out

    # ------------------------------------------------------------------ writing
    def write_shard(
        self, hashes: Sequence[str], vectors: np.ndarray, prefix: str = "r0", meta: dict[str, Any] | None = None
    ) -> Path:
        """Write one shard atomically and make its vectors visible to :meth:`get`."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(hashes):
            raise ValueError(f"expected {len(hashes)} vectors, got an array of shape {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("refusing to cache NaN or infinite embeddings")
        if self.dim is not None and vectors.shape[1] != self.dim:
            raise ValueError(f"vector width {vectors.shape[1]} differs from the cache's {self.dim}")
        name = f"{prefix}-{time.time_ns():020d}-{os.getpid()}-{next(_SHARD_COUNTER):05d}.npz"
        buf = io.BytesIO()
        np.savez(
            buf,
            hashes=np.array([h.encode() for h in hashes], dtype=f"S{2 * _HASH_BYTES}"),
            vectors=vectors,
            meta=np.array(json.dumps(meta or {}, sort_keys=True, default=str)),
        )
        path = self.shard_dir / name
        atomic_write_bytes(path, buf.getvalue())
        self.dim = int(vectors.shape[1])
        self._shard_sizes[name] = len(hashes)
        for row, h in enumerate(hashes):
            self._entries.setdefault(h, _Entry(name, row))
        return path

    def writer(
        self, prefix: str = "r0", shard_size: int = 4096, max_seconds: float = 300.0, meta: dict[str, Any] | None = None
    ) -> ShardWriter:
        return ShardWriter(self, prefix=prefix, shard_size=shard_size, max_seconds=max_seconds, meta=meta)

    def write_index(self) -> Path:
        """Re-scan the shards and write ``index.json`` (a manifest; the shards stay the truth)."""
        self.refresh()
        index = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "dim": self.dim,
            "n_vectors": len(self._entries),
            "shards": [{"file": n, "n": self._shard_sizes[n]} for n in sorted(self._shard_sizes)],
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        path = self.dir / "index.json"
        _atomic_write_json(path, index)
        return path


class ShardWriter:
    """Buffers vectors and writes a shard every ``shard_size`` vectors or ``max_seconds``."""

    def __init__(
        self,
        cache: EmbeddingCache,
        prefix: str,
        shard_size: int,
        max_seconds: float,
        meta: dict[str, Any] | None = None,
    ):
        self.cache = cache
        self.prefix = prefix
        self.shard_size = max(1, int(shard_size))
        self.max_seconds = max_seconds
        self.meta = meta
        self._hashes: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._since = time.monotonic()
        self.n_written = 0
        self.shards: list[Path] = []

    def add(self, seq_hash: str, vector: np.ndarray) -> None:
        self._hashes.append(seq_hash)
        self._vectors.append(np.asarray(vector, dtype=np.float32).reshape(-1))
        if len(self._hashes) >= self.shard_size or time.monotonic() - self._since >= self.max_seconds:
            self.flush()

    def flush(self) -> None:
        if self._hashes:
            self.shards.append(self.cache.write_shard(self._hashes, np.stack(self._vectors), self.prefix, self.meta))
            self.n_written += len(self._hashes)
        self._hashes, self._vectors = [], []
        self._since = time.monotonic()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Keep what was computed even when the run is failing: it is valid work.
        self.flush()


@dataclass
class FillStats:
    n_sequences: int = 0
    n_unique: int = 0
    n_cached: int = 0
    n_computed: int = 0
    seconds: float = 0.0
    cache_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class CachedFeatureBuilder:
    """Base for a ``TeacherSpec.build`` over frozen, cacheable per-contig features.

    Subclasses implement :meth:`identity` (what the vectors depend on; cheap, no model
    loading), :meth:`compute` (embed sequences, reporting each finished one through a
    callback) and :meth:`make_teacher`. Calling the builder with a
    :class:`~taxometer_kd.teacher.TeacherContext` fills the cache with whatever is missing and
    returns the teacher; ``taxometer-kd embed`` calls :meth:`fill_cache` only.
    """

    namespace: str = "features"
    shard_size: int = 4096
    shard_seconds: float = 300.0
    round_bp: int = 1 << 30  # DNA held at once while embedding (1 Gbp)

    # -- to implement -------------------------------------------------------
    def identity(self, ctx) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(identity, provenance)`` for this context's options."""
        raise NotImplementedError

    def compute(self, ctx, sequences: Sequence[bytes], emit: Callable[[int, np.ndarray], None]) -> dict[str, Any]:
        """Embed ``sequences``; call ``emit(i, vector)`` once per sequence as it finishes."""
        raise NotImplementedError

    def make_teacher(self, ctx, features: np.ndarray):
        raise NotImplementedError

    def shard_meta(self, ctx) -> dict[str, Any]:
        """Provenance stored in each shard written for ``ctx`` (e.g. precision, device)."""
        return {}

    # -- provided -----------------------------------------------------------
    def open_cache(self, ctx) -> EmbeddingCache:
        identity, provenance = self.identity(ctx)
        return EmbeddingCache(ctx.cache_dir, self.namespace, identity, provenance)

    def hashes(self, ctx) -> list[str]:
        """The sequence hash of every contig of ``ctx``, in row order (one streamed pass)."""
        out: list[str] = [""] * ctx.n_contigs
        for i, seq in ctx.contigs:
            out[i] = sequence_hash(seq)
        return out

    def fill_cache(
        self, ctx, *, cache: EmbeddingCache | None = None, shard_prefix: str = "r0", hashes: Sequence[str] | None = None
    ) -> FillStats:
        """Compute and store the vectors of ``ctx.contigs`` that the cache lacks.

        The missing contigs are read in a second streamed pass and embedded in rounds of at
        most :attr:`round_bp` bp, so memory holds one round's DNA, not the catalogue's.
        """
        from loguru import logger

        start = time.monotonic()
        cache = cache if cache is not None else self.open_cache(ctx)
        hashes = list(hashes) if hashes is not None else self.hashes(ctx)
        first: dict[str, int] = {}
        for i, h in enumerate(hashes):
            first.setdefault(h, i)
        todo = cache.missing(first)
        stats = FillStats(n_sequences=len(hashes), n_unique=len(first), cache_dir=cache.dir)
        stats.n_cached = len(first) - len(todo)
        if todo:
            logger.info(
                f"{self.namespace}: {stats.n_cached} of {len(first)} distinct contigs found in the "
                f"embedding cache {cache.dir}; computing {len(todo)}"
            )
            meta = {"key": cache.key, "prefix": shard_prefix, **self.shard_meta(ctx)}
            rounds: list[dict[str, Any]] = []
            with cache.writer(shard_prefix, self.shard_size, self.shard_seconds, meta=meta) as writer:
                for part in self._rounds(ctx, {first[h]: h for h in todo}):
                    part_hashes = [h for h, _ in part]

                    def emit(i: int, vector: np.ndarray, part_hashes: list[str] = part_hashes) -> None:
                        writer.add(part_hashes[i], vector)

                    rounds.append(dict(self.compute(ctx, [seq for _, seq in part], emit) or {}))
            stats.extra = rounds[0] if len(rounds) == 1 else {"rounds": rounds}
            stats.n_computed = writer.n_written
            if stats.n_computed != len(todo):
                raise RuntimeError(f"{self.namespace}: computed {stats.n_computed} embeddings for {len(todo)} contigs")
        else:
            logger.info(f"{self.namespace}: all {len(first)} distinct contigs found in the embedding cache {cache.dir}")
        stats.seconds = time.monotonic() - start
        return stats

    def _rounds(self, ctx, wanted: dict[int, str]):
        """``[(hash, DNA), ...]`` of the ``wanted`` rows, in rounds of about :attr:`round_bp` bp."""
        part: list[tuple[str, bytes]] = []
        size = 0
        for i, seq in ctx.contigs:
            h = wanted.get(i)
            if h is None:
                continue
            part.append((h, seq))
            size += len(seq)
            if size >= self.round_bp:
                yield part
                part, size = [], 0
        if part:
            yield part

    def features(self, ctx, cache: EmbeddingCache | None = None) -> np.ndarray:
        """Fill the cache if needed, then return the (n_contigs, d) matrix in row order."""
        cache = cache if cache is not None else self.open_cache(ctx)
        hashes = self.hashes(ctx)
        self.fill_cache(ctx, cache=cache, hashes=hashes)
        cache.write_index()
        return cache.get(hashes)

    def __call__(self, ctx):
        return self.make_teacher(ctx, self.features(ctx))
