"""GenomeOcean teacher: the trained head on the embeddings, and ``vamb taxometer`` end to end.

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA (the session fixture ``checkpoint``, tests/conftest.py and genomeocean_helpers.py),
saved like a real checkpoint and loaded through ``--teacher-option path=DIR``: nothing comes
from the Hugging Face hub.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genomeocean_helpers import (  # noqa: E402
    _offline,  # noqa: F401  (autouse: offline, a private HF cache, one thread)
    make_ctx,
    random_dna,
    spec,
)

from taxometer_kd import (  # noqa: E402
    CrossFitHeadTeacher,
    EmbeddingHeadTeacher,
)


# ---------------------------------------------------------------------------- the teacher
def test_teacher_gives_logits_and_trains(tmp_path, checkpoint):
    rng = np.random.default_rng(5)
    gcs = (0.25, 0.5, 0.75)  # three "genomes" told apart by composition
    seqs, labels = [], []
    for label, gc in enumerate(gcs):
        for _ in range(8):
            seqs.append(random_dna(rng, int(rng.integers(200, 900)), gc))
            labels.append(label)
    ctx = make_ctx(seqs, tmp_path / "cache", checkpoint=checkpoint, n_outputs=3, hidden="16", head_lr="0.01")
    teacher = spec().build(ctx)
    assert isinstance(teacher, EmbeddingHeadTeacher)
    assert teacher.learning_rate == 0.01 and teacher.embeddings().shape == (len(seqs), 32)
    idx = torch.arange(len(seqs))
    y = torch.tensor(labels)
    assert teacher(idx[:5]).shape == (5, 3)
    assert teacher.predict(idx).shape == (len(seqs), 3)
    opt = torch.optim.Adam(teacher.parameters(), lr=teacher.learning_rate, weight_decay=teacher.weight_decay)
    teacher.train()
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(teacher(idx), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    teacher.eval()
    assert (teacher.predict(idx).argmax(1) == y).float().mean() > 0.9
    # the paper's default head: lr 1e-4, (512, 512) hidden
    default = spec().build(make_ctx(seqs, tmp_path / "cache", checkpoint=checkpoint, n_outputs=7))
    assert default.learning_rate == 1e-4 and default(idx[:4]).shape == (4, 7)
    # cross-fitted heads on the same cached embeddings
    crossfit = spec().build(make_ctx(seqs, tmp_path / "cache", checkpoint=checkpoint, n_outputs=7, folds="4"))
    assert isinstance(crossfit, CrossFitHeadTeacher) and crossfit.folds == 4
    assert crossfit(idx[:4]).shape == (4, 7)


# ---------------------------------------------------------------------------- vamb taxometer, end to end
@pytest.mark.slow
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")),
    ],
)
def test_vamb_taxometer_with_a_local_checkpoint(tiny_data, tmp_path, checkpoint, device):
    """`vamb taxometer --teacher genomeocean-100m --teacher-option path=DIR`: the tiny checkpoint
    goes through the same loading, windowing and cache code as a real one; a second run finds
    every embedding in the cache and gives the same results."""
    from test_e2e import check_results_file, fasta_names, taxometer

    cache = tmp_path / "cache"

    def run(out):
        return taxometer(
            tiny_data,
            out,
            "--teacher",
            "genomeocean-100m",
            "--teacher-option",
            f"path={checkpoint}",
            "--teacher-option",
            "hidden=16",
            "--teacher-cache",
            str(cache),
            *(["--cuda"] if device == "cuda" else []),
        )

    first = run(tmp_path / "a")
    assert first.returncode == 0, first.stderr
    log = (tmp_path / "a" / "log.txt").read_text()
    assert "genomeocean-100m" in log and f"Device: {device}" in log
    assert re.search(r"0 of \d+ distinct contigs found in the embedding cache .*; computing \d+", log)
    for name in ("results_taxometer.tsv", "results_teacher.tsv"):
        check_results_file(tmp_path / "a" / name, fasta_names(tiny_data["fasta"]))
    assert list(cache.rglob("*.npz"))  # shards on disk
    second = run(tmp_path / "b")
    assert second.returncode == 0, second.stderr
    assert re.search(r"all \d+ distinct contigs found in the embedding cache", (tmp_path / "b" / "log.txt").read_text())
    if device == "cpu":  # same seed, same cached vectors: the same labels
        assert (tmp_path / "b" / "results_taxometer.tsv").read_text() == (
            tmp_path / "a" / "results_taxometer.tsv"
        ).read_text()
