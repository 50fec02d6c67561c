"""GenomeOcean teacher: the embed command (``taxometer-kd embed``) in one process.

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA (the session fixture ``checkpoint``, tests/conftest.py and genomeocean_helpers.py),
saved like a real checkpoint and loaded through ``--teacher-option path=DIR``: nothing comes
from the Hugging Face hub.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genomeocean_helpers import (  # noqa: E402
    _offline,  # noqa: F401  (autouse: offline, a private HF cache, one thread)
    compute,
    load_cached,
    make_ctx,
    spec,
    write_fasta,
)


# ---------------------------------------------------------------------------- embed CLI
def test_embed_cli_fills_the_cache(tmp_path, checkpoint, contigs, monkeypatch):
    from taxometer_kd import embed

    fasta = write_fasta(tmp_path / "contigs.fna", [*contigs, contigs[2].lower()])  # one twice
    out = tmp_path / "emb"
    argv = [
        "--teacher",
        "go-100m",
        "--teacher-option",
        f"path={checkpoint}",
        "--fasta",
        str(fasta),
        "--out",
        str(out),
        "--min-length",
        "50",
    ]
    # the FASTA is streamed, never read whole
    monkeypatch.setattr("taxometer_kd.io.read_fasta", lambda *a: pytest.fail("the whole FASTA was read"))
    summary = embed.run_embed(embed.build_parser().parse_args(argv))
    assert summary["contigs"] == len(contigs) + 1 and summary["distinct"] == len(contigs)
    assert summary["computed"] == len(contigs)
    assert summary["cached_before"] == 0
    again = embed.run_embed(embed.build_parser().parse_args(argv))
    assert again["computed"] == 0 and again["cached_before"] == len(contigs)
    want = compute(spec().build, make_ctx(contigs, None, checkpoint=checkpoint))
    np.testing.assert_allclose(load_cached(out, checkpoint, contigs), want, rtol=0, atol=1e-5)

    # training with --teacher-cache OUT finds everything: the model is not even loaded
    builder = spec().build
    monkeypatch.setattr(builder, "load", lambda *a: pytest.fail("the model was loaded"))
    teacher = builder(make_ctx(contigs, out, checkpoint=checkpoint))
    np.testing.assert_allclose(teacher.embeddings(), want, rtol=0, atol=1e-5)

    assert embed.main(argv) == 0
    assert embed.main(["--teacher", "no-such-teacher", "--fasta", str(fasta), "--out", str(out)]) == 1
    assert embed.main([*argv, "--teacher-option", "pooling=cls"]) == 1


def test_embed_streams_only_its_rows(tmp_path, contigs):
    from taxometer_kd.embed import _FastaRows
    from taxometer_kd.errors import KDError

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    wanted = {5: 0, 1: 1, 3: 2}  # record number -> row of this process's share
    names = [f"contig_{k}" for k in wanted]
    rows = _FastaRows(fasta, 50, wanted, names, [len(contigs[k]) for k in wanted])
    assert len(rows) == 3 and sorted(rows) == [(0, contigs[5].upper()), (1, contigs[1]), (2, contigs[3])]
    write_fasta(fasta, contigs[:4])  # the file changed between the two passes
    with pytest.raises(KDError, match="changed while it was being read"):
        list(rows)


def test_split_by_size_balances():
    from taxometer_kd.embed import split_by_size

    sizes = [100, 10, 60, 50, 40, 5]
    parts = split_by_size(sizes, 2)
    assert sorted(i for p in parts for i in p) == list(range(6))
    loads = sorted(sum(sizes[i] for i in p) for p in parts)
    assert loads == [125, 140]  # greedy, largest first: within 4/3 of the optimum (130/135)
    assert split_by_size(sizes, 2) == parts  # deterministic: every rank computes the same split
    sizes = np.random.default_rng(0).integers(2_000, 300_000, 500).tolist()
    loads = [sum(sizes[i] for i in p) for p in split_by_size(sizes, 4)]
    assert max(loads) - min(loads) <= max(sizes)
    assert split_by_size([3, 2], 4)[2:] == [[], []]
