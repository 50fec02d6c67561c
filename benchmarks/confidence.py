"""The labellers' own confidence in the benchmark.

A data set may hold, beside ``labels/<labeller>.tsv``, the labeller's per-contig confidence
``labels/<labeller>.confidence.tsv`` or ``labels/confidence/<labeller>.tsv`` (the layout
``benchmarks.labellers --labels`` writes) (``contigs<TAB>confidence``, what ``taxometer-kd
labels ... --confidence-out`` writes; read with
:func:`taxometer_kd.labels.confidence.read_confidence`).
For each labeller that has one the benchmark adds

- the method "taxometer-kd (T) + confidence": the main kd run with ``--label-confidence FILE``
  (run kind ``kdconf``, same seeds);
- the baselines "initial labels, species dropped below confidence c" for a sweep of ``c``: the
  labeller's file with the species rank removed (lineage truncated to genus) where the
  contig's confidence is below ``c``; no run, scored like the initial labels. A contig the
  confidence file does not list (NaN: the labeller gave nothing to compute one from) keeps
  its label. The cut with the best species F1 (at score cut 0.5; initial labels have no
  scores, so at every cut) is shown in the main tables as "best confidence-filtered labels".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from taxometer_kd import evaluate

SUFFIX = ".confidence.tsv"
#: the sweep of confidence cuts of the filtered baselines; it starts at 0.01 because on the hard
#: case the best cut of Centrifuge's labels lies below 0.05 (the species calls with almost no
#: support are nearly all wrong, and a higher cut already drops distant novel strains)
CUTS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
#: the main tables' row: the best cut of each labeller
BEST = "conf:best"
BEST_LABEL = "best confidence-filtered labels"
SPECIES = evaluate.rank_index("species")


def is_confidence_file(path: Path) -> bool:
    return path.name.endswith(SUFFIX)


def confidence_files(labels: Mapping[str, Path]) -> dict[str, Path]:
    """Each labeller's confidence file, where it has one: ``labels/<labeller>.confidence.tsv``
    beside its labels, else ``labels/confidence/<labeller>.tsv``."""
    out = {}
    for name, path in labels.items():
        for conf in (path.with_name(name + SUFFIX), path.parent / "confidence" / f"{name}.tsv"):
            if conf.is_file():
                out[name] = conf
                break
    return out


def _num(x: float) -> str:
    return f"{x:g}"


def method_key(cut: float) -> str:
    return f"conf:c{_num(cut)}"


def method_label(cut: float) -> str:
    return f"initial labels, species dropped below confidence {_num(cut)}"


def read(labels_path: Path, confidence_path: Path) -> tuple[evaluate.Labels, np.ndarray]:
    """The labeller's labels and each labelled contig's confidence (NaN where unknown), in the
    labels file's order. A malformed confidence file stops the benchmark (``SystemExit`` with
    the file and line), so :func:`benchmarks.plan.prepare_dataset` reads it before any run."""
    from taxometer_kd.errors import KDError
    from taxometer_kd.labels.confidence import read_confidence

    labels = evaluate.load_labels(labels_path)
    try:
        return labels, read_confidence(confidence_path, list(labels.names))
    except KDError as exc:
        raise SystemExit(f"{exc} (the confidence of labels {labels_path})") from None


def drop_species(labels: evaluate.Labels, confidence: np.ndarray, cut: float) -> tuple[evaluate.Labels, int]:
    """``labels`` with the species removed where the confidence is below ``cut`` (NaN: kept);
    also returns how many contigs lost their species."""
    names: dict[str, dict[int, str]] = {}
    dropped = 0
    for (contig, lineage), conf in zip(labels.names.items(), confidence):
        if SPECIES in lineage and conf < cut:  # NaN < cut is False: unknown confidence keeps the label
            lineage = {r: n for r, n in lineage.items() if r < SPECIES}
            dropped += 1
        names[contig] = lineage
    return evaluate.Labels(names, {c: None for c in names}), dropped


def best_cuts(
    summary: Sequence[Mapping[str, Any]], labellers: Sequence[str], cuts: Sequence[float]
) -> dict[str, dict[str, Any]]:
    """Per labeller, the cut whose filtered labels have the best mean species F1 at score cut 0.5
    (all contigs; the lowest such cut on a tie): ``{"cut", "method", "f1"}``."""
    f1 = {
        (s["labeller"], s["method"]): s["f1_mean"]
        for s in summary
        if s["rank"] == "species" and s["cut"] == 0.5 and s["subset"] == "all"
    }
    best: dict[str, dict[str, Any]] = {}
    for lab in labellers:
        scored = [(f1[(lab, method_key(c))], c) for c in cuts if f1.get((lab, method_key(c))) is not None]
        if scored:
            value = max(v for v, _ in scored)
            cut = min(c for v, c in scored if v == value)
            best[lab] = {"cut": cut, "method": method_key(cut), "f1": value}
    return best


def best_label(best: Mapping[str, Any] | None) -> str:
    return BEST_LABEL + (f" (c = {_num(best['cut'])})" if best else "")
