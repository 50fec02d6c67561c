"""GenomeOcean teacher: the embed command under torchrun (two gloo processes, a failing rank).

Everything runs on a tiny random-weight Mistral model and a BPE tokenizer trained here on
random DNA (the session fixture ``checkpoint``, tests/conftest.py and genomeocean_helpers.py),
saved like a real checkpoint and loaded through ``--teacher-option path=DIR``: nothing comes
from the Hugging Face hub.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genomeocean_helpers import (  # noqa: E402
    _offline,  # noqa: F401  (autouse: offline, a private HF cache, one thread)
    load_cached,
    make_ctx,
    spec,
    write_fasta,
)


def test_two_process_gloo_equals_single_process(tmp_path, checkpoint, contigs):
    from taxometer_kd import embed

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    common = [
        "--teacher",
        "go-100m",
        "--teacher-option",
        f"path={checkpoint}",
        "--fasta",
        str(fasta),
        "--min-length",
        "50",
    ]
    single = tmp_path / "single"
    embed.run_embed(embed.build_parser().parse_args([*common, "--out", str(single)]))
    multi = tmp_path / "multi"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TAXOMETER_KD_DIST_TIMEOUT_HOURS="0.05")
    env.pop("TAXOMETER_KD_DISABLE", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "taxometer_kd",
        "embed",
        *common,
        "--out",
        str(multi),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[rank 1/2]" in proc.stderr and "[rank 0/2]" in proc.stderr
    np.testing.assert_allclose(
        load_cached(multi, checkpoint, contigs), load_cached(single, checkpoint, contigs), rtol=0, atol=1e-5
    )
    cache = spec().build.open_cache(make_ctx(contigs, multi, checkpoint=checkpoint))
    shards = [p.name for p in (cache.dir / "shards").glob("*.npz")]
    assert any(s.startswith("rank000") for s in shards) and any(s.startswith("rank001") for s in shards)
    index = json.loads((cache.dir / "index.json").read_text())
    assert index["n_vectors"] == len(contigs) and len(index["shards"]) == len(shards)


FAILING_RANK = """
import os, sys
from taxometer_kd import embed, registry
builder = registry.get_teacher("go-100m").build
where = os.environ["FAIL_AT"]
if os.environ["RANK"] == os.environ["FAIL_RANK"]:
    def fail(*args, **kwargs):
        raise RuntimeError(f"injected failure in {where}")
    setattr(builder, where, fail)
sys.exit(embed.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("rank,where", [("0", "open_cache"), ("1", "compute")])
def test_a_failing_rank_ends_a_torchrun_job(tmp_path, checkpoint, contigs, rank, where):
    """Rank 0 failing before the first barrier (resolving the checkpoint, opening the cache),
    or rank 1 failing while the other embeds: both processes stop within seconds, with the
    error on the failing rank and, on the other, which rank failed."""
    import time

    fasta = write_fasta(tmp_path / "contigs.fna", contigs)
    script = tmp_path / "failing_rank.py"
    script.write_text(FAILING_RANK)
    out = tmp_path / "emb"
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TAXOMETER_KD_DIST_TIMEOUT_HOURS="0.03",
        FAIL_RANK=rank,
        FAIL_AT=where,
    )
    env.pop("TAXOMETER_KD_DISABLE", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
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
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - start
    log = proc.stdout[-4000:] + proc.stderr[-6000:]
    assert proc.returncode != 0, log
    assert elapsed < 60, f"{elapsed:.0f} s: the ranks waited for the timeout\n{log}"
    other = 1 - int(rank)
    assert re.search(rf"\[rank {rank}/2\] injected failure in {where}", proc.stderr), log
    assert re.search(rf"\[rank {other}/2\] embed: rank {rank} failed while", proc.stderr), log
    ranks_log = proc.stderr.split("exitcode")[0]  # what the ranks wrote, before torchrun's own report
    assert "Traceback" not in ranks_log, log  # one ERROR line per rank
    assert not (out / "genomeocean").exists() or not list(out.rglob("index.json"))
