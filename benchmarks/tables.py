"""The tables of a benchmark's report, Markdown and plain text, from its ``results.json``.

Every table of methods goes through one helper, :func:`method_rows` (one row per labeller
and method that has results, e.g. at a rank and cut), and is rendered by :func:`md_table`
(``report.md``) or :func:`text_table` (the console). :class:`Results` indexes a results dict
for the tables and the figures (:mod:`benchmarks.figures`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import confidence, metrics

OUTCOME_LABELS = ("Correct", "Wrong", "No label")
RANK_TITLE = {"species": "Species", "genus": "Genus"}


class Results:
    """Index over a results dict."""

    def __init__(self, results: dict[str, Any]):
        self.r = results
        self.methods = {m["key"]: m for m in results["methods"]}
        self.summary = {(s["labeller"], s["method"], s["rank"], s["cut"], s["subset"]): s for s in results["summary"]}
        self.labellers = results["config"]["labellers"]
        # the best confidence cut of each labeller: the method conf:best stands for it
        self.best = (results.get("confidence") or {}).get("best", {})
        present = {s["method"] for s in results["summary"]} | ({confidence.BEST} if self.best else set())
        self.main_methods = [m["key"] for m in results["methods"] if not m["ablation"] and m["key"] in present]
        self.calibration = {(c["labeller"], c["method"], c["rank"]): c for c in results.get("calibration_summary", [])}
        self.reliability = {(c["labeller"], c["method"], c["rank"]): c for c in results.get("reliability", [])}

    def resolve(self, labeller: str, method: str) -> str:
        """The method whose results ``method`` shows for ``labeller`` (conf:best: the best cut's)."""
        if method == confidence.BEST:
            return self.best.get(labeller, {}).get("method", method)
        return method

    def row(self, labeller: str, method: str, rank: str, cut: float, subset: str = "all") -> dict[str, Any] | None:
        return self.summary.get((labeller, self.resolve(labeller, method), rank, cut, subset))

    def at(self, rank: str, cut: float, subset: str = "all") -> Callable[[str, str], dict[str, Any] | None]:
        """``row_of(labeller, method)`` for :func:`method_rows`: the summary row at ``rank``, ``cut``."""
        return lambda lab, m: self.row(lab, m, rank, cut, subset)

    def calib(self, labeller: str, method: str, rank: str) -> dict[str, Any] | None:
        """Calibration of the scores over seeds (ECE, precision at each cut); None without scores."""
        return self.calibration.get((labeller, method, rank))

    def label(self, method: str, labeller: str | None = None) -> str:
        if method == confidence.BEST and labeller is not None:
            return confidence.best_label(self.best.get(labeller))
        return self.methods[method]["label"] if method in self.methods else method


def fmt(row: dict[str, Any] | None, field: str, digits: int = 3, minmax: bool = True) -> str:
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


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> list[str]:
    """Plain-text lines: each cell padded to its width, left-aligned where the width is negative."""

    def line(cells: Sequence[str]) -> str:
        return " ".join(f"{c:<{-w}}" if w < 0 else f"{c:>{w}}" for c, w in zip(cells, widths))

    return [line(header)] + [line(r) for r in rows]


#: a table row's results: ``row_of(labeller, method)``, None where it has none
RowOf = Callable[[str, str], dict[str, Any] | None]
#: the cells of a table row after the labeller and the method: ``cells(labeller, method, row)``
Cells = Callable[[str, str, dict[str, Any]], list[str]]


def method_rows(res: Results, row_of: RowOf, cells: Cells, methods: list[str] | None = None) -> list[list[str]]:
    """``[labeller, method label, *cells(labeller, method, row)]`` for each labeller and method
    (``methods``, else the main ones) whose ``row = row_of(labeller, method)`` is not None
    (e.g. ``res.at(rank, cut)``: the summary row at that rank and cut)."""
    out = []
    for lab in res.labellers:
        for m in methods or res.main_methods:
            row = row_of(lab, m)
            if row is not None:
                out.append([lab, res.label(m, lab), *cells(lab, m, row)])
    return out


def ablation_rows(res: Results) -> tuple[list[str], list[str]]:
    """Methods of the alpha sweep and of the temperature sweep, the main run included."""
    cfg = res.r["config"]
    present = {s["method"] for s in res.r["summary"]}
    kd = [
        m for m in res.r["methods"] if m["kind"] == "kd" and m["teacher"] == cfg["main_teacher"] and m["key"] in present
    ]
    alpha = sorted((m for m in kd if m["temperature"] == cfg["temperature"]), key=lambda m: m["alpha"])
    temp = sorted((m for m in kd if m["alpha"] == cfg["alpha"]), key=lambda m: m["temperature"])
    return [m["key"] for m in alpha], [m["key"] for m in temp]


# ----------------------------------------------------------------------------- tables


def main_table(res: Results, rank: str, cut: float, methods: list[str] | None = None) -> str:
    rows = method_rows(
        res,
        res.at(rank, cut),
        lambda lab, m, row: [
            str(row["n_seeds"]),
            fmt(row, "correct"),
            fmt(row, "wrong"),
            fmt(row, "no_label"),
            fmt(row, "precision"),
            fmt(row, "recall"),
            fmt(row, "f1"),
        ],
        methods,
    )
    return md_table(["labeller", "method", "seeds", "correct", "wrong", "no label", "precision", "recall", "F1"], rows)


def status_table(res: Results, rank: str, cut: float) -> str:
    subsets = res.r["dataset"]["subsets"]

    def cells(lab: str, m: str, row: dict[str, Any]) -> list[str]:
        out = [
            fmt(res.row(lab, m, rank, cut, s), "f1", minmax=False) if s in subsets else "–"
            for s in ("in_reference", "novel_strain")
        ]
        known = res.row(lab, m, rank, cut, "known_species")
        out += [fmt(known, f, minmax=False) for f in ("precision", "recall", "f1")]
        held = res.row(lab, m, rank, cut, "species_held_out")
        out += [
            f"{held[f + '_mean'] / held['n_mean']:.3f}" if held and held["n_mean"] else "–"
            for f in ("correct", "wrong", "no_label")
        ]
        return out

    n = {k: subsets.get(k, 0) for k in ("in_reference", "novel_strain", "known_species", "species_held_out")}
    return md_table(
        [
            "labeller",
            "method",
            f"in_reference F1 (n={n['in_reference']})",
            f"novel_strain F1 (n={n['novel_strain']})",
            f"known species precision (n={n['known_species']})",
            "known recall",
            "known F1",
            f"held-out correct (n={n['species_held_out']})",
            "held-out wrong",
            "held-out no label",
        ],
        method_rows(res, res.at(rank, cut), cells),
    )


def length_table(res: Results, rank: str, cut: float) -> str:
    subsets = res.r["dataset"]["subsets"]
    bins = metrics.length_bins(subsets)
    rows = method_rows(
        res,
        res.at(rank, cut),
        lambda lab, m, row: [fmt(res.row(lab, m, rank, cut, b), "f1", minmax=False) for b in bins],
    )
    return md_table(["labeller", "method"] + [f"{b.removeprefix('length ')} (n={subsets[b]})" for b in bins], rows)


def ablation_table(res: Results, keys: list[str], param: str, cut: float) -> str:
    lab = res.r["config"]["ablation_labeller"]
    rows = []
    stock = res.row(lab, "stock", "species", cut)
    if stock:
        rows.append(["Taxometer (stock)", "–", fmt(stock, "precision"), fmt(stock, "recall"), fmt(stock, "f1")])
    for k in keys:
        row = res.row(lab, k, "species", cut)
        rows.append(
            [res.label(k), f"{res.methods[k][param]:g}", fmt(row, "precision"), fmt(row, "recall"), fmt(row, "f1")]
        )
    return md_table(["method", param, "precision", "recall", "F1"], rows)


def timing_table(res: Results) -> str:
    fields = ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s", "wall_s", "peak_rss_mb")
    rows = []
    for t in res.r["timings"]:
        rows.append([res.label(t["method"]), str(t["n_seeds"])] + [fmt(t, f, 1, minmax=False) for f in fields])
    return md_table(
        [
            "method",
            "runs",
            "load (s)",
            "teacher prep. (s)",
            "training (s)",
            "prediction (s)",
            "Vamb total (s)",
            "wall (s)",
            "peak RSS (MiB)",
        ],
        rows,
    )


def transition_tables(res: Results) -> str:
    cut = res.r["config"]["sankey_cut"]
    out = []
    for t in res.r["transitions_mean"]:
        if t["cut"] != cut:
            continue
        m = t["matrix"]
        head = [f"{t['labeller']}: {res.label(t['before'])} ↓ / {res.label(t['after'])} →", *OUTCOME_LABELS, "total"]
        rows = [[OUTCOME_LABELS[i]] + [f"{v:,.0f}" for v in m[i]] + [f"{sum(m[i]):,.0f}"] for i in range(3)]
        rows.append(
            ["total"] + [f"{sum(m[i][j] for i in range(3)):,.0f}" for j in range(3)] + [f"{sum(map(sum, m)):,.0f}"]
        )
        out.append(md_table(head, rows))
    return "\n\n".join(out)


def _console_cells(cut: float) -> Cells:
    """The cells of a console-table row at ``cut``."""
    return lambda lab, m, row: [
        f"{cut:g}",
        *(fmt(row, f, minmax=False) for f in ("correct", "wrong", "no_label", "precision", "recall", "f1")),
    ]


def console_table(results: dict[str, Any]) -> str:
    """The species- and genus-level tables at every cut, plain text (what the command prints)."""
    res = Results(results)
    header = ("labeller", "method", "cut", "correct", "wrong", "no label", "precision", "recall", "F1")
    widths = (-12, -28, 4, 8, 7, 8, 15, 15, 15)
    lines = []
    for rank in ("species", "genus"):
        rows = []
        for cut in results["config"]["cuts"]:
            rows += method_rows(res, res.at(rank, cut), _console_cells(cut))
        lines += [f"{RANK_TITLE[rank]} level (mean ± sd over seeds)", *text_table(header, rows, widths), ""]
    return "\n".join(lines).rstrip()


def calibration_table(res: Results, rank: str) -> str:
    """ECE and the precision among the contigs whose score is >= each cut, per method with
    scores; a precision below its cut is marked ✗."""
    cuts = res.r["config"]["cuts"]

    def cells(lab: str, m: str, row: dict[str, Any]) -> list[str]:
        out = [fmt(row, "scored", 0, minmax=False), fmt(row, "ece", minmax=False)]
        for cut in cuts:
            p, n = row.get(f"precision_at_{cut:g}_mean"), row.get(f"n_at_{cut:g}_mean")
            text = fmt(row, f"precision_at_{cut:g}", minmax=False) + (f" (n={n:.0f})" if n is not None else "")
            out.append(text + (" ✗" if p is not None and p < cut else ""))
        return out

    return md_table(
        ["labeller", "method", "scored contigs", "ECE"] + [f"precision at score ≥ {c:g}" for c in cuts],
        method_rows(res, lambda lab, m: res.calib(lab, m, rank), cells),
    )


def confidence_table(res: Results) -> str:
    """The sweep of the confidence-filtered initial labels (species level; no scores, so the same
    at every score cut), the unfiltered labels first, the best cut marked."""
    conf = res.r["confidence"]
    dropped = {(d["labeller"], confidence.method_key(d["cut"])): d["dropped"] for d in conf["dropped"]}
    keys = ["initial"] + [confidence.method_key(c) for c in conf["cuts"]]
    row_of = res.at("species", res.r["config"]["cuts"][0])

    def cells(lab: str, m: str, row: dict[str, Any]) -> list[str]:
        best = res.best.get(lab, {}).get("method") == m
        return [
            str(dropped.get((lab, m), 0)),
            *(fmt(row, f) for f in ("correct", "wrong", "no_label", "precision", "recall")),
            fmt(row, "f1") + (" **best**" if best else ""),
        ]

    return md_table(
        ["labeller", "labels", "species dropped", "correct", "wrong", "no label", "precision", "recall", "F1"],
        method_rows(res, lambda lab, m: row_of(lab, m) if lab in conf["labellers"] else None, cells, keys),
    )
