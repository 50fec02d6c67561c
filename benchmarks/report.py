"""``report.md`` of a benchmark, with its figures, from its ``results.json``.

    python -m benchmarks.report benchmarks/results/NAME     # rewrite report.md and figures/

The tables are :mod:`benchmarks.tables`, the figures :mod:`benchmarks.figures` (matplotlib
only, Agg backend, the Sankey/alluvial flows included); this module assembles them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from benchmarks import metrics
from benchmarks.figures import fig_ablation, fig_bars, fig_length, fig_pr, fig_reliability, fig_sankey
from benchmarks.tables import (
    RANK_TITLE,
    Results,
    ablation_rows,
    ablation_table,
    calibration_table,
    confidence_table,
    console_table,
    length_table,
    main_table,
    status_table,
    timing_table,
    transition_tables,
)

__all__ = ["console_table", "main", "write_report"]


def _not_run_lines(runs: list[dict[str, Any]]) -> str:
    """One line per labeller and run with the seeds that were not run."""
    seeds: dict[tuple[str, str], list[int]] = {}
    for r in runs:
        seeds.setdefault((r["labeller"], r["run"]), []).append(r["seed"])
    return "\n".join(
        f"- {lab} `{run}`: seed{'s' if len(ss) > 1 else ''} {', '.join(map(str, sorted(ss)))}"
        for (lab, run), ss in seeds.items()
    )


def write_report(results: dict[str, Any], out: Path) -> Path:
    res = Results(results)
    cfg, ds = results["config"], results["dataset"]
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    reliability = []
    for rank in ("species", "genus"):
        fig_bars(res, rank, figs / f"bars_{rank}.png")
        fig_pr(res, rank, figs / f"pr_{rank}.png")
        if fig_reliability(res, rank, figs / f"reliability_{rank}.png"):
            reliability.append(rank)
    main_kd = f"kd:{cfg['main_teacher']}" if cfg.get("main_teacher") else None
    sankeys = []
    if main_kd:
        for before, name in (("initial", "sankey_initial_to_kd.png"), ("stock", "sankey_stock_to_kd.png")):
            if fig_sankey(res, before, main_kd, figs / name):
                sankeys.append((before, name))
    has_length = fig_length(res, figs / "length_bins.png")
    has_ablation = bool(cfg.get("ablations")) and fig_ablation(res, figs / "ablation.png")

    runs = results["runs"]
    n_ok = sum(r["status"] == "ok" for r in runs)
    n_reused = sum(bool(r.get("reused")) for r in runs)
    failed = [r for r in runs if r["status"] == "failed"]
    na = [r for r in runs if r["status"] == "not_applicable"]
    not_run = [r for r in runs if r["status"] == "not_run"]
    env = results["environment"]
    L: list[str] = []
    add = L.append
    add(f"# Benchmark `{results['name']}`: stock Taxometer vs taxometer-kd\n")
    add(
        f"Made {results['created']} by `{results['command']}` in {results['elapsed_s']:.0f} s "
        f"({n_ok} of {len(runs)} runs finished, {n_reused} of them reused from the work dir).\n"
    )
    add("## Setup\n")
    subsets = ds["subsets"]
    add(
        f"- Data: {ds['source']}: {ds['n_contigs']:,} contigs "
        + "("
        + ", ".join(f"{s} {subsets[s]:,}" for s in metrics.STATUSES if s in subsets)
        + "); "
        f"truth `{ds['truth']}`, contigs `{ds['fasta']}`. Every contig is classified (`-m {ds['min_length']}`)."
    )
    add(f"- Initial labellers: {', '.join(f'{k} (`{v}`)' for k, v in ds['labels'].items() if k in cfg['labellers'])}.")
    add(
        f"- Seeds {', '.join(map(str, cfg['seeds']))}; {cfg['epochs']} epochs (`-pe`); batch size "
        f"{cfg['batch_size'] or 'Vamb default (1024)'} (`-pt`); {cfg['threads']} threads (`-p`, `OMP_NUM_THREADS`)"
        f"{'; `--cuda`' if cfg['cuda'] else ''}. Same settings for every method."
    )
    add(
        f"- Teachers: {', '.join(cfg['teachers'])} (main: {cfg['main_teacher']}); taxometer-kd runs with "
        f"`--alpha {cfg['alpha']:g} --temperature {cfg['temperature']:g}"
        + "".join(f" --teacher-option {o}" for o in cfg.get("teacher_options") or ())
        + "".join(f" {shlex.quote(a)}" for a in cfg.get("kd_args") or ())
        + "`; Taxometer_G = "
        "`--student-input embedding --alpha 1` (teacher embeddings replace TNF, no distillation)"
        + (
            ": **not applicable** to " + ", ".join(sorted({r["teacher"] for r in na})) + " (no per-contig embeddings)."
            if na
            else "."
        )
    )
    add(
        "- Stock Taxometer runs with `TAXOMETER_KD_DISABLE=1` (Vamb's own code path, untouched) through "
        "`python -c \"import sys, torch; torch.manual_seed(SEED); sys.argv = ['vamb', 'taxometer', ...]; "
        'from vamb.__main__ import main; main()"`: stock Taxometer does not seed torch itself (its `--seed` '
        "is for clustering), so this makes its seeds reproducible too. taxometer-kd seeds torch and numpy from `--seed`."
    )
    add(
        f"- Software: Python {env.get('python')}, torch {env.get('torch')}, vamb {env.get('vamb')}, "
        f"taxometer-kd {env.get('taxometer-kd')} (git {env.get('git')}, sources {env.get('code')}); "
        f"{env.get('cpus')} CPUs; {env.get('platform')}."
    )
    codes = sorted({r.get("code") or "unknown" for r in runs if r["status"] == "ok"})
    if len(codes) > 1:
        add(
            f"- **Warning**: the runs were made by {len(codes)} versions of taxometer-kd's sources "
            f"({', '.join(codes)}; `code` in `runs.csv`), e.g. a resumed benchmark after a code change."
        )
    add(f"- Work dir (every run's output directory, `command.sh`, `stderr.txt`, `run.json`): `{cfg['work']}`.\n")
    add("## How to read this\n")
    add(
        "At a rank, a contig is **correct** if its label reaches that rank and names the true taxon, **wrong** if it "
        "names another one, **no label** if it stops above that rank (TaxDistill paper, Appendix A). "
        "Precision = C/(C+W), recall = C/(C+W+N), F1 their harmonic mean, over all contigs of the truth. "
        "Taxometer's lineages are first cut where a rank's score falls below the **cut**: 0.5 (Vamb's default), "
        "0.8 (TaxDistill paper), 0.95 (Taxometer paper, species level). Initial labels have no scores: the same at "
        "every cut. Values are mean ± sample sd [min–max] over seeds; counts are means. "
        "'teacher X' is the teacher's own prediction from the taxometer-kd run (`results_teacher.tsv`).\n"
    )

    add("## Results\n")
    for rank in ("species", "genus"):
        for cut in cfg["cuts"]:
            add(f"### {RANK_TITLE[rank]} level, cut {cut:g}\n")
            add(main_table(res, rank, cut) + "\n")
    add("![species bars](figures/bars_species.png)\n")
    add("![genus bars](figures/bars_genus.png)\n")
    add("### Precision vs recall over all thresholds\n")
    add(
        "Each method's curve sweeps the score cut from 0.5 to 1 (mean precision and recall over seeds at each "
        "threshold); the initial labels are a single point. The y-axis starts at 0.8, or lower where a curve "
        "goes lower (up to threshold 0.95, recall ≥ 1%).\n"
    )
    add("![species PR](figures/pr_species.png)\n")
    add("![genus PR](figures/pr_genus.png)\n")

    if results.get("calibration_summary"):
        add("## Calibration of the scores\n")
        add(
            "Users cut Taxometer's lineages at a score s: a contig keeps its label at a rank when the lowest score on "
            "its lineage down to that rank is ≥ s, so that score decides the label. Among the contigs with a label "
            "and a score at the rank: **ECE** (expected calibration error) = the bin-size-weighted mean of |share "
            "correct − mean score| over 10 equal-width score bins from 0.5 to 1 (Taxometer reports only scores above "
            "0.5), 0 = perfectly calibrated; **precision at score ≥ s** = the share correct among the contigs whose "
            "score is ≥ s (the precision at cut s over the labelled contigs): a calibrated score gives at least s "
            "(✗: below s). Mean ± sd over seeds; n = mean number of contigs with score ≥ s.\n"
        )
        for rank in ("species", "genus"):
            add(f"### {RANK_TITLE[rank]} level\n")
            add(calibration_table(res, rank) + "\n")
        for rank in reliability:
            add(f"![{rank} reliability](figures/reliability_{rank}.png)\n")

    conf = results.get("confidence") or {}
    if conf.get("labellers"):
        add("## The labellers' own confidence\n")
        add(
            "Labellers with a confidence file (" + ", ".join(f"{k} `{v}`" for k, v in conf["labellers"].items()) + "): "
            "'taxometer-kd (T) + confidence' is the main taxometer-kd run with `--label-confidence FILE`; "
            "'initial labels, species dropped below confidence c' is the labeller's file with the species removed "
            "(lineage truncated to genus) where the contig's confidence is below c (a contig the file does not list "
            "keeps its label), scored like the initial labels (no run). The cut with the best species F1 (the lowest on a "
            "tie) is the main tables' 'best confidence-filtered labels'. Species level:\n"
        )
        add(confidence_table(res) + "\n")

    add("## By reference status\n")
    add(
        "`in_reference`: the genome was in the labellers' database; `novel_strain`: its species was, through other "
        "strains; known species = both. `species_held_out`: the species is absent from the database, so at species "
        "level it can never be correct and the best outcome is no label (the held-out columns are fractions of "
        "those contigs).\n"
    )
    for rank in ("species", "genus"):
        for cut in cfg["cuts"]:
            add(f"### {RANK_TITLE[rank]} level, cut {cut:g}\n")
            add(status_table(res, rank, cut) + "\n")

    if has_length:
        add("## By contig length (species F1)\n")
        for cut in cfg["cuts"]:
            add(f"Cut {cut:g}:\n")
            add(length_table(res, "species", cut) + "\n")
        add("![length bins](figures/length_bins.png)\n")

    if sankeys:
        add("## Label transitions\n")
        add(
            f"Species level, cut {cfg['sankey_cut']:g}, mean counts over seeds: where each contig's outcome goes "
            "(rows: before, columns: after); the figures draw the same flows (TaxDistill paper, Figure 5).\n"
        )
        for before, name in sankeys:
            add(f"![transitions from {before}](figures/{name})\n")
        add(transition_tables(res) + "\n")

    if has_ablation:
        lab = cfg["ablation_labeller"]
        alpha, temp = ablation_rows(res)
        add(f"## Ablations ({lab}, {cfg['main_teacher']} teacher, species level)\n")
        for cut in cfg["cuts"]:
            add(f"### Cut {cut:g}: alpha (temperature {cfg['temperature']:g})\n")
            add(ablation_table(res, alpha, "alpha", cut) + "\n")
            add(f"### Cut {cut:g}: temperature (alpha {cfg['alpha']:g})\n")
            add(ablation_table(res, temp, "temperature", cut) + "\n")
        add("![ablation](figures/ablation.png)\n")

    add("## Time and memory\n")
    add(
        "Per run, mean ± sd over labellers and seeds. From each run's `log.txt`: load = TNF + abundance (+ reading "
        "the DNA for the teacher); teacher prep. = 'Teacher ready in X s' (building the teacher, embedding); "
        "training = 'Finished (joint) training ... in X seconds'; prediction = from that line to "
        "'Completed taxonomy predictions' (predicting and writing); Vamb total = 'Completed Vamb in X seconds'. "
        "Wall = the whole process (Python start-up included); peak RSS = the child process's maximum resident set "
        "(`wait4` rusage). Runs reused from the work dir keep their first measurement.\n"
    )
    add(timing_table(res) + "\n")

    add("## Runs\n")
    if na:
        reasons = sorted({r.get("error", "") for r in na})
        add(f"Not applicable ({len(na)} runs): " + "; ".join(reasons) + "\n")
    if not_run:
        add(
            f"**{len(not_run)} of {len(runs)} planned runs were not run** (`--report-only` or `--run-kinds`): the tables and figures "
            "hold only the finished ones (see the seeds column); rerun the command without those options to run "
            "them. Not run:\n"
        )
        add(_not_run_lines(not_run) + "\n")
    if failed:
        add(f"**{len(failed)} run(s) failed** (left out of every table; rerun the command to retry them):\n")
        for r in failed:
            add(f"- `{r['dir']}`: {r['error'].splitlines()[0]}\n\n```\n{r['error']}\n```\n")
    else:
        add("No run failed.\n")
    add(
        "Files: `results.json` (everything), `summary.csv` (mean/sd/min/max over seeds per labeller, method, rank, "
        "cut, subset), `metrics.csv` (per run), `runs.csv` (status, command, stage times, wall time, peak RSS), "
        "`timings.csv`, `pr_curves.csv`, `transitions.csv` (per seed)"
        + (
            ", `calibration.csv` (ECE and precision at each cut, over seeds), `reliability.csv` (the reliability "
            "diagrams' bins, mean over seeds)"
            if "calibration_summary" in results
            else ""
        )
        + (", `confidence.csv` (the confidence sweep)" if conf.get("labellers") else "")
        + ", `figures/`.\n"
    )
    path = out / "report.md"
    path.write_text("\n".join(L))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description="Rewrite report.md and figures/ from results.json."
    )
    p.add_argument("results_dir", type=Path)
    args = p.parse_args(argv)
    results = json.loads((args.results_dir / "results.json").read_text())
    path = write_report(results, args.results_dir)
    print(console_table(results))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
