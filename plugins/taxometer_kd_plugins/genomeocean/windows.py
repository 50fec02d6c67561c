"""Whole-contig embeddings from token ids: windows, token-budget batches, the model call
and pooling (:class:`WindowEmbedder`), and progress lines."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


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


class _EarlyExit(Exception):
    def __init__(self, output):
        self.output = output


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
        cls_id: int | None,
        sep_id: int | None,
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
            base = (
                model
                if hasattr(model, "layers")
                else getattr(model, getattr(model, "base_model_prefix", "model"), None)
            )
            if base is not None and hasattr(base, "layers") and hasattr(base, "embed_tokens"):
                self._exit_module = base.embed_tokens if self.layer == 0 else base.layers[self.layer - 1]

    # -- model call ------------------------------------------------------------
    def hidden(self, input_ids, attention_mask):
        """The chosen layer's hidden states, (B, T, h)."""
        if self.layer == self.n_layers:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        if self._exit_module is None:  # unknown layout: let transformers collect the layer
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, use_cache=False, output_hidden_states=True
            )
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
        progress: _Progress | None = None,
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
