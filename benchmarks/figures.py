"""The figures of a benchmark's report (matplotlib only, Agg backend), from its ``results.json``:
bars per cut, PR curves, reliability diagrams, Sankey/alluvial label transitions, F1 by contig
length, ablations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import metrics
from benchmarks.tables import OUTCOME_LABELS, RANK_TITLE, Results, ablation_rows

OUTCOME_COLOURS = ("#3a923a", "#d62728", "#9e9e9e")
KIND_COLOURS = {
    "initial": "#7f7f7f",
    "stock": "#1f77b4",
    "kd": "#ff7f0e",
    "teacher": "#2ca02c",
    "kdG": "#9467bd",
    "kdconf": "#8c564b",
    "initialconf": "#bcbd22",
}
#: kinds of methods without scores (one point in the PR figure, no reliability curve)
UNSCORED = ("initial", "initialconf")


def colour_of(res: Results, method: str) -> str:
    """One colour per kind of method, darker for a kind's second, third, ... method."""
    from matplotlib import colors

    kind = res.methods[method]["kind"]
    same = [m for m in res.main_methods if res.methods[m]["kind"] == kind]
    k = same.index(method) if method in same else 0
    r, g, b = np.array(colors.to_rgb(KIND_COLOURS.get(kind, "#333333"))) * (1 - 0.3 * k)
    return colors.to_hex((r, g, b))


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
                ax.text(
                    tx,
                    (y0 + y1) / 2,
                    f"{OUTCOME_LABELS[k]}\n{sums[k]:,.0f} ({pct:.1f}%)",
                    ha=ha,
                    va="center",
                    fontsize=7,
                )
        ax.text(x + w / 2, 1.04, title, ha="center", va="bottom", fontsize=8, fontweight="bold")
    c = (x1 - x0) * 0.5
    for i, _j, _count, (ly0, ly1), (ry0, ry1) in lay["flows"]:
        verts = [
            (x0, ly1),
            (x0 + c, ly1),
            (x1 - c, ry1),
            (x1, ry1),
            (x1, ry0),
            (x1 - c, ry0),
            (x0 + c, ly0),
            (x0, ly0),
            (x0, ly1),
        ]
        codes = [
            MPath.MOVETO,
            MPath.CURVE4,
            MPath.CURVE4,
            MPath.CURVE4,
            MPath.LINETO,
            MPath.CURVE4,
            MPath.CURVE4,
            MPath.CURVE4,
            MPath.CLOSEPOLY,
        ]
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
                ax.bar(
                    x - 0.4 + width * (k + 0.5),
                    mean,
                    width,
                    yerr=sd,
                    capsize=2,
                    color=colour_of(res, m),
                    label=res.label(m),
                    error_kw={"lw": 0.8},
                )
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


#: the PR figure's y-axis is widened by the points at thresholds up to the highest cut (0.95)
#: with at least this recall, not by the last few contigs of the highest thresholds (where the
#: mean over seeds counts a seed without any contig left as precision 0)
PR_MIN_RECALL = 0.01


def pr_floor(precisions, default: float = 0.8) -> float:
    """The lower end of the PR figure's y-axis: ``default``, or lower (to a multiple of 0.05) when
    a curve goes lower (``precisions``: the points that count, see ``PR_MIN_RECALL``)."""
    low = min(precisions, default=default)
    return default if low >= default else max(0.0, float(np.floor(low * 20) / 20))


