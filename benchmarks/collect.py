"""Scoring the runs of a benchmark into its results: per-run metrics, summaries over seeds,
PR curves, label transitions and timings (:func:`collect`), and the CSV files
(:func:`write_outputs`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from benchmarks import metrics
from benchmarks.execute import write_json
from benchmarks.plan import INITIAL, Dataset, Method, RunSpec, rel
from taxometer_kd import evaluate

def collect(ds: Dataset, labellers: list[str], methods: list[Method], runs: list[RunSpec], records: list[dict], work: Path, sankey_pairs) -> dict[str, Any]:
    """Score the initial labels and every finished run; PR curves and transitions too."""
    truth = evaluate.load_truth(ds.truth)
    masks = metrics.subset_masks(truth)
    ok = {(r["labeller"], r["run"], r["seed"]) for r in records if r["status"] == "ok"}
    rows: list[dict[str, Any]] = []
    curves: dict[tuple, list] = {}
    species_codes: dict[tuple, dict[float, np.ndarray]] = {}  # (labeller, method, seed) -> cut -> codes
    wanted = {m for pair in sankey_pairs for m in pair}

    def add(labeller: str, method: str, seed: Optional[int], path: Path) -> None:
        labels = evaluate.load_labels(path)
        run_rows, outcomes = metrics.score_labels(labels, truth, masks)
        rows.extend({"labeller": labeller, "method": method, "seed": seed, **r} for r in run_rows)
        for rank, (codes, gates) in outcomes.items():
            curves.setdefault((labeller, method, rank), []).append(metrics.pr_on_grid(codes, gates))
        if method in wanted:
            codes, gates = outcomes["species"]
            species_codes[(labeller, method, seed)] = {c: evaluate.codes_at(codes, gates, c) for c in metrics.CUTS}

    for lab in labellers:
        add(lab, INITIAL.key, None, ds.labels[lab])
        for spec in runs:
            if spec.labeller == lab and (lab, spec.run_id, spec.seed) in ok:
                for method, fname in spec.outputs:
                    add(lab, method, spec.seed, spec.directory(work) / "out" / fname)

    transitions = []
    seeds = sorted({s.seed for s in runs})
    for lab in labellers:
        for before, after in sankey_pairs:
            for seed in seeds:
                a = species_codes.get((lab, before, None if before == INITIAL.key else seed))
                b = species_codes.get((lab, after, seed))
                if a is None or b is None:
                    continue
                for cut in metrics.CUTS:
                    m = metrics.transition_matrix(a[cut], b[cut])
                    transitions.append({"labeller": lab, "before": before, "after": after, "cut": cut, "seed": seed, "matrix": m.tolist()})

    summary = metrics.aggregate(rows, ("labeller", "method", "rank", "cut", "subset"), ("n", *metrics.METRIC_FIELDS))
    pr = [
        {"labeller": lab, "method": m, "rank": rank, "n_seeds": len(cs), **metrics.mean_curve(cs)}
        for (lab, m, rank), cs in curves.items()
    ]
    trans_mean = []
    groups: dict[tuple, list] = {}
    for t in transitions:
        groups.setdefault((t["labeller"], t["before"], t["after"], t["cut"]), []).append(np.array(t["matrix"], dtype=float))
    for (lab, before, after, cut), ms in groups.items():
        trans_mean.append({"labeller": lab, "before": before, "after": after, "cut": cut, "n_seeds": len(ms), "matrix": np.mean(ms, axis=0).tolist()})

    timing_rows = []
    for r in records:
        if r["status"] == "ok":
            method = r["outputs"][0]
            timing_rows.append({"labeller": r["labeller"], "method": method, **(r.get("timings") or {}),
                                "wall_s": r.get("wall_s"), "peak_rss_mb": r.get("peak_rss_mb")})
    timing_fields = ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s", "wall_s", "peak_rss_mb")
    timings = metrics.aggregate(timing_rows, ("method",), timing_fields)
    timings_by_labeller = metrics.aggregate(timing_rows, ("labeller", "method"), timing_fields)
    dataset_info = {
        "name": ds.name, "source": ds.source, "fasta": rel(ds.fasta), "truth": rel(ds.truth),
        "labels": {k: rel(v) for k, v in ds.labels.items()}, "n_contigs": ds.n_contigs, "min_length": ds.min_length,
        "subsets": {k: int(v.sum()) for k, v in masks.items()},
    }
    return {
        "dataset": dataset_info, "metrics": rows, "summary": summary, "pr_curves": pr,
        "transitions": transitions, "transitions_mean": trans_mean, "timings": timings,
        "timings_by_labeller": timings_by_labeller,
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})


def write_outputs(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results)
    write_csv(out / "metrics.csv", results["metrics"])
    write_csv(out / "summary.csv", results["summary"])
    runs = [{k: v for k, v in r.items() if k not in ("timings", "outputs")} | (r.get("timings") or {}) for r in results["runs"]]
    write_csv(out / "runs.csv", runs)
    write_csv(out / "timings.csv", results["timings_by_labeller"])
    pr_rows = [
        {"labeller": c["labeller"], "method": c["method"], "rank": c["rank"], "n_seeds": c["n_seeds"],
         "threshold": t, "precision": p, "recall": r}
        for c in results["pr_curves"] for t, p, r in zip(c["threshold"], c["precision"], c["recall"])
    ]
    write_csv(out / "pr_curves.csv", pr_rows)
    tr_rows = []
    for t in results["transitions"]:
        for i, b in enumerate(metrics.OUTCOMES):
            for j, a in enumerate(metrics.OUTCOMES):
                tr_rows.append({k: t[k] for k in ("labeller", "before", "after", "cut", "seed")} | {"from": b, "to": a, "count": t["matrix"][i][j]})
    write_csv(out / "transitions.csv", tr_rows)

