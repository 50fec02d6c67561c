"""Figures and ``report.md`` of a benchmark, from its ``results.json``.

    python -m benchmarks.report benchmarks/results/NAME     # rewrite report.md and figures/

Figures are drawn with matplotlib only (Agg backend), the Sankey/alluvial flows included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

import numpy as np

from benchmarks import metrics

OUTCOME_LABELS = ("Correct", "Wrong", "No label")
OUTCOME_COLOURS = ("#3a923a", "#d62728", "#9e9e9e")
KIND_COLOURS = {"initial": "#7f7f7f", "stock": "#1f77b4", "kd": "#ff7f0e", "teacher": "#2ca02c", "kdG": "#9467bd"}
RANK_TITLE = {"species": "Species", "genus": "Genus"}


# ----------------------------------------------------------------------------- helpers


class Results:
    """Index over a results dict."""

    def __init__(self, results: dict[str, Any]):
        self.r = results
        self.methods = {m["key"]: m for m in results["methods"]}
        self.summary = {
            (s["labeller"], s["method"], s["rank"], s["cut"], s["subset"]): s for s in results["summary"]
        }
        self.labellers = results["config"]["labellers"]
        present = {s["method"] for s in results["summary"]}
        self.main_methods = [m["key"] for m in results["methods"] if not m["ablation"] and m["key"] in present]

    def row(self, labeller: str, method: str, rank: str, cut: float, subset: str = "all") -> Optional[dict[str, Any]]:
        return self.summary.get((labeller, method, rank, cut, subset))

    def label(self, method: str) -> str:
        return self.methods[method]["label"] if method in self.methods else method


def fmt(row: Optional[dict[str, Any]], field: str, digits: int = 3, minmax: bool = True) -> str:
    """``mean ± sd [min–max]`` over seeds (just the mean for one value); counts without decimals."""
    if row is None or row.get(f"{field}_mean") is None:
        return "–"
    d = 0 if field in ("correct", "wrong", "no_label", "n") else digits
    mean, sd = row[f"{field}_mean"], row[f"{field}_sd"]
    text = f"{mean:.{d}f}"
    if row["n_seeds"] > 1:
        text += f" ± {sd:.{d}f}"
        if minmax:
            text += f" [{row[f'{field}_min']:.{d}f}–{row[f'{field}_max']:.{d}f}]"
    return text


def _not_run_lines(runs: list[dict[str, Any]]) -> str:
    """One line per labeller and run with the seeds that were not run."""
    seeds: dict[tuple[str, str], list[int]] = {}
    for r in runs:
        seeds.setdefault((r["labeller"], r["run"]), []).append(r["seed"])
    return "\n".join(f"- {lab} `{run}`: seed{'s' if len(ss) > 1 else ''} {', '.join(map(str, sorted(ss)))}"
                     for (lab, run), ss in seeds.items())


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def colour_of(res: Results, method: str) -> str:
    """One colour per kind of method, darker for a kind's second, third, ... method."""
    from matplotlib import colors

    kind = res.methods[method]["kind"]
    same = [m for m in res.main_methods if res.methods[m]["kind"] == kind]
    k = same.index(method) if method in same else 0
    base = np.array(colors.to_rgb(KIND_COLOURS.get(kind, "#333333")))
    return colors.to_hex(base * (1 - 0.3 * k))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------- Sankey


def sankey_layout(matrix, gap: float = 0.02) -> dict[str, Any]:
    """Geometry of a two-column alluvial diagram for a 3 x 3 transition matrix.

    Heights are fractions of the total (plus ``gap`` between the three stacked nodes of a
    side), nodes stacked top-down in the order correct, wrong, no label. Returns ``left`` and
    ``right`` node spans ``(y_bottom, y_top)`` and ``flows``: ``(i, j, count, left span,
    right span)`` for every non-zero cell; a node's flows tile its span without overlap.
    """
    m = np.asarray(matrix, dtype=float)
    if m.shape != (3, 3) or (m < 0).any():
        raise ValueError("expected a 3 x 3 matrix of non-negative counts")
    total = m.sum()
    scale = (1.0 - 2 * gap) / total if total else 0.0

    def spans(sizes):
        out, top = [], 1.0
        for s in sizes:
            h = s * scale
            out.append((top - h, top))
            top -= h + gap
        return out

    left, right = spans(m.sum(axis=1)), spans(m.sum(axis=0))
    flows = []
    left_top = [s[1] for s in left]
    right_top = [s[1] for s in right]
    for i in range(3):
        for j in range(3):
            if m[i, j] <= 0:
                continue
            h = m[i, j] * scale
            ls = (left_top[i] - h, left_top[i])
            left_top[i] -= h
            rs = (right_top[j] - h, right_top[j])
            right_top[j] -= h
            flows.append((i, j, m[i, j], ls, rs))
    return {"left": left, "right": right, "flows": flows, "total": total}


