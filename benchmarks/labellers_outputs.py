"""The labellers' outputs: Kraken2's calls in MMseqs2's LCA columns, and the row-by-row
comparison with a data set's shared raw outputs; see :mod:`benchmarks.labellers`."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

from benchmarks.labellers_work import OUTPUTS, SHARED_RAW

RANK_PREFIX = {
    "superkingdom": "d",
    "domain": "d",
    "phylum": "p",
    "class": "c",
    "order": "o",
    "family": "f",
    "genus": "g",
    "species": "s",
}


def read_taxonomy(taxdump: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """parent, rank and scientific name of every taxid."""
    parent, rank, name = {}, {}, {}
    with open(taxdump / "nodes.dmp") as fh:
        for line in fh:
            f = [x.strip() for x in line.split("|")]
            parent[f[0]], rank[f[0]] = f[1], f[2]
    with open(taxdump / "names.dmp") as fh:
        for line in fh:
            f = [x.strip() for x in line.split("|")]
            if f[3] == "scientific name":
                name[f[0]] = f[1]
    return parent, rank, name


def kraken2_to_lca(k2_out: Path, taxdump: Path, out: Path) -> None:
    """Kraken2's calls in MMseqs2's 9-column LCA layout (contig, taxid, rank, name, 4 empty, lineage)."""
    parent, rank, name = read_taxonomy(taxdump)

    def lineage(taxid: str) -> str:
        parts = []
        while taxid in parent and taxid != "1":
            if rank[taxid] in RANK_PREFIX:
                parts.append(f"{RANK_PREFIX[rank[taxid]]}_{name[taxid]}")
            taxid = parent[taxid]
        return ";".join(reversed(parts))

    with open(k2_out) as fh, open(str(out) + ".part", "w") as dst:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            m = re.search(r"\(taxid (\d+)\)\s*$", f[2])
            taxid = m.group(1) if m else f[2]
            if taxid == "0":
                dst.write(f"{f[1]}\t0\tno rank\tunclassified\t\t\t\t\t\n")
            else:
                dst.write(f"{f[1]}\t{taxid}\t{rank[taxid]}\t{name[taxid]}\t\t\t\t\t{lineage(taxid)}\n")
    os.replace(str(out) + ".part", out)


def _rows(path: Path, skip_header: bool) -> dict[str, str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        if skip_header:
            fh.readline()
        return {line.split("\t", 1)[0]: line.rstrip("\n") for line in fh if line.strip()}


def compare(work_root: Path, data: Path, tools: list[str]) -> dict[str, dict]:
    """Row-by-row comparison with ``DIR/labels/raw/``: identical rows, differing taxids, rows only on one side."""
    report = {}
    for tool in tools:
        shared = data / "labels" / "raw" / SHARED_RAW[tool]
        mine = work_root / tool / ("k2_lca.tsv" if tool == "kraken2" else OUTPUTS[tool])
        if not shared.is_file() or not mine.is_file():
            continue
        header = tool == "centrifuge"
        a, b = _rows(mine, header), _rows(shared, header)
        col = 2 if tool == "centrifuge" else 1
        both = a.keys() & b.keys()
        taxid_diff = sorted(c for c in both if a[c].split("\t")[col] != b[c].split("\t")[col])
        report[tool] = dict(
            rows_mine=len(a),
            rows_shared=len(b),
            identical_rows=sum(a[c] == b[c] for c in both),
            taxid_differs=len(taxid_diff),
            only_mine=len(a.keys() - b.keys()),
            only_shared=len(b.keys() - a.keys()),
            examples=[(a[c], b[c]) for c in taxid_diff[:5]],
        )
    (work_root / "compare.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
