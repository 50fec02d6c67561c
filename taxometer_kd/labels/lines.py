"""Numbered text lines of a labeller's file, plain or compressed, with located errors.

Every reader of :mod:`taxometer_kd.labels` goes through :func:`iter_lines`, so that a
missing file, a truncated or corrupt gzip stream or a byte that is not UTF-8 becomes one
:class:`~taxometer_kd.errors.KDError` that names the file (and the line, where there is
one), and so that all of them agree on the ``FILE, line N: ...`` form of :func:`where`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from taxometer_kd.errors import KDError

_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def where(path: Path | str, line: int) -> str:
    """The ``FILE, line N`` prefix of an error message."""
    return f"{path}, line {line}"


def _open(path: Path, binary: bool = False) -> Any:  # IO[str], or a binary file object
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise KDError(f"{path}: cannot open the file: {exc.strerror or exc}") from None
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(path, "rb") if binary else opener(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, "rb") if binary else open(path, encoding="utf-8-sig", newline="")


def _first_undecodable_line(path: Path) -> int | None:
    """The number of the first line that is not UTF-8 (text reading decodes whole chunks, so
    the line being read when its decoder fails can lie lines before the bad byte)."""
    try:
        with _open(path, binary=True) as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except (KDError, OSError, EOFError, lzma.LZMAError, zlib.error):
        pass
    return None


def iter_lines(path: Path | str) -> Iterator[tuple[int, str]]:
    """``(line number, line without its end-of-line)`` for each line of ``path``.

    Line numbers start at 1. The file may be plain text or gzip, bzip2 or xz compressed
    (recognised by its first bytes, whatever its name). ``\\r\\n`` line ends and a UTF-8
    byte order mark are accepted.
    """
    path = Path(path)
    number = 0
    fh = _open(path)
    try:
        with fh:
            for number, line in enumerate(fh, start=1):
                yield number, line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError:
        number = _first_undecodable_line(path) or number + 1
        raise KDError(f"{where(path, number)}: not UTF-8 text (is this the right file?)") from None
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise KDError(f"{where(path, number + 1)}: could not read the file: {exc}") from None
