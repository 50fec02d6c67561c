"""GenomeOcean teachers: a learnable head over frozen, whole-contig GenomeOcean embeddings.

GenomeOcean (Zhou et al. 2025) is a family of decoder-only genome language models
(Mistral architecture in stock ``transformers``, no remote code) with a 4096-token BPE
vocabulary (about 4.5-5 bp per token), published as ``pGenomeOcean/GenomeOcean-100M``,
``-500M`` and ``-4B`` (formerly ``DOEJGI/...``). Usable context: 1024 tokens (100M, 500M)
and 10240 tokens (4B).

How a contig becomes one vector (this differs on purpose from GenomeOcean's own code and
from TaxDistill, which both truncate the sequence, to 1024 and 512 tokens):

1. the *whole* contig is tokenized once, without special tokens;
2. its token ids are cut into ``k = ceil(n / (max_tokens - 2))`` windows of near-equal
   length (so no window is a short leftover), each framed as ``[CLS] ... [SEP]`` (the
   tokenizer's cls/sep ids; bos/eos if it has none), so a window is at most ``max-tokens``
   tokens long;
3. the model runs on the windows (batched under a token budget, right-padded with an
   attention mask; the model is causal, so real tokens never see padding);
4. the chosen hidden layer is pooled over each window's *sequence* tokens only: padding
   and the [CLS]/[SEP] framing tokens are excluded (they carry no contig content, and
   at the pooling layer they would be the same "frame" vector in every window);
5. windows are combined into the contig's vector weighted by their sequence-token counts:
   for ``pooling=mean`` this is exactly the mean over all of the contig's sequence tokens;
   for ``pooling=max`` the element-wise maximum over windows (a weighting does not apply
   to a maximum).

The vectors are stored in the embedding cache (:mod:`taxometer_kd.cache`) under
a key made of the checkpoint's content fingerprint (config.json, tokenizer files and the
safetensors headers plus sampled weight blocks), the layer, pooling, window size and the
algorithm version; lookups are by contig sequence hash.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.util
import json
import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from taxometer_kd.cache import CachedFeatureBuilder
from taxometer_kd import TeacherOption, TeacherSpec, hookimpl, parse_widths

INSTALL_HINT = "pip install 'taxometer-kd[genomeocean]'"
ALGORITHM = "genomeocean-whole-contig/v1"


@dataclass(frozen=True)
class GenomeOceanModel:
    name: str
    repo_id: str
    legacy_repo_id: str
    context: int
    hidden_size: int
    aliases: tuple[str, ...]
    description: str


MODELS: dict[str, GenomeOceanModel] = {
    m.name: m
    for m in (
        GenomeOceanModel("genomeocean-100m", "pGenomeOcean/GenomeOcean-100M", "DOEJGI/GenomeOcean-100M",
                         1024, 768, ("go-100m",), "GenomeOcean-100M (hidden 768, 1024-token windows)"),
        GenomeOceanModel("genomeocean-500m", "pGenomeOcean/GenomeOcean-500M", "DOEJGI/GenomeOcean-500M",
                         1024, 1536, ("go-500m",), "GenomeOcean-500M (hidden 1536, 1024-token windows; the paper's teacher)"),
        GenomeOceanModel("genomeocean-4b", "pGenomeOcean/GenomeOcean-4B", "DOEJGI/GenomeOcean-4B",
                         10240, 3072, ("go-4b",), "GenomeOcean-4B (hidden 3072, 10240-token windows)"),
    )
}


def _import_transformers():
    try:
        import transformers  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"the GenomeOcean teachers need transformers and tokenizers, which are not installed "
            f"({exc}). Install them with: {INSTALL_HINT}"
        ) from None
    return transformers


# --------------------------------------------------------------------------- options
def _positive_int(value: str) -> int:
    v = int(value)
    if v <= 0:
        raise ValueError("must be a positive integer")
    return v


def _optional_str(value: str) -> Optional[str]:
    value = value.strip()
    return value or None


def teacher_options(model: GenomeOceanModel) -> tuple[TeacherOption, ...]:
    return (
        TeacherOption("path", _optional_str, None,
                      "local directory with the checkpoint (config.json, *.safetensors, tokenizer.json); "
                      f"overrides the hub id {model.repo_id}"),
        TeacherOption("revision", _optional_str, None, "hub revision (branch, tag or commit); default main"),
        TeacherOption("layer", int, -1, "hidden layer to pool: -1 = last (after the final norm), "
                      "0 = token embeddings, k = output of block k"),
        TeacherOption("pooling", str, "mean", "pooling over a window's sequence tokens", ("mean", "max")),
        TeacherOption("max-tokens", _positive_int, None,
                      f"tokens per window including [CLS]/[SEP]; default the model context ({model.context})"),
        TeacherOption("batch-tokens", _positive_int, None,
                      "token budget per batch (batch size x padded length); default 65536 on CUDA, 8192 on CPU"),
        TeacherOption("dtype", str, "auto", "model precision; auto = bfloat16 on CUDA, float32 on CPU",
                      ("auto", "float32", "bfloat16")),
        TeacherOption("head-lr", float, 1e-4, "learning rate of the teacher head (the paper: 1e-4)"),
        TeacherOption("hidden", parse_widths, (512, 512),
                      "hidden layer widths of the head, comma-separated (e.g. 512,512; 0 = linear head)"),
        TeacherOption("folds", _positive_int, 1,
                      "cross-fitted heads (as the weight-free teachers); 1 = the paper's single head"),
    )


# --------------------------------------------------------------------------- checkpoints
class CheckpointError(RuntimeError):
    """A GenomeOcean checkpoint is missing, incomplete or not in safetensors format."""


HUB_PATTERNS = [
    "config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class ResolvedCheckpoint:
    directory: Path
    source: str  # "path", "hub-cache" or "hub"
    repo_id: Optional[str] = None
    revision: Optional[str] = None
    commit: Optional[str] = None

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
    path: Optional[str | Path] = None,
    revision: Optional[str] = None,
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
                f"teacher {teacher}: {d} is not a usable checkpoint: " + "; ".join(problems) + ".\n"
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

    def accept(rid: str, directory: str, source: str) -> Optional[ResolvedCheckpoint]:
        d = Path(directory)
        problems = checkpoint_problems(d)
        if problems:
            tried.append(f"{rid}: the copy at {d} is incomplete: " + "; ".join(problems))
            return None
        return ResolvedCheckpoint(d.resolve(), source, rid, revision, d.name)

    if not offline:
        try:
            got = accept(repo_id, snapshot_download(repo_id, revision=revision, cache_dir=cache,
                                                    allow_patterns=HUB_PATTERNS), "hub")
            if got:
                return got
        except Exception as exc:  # network down, repository gone, gated, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            tried.append(f"{repo_id}: download failed ({type(exc).__name__}: {first})")
    for rid in (repo_id, *alternatives):
        try:
            d = snapshot_download(rid, revision=revision, cache_dir=cache, local_files_only=True)
        except Exception as exc:
            tried.append(f"{rid}: not in the cache ({type(exc).__name__})")
            continue
        got = accept(rid, d, "hub-cache")
        if got:
            return got

    mode = " Downloads are off (HF_HUB_OFFLINE=1)." if offline else ""
    rev = f" at revision {revision}" if revision else ""
    raise CheckpointError(
        f"teacher {teacher}: the checkpoint {repo_id}{rev} is not available.{mode}\n"
        f"Looked in the Hugging Face cache {cache} (HF_HOME / HF_HUB_CACHE):\n  - "
        + "\n  - ".join(tried) + "\n" + _how_to_supply(repo_id)
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


# --------------------------------------------------------------------------- windows and batches
def split_windows(n_tokens: int, max_content: int) -> list[tuple[int, int]]:
    """Cut ``n_tokens`` ids into ``ceil(n / max_content)`` windows of near-equal length.

    Returns ``(start, length)`` pairs covering ``[0, n)`` in order; each length is at most
    ``max_content`` and lengths differ by at most one.
    """
    if max_content < 1:
        raise ValueError("a window must hold at least one sequence token")
    if n_tokens <= 0:
        return []
    k = -(-n_tokens // max_content)
    base, extra = divmod(n_tokens, k)
    out, start = [], 0
    for i in range(k):
        length = base + (1 if i < extra else 0)
        out.append((start, length))
        start += length
    return out


def plan_batches(window_lengths: np.ndarray, batch_tokens: int) -> list[np.ndarray]:
    """Group windows into batches, longest first, with ``len(batch) * max_len <= batch_tokens``.

    A window longer than the budget gets a batch of its own.
    """
    lengths = np.asarray(window_lengths)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    i = 0
    while i < len(order):
        padded = int(lengths[order[i]])
        size = max(1, batch_tokens // max(padded, 1))
        batches.append(order[i : i + size])
        i += size
    return batches


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' load report (e.g. the unused lm_head) and progress bars while loading."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


class _EarlyExit(Exception):
    def __init__(self, output):
        self.output = output


def resolve_torch_dtype(name: str, device) -> Any:
    import torch

    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if getattr(device, "type", str(device)) == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return torch.float32


class _Progress:
    def __init__(self, name: str, total: int, every: float, sync: Callable[[], None]):
        self.name, self.total, self.every, self.sync = name, total, every, sync
        self.done = 0  # contigs finished in earlier rounds
        self.partial: Callable[[], int] = lambda: 0  # ... and so far in the current round
        self.tokens = 0
        self.start = self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def maybe_log(self, final: bool = False) -> None:
        from loguru import logger

        if not final and not self.due():
            return
        self.sync()  # GPU work is asynchronous: count only what has finished
        now = time.monotonic()
        self.last = now
        dt = max(now - self.start, 1e-9)
        done = self.done + (0 if final else self.partial())
        logger.info(
            f"{self.name}: {done}/{self.total} contigs, {self.tokens / dt:,.0f} tokens/s, "
            f"{done / dt:,.1f} contigs/s" + (f", {dt:,.1f} s in all" if final else "")
        )


class WindowEmbedder:
    """Whole-contig embeddings from a decoder model, given each contig's token ids.

    ``model`` is a ``transformers`` base model (e.g. ``MistralModel``) already on ``device``
    in eval mode. ``layer`` indexes ``hidden_states`` (0 = embeddings, ``n_layers`` = the
    final, normed output); blocks after the chosen layer are not run.
    """

    def __init__(
        self,
        model,
        *,
        context: int,
        layer: int,
        pooling: str,
        batch_tokens: int,
        cls_id: Optional[int],
        sep_id: Optional[int],
        pad_id: int,
        device,
        name: str = "genomeocean",
        log_seconds: float = 5.0,
        mask_padding: bool = True,
    ):
        import torch

        self.torch = torch
        self.model = model
        self.n_layers = int(model.config.num_hidden_layers)
        if not 0 <= layer <= self.n_layers:
            raise ValueError(f"layer {layer} is out of range 0..{self.n_layers}")
        if pooling not in ("mean", "max"):
            raise ValueError(f"unknown pooling {pooling!r}")
        self.layer = layer
        self.pooling = pooling
        self.prefix = [] if cls_id is None else [int(cls_id)]
        self.suffix = [] if sep_id is None else [int(sep_id)]
        self.n_special = len(self.prefix) + len(self.suffix)
        self.context = int(context)
        self.max_content = self.context - self.n_special
        if self.max_content < 1:
            raise ValueError(f"max-tokens {context} leaves no room for sequence tokens")
        self.batch_tokens = int(batch_tokens)
        self.pad_id = int(pad_id)
        self.device = torch.device(device)
        self.name = name
        self.log_seconds = log_seconds
        self.mask_padding = mask_padding
        self.hidden_size = int(model.config.hidden_size)
        self.stats = {"contigs": 0, "windows": 0, "tokens": 0, "batches": 0, "padded_tokens": 0}
        self._exit_module = None
        if self.layer < self.n_layers:
            base = model if hasattr(model, "layers") else getattr(model, getattr(model, "base_model_prefix", "model"), None)
            if base is not None and hasattr(base, "layers") and hasattr(base, "embed_tokens"):
                self._exit_module = base.embed_tokens if self.layer == 0 else base.layers[self.layer - 1]

    # -- model call ------------------------------------------------------------
    def hidden(self, input_ids, attention_mask):
        """The chosen layer's hidden states, (B, T, h)."""
        if self.layer == self.n_layers:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        if self._exit_module is None:  # unknown layout: let transformers collect the layer
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                             output_hidden_states=True)
            return out.hidden_states[self.layer]

        def stop(module, args, output):
            raise _EarlyExit(output[0] if isinstance(output, tuple) else output)

        handle = self._exit_module.register_forward_hook(stop)
        try:
            self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        except _EarlyExit as hit:
            return hit.output
        finally:
            handle.remove()
        raise RuntimeError("the model finished without reaching the requested layer")

    def _sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def progress(self, total: int) -> _Progress:
        return _Progress(self.name, total, self.log_seconds, self._sync)

    # -- embedding ---------------------------------------------------------------
    def embed(
        self,
        token_ids: Sequence[np.ndarray],
        emit: Callable[[int, np.ndarray], None],
        progress: Optional[_Progress] = None,
    ) -> None:
        """Embed contigs given as token-id arrays; ``emit(i, vector)`` for each, in order."""
        torch = self.torch
        win_contig, win_start, win_len = [], [], []
        for i, ids in enumerate(token_ids):
            windows = split_windows(len(ids), self.max_content)
            if not windows:
                raise ValueError(f"contig {i} has no tokens to embed")
            for start, length in windows:
                win_contig.append(i)
                win_start.append(start)
                win_len.append(length)
        n_win = len(win_len)
        if n_win == 0:
            return
        win_len_a = np.asarray(win_len, dtype=np.int64)
        total_len = win_len_a + self.n_special
        pooled = torch.empty((n_win, self.hidden_size), dtype=torch.float32, device=self.device)
        pin = self.device.type == "cuda"
        n_pre = len(self.prefix)
        win_contig_a = np.asarray(win_contig, dtype=np.int64)
        remaining = np.bincount(win_contig_a, minlength=len(token_ids))
        for batch in plan_batches(total_len, self.batch_tokens):
            T = int(total_len[batch].max())
            B = len(batch)
            ids = np.full((B, T), self.pad_id, dtype=np.int64)
            attn = np.zeros((B, T), dtype=np.int64)
            keep = np.zeros((B, T), dtype=np.float32)
            for r, w in enumerate(batch):
                c, s, n = win_contig[w], win_start[w], win_len[w]
                row = np.concatenate([self.prefix, token_ids[c][s : s + n], self.suffix])
                ids[r, : len(row)] = row
                attn[r, : len(row)] = 1
                keep[r, n_pre : n_pre + n] = 1.0
            # Pinned host tensors and non-blocking copies: preparing the next batch overlaps the
            # GPU's work on this one (a pageable copy would wait for the GPU to drain).
            host = [torch.from_numpy(a) for a in (ids, attn, keep, np.ascontiguousarray(batch, dtype=np.int64))]
            if pin:
                host = [t.pin_memory() for t in host]
            ids_t, attn_t, keep_t, rows_t = (t.to(self.device, non_blocking=True) for t in host)
            # No mask when nothing is padded: lets SDPA take its causal (flash) path. With right
            # padding a causal model's real tokens never attend to the padding, so the mask does not
            # change them (mask_padding=False gives the same vectors; tested); it is passed anyway
            # by default, for non-causal checkpoints and so that flash-attention can skip padding.
            mask_t = attn_t if self.mask_padding and not bool(attn.all()) else None
            with torch.inference_mode():
                hs = self.hidden(ids_t, mask_t)
                if self.pooling == "mean":
                    out = torch.bmm(keep_t.unsqueeze(1), hs.float()).squeeze(1)
                else:
                    out = hs.masked_fill(keep_t.unsqueeze(-1) == 0, float("-inf")).amax(dim=1).float()
                pooled[rows_t] = out
            self.stats["batches"] += 1
            self.stats["windows"] += B
            self.stats["tokens"] += int(total_len[batch].sum())
            self.stats["padded_tokens"] += B * T
            if progress is not None:
                progress.tokens += int(total_len[batch].sum())
                np.subtract.at(remaining, win_contig_a[batch], 1)
                if progress.due():
                    progress.partial = lambda: int((remaining == 0).sum())
                    progress.maybe_log()
        result = pooled.cpu().numpy()
        # Combine each contig's windows (they are consecutive in win_contig).
        wc = win_contig_a
        bounds = np.flatnonzero(np.diff(wc)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [n_win]])
        for a, b in zip(starts, ends):
            if self.pooling == "mean":
                vec = result[a:b].astype(np.float64).sum(0) / float(win_len_a[a:b].sum())
            else:
                vec = result[a:b].max(0)
            emit(int(wc[a]), vec.astype(np.float32))
        self.stats["contigs"] += len(token_ids)
        if progress is not None:
            progress.done += len(token_ids)
            progress.partial = lambda: 0


