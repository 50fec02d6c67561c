"""Files in and out: the one atomic writer and the one FASTA reader of taxometer-kd.

- :func:`atomic_write` / :func:`atomic_write_bytes` / :func:`atomic_write_texts` (several
  files; an error while writing leaves every one as it was): write through a temporary file in the
  target's folder, ``fsync`` it and rename it into place, so that a crash or a kill never
  leaves a half-written output. The file gets the permissions a plain ``open(path, "w")``
  would give it: those of the file it replaces, else ``0o666`` minus the umask (a
  temporary file from :func:`tempfile.mkstemp` would be ``0o600``, unreadable by the group
  on a shared cluster).
- :func:`iter_fasta`: streams ``(identifier, DNA)`` records of a FASTA file, plain or
  compressed (gzip, bzip2, xz), through Vamb's own parser (the same identifiers and the
  same checks as ``vamb``), upper-cased.
- :class:`ContigSequences`: the contigs of one run, in Vamb's composition order, read
  from the FASTA on demand. Iterating over it streams the file once: no stage needs all
  contigs' DNA in memory at once.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from taxometer_kd.errors import KDError


def _new_file_mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")


def _write_temporary(tmp: Path, target: Path, write: Callable[[IO[Any]], Any], binary: bool) -> None:
    with open(tmp, "wb" if binary else "w") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, _new_file_mode(target))


def atomic_write(path: Path | str, write: Callable[[IO[Any]], Any], binary: bool = False) -> None:
    """Write ``path`` by calling ``write(fh)`` on a temporary file, then rename it into place.

    The temporary file lies in the same folder (so the rename is atomic), is flushed and
    fsynced before the rename, and is removed if ``write`` (or anything else) fails.
    """
    path = Path(path)
    tmp = _temporary(path)
    try:
        _write_temporary(tmp, path, write, binary)
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # only when something above failed
            tmp.unlink()


def _write_str(fh: IO[Any], text: str) -> None:
    fh.write(text)


def atomic_write_texts(files: Sequence[tuple[Path | str, str]]) -> None:
    """Write several text files as one: an error while writing leaves every one as it was.

    Every file's temporary is written and fsynced before the first rename, so a full disk
    while writing the second file leaves the first one as it was, not a new file beside an
    old one; only the renames, which write no data, come after. An ``OSError`` names the
    file it was writing (``exc.filename``).
    """
    done: list[tuple[Path, Path]] = []
    try:
        for target, text in files:
            target = Path(target)
            tmp = _temporary(target)
            done.append((tmp, target))
            try:
                _write_temporary(tmp, target, functools.partial(_write_str, text=text), binary=False)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        for tmp, target in done:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
    finally:
        for tmp, _ in done:
            if tmp.exists():  # only when something above failed
                tmp.unlink()


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """:func:`atomic_write` of a bytes object."""
    atomic_write(path, lambda fh: fh.write(data), binary=True)


def atomic_write_text(path: Path | str, text: str) -> None:
    """:func:`atomic_write` of a string."""
    atomic_write(path, lambda fh: fh.write(text))


# ----------------------------------------------------------------------------- FASTA


def iter_fasta(path: Path | str, min_length: int = 0) -> Iterator[tuple[str, bytes]]:
    """``(identifier, upper-case DNA)`` of each record at least ``min_length`` bp long.

    A file that is not FASTA, a bad header or a non-IUPAC byte raises :class:`KDError`
    naming the file; a truncated compressed file names it too.
    """
    import vamb

    try:
        with vamb.vambtools.Reader(path) as fh:
            for entry in vamb.vambtools.byte_iterfasta(fh, str(path)):
                if len(entry.sequence) >= min_length:
                    yield entry.identifier, bytes(entry.sequence).upper()
    except (ValueError, OSError, EOFError) as exc:
        raise KDError(f"could not read the FASTA file {path}: {exc}") from None


def read_fasta(path: Path | str, min_length: int = 0) -> tuple[list[str], list[bytes]]:
    """Identifiers and upper-case sequences of the records at least ``min_length`` long."""
    names, seqs = [], []
    for name, seq in iter_fasta(path, min_length):
        names.append(name)
        seqs.append(seq)
    return names, seqs


@dataclass
class ContigSequences:
    """The DNA of a run's contigs, in composition order, streamed from ``fasta``.

    ``identifiers`` and ``lengths`` are Vamb's composition metadata (contigs of at least
    ``-m`` bp). Iterating yields ``(row, DNA)`` for every row exactly once, in the FASTA's
    order; records of the FASTA that are not in the composition (shorter than ``-m``) are
    skipped. A contig missing from the file, given twice, or of another length than the
    composition says is a :class:`KDError` naming the file and the contig.
    """

    fasta: Path
    identifiers: Sequence[str]
    lengths: np.ndarray

    def __post_init__(self) -> None:
        self.fasta = Path(self.fasta)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self._row = {name: i for i, name in enumerate(self.identifiers)}
        if len(self._row) != len(self.identifiers):
            raise KDError("duplicate contig names in the composition")

    def __len__(self) -> int:
        return len(self.identifiers)

    @property
    def total_length(self) -> int:
        return int(self.lengths.sum())

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        seen = np.zeros(len(self.identifiers), dtype=bool)
        for name, seq in iter_fasta(self.fasta):
            i = self._row.get(name)
            if i is None:
                continue
            if seen[i]:
                raise KDError(f"{self.fasta}: contig {name!r} appears more than once")
            if len(seq) != self.lengths[i]:
                raise KDError(
                    f"{self.fasta}: contig {name!r} is {len(seq)} bp long, but the composition "
                    f"says {int(self.lengths[i])} bp: is this the FASTA the composition was made from?"
                )
            seen[i] = True
            yield i, seq
        if not seen.all():
            missing = [self.identifiers[i] for i in np.flatnonzero(~seen)[:5]]
            shown = ", ".join(repr(m) for m in missing) + (" ..." if (~seen).sum() > 5 else "")
            raise KDError(f"{int((~seen).sum())} contig(s) of the composition are missing from {self.fasta}: {shown}")

    def to_list(self) -> list[bytes]:
        """Every contig's DNA in composition order, in memory (for small data and tests)."""
        out: list[bytes | None] = [None] * len(self)
        for i, seq in self:
            out[i] = seq
        return out  # type: ignore[return-value]


class InMemoryContigs:
    """Contigs already in memory (``taxometer-kd embed``'s subsets, tests), streamed like
    :class:`ContigSequences`: ``for row, dna in contigs``."""

    def __init__(self, sequences: Sequence[bytes], identifiers: Sequence[str] | None = None):
        self.sequences = [bytes(s).upper() for s in sequences]
        self.identifiers = (
            list(identifiers) if identifiers is not None else [f"contig{i}" for i in range(len(sequences))]
        )
        self.lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(enumerate(self.sequences))

    def to_list(self) -> list[bytes]:
        return list(self.sequences)
