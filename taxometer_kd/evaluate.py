"""Scoring of contig labels against a ground truth (TaxDistill paper, Appendix A).

At a rank (species, genus, ...), each contig with a truth is

- **Correct** if the label reaches that rank and names the true taxon,
- **Wrong** if it reaches that rank and names another taxon,
- **No label** if it does not reach that rank (unlabelled, or cut higher up),

and ``precision = C / (C + W)``, ``recall = C / (C + W + N)``, ``F1`` their harmonic mean.
A Taxometer result (with a ``scores`` column) is first cut where the score of a rank falls
below the operating threshold; initial labels have no scores and are taken as they are.

Truth files are TSV with a header and columns ``contig``, ``genome_id``, ``length``,
``reference_status``, ``lineage`` (the format of ``../shared/data/mock64/truth.tsv`` and of
the synthetic data sets); lineages are ``;``-separated, domain first, prefixed names
(``s_``/``s__`` for species, ``g_`` for genus, ...) or else positional over d,p,c,o,f,g,s.

The command also reports how well the scores are calibrated (:mod:`taxometer_kd.calibration`):
per method and rank, the expected calibration error and the precision among the contigs whose
score is at least each cut; ``--reliability-out FILE.tsv`` writes the reliability diagrams.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RANKS = ("domain", "phylum", "class", "order", "family", "genus", "species")
_PREFIX = {r[0]: i for i, r in enumerate(RANKS)}


def rank_index(rank: str) -> int:
    try:
        return RANKS.index(rank)
    except ValueError:
        raise ValueError(f"unknown rank {rank!r}; one of {', '.join(RANKS)}") from None


def _rank_map(lineage: list[str]) -> dict[int, str]:
    """rank index -> name; by prefix (``s_``, ``s__``) when present, else by position."""
    out: dict[int, str] = {}
    for pos, name in enumerate(lineage):
        head, sep, _ = name.partition("_")
        if sep and len(head) == 1 and head in _PREFIX:
            out[_PREFIX[head]] = name
        else:
            out[pos] = name
    return out


@dataclass
class Truth:
    lineage: dict[str, dict[int, str]]
    status: dict[str, str]
    length: dict[str, int]


def load_truth(path: Path) -> Truth:
    lineage, status, length = {}, {}, {}
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        try:
            ci, si, li, ni = (header.index(c) for c in ("contig", "reference_status", "lineage", "length"))
        except ValueError:
            raise ValueError(f"{path}, line 1: expected columns contig, length, reference_status, lineage") from None
        for lineno, line in enumerate(fh, start=2):
            f = line.rstrip("\n").split("\t")
            if len(f) != len(header):
                raise ValueError(f"{path}, line {lineno}: expected {len(header)} columns, found {len(f)}")
            lineage[f[ci]] = _rank_map(f[li].split(";") if f[li] else [])
            status[f[ci]] = f[si]
            length[f[ci]] = int(f[ni])
    return Truth(lineage, status, length)


@dataclass
class Labels:
    """Per contig: rank index -> name, and rank index -> score (None without scores)."""

    names: dict[str, dict[int, str]]
    scores: dict[str, dict[int, float] | None]


def load_labels(path: Path) -> Labels:
    """Read Vamb's taxonomy format (initial labels) or Taxometer's results (with scores)."""
    names: dict[str, dict[int, str]] = {}
    scores: dict[str, dict[int, float] | None] = {}
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if header[:2] != ["contigs", "predictions"]:
            raise ValueError(f"{path}, line 1: expected a header 'contigs<TAB>predictions[<TAB>scores]'")
        has_scores = len(header) > 2
        for lineno, line in enumerate(fh, start=2):
            f = line.rstrip("\n").split("\t")
            if len(f) < 2:
                f.append("")
            lineage = f[1].split(";") if f[1] else []
            m = _rank_map(lineage)
            names[f[0]] = m
            if has_scores:
                s = [float(x) for x in f[2].split(";")] if len(f) > 2 and f[2] else []
                if len(s) != len(lineage):
                    raise ValueError(f"{path}, line {lineno}: {len(lineage)} ranks but {len(s)} scores")
                scores[f[0]] = dict(zip(m.keys(), s))
            else:
                scores[f[0]] = None
    return Labels(names, scores)


def _cut(names: dict[int, str], scores: dict[int, float] | None, threshold: float) -> dict[int, str]:
    """Cut the lineage at the first rank whose score is below ``threshold``."""
    if scores is None:
        return names
    out = {}
    for r in sorted(names):
        if scores.get(r, 1.0) < threshold:
            break
        out[r] = names[r]
    return out


def outcome_gates(
    labels: Labels, truth: Truth, rank: str, contigs: Iterable[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes without any cut, and the score that decides each one under a cut.

    Returns ``(codes, gates)``, one entry per truth contig (or ``contigs``): ``codes`` as in
    :func:`outcome_codes` with no score cut, and ``gates`` the lowest score on the lineage
    down to ``rank`` (``inf`` for labels without scores, or without a label at ``rank``).
    The cut at ``threshold`` keeps the label at ``rank`` exactly when ``gate >= threshold``,
    so one pass gives every operating point (see :func:`codes_at`).
    """
    r = rank_index(rank)
    keys = list(truth.lineage) if contigs is None else list(contigs)
    codes = np.empty(len(keys), dtype=np.int8)
    gates = np.full(len(keys), np.inf)
    for i, c in enumerate(keys):
        names = labels.names.get(c, {})
        pred = names.get(r)
        if pred is None:
            codes[i] = 2
            continue
        codes[i] = 0 if pred == truth.lineage[c].get(r) else 1
        scores = labels.scores.get(c)
        if scores is not None:
            gates[i] = min(scores.get(k, 1.0) for k in names if k <= r)
    return codes, gates


