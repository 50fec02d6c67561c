"""The plan of a benchmark: the data set, the methods and the runs, and each run's command.

- :func:`prepare_dataset` (:mod:`benchmarks.plan_data`): a data dir (``labels/<labeller>.tsv``,
  optionally the labeller's ``labels/<labeller>.confidence.tsv``, ``abundance.tsv``,
  ``truth.tsv``, a FASTA or ``build_contigs.py``) or the project's synthetic data, optionally a
  random subset of its contigs;
- :class:`Method` (a column of the report) and :class:`RunSpec` (one ``vamb taxometer``
  process; one run may give several methods, e.g. the student and its teacher)
  (:mod:`benchmarks.plan_runs`);
- :func:`make_plan` (:mod:`benchmarks.plan_runs`): the methods in report order and the runs,
  seed by seed;
- :func:`build_command` (this module): the exact command line and environment of a run.

Every name of those modules that other code uses is importable from here.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.plan_data import (
    MOCK64 as MOCK64,
    ROOT as ROOT,
    Dataset,
    prepare_dataset as prepare_dataset,
    rel as rel,
    say as say,
)
from benchmarks.plan_runs import (
    ALPHAS as ALPHAS,
    INITIAL as INITIAL,
    MAIN_ALPHA as MAIN_ALPHA,
    MAIN_TEMPERATURE as MAIN_TEMPERATURE,
    STOCK as STOCK,
    TEMPERATURES as TEMPERATURES,
    Method as Method,
    RunSpec,
    _fmt_num,
    confidence_methods as confidence_methods,
    default_ablation_labeller as default_ablation_labeller,
    g_method as g_method,
    kd_method as kd_method,
    kdconf_method as kdconf_method,
    make_plan as make_plan,
    teacher_method as teacher_method,
)

STOCK_WRAPPER = (
    "import sys, torch; torch.manual_seed({seed}); sys.argv = {argv}; from vamb.__main__ import main; main()"
)


def build_command(spec: RunSpec, ds: Dataset, cfg: dict[str, Any], outdir: Path) -> tuple[list[str], dict[str, str]]:
    args = [
        "taxometer",
        "--outdir",
        str(outdir),
        "--fasta",
        str(ds.fasta.resolve()),
        "--abundance_tsv",
        str(ds.abundance.resolve()),
        "--taxonomy",
        str(ds.labels[spec.labeller].resolve()),
        "-pe",
        str(cfg["epochs"]),
        "-p",
        str(cfg["threads"]),
        "-m",
        str(ds.min_length),
        "--seed",
        str(spec.seed),
    ]
    if cfg["batch_size"]:
        args += ["-pt", str(cfg["batch_size"])]
    if cfg["cuda"]:
        args.append("--cuda")
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(cfg["threads"])
    env.pop("TAXOMETER_KD_DISABLE", None)
    if spec.kind == "stock":
        # stock Taxometer does not seed torch (its --seed is for clustering): seed it here
        env["TAXOMETER_KD_DISABLE"] = "1"
        code = STOCK_WRAPPER.format(seed=spec.seed, argv=json.dumps(["vamb", *args]))  # a JSON list is Python too
        return [sys.executable, "-c", code], env
    vamb = Path(sys.executable).parent / "vamb"
    exe = str(vamb) if vamb.exists() else (shutil.which("vamb") or "vamb")
    assert spec.teacher is not None  # every run but stock has one
    args += ["--teacher", spec.teacher]
    for option in cfg.get("teacher_options") or ():
        args += ["--teacher-option", option]
    if spec.kind == "kdG":
        args += ["--student-input", "embedding", "--alpha", "1"]
    else:
        assert spec.alpha is not None and spec.temperature is not None  # set for kd and kdconf runs
        args += ["--alpha", _fmt_num(spec.alpha), "--temperature", _fmt_num(spec.temperature)]
    if spec.kind == "kdconf":
        args += ["--label-confidence", str(ds.confidence[spec.labeller].resolve())]
    args += cfg.get("kd_args") or []
    return [exe, *args], env
