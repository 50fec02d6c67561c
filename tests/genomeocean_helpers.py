"""Shared by the test_genomeocean_* modules: a tiny GenomeOcean-like checkpoint and its contigs
(made once per session by the ``checkpoint`` and ``contigs`` fixtures of tests/conftest.py), the
autouse ``_offline`` fixture each module imports, and small helpers to build a teacher context,
run the model path and write or read back test FASTA files and cached embeddings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from taxometer_kd import TeacherContext, registry
from taxometer_kd.cache import sequence_hash
from taxometer_kd.io import InMemoryContigs

CONTEXT = 64  # max_position_embeddings of the tiny model
DNA = np.frombuffer(b"ACGT", dtype=np.uint8)


def random_dna(rng: np.random.Generator, n: int, gc: float = 0.5) -> bytes:
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return DNA[rng.choice(4, size=n, p=p)].tobytes()


def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny GenomeOcean-like checkpoint: Mistral weights (safetensors) + a [CLS]/[SEP] BPE tokenizer."""
    from tokenizers import Tokenizer, models, trainers
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny-genomeocean")
    rng = np.random.default_rng(0)
    corpus = [random_dna(rng, 3000, gc).decode() for gc in np.linspace(0.3, 0.7, 30)]
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    trainer = trainers.BpeTrainer(
        vocab_size=256,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"],
        initial_alphabet=list("ACGTN"),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    tok.save_pretrained(d)
    config = MistralConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        sliding_window=None,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
    )
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(d)
    assert list(d.glob("*.safetensors")) and not list(d.glob("*.bin"))
    return d


def contig_sequences() -> list[bytes]:
    rng = np.random.default_rng(1)
    # ~3.4 bp per token here: 1 to ~12 windows of 62 sequence tokens; one has lower case
    seqs = [random_dna(rng, n) for n in (150, 400, 1200, 2500, 90, 700, 1000)]
    seqs[5] = seqs[5][:300].lower() + seqs[5][300:]
    return seqs


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Never touch the network; a private, empty HF cache; one thread."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def spec(name="genomeocean-100m"):
    return registry.get_teacher(name)


def make_ctx(seqs, cache_dir, *, checkpoint=None, name="genomeocean-100m", n_outputs=3, device="cpu", **options):
    raw = {k.replace("_", "-"): str(v) for k, v in options.items()}
    if checkpoint is not None:
        raw["path"] = str(checkpoint)
    return TeacherContext(
        contigs=InMemoryContigs(list(seqs)),
        n_outputs=n_outputs,
        options=spec(name).validate_options(raw),
        device=torch.device(device),
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
    )


def compute(builder, ctx, seqs=None):
    """Run the model path directly (no cache): {index: vector}."""
    out = {}
    builder.compute(ctx, list(ctx.contigs.to_list() if seqs is None else seqs), lambda i, v: out.__setitem__(i, v))
    return np.stack([out[i] for i in range(len(out))])


def write_fasta(path: Path, seqs, short=b"ACGTACGTAC") -> Path:
    with open(path, "wb") as fh:
        for i, s in enumerate(seqs):
            fh.write(b">contig_%d some description\n" % i)
            for j in range(0, len(s), 60):
                fh.write(s[j : j + 60] + b"\n")
        fh.write(b">too_short\n" + short + b"\n")
    return path


def load_cached(out: Path, checkpoint: Path, seqs) -> np.ndarray:
    cache = spec().build.open_cache(make_ctx(seqs, out, checkpoint=checkpoint))
    return cache.get([sequence_hash(s) for s in seqs])