def draw_sankey(ax, matrix, left_title: str, right_title: str) -> None:
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as MPath

    lay = sankey_layout(matrix)
    w, x0, x1 = 0.06, 0.0, 1.0
    for side, x, ha, title in (("left", x0 - w, "right", left_title), ("right", x1, "left", right_title)):
        sums = np.asarray(matrix, dtype=float).sum(axis=1 if side == "left" else 0)
        for k, (y0, y1) in enumerate(lay[side]):
            ax.add_patch(Rectangle((x, y0), w, y1 - y0, color=OUTCOME_COLOURS[k], lw=0))
            if sums[k] > 0:
                tx = x - 0.02 if side == "left" else x + w + 0.02
                pct = 100 * sums[k] / lay["total"] if lay["total"] else 0
                ax.text(tx, (y0 + y1) / 2, f"{OUTCOME_LABELS[k]}\n{sums[k]:,.0f} ({pct:.1f}%)", ha=ha, va="center", fontsize=7)
        ax.text(x + w / 2, 1.04, title, ha="center", va="bottom", fontsize=8, fontweight="bold")
    c = (x1 - x0) * 0.5
    for i, j, count, (ly0, ly1), (ry0, ry1) in lay["flows"]:
        verts = [(x0, ly1), (x0 + c, ly1), (x1 - c, ry1), (x1, ry1), (x1, ry0), (x1 - c, ry0), (x0 + c, ly0), (x0, ly0), (x0, ly1)]
        codes = [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4, MPath.LINETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4, MPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MPath(verts, codes), facecolor=OUTCOME_COLOURS[i], alpha=0.35, lw=0))
    ax.set_xlim(-0.55, 1.55)
    ax.set_ylim(-0.02, 1.12)
    ax.axis("off")


# ----------------------------------------------------------------------------- figures


