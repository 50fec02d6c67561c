"""Scoring the runs of a benchmark into its results: per-run metrics, summaries over seeds,
PR curves, label transitions, calibration of the scores (:mod:`taxometer_kd.calibration`),
the confidence-filtered initial labels (:mod:`benchmarks.confidence`) and timings
(:func:`collect`), and the CSV files (:func:`write_outputs`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import confidence, metrics
from benchmarks.execute import write_json
from benchmarks.plan import INITIAL, Dataset, Method, RunSpec, rel
from taxometer_kd import calibration, evaluate


def collect(
    ds: Dataset,
    labellers: list[str],
    methods: list[Method],
    runs: list[RunSpec],
    records: list[dict],
    work: Path,
    sankey_pairs,
    confident=(),
    confidence_cuts=(),
) -> dict[str, Any]:
    """Score the initial labels and every finished run; PR curves, transitions and the
    calibration of the scores too; for the ``confident`` labellers (with a confidence file)
    also the initial labels with the species dropped below each of ``confidence_cuts``."""
    truth = evaluate.load_truth(ds.truth)
    masks = metrics.subset_masks(truth)
    ok = {(r["labeller"], r["run"], r["seed"]) for r in records if r["status"] == "ok"}
    rows: list[dict[str, Any]] = []
    curves: dict[tuple, list] = {}
    species_codes: dict[tuple, dict[float, np.ndarray]] = {}  # (labeller, method, seed) -> cut -> codes
    wanted = {m for pair in sankey_pairs for m in pair}
    calib: list[dict[str, Any]] = []

    def add(labeller: str, method: str, seed: int | None, labels: evaluate.Labels) -> None:
        run_rows, outcomes = metrics.score_labels(labels, truth, masks)
        rows.extend({"labeller": labeller, "method": method, "seed": seed, **r} for r in run_rows)
        for rank, (codes, gates) in outcomes.items():
            curves.setdefault((labeller, method, rank), []).append(metrics.pr_on_grid(codes, gates))
        if method in wanted:
            codes, gates = outcomes["species"]
            species_codes[(labeller, method, seed)] = {c: evaluate.codes_at(codes, gates, c) for c in metrics.CUTS}
        if any(v is not None for v in labels.scores.values()):
            for rank, (codes, gates) in outcomes.items():
                calib.append(
                    {
                        "labeller": labeller,
                        "method": method,
                        "seed": seed,
                        "rank": rank,
                        **calibration.calibration(codes, gates, metrics.CUTS),
                    }
                )

    dropped = []
    for lab in labellers:
        add(lab, INITIAL.key, None, evaluate.load_labels(ds.labels[lab]))
        if lab in confident:
            labels, conf = confidence.read(ds.labels[lab], ds.confidence[lab])
            for c in confidence_cuts:
                filtered, n = confidence.drop_species(labels, conf, c)
                add(lab, confidence.method_key(c), None, filtered)
                dropped.append({"labeller": lab, "cut": c, "dropped": n, "unknown": int(np.isnan(conf).sum())})
        for spec in runs:
            if spec.labeller == lab and (lab, spec.run_id, spec.seed) in ok:
                for method, fname in spec.outputs:
                    add(lab, method, spec.seed, evaluate.load_labels(spec.directory(work) / "out" / fname))

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
                    transitions.append(
                        {
                            "labeller": lab,
                            "before": before,
                            "after": after,
                            "cut": cut,
                            "seed": seed,
                            "matrix": m.tolist(),
                        }
                    )

    summary = metrics.aggregate(rows, ("labeller", "method", "rank", "cut", "subset"), ("n", *metrics.METRIC_FIELDS))
    conf_info = {
        "labellers": {lab: rel(ds.confidence[lab]) for lab in labellers if lab in confident},
        "cuts": list(confidence_cuts) if confident else [],
        "dropped": dropped,
        "best": confidence.best_cuts(summary, [lab for lab in labellers if lab in confident], confidence_cuts),
    }
    pr = [
        {"labeller": lab, "method": m, "rank": rank, "n_seeds": len(cs), **metrics.mean_curve(cs)}
        for (lab, m, rank), cs in curves.items()
    ]
    trans_mean = []
    groups: dict[tuple, list] = {}
    for t in transitions:
        groups.setdefault((t["labeller"], t["before"], t["after"], t["cut"]), []).append(
            np.array(t["matrix"], dtype=float)
        )
    for (lab, before, after, cut), ms in groups.items():
        trans_mean.append(
            {
                "labeller": lab,
                "before": before,
                "after": after,
                "cut": cut,
                "n_seeds": len(ms),
                "matrix": np.mean(ms, axis=0).tolist(),
            }
        )

    timing_rows = []
    for r in records:
        if r["status"] == "ok":
            method = r["outputs"][0]
            timing_rows.append(
                {
                    "labeller": r["labeller"],
                    "method": method,
                    **(r.get("timings") or {}),
                    "wall_s": r.get("wall_s"),
                    "peak_rss_mb": r.get("peak_rss_mb"),
                }
            )
    timing_fields = ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s", "wall_s", "peak_rss_mb")
    timings = metrics.aggregate(timing_rows, ("method",), timing_fields)
    timings_by_labeller = metrics.aggregate(timing_rows, ("labeller", "method"), timing_fields)
    dataset_info = {
        "name": ds.name,
        "source": ds.source,
        "fasta": rel(ds.fasta),
        "truth": rel(ds.truth),
        "labels": {k: rel(v) for k, v in ds.labels.items()},
        "n_contigs": ds.n_contigs,
        "min_length": ds.min_length,
        "subsets": {k: int(v.sum()) for k, v in masks.items()},
    }
    return {
        "dataset": dataset_info,
        "metrics": rows,
        "summary": summary,
        "pr_curves": pr,
        "transitions": transitions,
        "transitions_mean": trans_mean,
        "timings": timings,
        "timings_by_labeller": timings_by_labeller,
        "calibration": calib,
        "calibration_summary": calibration_summary(calib),
        "reliability": mean_reliability(calib),
        "confidence": conf_info,
    }


def _cut_fields(cut: float) -> tuple[str, str]:
    return f"precision_at_{cut:g}", f"n_at_{cut:g}"


def calibration_summary(calib: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per labeller, method and rank, over seeds: ``scored`` (contigs with a label and a score),
    ``ece`` and, per cut s, ``precision_at_<s>`` and ``n_at_<s>`` (contigs with score >= s)."""
    flat, fields = [], ["scored", "ece"]
    for c in calib:
        row = {k: c[k] for k in ("labeller", "method", "rank")} | {"scored": c["n"], "ece": c["ece"]}
        for x in c["cuts"]:
            p, n = _cut_fields(x["cut"])
            row |= {p: x["precision"], n: x["n"]}
            fields += [f for f in (p, n) if f not in fields]
        flat.append(row)
    return metrics.aggregate(flat, ("labeller", "method", "rank"), fields)


