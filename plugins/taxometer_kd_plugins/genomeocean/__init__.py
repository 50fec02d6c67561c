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
safetensors headers plus sampled weight blocks), the layer, pooling, window size, the
model's precision (dtype), the attention implementation (sdpa / flash_attention_2) and the
algorithm version; lookups are by contig sequence hash.

Modules: :mod:`.catalog` (the sizes and the options), :mod:`.checkpoint` (finding and
fingerprinting a checkpoint), :mod:`.windows` (windows, batches, pooling) and
:mod:`.builder` (:class:`GenomeOceanBuilder`, the teacher). This module registers the
teachers and re-exports the names of all four.
"""

from __future__ import annotations

from taxometer_kd import TeacherSpec, hookimpl

from .builder import (
    ALGORITHM,
    EmbedSettings,
    GenomeOceanBuilder,
    _quiet_transformers as _quiet_transformers,
    dtype_name,
    resolve_attention,
    resolve_torch_dtype,
)
from .catalog import (
    INSTALL_HINT,
    MODELS,
    GenomeOceanModel,
    _import_transformers as _import_transformers,
    teacher_options,
)
from .checkpoint import (
    HUB_PATTERNS,
    TOKENIZER_FILES,
    CheckpointError,
    ResolvedCheckpoint,
    checkpoint_fingerprint,
    checkpoint_problems,
    hf_hub_cache_dir,
    hf_offline,
    resolve_checkpoint,
)
from .windows import WindowEmbedder, plan_batches, split_windows

__all__ = [
    "ALGORITHM",
    "HUB_PATTERNS",
    "INSTALL_HINT",
    "MODELS",
    "TOKENIZER_FILES",
    "CheckpointError",
    "EmbedSettings",
    "GenomeOceanBuilder",
    "GenomeOceanModel",
    "ResolvedCheckpoint",
    "WindowEmbedder",
    "checkpoint_fingerprint",
    "checkpoint_problems",
    "dtype_name",
    "hf_hub_cache_dir",
    "hf_offline",
    "plan_batches",
    "register_teachers",
    "resolve_attention",
    "resolve_checkpoint",
    "resolve_torch_dtype",
    "split_windows",
    "teacher_options",
]


@hookimpl
def register_teachers(register):
    for m in MODELS.values():
        builder = GenomeOceanBuilder(m)
        register(
            TeacherSpec(
                name=m.name,
                description=f"{m.description}: MLP head over frozen whole-contig embeddings (needs {m.repo_id})",
                build=builder,
                options=teacher_options(m),
                needs_download=True,
                preflight=builder.preflight,
            ),
            aliases=m.aliases,
        )