def codes_at(codes: np.ndarray, gates: np.ndarray, threshold: float) -> np.ndarray:
    """The outcomes of :func:`outcome_gates` after the cut at ``threshold``."""
    return np.where(gates >= threshold, codes, np.int8(2)).astype(np.int8)


def outcome_codes(
    labels: Labels, truth: Truth, rank: str, threshold: float = 0.5, contigs: Iterable[str] | None = None
) -> np.ndarray:
    """Array of 0 = correct, 1 = wrong, 2 = no label, one per truth contig (or ``contigs``)."""
    return codes_at(*outcome_gates(labels, truth, rank, contigs), threshold)


def summarise(codes: np.ndarray) -> dict[str, float]:
    c, w, n = (int((codes == k).sum()) for k in (0, 1, 2))
    precision = c / (c + w) if c + w else 0.0
    recall = c / (c + w + n) if c + w + n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"correct": c, "wrong": w, "no_label": n, "precision": precision, "recall": recall, "f1": f1}


def score(
    labels: Labels, truth: Truth, rank: str = "species", threshold: float = 0.5, contigs=None
) -> dict[str, float]:
    return summarise(outcome_codes(labels, truth, rank, threshold, contigs))


def pr_curve(labels: Labels, truth: Truth, rank: str = "species", thresholds=None) -> list[dict[str, float]]:
    """Precision and recall at every threshold (all distinct scores at that rank by default)."""
    if thresholds is None:
        r = rank_index(rank)
        vals = {s[r] for s in labels.scores.values() if s and r in s}
        thresholds = sorted(vals | {0.5}) if vals else [0.5]
    codes, gates = outcome_gates(labels, truth, rank)
    return [{"threshold": t, **summarise(codes_at(codes, gates, t))} for t in thresholds]


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    from taxometer_kd import calibration

    p = argparse.ArgumentParser(prog="python -m taxometer_kd.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--truth", required=True, type=Path)
    p.add_argument("--thresholds", default="0.5,0.8,0.95", help="score cuts [0.5,0.8,0.95]")
    p.add_argument(
        "--reliability-out",
        type=Path,
        metavar="FILE.tsv",
        help="write the reliability diagrams (per method, rank and score bin) to this TSV",
    )
    p.add_argument("results", nargs="+", help="NAME=PATH of a label file (taxonomy or Taxometer results)")
    args = p.parse_args(argv)
    truth = load_truth(args.truth)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    rows, calib = [], []
    for item in args.results:
        name, sep, path = item.rpartition("=")
        if not sep:
            name, path = Path(item).stem, item
        labels = load_labels(Path(path))
        has_scores = any(v is not None for v in labels.scores.values())
        for rank in ("species", "genus"):
            codes, gates = outcome_gates(labels, truth, rank)
            for t in thresholds if has_scores else [None]:
                s = summarise(codes_at(codes, gates, 0.5 if t is None else t))
                rows.append((name, rank, "-" if t is None else f"{t:g}", s))
            if has_scores:
                calib.append((name, rank, calibration.calibration(codes, gates, thresholds)))
    print("| method | rank | cut | correct | wrong | no label | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rank, cut, s in rows:
        print(
            f"| {name} | {rank} | {cut} | {s['correct']} | {s['wrong']} | {s['no_label']} | "
            f"{s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |"
        )
    if calib:
        # calibration: is the precision among the contigs with score >= s at least s?
        print()
        print("| method | rank | scored | ECE | " + " | ".join(f"precision at >= {t:g} (n)" for t in thresholds) + " |")
        print("|---|---|---|---|" + "---|" * len(thresholds))
        for name, rank, c in calib:
            cells = [f"{_num(c['ece'])}"] + [f"{_num(x['precision'])} ({x['n']})" for x in c["cuts"]]
            print(f"| {name} | {rank} | {c['n']} | " + " | ".join(cells) + " |")
    if args.reliability_out:
        with open(args.reliability_out, "w") as fh:
            fh.write("method\trank\tbin_low\tbin_high\tn\tcorrect\tshare_correct\tmean_score\n")
            for name, rank, c in calib:
                for b in c["bins"]:
                    share, mean = (f"{b[k]:.6g}" if b[k] is not None else "" for k in ("share_correct", "mean_score"))
                    fh.write(
                        f"{name}\t{rank}\t{b['low']:g}\t{b['high']:g}\t{b['n']}\t{b['correct']}\t{share}\t{mean}\n"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