def mean_reliability(calib: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reliability diagram per labeller, method and rank, mean over seeds: per bin ``n``
    (mean count), ``share_correct`` and ``mean_score`` (means over the seeds whose bin holds
    contigs; ``None`` where none does)."""
    groups: dict[tuple, list] = {}
    for c in calib:
        groups.setdefault((c["labeller"], c["method"], c["rank"]), []).append(c["bins"])
    out = []
    for (lab, method, rank), seeds in groups.items():
        bins = []
        for k, first in enumerate(seeds[0]):
            members = [s[k] for s in seeds]
            full = [b for b in members if b["n"]]
            bins.append(
                {
                    "low": first["low"],
                    "high": first["high"],
                    "n": float(np.mean([b["n"] for b in members])),
                    "share_correct": float(np.mean([b["share_correct"] for b in full])) if full else None,
                    "mean_score": float(np.mean([b["mean_score"] for b in full])) if full else None,
                }
            )
        out.append({"labeller": lab, "method": method, "rank": rank, "n_seeds": len(seeds), "bins": bins})
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(
                {k: ("" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
            )


def write_outputs(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results)
    write_csv(out / "metrics.csv", results["metrics"])
    write_csv(out / "summary.csv", results["summary"])
    runs = [
        {k: v for k, v in r.items() if k not in ("timings", "outputs")} | (r.get("timings") or {})
        for r in results["runs"]
    ]
    write_csv(out / "runs.csv", runs)
    write_csv(out / "timings.csv", results["timings_by_labeller"])
    pr_rows = [
        {
            "labeller": c["labeller"],
            "method": c["method"],
            "rank": c["rank"],
            "n_seeds": c["n_seeds"],
            "threshold": t,
            "precision": p,
            "recall": r,
        }
        for c in results["pr_curves"]
        for t, p, r in zip(c["threshold"], c["precision"], c["recall"])
    ]
    write_csv(out / "pr_curves.csv", pr_rows)
    tr_rows = []
    for t in results["transitions"]:
        for i, b in enumerate(metrics.OUTCOMES):
            for j, a in enumerate(metrics.OUTCOMES):
                tr_rows.append(
                    {k: t[k] for k in ("labeller", "before", "after", "cut", "seed")}
                    | {"from": b, "to": a, "count": t["matrix"][i][j]}
                )
    write_csv(out / "transitions.csv", tr_rows)
    write_csv(out / "calibration.csv", results["calibration_summary"])
    write_csv(
        out / "reliability.csv",
        [
            {k: r[k] for k in ("labeller", "method", "rank", "n_seeds")} | b
            for r in results["reliability"]
            for b in r["bins"]
        ],
    )
    conf = results["confidence"]
    if conf["labellers"]:
        write_csv(
            out / "confidence.csv",
            [
                d
                | {
                    "method": confidence.method_key(d["cut"]),
                    "best": conf["best"].get(d["labeller"], {}).get("cut") == d["cut"],
                }
                for d in conf["dropped"]
            ],
        )