# --------------------------------------------------------------------------- the teacher
@dataclass(frozen=True)
class EmbedSettings:
    checkpoint: ResolvedCheckpoint
    fingerprint: str
    n_layers: int
    layer: int  # absolute index into hidden_states
    pooling: str
    context: int  # tokens per window, [CLS]/[SEP] included


class GenomeOceanBuilder(CachedFeatureBuilder):
    """``TeacherSpec.build`` of one GenomeOcean size (also used by ``taxometer-kd embed``)."""

    namespace = "genomeocean"
    shard_size = 2048
    shard_seconds = 120.0
    chunk_tokens = 1 << 20  # tokens per tokenize/embed round (vectors are emitted at round ends)
    bp_per_token = 4.7  # only to size rounds before tokenizing
    log_seconds = 5.0
    mask_padding = True

    def __init__(self, model: GenomeOceanModel):
        self.model = model
        self._settings: dict[tuple, EmbedSettings] = {}
        self.last_stats: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"GenomeOceanBuilder({self.model.name})"

    def settings(self, ctx) -> EmbedSettings:
        from loguru import logger

        o = ctx.options
        key = (o.get("path"), o.get("revision"), o.get("layer", -1), o.get("pooling", "mean"), o.get("max-tokens"))
        if key in self._settings:
            return self._settings[key]
        ckpt = resolve_checkpoint(
            self.model.repo_id, path=o.get("path"), revision=o.get("revision"),
            alternatives=(self.model.legacy_repo_id,), teacher=self.model.name,
        )
        config = json.loads((ckpt.directory / "config.json").read_text())
        n_layers = int(config["num_hidden_layers"])
        layer = int(o.get("layer", -1))
        if not -(n_layers + 1) <= layer <= n_layers:
            raise ValueError(
                f"teacher {self.model.name}: layer={layer} is out of range: the model has {n_layers} "
                f"blocks, so layer is -{n_layers + 1}..{n_layers} (-1 = last)"
            )
        layer %= n_layers + 1
        max_pos = int(config.get("max_position_embeddings") or self.model.context)
        context = o.get("max-tokens") or self.model.context
        if context > max_pos:
            if o.get("max-tokens"):
                logger.warning(
                    f"{self.model.name}: max-tokens={context} exceeds the model's "
                    f"max_position_embeddings={max_pos}; using {max_pos}"
                )
            context = max_pos
        s = EmbedSettings(ckpt, checkpoint_fingerprint(ckpt.directory), n_layers, layer,
                          o.get("pooling", "mean"), int(context))
        self._settings[key] = s
        return s

    def identity(self, ctx):
        s = self.settings(ctx)
        identity = {
            "algorithm": ALGORITHM,
            "weights": s.fingerprint,
            "layer": s.layer,
            "n_layers": s.n_layers,
            "pooling": s.pooling,
            "max_tokens": s.context,
        }
        c = s.checkpoint
        provenance = {"teacher": self.model.name, "source": c.source, "directory": str(c.directory),
                      "repo_id": c.repo_id, "revision": c.revision, "commit": c.commit}
        return identity, provenance

    def shard_meta(self, ctx) -> dict[str, Any]:
        device = getattr(ctx.device, "type", str(ctx.device))
        dtype = resolve_torch_dtype(ctx.options.get("dtype", "auto"), ctx.device)
        return {"teacher": self.model.name, "device": device, "dtype": str(dtype).replace("torch.", "")}

    # -- loading -----------------------------------------------------------------
    def load(self, ctx, settings: EmbedSettings):
        """(tokenizer, model, torch dtype) for ``settings`` on ``ctx.device``."""
        import torch
        from loguru import logger

        transformers = _import_transformers()
        d = str(settings.checkpoint.directory)
        device = torch.device(ctx.device)
        dtype = resolve_torch_dtype(ctx.options.get("dtype", "auto"), device)
        if device.type == "cuda" and ctx.options.get("dtype", "auto") == "auto" and dtype == torch.float32:
            logger.warning(f"{self.model.name}: this GPU has no bfloat16; running in float32")
        attn = "sdpa"
        if (device.type == "cuda" and dtype in (torch.bfloat16, torch.float16)
                and importlib.util.find_spec("flash_attn") is not None):
            attn = "flash_attention_2"
        # The checkpoints are MistralForCausalLM; AutoModel loads the base model without the
        # LM head, from safetensors only, with the stock Mistral code (never the repo's own).
        kwargs = dict(dtype=dtype, use_safetensors=True, local_files_only=True, trust_remote_code=False)
        with _quiet_transformers():
            tokenizer = transformers.PreTrainedTokenizerFast.from_pretrained(d, local_files_only=True)
            try:
                model = transformers.AutoModel.from_pretrained(d, attn_implementation=attn, **kwargs)
            except (ImportError, ValueError) as exc:
                if attn == "sdpa":
                    raise
                logger.warning(f"{self.model.name}: flash_attention_2 unavailable ({exc}); using sdpa")
                attn = "sdpa"
                model = transformers.AutoModel.from_pretrained(d, attn_implementation=attn, **kwargs)
        model.requires_grad_(False)
        model.eval().to(device)
        vocab = model.get_input_embeddings().weight.shape[0]
        if len(tokenizer) > vocab:
            raise CheckpointError(
                f"{d}: the tokenizer has {len(tokenizer)} tokens but the model only {vocab} embeddings"
            )
        logger.info(
            f"{self.model.name}: loaded {settings.checkpoint.describe()} on {device} "
            f"({str(dtype).replace('torch.', '')}, attention {attn}, {settings.n_layers} blocks, "
            f"hidden {model.config.hidden_size}, layer {settings.layer}, {settings.pooling} pooling, "
            f"{settings.context}-token windows)"
        )
        return tokenizer, model, dtype

    @staticmethod
    def _special_ids(tokenizer, model) -> tuple[Optional[int], Optional[int], int]:
        cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = getattr(model.config, "pad_token_id", None)
        return cls_id, sep_id, int(pad_id) if pad_id is not None else 0  # padding is masked anyway

    @staticmethod
    def _backend(tokenizer):
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        backend.no_truncation()
        backend.no_padding()
        return backend

    # -- CachedFeatureBuilder --------------------------------------------------
    def compute(self, ctx, sequences: Sequence[bytes], emit: Callable[[int, np.ndarray], None]) -> dict:
        import torch
        from loguru import logger

        s = self.settings(ctx)
        tokenizer, model, dtype = self.load(ctx, s)
        cls_id, sep_id, pad_id = self._special_ids(tokenizer, model)
        if cls_id is None or sep_id is None:
            logger.warning(f"{self.model.name}: the tokenizer has no cls/bos or sep/eos token; windows are not framed")
        device = torch.device(ctx.device)
        batch_tokens = ctx.options.get("batch-tokens") or (65536 if device.type == "cuda" else 8192)
        embedder = WindowEmbedder(
            model, context=s.context, layer=s.layer, pooling=s.pooling, batch_tokens=batch_tokens,
            cls_id=cls_id, sep_id=sep_id, pad_id=pad_id, device=device, name=self.model.name,
            log_seconds=self.log_seconds, mask_padding=self.mask_padding,
        )
        backend = self._backend(tokenizer)
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)

        def tokenize(idx: np.ndarray) -> list[np.ndarray]:
            texts = [bytes(sequences[i]).upper().decode("ascii", errors="replace") for i in idx]
            return [np.asarray(e.ids, dtype=np.int64) for e in encode(texts, add_special_tokens=False)]

        # Longest first: similar lengths share batches; rounds of ~chunk_tokens tokens.
        lengths = np.array([len(x) for x in sequences], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        budget = self.chunk_tokens * self.bp_per_token
        rounds, cur, acc = [], [], 0.0
        for i in order:
            cur.append(i)
            acc += lengths[i]
            if acc >= budget:
                rounds.append(np.array(cur))
                cur, acc = [], 0.0
        if cur:
            rounds.append(np.array(cur))

        progress = embedder.progress(len(sequences))
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:  # tokenize the next round meanwhile
            future = pool.submit(tokenize, rounds[0]) if rounds else None
            for k, idx in enumerate(rounds):
                ids = future.result()
                if k + 1 < len(rounds):
                    future = pool.submit(tokenize, rounds[k + 1])
                embedder.embed(ids, lambda j, v, idx=idx: emit(int(idx[j]), v), progress)
        progress.maybe_log(final=True)
        elapsed = time.monotonic() - start
        stats = dict(embedder.stats, seconds=elapsed, dtype=str(dtype).replace("torch.", ""),
                     tokens_per_s=embedder.stats["tokens"] / max(elapsed, 1e-9))
        self.last_stats = stats
        del embedder, model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return stats

    def make_teacher(self, ctx, features: np.ndarray):
        from taxometer_kd import CrossFitHeadTeacher, EmbeddingHeadTeacher

        hidden = tuple(ctx.options.get("hidden", (512, 512)))
        lr = float(ctx.options.get("head-lr", 1e-4))
        folds = int(ctx.options.get("folds", 1))
        if folds > 1:
            teacher = CrossFitHeadTeacher(features, ctx.n_outputs, hidden=hidden, folds=folds, seed=ctx.seed, learning_rate=lr)
        else:
            teacher = EmbeddingHeadTeacher(features, ctx.n_outputs, hidden=hidden, learning_rate=lr)
        teacher.description = f"{self.model.name} head over frozen whole-contig embeddings"
        return teacher


@hookimpl
def register_teachers(register):
    for m in MODELS.values():
        register(
            TeacherSpec(
                name=m.name,
                description=f"{m.description}: MLP head over frozen whole-contig embeddings (needs {m.repo_id})",
                build=GenomeOceanBuilder(m),
                options=teacher_options(m),
                needs_download=True,
            ),
            aliases=m.aliases,
        )