def fig_bars(res: Results, rank: str, path: Path) -> None:
    plt = _pyplot()
    cuts = res.r["config"]["cuts"]
    fields = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"))
    methods = res.main_methods
    fig, axes = plt.subplots(len(cuts), 3, figsize=(4.2 * 3, 2.6 * len(cuts)), squeeze=False)
    x = np.arange(len(res.labellers))
    width = 0.8 / max(1, len(methods))
    for r, cut in enumerate(cuts):
        for c, (field, title) in enumerate(fields):
            ax = axes[r][c]
            lows = []
            for k, m in enumerate(methods):
                rows = [res.row(lab, m, rank, cut) for lab in res.labellers]
                mean = [row[f"{field}_mean"] if row else np.nan for row in rows]
                sd = [row[f"{field}_sd"] if row else 0 for row in rows]
                lows += [v for v in mean if not np.isnan(v)]
                ax.bar(x - 0.4 + width * (k + 0.5), mean, width, yerr=sd, capsize=2, color=colour_of(res, m),
                       label=res.label(m), error_kw={"lw": 0.8})
            ax.set_xticks(x, res.labellers, fontsize=8)
            ax.set_title(f"{title}, cut {cut:g}", fontsize=9)
            if lows:
                ax.set_ylim(max(0.0, min(lows) - 0.1), min(1.0, max(lows) + 0.05) + 0.02)
            ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle(f"{RANK_TITLE[rank]} level: mean over seeds, error bars = sd", fontsize=10)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) // 5), 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_pr(res: Results, rank: str, path: Path) -> None:
    plt = _pyplot()
    curves = {(c["labeller"], c["method"]): c for c in res.r["pr_curves"] if c["rank"] == rank}
    n = len(res.labellers)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 4.0), squeeze=False)
    for ax, lab in zip(axes[0], res.labellers):
        for m in res.main_methods:
            c = curves.get((lab, m))
            if c is None:
                continue
            colour = colour_of(res, m)
            if res.methods[m]["kind"] == "initial":
                ax.plot(c["recall"][0], c["precision"][0], marker="*", ms=12, ls="none", color=colour, label=res.label(m))
                continue
            ax.plot(c["recall"], c["precision"], color=colour, lw=1.4, label=res.label(m))
            for cut, marker in zip(res.r["config"]["cuts"], ("o", "s", "^")):
                k = int(np.argmin(np.abs(np.array(c["threshold"]) - cut)))
                ax.plot(c["recall"][k], c["precision"][k], marker=marker, ms=4, color=colour, ls="none")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{lab} ({rank})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Precision vs recall over score thresholds 0.5-1 (mean over seeds); "
                 "markers: cuts 0.5 (o), 0.8 (s), 0.95 (^); initial labels: *", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_sankey(res: Results, before: str, after: str, path: Path) -> bool:
    cut = res.r["config"]["sankey_cut"]
    mats = {t["labeller"]: t for t in res.r["transitions_mean"] if t["before"] == before and t["after"] == after and t["cut"] == cut}
    labs = [lab for lab in res.labellers if lab in mats]
    if not labs:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(labs), figsize=(4.6 * len(labs), 3.8), squeeze=False)
    for ax, lab in zip(axes[0], labs):
        left = f"{lab}: initial labels" if before == "initial" else f"{lab}: {res.label(before)}"
        draw_sankey(ax, mats[lab]["matrix"], left, res.label(after))
    n_seeds = max(mats[lab]["n_seeds"] for lab in labs)
    fig.suptitle(f"Species-level label transitions, {res.label(before)} → {res.label(after)} (score cut {cut:g}"
                 + (f", mean counts over {n_seeds} seeds)" if n_seeds > 1 else ")"), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def fig_length(res: Results, path: Path, cut: float = 0.5) -> bool:
    bins = metrics.length_bins(res.r["dataset"]["subsets"])
    if not bins:
        return False
    plt = _pyplot()
    n = len(res.labellers)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.6), squeeze=False)
    x = np.arange(len(bins))
    for ax, lab in zip(axes[0], res.labellers):
        for m in res.main_methods:
            rows = [res.row(lab, m, "species", cut, b) for b in bins]
            mean = [r["f1_mean"] if r else np.nan for r in rows]
            sd = [r["f1_sd"] if r else 0 for r in rows]
            ax.errorbar(x, mean, yerr=sd, marker="o", ms=3, capsize=2, lw=1.2, color=colour_of(res, m), label=res.label(m))
        ax.set_xticks(x, [b.removeprefix("length ") for b in bins], fontsize=8)
        ax.set_title(f"{lab}: species F1 by contig length (cut {cut:g})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def ablation_rows(res: Results) -> tuple[list[str], list[str]]:
    """Methods of the alpha sweep and of the temperature sweep, the main run included."""
    cfg = res.r["config"]
    present = {s["method"] for s in res.r["summary"]}
    kd = [m for m in res.r["methods"] if m["kind"] == "kd" and m["teacher"] == cfg["main_teacher"] and m["key"] in present]
    alpha = sorted((m for m in kd if m["temperature"] == cfg["temperature"]), key=lambda m: m["alpha"])
    temp = sorted((m for m in kd if m["alpha"] == cfg["alpha"]), key=lambda m: m["temperature"])
    return [m["key"] for m in alpha], [m["key"] for m in temp]


def fig_ablation(res: Results, path: Path) -> bool:
    lab = res.r["config"].get("ablation_labeller")
    if not lab:
        return False
    alpha, temp = ablation_rows(res)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, keys, param, xlabel in ((axes[0], alpha, "alpha", "alpha (temperature fixed)"), (axes[1], temp, "temperature", "temperature (alpha fixed)")):
        xs = [res.methods[k][param] for k in keys]
        for field, colour in (("precision", "#1f77b4"), ("recall", "#2ca02c"), ("f1", "#ff7f0e")):
            for cut, ls in ((0.5, "-"), (0.8, "--")):
                rows = [res.row(lab, k, "species", cut) for k in keys]
                mean = [r[f"{field}_mean"] if r else np.nan for r in rows]
                sd = [r[f"{field}_sd"] if r else 0 for r in rows]
                ax.errorbar(xs, mean, yerr=sd, marker="o", ms=3, capsize=2, color=colour, ls=ls, label=f"{field} (cut {cut:g})")
            stock = res.row(lab, "stock", "species", 0.5)
        if stock:
            ax.axhline(stock["f1_mean"], color="#1f77b4", lw=0.8, ls=":", label="stock F1 (cut 0.5)")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.suptitle(f"Ablation on {lab}, species level, {res.r['config']['main_teacher']} teacher", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ----------------------------------------------------------------------------- markdown


def main_table(res: Results, rank: str, cut: float, methods: Optional[list[str]] = None) -> str:
    rows = []
    for lab in res.labellers:
        for m in methods or res.main_methods:
            row = res.row(lab, m, rank, cut)
            if row is None:
                continue
            rows.append([lab, res.label(m), str(row["n_seeds"]), fmt(row, "correct"), fmt(row, "wrong"), fmt(row, "no_label"),
                         fmt(row, "precision"), fmt(row, "recall"), fmt(row, "f1")])
    return md_table(["labeller", "method", "seeds", "correct", "wrong", "no label", "precision", "recall", "F1"], rows)


def status_table(res: Results, rank: str, cut: float) -> str:
    subsets = res.r["dataset"]["subsets"]
    rows = []
    for lab in res.labellers:
        for m in res.main_methods:
            if res.row(lab, m, rank, cut) is None:
                continue
            cells = [lab, res.label(m)]
            for s in ("in_reference", "novel_strain"):
                cells.append(fmt(res.row(lab, m, rank, cut, s), "f1", minmax=False) if s in subsets else "–")
            known = res.row(lab, m, rank, cut, "known_species")
            cells += [fmt(known, f, minmax=False) for f in ("precision", "recall", "f1")]
            held = res.row(lab, m, rank, cut, "species_held_out")
            for f in ("correct", "wrong", "no_label"):
                cells.append(f"{held[f + '_mean'] / held['n_mean']:.3f}" if held and held["n_mean"] else "–")
            rows.append(cells)
    n = {k: subsets.get(k, 0) for k in ("in_reference", "novel_strain", "known_species", "species_held_out")}
    return md_table(
        ["labeller", "method", f"in_reference F1 (n={n['in_reference']})", f"novel_strain F1 (n={n['novel_strain']})",
         f"known species precision (n={n['known_species']})", "known recall", "known F1",
         f"held-out correct (n={n['species_held_out']})", "held-out wrong", "held-out no label"],
        rows,
    )


def length_table(res: Results, rank: str, cut: float) -> str:
    subsets = res.r["dataset"]["subsets"]
    bins = metrics.length_bins(subsets)
    rows = []
    for lab in res.labellers:
        for m in res.main_methods:
            if res.row(lab, m, rank, cut) is None:
                continue
            rows.append([lab, res.label(m)] + [fmt(res.row(lab, m, rank, cut, b), "f1", minmax=False) for b in bins])
    return md_table(["labeller", "method"] + [f"{b.removeprefix('length ')} (n={subsets[b]})" for b in bins], rows)


def ablation_table(res: Results, keys: list[str], param: str, cut: float) -> str:
    lab = res.r["config"]["ablation_labeller"]
    rows = []
    stock = res.row(lab, "stock", "species", cut)
    if stock:
        rows.append(["Taxometer (stock)", "–", fmt(stock, "precision"), fmt(stock, "recall"), fmt(stock, "f1")])
    for k in keys:
        row = res.row(lab, k, "species", cut)
        rows.append([res.label(k), f"{res.methods[k][param]:g}", fmt(row, "precision"), fmt(row, "recall"), fmt(row, "f1")])
    return md_table(["method", param, "precision", "recall", "F1"], rows)


def timing_table(res: Results) -> str:
    fields = ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s", "wall_s", "peak_rss_mb")
    rows = []
    for t in res.r["timings"]:
        rows.append([res.label(t["method"]), str(t["n_seeds"])] + [fmt(t, f, 1, minmax=False) for f in fields])
    return md_table(["method", "runs", "load (s)", "teacher prep. (s)", "training (s)", "prediction (s)",
                     "Vamb total (s)", "wall (s)", "peak RSS (MiB)"], rows)


def transition_tables(res: Results) -> str:
    cut = res.r["config"]["sankey_cut"]
    out = []
    for t in res.r["transitions_mean"]:
        if t["cut"] != cut:
            continue
        m = t["matrix"]
        head = [f"{t['labeller']}: {res.label(t['before'])} ↓ / {res.label(t['after'])} →", *OUTCOME_LABELS, "total"]
        rows = [[OUTCOME_LABELS[i]] + [f"{v:,.0f}" for v in m[i]] + [f"{sum(m[i]):,.0f}"] for i in range(3)]
        rows.append(["total"] + [f"{sum(m[i][j] for i in range(3)):,.0f}" for j in range(3)] + [f"{sum(map(sum, m)):,.0f}"])
        out.append(md_table(head, rows))
    return "\n\n".join(out)


def console_table(results: dict[str, Any]) -> str:
    """The species-level table at every cut, plain text (what the command prints)."""
    res = Results(results)
    lines = []
    head = f"{'labeller':<12} {'method':<28} {'cut':>4} {'correct':>8} {'wrong':>7} {'no label':>8} {'precision':>15} {'recall':>15} {'F1':>15}"
    for rank in ("species", "genus"):
        lines += [f"{RANK_TITLE[rank]} level (mean ± sd over seeds)", head]
        for cut in results["config"]["cuts"]:
            for lab in res.labellers:
                for m in res.main_methods:
                    row = res.row(lab, m, rank, cut)
                    if row is None:
                        continue
                    lines.append(
                        f"{lab:<12} {res.label(m):<28} {cut:>4g} {fmt(row, 'correct', minmax=False):>8} {fmt(row, 'wrong', minmax=False):>7} "
                        f"{fmt(row, 'no_label', minmax=False):>8} {fmt(row, 'precision', minmax=False):>15} "
                        f"{fmt(row, 'recall', minmax=False):>15} {fmt(row, 'f1', minmax=False):>15}"
                    )
        lines.append("")
    return "\n".join(lines).rstrip()


def write_report(results: dict[str, Any], out: Path) -> Path:
    res = Results(results)
    cfg, ds = results["config"], results["dataset"]
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    for rank in ("species", "genus"):
        fig_bars(res, rank, figs / f"bars_{rank}.png")
        fig_pr(res, rank, figs / f"pr_{rank}.png")
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
    add(f"Made {results['created']} by `{results['command']}` in {results['elapsed_s']:.0f} s "
        f"({n_ok} of {len(runs)} runs finished, {n_reused} of them reused from the work dir).\n")
    add("## Setup\n")
    subsets = ds["subsets"]
    add(f"- Data: {ds['source']}: {ds['n_contigs']:,} contigs "
        + "(" + ", ".join(f"{s} {subsets[s]:,}" for s in metrics.STATUSES if s in subsets) + "); "
        f"truth `{ds['truth']}`, contigs `{ds['fasta']}`. Every contig is classified (`-m {ds['min_length']}`).")
    add(f"- Initial labellers: {', '.join(f'{k} (`{v}`)' for k, v in ds['labels'].items() if k in cfg['labellers'])}.")
    add(f"- Seeds {', '.join(map(str, cfg['seeds']))}; {cfg['epochs']} epochs (`-pe`); batch size "
        f"{cfg['batch_size'] or 'Vamb default (1024)'} (`-pt`); {cfg['threads']} threads (`-p`, `OMP_NUM_THREADS`)"
        f"{'; `--cuda`' if cfg['cuda'] else ''}. Same settings for every method.")
    add(f"- Teachers: {', '.join(cfg['teachers'])} (main: {cfg['main_teacher']}); taxometer-kd runs with "
        f"`--alpha {cfg['alpha']:g} --temperature {cfg['temperature']:g}`; Taxometer_G = "
        "`--student-input embedding --alpha 1` (teacher embeddings replace TNF, no distillation)"
        + (": **not applicable** to " + ", ".join(sorted({r["teacher"] for r in na})) + " (no per-contig embeddings)." if na else "."))
    add("- Stock Taxometer runs with `TAXOMETER_KD_DISABLE=1` (Vamb's own code path, untouched) through "
        "`python -c \"import sys, torch; torch.manual_seed(SEED); sys.argv = ['vamb', 'taxometer', ...]; "
        "from vamb.__main__ import main; main()\"`: stock Taxometer does not seed torch itself (its `--seed` "
        "is for clustering), so this makes its seeds reproducible too. taxometer-kd seeds torch and numpy from `--seed`.")
    add(f"- Software: Python {env.get('python')}, torch {env.get('torch')}, vamb {env.get('vamb')}, "
        f"taxometer-kd {env.get('taxometer-kd')} (git {env.get('git')}, sources {env.get('code')}); "
        f"{env.get('cpus')} CPUs; {env.get('platform')}.")
    codes = sorted({r.get("code") or "unknown" for r in runs if r["status"] == "ok"})
    if len(codes) > 1:
        add(f"- **Warning**: the runs were made by {len(codes)} versions of taxometer-kd's sources "
            f"({', '.join(codes)}; `code` in `runs.csv`), e.g. a resumed benchmark after a code change.")
    add(f"- Work dir (every run's output directory, `command.sh`, `stderr.txt`, `run.json`): `{cfg['work']}`.\n")
    add("## How to read this\n")
    add("At a rank, a contig is **correct** if its label reaches that rank and names the true taxon, **wrong** if it "
        "names another one, **no label** if it stops above that rank (TaxDistill paper, Appendix A). "
        "Precision = C/(C+W), recall = C/(C+W+N), F1 their harmonic mean, over all contigs of the truth. "
        "Taxometer's lineages are first cut where a rank's score falls below the **cut**: 0.5 (Vamb's default), "
        "0.8 (TaxDistill paper), 0.95 (Taxometer paper, species level). Initial labels have no scores: the same at "
        "every cut. Values are mean ± sample sd [min–max] over seeds; counts are means. "
        "'teacher X' is the teacher's own prediction from the taxometer-kd run (`results_teacher.tsv`).\n")

    add("## Results\n")
    for rank in ("species", "genus"):
        for cut in cfg["cuts"]:
            add(f"### {RANK_TITLE[rank]} level, cut {cut:g}\n")
            add(main_table(res, rank, cut) + "\n")
    add("![species bars](figures/bars_species.png)\n")
    add("![genus bars](figures/bars_genus.png)\n")
    add("### Precision vs recall over all thresholds\n")
    add("Each method's curve sweeps the score cut from 0.5 to 1 (mean precision and recall over seeds at each "
        "threshold); the initial labels are a single point.\n")
    add("![species PR](figures/pr_species.png)\n")
    add("![genus PR](figures/pr_genus.png)\n")

    add("## By reference status\n")
    add("`in_reference`: the genome was in the labellers' database; `novel_strain`: its species was, through other "
        "strains; known species = both. `species_held_out`: the species is absent from the database, so at species "
        "level it can never be correct and the best outcome is no label (the held-out columns are fractions of "
        "those contigs).\n")
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
        add(f"Species level, cut {cfg['sankey_cut']:g}, mean counts over seeds: where each contig's outcome goes "
            "(rows: before, columns: after); the figures draw the same flows (TaxDistill paper, Figure 5).\n")
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
    add("Per run, mean ± sd over labellers and seeds. From each run's `log.txt`: load = TNF + abundance (+ reading "
        "the DNA for the teacher); teacher prep. = 'Teacher ready in X s' (building the teacher, embedding); "
        "training = 'Finished (joint) training ... in X seconds'; prediction = from that line to "
        "'Completed taxonomy predictions' (predicting and writing); Vamb total = 'Completed Vamb in X seconds'. "
        "Wall = the whole process (Python start-up included); peak RSS = the child process's maximum resident set "
        "(`wait4` rusage). Runs reused from the work dir keep their first measurement.\n")
    add(timing_table(res) + "\n")

    add("## Runs\n")
    if na:
        reasons = sorted({r.get("error", "") for r in na})
        add(f"Not applicable ({len(na)} runs): " + "; ".join(reasons) + "\n")
    if not_run:
        add(f"**{len(not_run)} of {len(runs)} planned runs were not run** (`--report-only`): the tables and figures "
            "hold only the finished ones (see the seeds column); rerun the command without `--report-only` to run "
            "them. Not run:\n")
        add(_not_run_lines(not_run) + "\n")
    if failed:
        add(f"**{len(failed)} run(s) failed** (left out of every table; rerun the command to retry them):\n")
        for r in failed:
            add(f"- `{r['dir']}`: {r['error'].splitlines()[0]}\n\n```\n{r['error']}\n```\n")
    else:
        add("No run failed.\n")
    add("Files: `results.json` (everything), `summary.csv` (mean/sd/min/max over seeds per labeller, method, rank, "
        "cut, subset), `metrics.csv` (per run), `runs.csv` (status, command, stage times, wall time, peak RSS), "
        "`timings.csv`, `pr_curves.csv`, `transitions.csv` (per seed), `figures/`.\n")
    path = out / "report.md"
    path.write_text("\n".join(L))
    return path


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description="Rewrite report.md and figures/ from results.json.")
    p.add_argument("results_dir", type=Path)
    args = p.parse_args(argv)
    results = json.loads((args.results_dir / "results.json").read_text())
    path = write_report(results, args.results_dir)
    print(console_table(results))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
