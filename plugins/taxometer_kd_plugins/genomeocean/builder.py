"""``GenomeOceanBuilder``: the ``TeacherSpec.build`` of one GenomeOcean size (settings, cache
identity, model loading, embedding, the teacher head)."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from taxometer_kd.cache import CachedFeatureBuilder

from .catalog import GenomeOceanModel, _import_transformers
from .checkpoint import CheckpointError, ResolvedCheckpoint, checkpoint_fingerprint, resolve_checkpoint
from .windows import WindowEmbedder

ALGORITHM = "genomeocean-whole-contig/v1"


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


def resolve_torch_dtype(name: str, device) -> Any:
    """The model's torch dtype for the ``dtype`` option: ``auto`` is bfloat16 on a CUDA GPU with
    native bf16 (Ampere and newer; V100 and T4 only emulate it, slowly), else float32."""
    import torch

    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if getattr(device, "type", str(device)) == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return torch.bfloat16
        return torch.float32
    return torch.float32


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


_ATTENTION: dict[tuple[str, str], str] = {}


def resolve_attention(device, dtype) -> str:
    """The attention implementation :meth:`GenomeOceanBuilder.load` uses, without loading the model.

    ``flash_attention_2`` on CUDA in bfloat16/float16 where flash-attn is installed, accepted
    by transformers and importable (its CUDA extension loads); ``sdpa`` otherwise. It is part
    of the cache key (the two give slightly different numbers), so ``load`` uses exactly
    this choice and never switches silently.
    """
    import torch

    kind = getattr(device, "type", str(device))
    if kind != "cuda" or dtype not in (torch.bfloat16, torch.float16):
        return "sdpa"
    memo = (kind, dtype_name(dtype))
    if memo not in _ATTENTION:
        choice = "sdpa"
        if importlib.util.find_spec("flash_attn") is not None:
            try:
                from transformers.utils import is_flash_attn_2_available

                if is_flash_attn_2_available():
                    importlib.import_module("flash_attn")  # a build for another torch fails here
                    choice = "flash_attention_2"
            except Exception as exc:  # ImportError, OSError (undefined symbol), ...
                from loguru import logger

                logger.warning(
                    f"genomeocean: flash-attn is installed but unusable ({type(exc).__name__}: {exc}); using sdpa"
                )
        _ATTENTION[memo] = choice
    return _ATTENTION[memo]


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
            self.model.repo_id,
            path=o.get("path"),
            revision=o.get("revision"),
            alternatives=(self.model.legacy_repo_id,),
            teacher=self.model.name,
        )
        try:
            config = json.loads((ckpt.directory / "config.json").read_text())
            n_layers = int(config["num_hidden_layers"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"teacher {self.model.name}: {ckpt.directory / 'config.json'} is not a model config "
                f"with num_hidden_layers ({type(exc).__name__}: {exc})"
            ) from None
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
        s = EmbedSettings(
            ckpt, checkpoint_fingerprint(ckpt.directory), n_layers, layer, o.get("pooling", "mean"), int(context)
        )
        self._settings[key] = s
        return s

    def preflight(self, options: dict[str, Any]) -> None:
        """``TeacherSpec.preflight``: before Vamb reads any input, check that transformers and
        tokenizers import and that the checkpoint resolves (a path, or the Hugging Face cache,
        downloading it when online) and fits the options (``layer``), without loading the model.

        Raises ``ImportError`` (with the install hint), :class:`CheckpointError` (a
        ``RuntimeError``: what is missing and how to supply it) or ``ValueError``. The
        resolution is kept for the run.
        """
        _import_transformers()
        self.settings(SimpleNamespace(options=options))

    def identity(self, ctx):
        s = self.settings(ctx)
        # The precision and the attention kernel change the vectors (slightly), so they are
        # part of the key; the device and the batch size do not (beyond rounding).
        dtype = resolve_torch_dtype(ctx.options.get("dtype", "auto"), ctx.device)
        identity = {
            "algorithm": ALGORITHM,
            "weights": s.fingerprint,
            "layer": s.layer,
            "n_layers": s.n_layers,
            "pooling": s.pooling,
            "max_tokens": s.context,
            "dtype": dtype_name(dtype),
            "attention": resolve_attention(ctx.device, dtype),
        }
        c = s.checkpoint
        provenance = {
            "teacher": self.model.name,
            "source": c.source,
            "directory": str(c.directory),
            "repo_id": c.repo_id,
            "revision": c.revision,
            "commit": c.commit,
        }
        return identity, provenance

    def shard_meta(self, ctx) -> dict[str, Any]:
        device = getattr(ctx.device, "type", str(ctx.device))
        dtype = resolve_torch_dtype(ctx.options.get("dtype", "auto"), ctx.device)
        return {"teacher": self.model.name, "device": device, "dtype": dtype_name(dtype)}

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
            logger.warning(f"{self.model.name}: this GPU has no native bfloat16; running in float32")
        attn = resolve_attention(device, dtype)
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
                # Not a silent switch to sdpa: the cache key says flash_attention_2.
                raise RuntimeError(
                    f"{self.model.name}: flash-attn is installed but transformers could not load the "
                    f"model with flash_attention_2 ({exc}). Reinstall flash-attn for this torch, or "
                    "uninstall it (pip uninstall flash-attn) to run with sdpa"
                ) from None
        model.requires_grad_(False)
        model.eval().to(device)
        vocab = model.get_input_embeddings().weight.shape[0]
        if len(tokenizer) > vocab:
            raise CheckpointError(
                f"{d}: the tokenizer has {len(tokenizer)} tokens but the model only {vocab} embeddings"
            )
        logger.info(
            f"{self.model.name}: loaded {settings.checkpoint.describe()} on {device} "
            f"({dtype_name(dtype)}, attention {attn}, {settings.n_layers} blocks, "
            f"hidden {model.config.hidden_size}, layer {settings.layer}, {settings.pooling} pooling, "
            f"{settings.context}-token windows)"
        )
        return tokenizer, model, dtype

    @staticmethod
    def _special_ids(tokenizer, model) -> tuple[int | None, int | None, int]:
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
            model,
            context=s.context,
            layer=s.layer,
            pooling=s.pooling,
            batch_tokens=batch_tokens,
            cls_id=cls_id,
            sep_id=sep_id,
            pad_id=pad_id,
            device=device,
            name=self.model.name,
            log_seconds=self.log_seconds,
            mask_padding=self.mask_padding,
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
                assert future is not None  # submitted before the loop and at the end of each round
                ids = future.result()
                if k + 1 < len(rounds):
                    future = pool.submit(tokenize, rounds[k + 1])

                def emit_row(j: int, v: np.ndarray, idx: np.ndarray = idx) -> None:
                    emit(int(idx[j]), v)

                embedder.embed(ids, emit_row, progress)
        progress.maybe_log(final=True)
        elapsed = time.monotonic() - start
        stats = dict(
            embedder.stats,
            seconds=elapsed,
            dtype=dtype_name(dtype),
            tokens_per_s=embedder.stats["tokens"] / max(elapsed, 1e-9),
        )
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
        teacher: CrossFitHeadTeacher | EmbeddingHeadTeacher
        if folds > 1:
            teacher = CrossFitHeadTeacher(
                features,
                ctx.n_outputs,
                hidden=hidden,
                folds=folds,
                seed=ctx.seed,
                learning_rate=lr,
                feature_dtype=ctx.feature_dtype,
            )
        else:
            teacher = EmbeddingHeadTeacher(
                features, ctx.n_outputs, hidden=hidden, learning_rate=lr, feature_dtype=ctx.feature_dtype
            )
        teacher.description = f"{self.model.name} head over frozen whole-contig embeddings"
        return teacher
