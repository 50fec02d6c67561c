"""GenomeOcean checkpoints: finding a usable local copy (a path or the Hugging Face cache),
saying what is wrong with an unusable one, and fingerprinting its content."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .catalog import INSTALL_HINT


class CheckpointError(RuntimeError):
    """A GenomeOcean checkpoint is missing, incomplete or not in safetensors format.

    A ``RuntimeError``, which is what ``TeacherSpec.preflight``'s caller (``vamb taxometer``)
    and ``taxometer-kd embed`` report as a one-line error.
    """


HUB_PATTERNS = [
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class ResolvedCheckpoint:
    directory: Path
    source: str  # "path", "hub-cache" or "hub"
    repo_id: str | None = None
    revision: str | None = None
    commit: str | None = None

    def describe(self) -> str:
        if self.source == "path":
            return str(self.directory)
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.repo_id}{rev} ({self.directory})"


def hf_hub_cache_dir() -> Path:
    """The hub cache ``huggingface_hub`` uses, from the environment *now* (HF_HUB_CACHE, HF_HOME)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        xdg = os.environ.get("XDG_CACHE_HOME")
        home = os.path.join(xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def hf_offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def checkpoint_problems(directory: Path) -> list[str]:
    """What keeps ``directory`` from being a usable checkpoint (empty list: nothing)."""
    d = Path(directory)
    if not d.is_dir():
        return [f"{d} is not a directory"]
    problems = []
    if not (d / "config.json").is_file():
        problems.append("config.json is missing")
    weights = sorted(d.glob("*.safetensors"))
    if not weights:
        pickles = sorted(p.name for pat in ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt") for p in d.glob(pat))
        if pickles:
            problems.append(
                f"it holds only PyTorch pickle weights ({', '.join(pickles)}); taxometer-kd loads "
                "safetensors only (a pickle can run code when loaded). Get the safetensors release, "
                "or convert it on a trusted machine with transformers' save_pretrained"
            )
        else:
            problems.append("no *.safetensors weight file")
    index = d / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError) as exc:
            problems.append(f"model.safetensors.index.json is unreadable: {exc}")
        else:
            absent = sorted(s for s in shards if not (d / s).is_file())
            if absent:
                problems.append(f"weight shards missing: {', '.join(absent)}")
    if not (d / "tokenizer.json").is_file():
        problems.append("tokenizer.json (the fast tokenizer) is missing")
    return problems


def _how_to_supply(repo_id: str) -> str:
    local = repo_id.split("/")[-1]
    return (
        "Supply a local copy: on a machine with internet run\n"
        f"    huggingface-cli download {repo_id} --local-dir {local}\n"
        f"(or `hf download {repo_id} --local-dir {local}` with newer huggingface_hub), copy the "
        f"directory here and pass --teacher-option path={local}; or run "
        f"`huggingface-cli download {repo_id}` there and copy its Hugging Face cache into this "
        "machine's (HF_HOME)."
    )


def resolve_checkpoint(
    repo_id: str,
    *,
    path: str | Path | None = None,
    revision: str | None = None,
    alternatives: Sequence[str] = (),
    teacher: str = "genomeocean",
) -> ResolvedCheckpoint:
    """Find a usable local directory for a checkpoint, or raise one clear :class:`CheckpointError`.

    ``path`` (``--teacher-option path=DIR``) wins and must be complete. Otherwise the hub id
    goes through the normal Hugging Face cache (``HF_HOME``/``HF_HUB_CACHE``): online, with
    :func:`huggingface_hub.snapshot_download`; with ``HF_HUB_OFFLINE=1`` or when the download
    fails, from the cache only (``local_files_only=True``), also under the ``alternatives``
    (the older ``DOEJGI/`` ids).
    """
    if path is not None:
        d = Path(path).expanduser()
        if not d.exists():
            raise CheckpointError(
                f"teacher {teacher}: --teacher-option path={path}: no such directory. It must hold "
                f"a {repo_id} checkpoint (config.json, *.safetensors, tokenizer.json).\n" + _how_to_supply(repo_id)
            )
        problems = checkpoint_problems(d)
        if problems:
            raise CheckpointError(
                f"teacher {teacher}: {d} is not a usable checkpoint: "
                + "; ".join(problems)
                + ".\n"
                + _how_to_supply(repo_id)
            )
        return ResolvedCheckpoint(d.resolve(), "path")

    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ImportError(f"loading {repo_id} from the hub needs huggingface_hub: {INSTALL_HINT}") from None

    cache = hf_hub_cache_dir()
    offline = hf_offline()
    tried: list[str] = []

    def accept(rid: str, directory: str, source: str) -> ResolvedCheckpoint | None:
        d = Path(directory)
        problems = checkpoint_problems(d)
        if problems:
            tried.append(f"{rid}: the copy at {d} is incomplete: " + "; ".join(problems))
            return None
        return ResolvedCheckpoint(d.resolve(), source, rid, revision, d.name)

    if not offline:
        try:
            got = accept(
                repo_id,
                snapshot_download(repo_id, revision=revision, cache_dir=cache, allow_patterns=HUB_PATTERNS),
                "hub",
            )
            if got:
                return got
        except Exception as exc:  # network down, repository gone, gated, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            tried.append(f"{repo_id}: download failed ({type(exc).__name__}: {first})")
    for rid in (repo_id, *alternatives):
        try:
            cached = snapshot_download(rid, revision=revision, cache_dir=cache, local_files_only=True)
        except Exception as exc:
            tried.append(f"{rid}: not in the cache ({type(exc).__name__})")
            continue
        got = accept(rid, cached, "hub-cache")
        if got:
            return got

    mode = " Downloads are off (HF_HUB_OFFLINE=1)." if offline else ""
    rev = f" at revision {revision}" if revision else ""
    raise CheckpointError(
        f"teacher {teacher}: the checkpoint {repo_id}{rev} is not available.{mode}\n"
        f"Looked in the Hugging Face cache {cache} (HF_HOME / HF_HUB_CACHE):\n  - "
        + "\n  - ".join(tried)
        + "\n"
        + _how_to_supply(repo_id)
    )


_BLOCK = 1 << 16
_N_BLOCKS = 16


def checkpoint_fingerprint(directory: Path) -> str:
    """A content fingerprint of a checkpoint, independent of where it lies or its mtimes.

    sha256 over config.json, the tokenizer files, and for each ``*.safetensors`` file its
    size, its header (tensor names, shapes, dtypes, offsets) and 16 evenly spaced 64 KiB
    blocks of its data: two checkpoints with the same architecture but different weights
    (e.g. a fine-tune) differ in practically every block. Reads about 1 MiB per file.
    """
    d = Path(directory)
    h = hashlib.sha256()
    for name in ("config.json", *TOKENIZER_FILES):
        p = d / name
        if p.is_file():
            h.update(name.encode() + b"\0" + p.read_bytes() + b"\0")
    for p in sorted(d.glob("*.safetensors")):
        size = p.stat().st_size
        with open(p, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = fh.read(n)
            h.update(f"{size}\0".encode() + header)
            start, length = 8 + n, size - 8 - n
            for k in range(_N_BLOCKS if length > 0 else 0):
                fh.seek(start + (max(length - _BLOCK, 0) * k) // (_N_BLOCKS - 1))
                h.update(fh.read(_BLOCK))
    return h.hexdigest()