def fig_pr(res: Results, rank: str, path: Path) -> None:
    plt = _pyplot()
    curves = {(c["labeller"], c["method"]): c for c in res.r["pr_curves"] if c["rank"] == rank}
    n = len(res.labellers)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 4.0), squeeze=False)
    for ax, lab in zip(axes[0], res.labellers):
        shown = []
        for m in res.main_methods:
            c = curves.get((lab, res.resolve(lab, m)))
            if c is None:
                continue
            colour = colour_of(res, m)
            top = max(res.r["config"]["cuts"])
            shown += [
                p for t, p, r in zip(c["threshold"], c["precision"], c["recall"]) if t <= top and r >= PR_MIN_RECALL
            ]
            if res.methods[m]["kind"] in UNSCORED:
                ax.plot(
                    c["recall"][0], c["precision"][0], marker="*", ms=12, ls="none", color=colour, label=res.label(m)
                )
                continue
            ax.plot(c["recall"], c["precision"], color=colour, lw=1.4, label=res.label(m))
            for cut, marker in zip(res.r["config"]["cuts"], ("o", "s", "^")):
                k = int(np.argmin(np.abs(np.array(c["threshold"]) - cut)))
                ax.plot(c["recall"][k], c["precision"][k], marker=marker, ms=4, color=colour, ls="none")
        ax.set_ylim(pr_floor(shown), 1.005)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{lab} ({rank})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        "Precision vs recall over score thresholds 0.5-1 (mean over seeds); "
        "markers: cuts 0.5 (o), 0.8 (s), 0.95 (^); initial labels: *",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_reliability(res: Results, rank: str, path: Path) -> bool:
    """Share of correct labels against the mean score per score bin (mean over seeds), one curve
    per method with scores and a panel per labeller; the diagonal is perfect calibration."""
    labs = [lab for lab in res.labellers if any(res.reliability.get((lab, m, rank)) for m in res.main_methods)]
    if not labs:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(labs), figsize=(4.4 * len(labs), 4.2), squeeze=False)
    for ax, lab in zip(axes[0], labs):
        ax.plot([0.5, 1.0], [0.5, 1.0], color="#555555", lw=0.8, ls="--", label="perfect calibration")
        for m in res.main_methods:
            rel = res.reliability.get((lab, m, rank))
            if rel is None:
                continue
            pts = [(b["mean_score"], b["share_correct"], b["n"]) for b in rel["bins"] if b["share_correct"] is not None]
            ece = res.calib(lab, m, rank)
            label = res.label(m) + (f" (ECE {ece['ece_mean']:.3f})" if ece and ece["ece_mean"] is not None else "")
            ax.plot(
                [p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.2, color=colour_of(res, m), label=label
            )
        ax.set_xlim(0.5, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("mean score of the bin (lowest score down to the rank)")
        ax.set_ylabel(f"share correct at {rank} level")
        ax.set_title(f"{lab} ({rank})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle(
        f"Reliability of the scores, {rank} level: 10 bins from 0.5 to 1, contigs with a {rank} label "
        "(mean over seeds)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def fig_sankey(res: Results, before: str, after: str, path: Path) -> bool:
    cut = res.r["config"]["sankey_cut"]
    mats = {
        t["labeller"]: t
        for t in res.r["transitions_mean"]
        if t["before"] == before and t["after"] == after and t["cut"] == cut
    }
    labs = [lab for lab in res.labellers if lab in mats]
    if not labs:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(labs), figsize=(4.6 * len(labs), 3.8), squeeze=False)
    for ax, lab in zip(axes[0], labs):
        left = f"{lab}: initial labels" if before == "initial" else f"{lab}: {res.label(before)}"
        draw_sankey(ax, mats[lab]["matrix"], left, res.label(after))
    n_seeds = max(mats[lab]["n_seeds"] for lab in labs)
    fig.suptitle(
        f"Species-level label transitions, {res.label(before)} → {res.label(after)} (score cut {cut:g}"
        + (f", mean counts over {n_seeds} seeds)" if n_seeds > 1 else ")"),
        fontsize=10,
    )
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
            ax.errorbar(
                x, mean, yerr=sd, marker="o", ms=3, capsize=2, lw=1.2, color=colour_of(res, m), label=res.label(m)
            )
        ax.set_xticks(x, [b.removeprefix("length ") for b in bins], fontsize=8)
        ax.set_title(f"{lab}: species F1 by contig length (cut {cut:g})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def fig_ablation(res: Results, path: Path) -> bool:
    lab = res.r["config"].get("ablation_labeller")
    if not lab:
        return False
    alpha, temp = ablation_rows(res)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, keys, param, xlabel in (
        (axes[0], alpha, "alpha", "alpha (temperature fixed)"),
        (axes[1], temp, "temperature", "temperature (alpha fixed)"),
    ):
        xs = [res.methods[k][param] for k in keys]
        for field, colour in (("precision", "#1f77b4"), ("recall", "#2ca02c"), ("f1", "#ff7f0e")):
            for cut, ls in ((0.5, "-"), (0.8, "--")):
                rows = [res.row(lab, k, "species", cut) for k in keys]
                mean = [r[f"{field}_mean"] if r else np.nan for r in rows]
                sd = [r[f"{field}_sd"] if r else 0 for r in rows]
                ax.errorbar(
                    xs, mean, yerr=sd, marker="o", ms=3, capsize=2, color=colour, ls=ls, label=f"{field} (cut {cut:g})"
                )
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
