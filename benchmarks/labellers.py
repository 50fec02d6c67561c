"""Run the real labellers (MMseqs2, Kraken2, Centrifuge) on a data set laid out like mock64.

    python -m benchmarks.labellers --data DIR --work WORKDIR [--tools mmseqs2,kraken2,centrifuge]
                                   [--threads 2] [--compare]

The labellers' databases hold the genomes that ``DIR/reference_genomes.tsv`` marks
``in_reference`` (``../shared/data/genomes/<genome_id>.fna.gz``, species taxids from
``../shared/data/taxdump/genome_taxid.tsv``, taxonomy ``../shared/data/taxdump/``), built as
``../shared/README.md`` describes the mock64 labels:

- MMseqs2: prodigal proteins of each genome (single mode), ``mmseqs createdb`` +
  ``mmseqs createtaxdb`` (protein -> its genome's taxid), then
  ``mmseqs easy-taxonomy contigs.fna refDB mm tmp --tax-lineage 1`` -> ``mmseqs2/mm_lca.tsv``.
- Kraken2: the genomes' DNA (headers ``<id>|kraken:taxid|<taxid>``), ``kraken2-build
  --add-to-library --no-masking``, ``--build``, then ``kraken2 --db kdb --use-names`` ->
  ``kraken2/k2.out`` (and ``k2_lca.tsv``: the same calls in the 9 columns of
  ``mock64/labels/raw/kraken2_k2_lca.tsv.gz``).
- Centrifuge: ``centrifuge-build --conversion-table --taxonomy-tree --name-table`` over the
  genomes' DNA, then ``centrifuge -f -k 1 -x cfdb -U contigs.fna`` -> ``centrifuge/cf.out``.

The contigs are ``DIR/contigs.fna[.gz]``, else built once with ``DIR/build_contigs.py`` into
``benchmarks/work/fasta/`` (the file ``benchmarks.run`` uses). Resumable: a finished step
(its ``.done`` marker) is not rerun, so a tool whose output exists is skipped. Every step's
command, wall time and peak RSS go to ``WORKDIR/steps.jsonl`` and ``WORKDIR/labellers.log``.
``--labels DIR/labels`` also converts each output with ``taxometer-kd labels`` into Vamb's
taxonomy format (``<tool>.tsv``, ``confidence/<tool>.tsv``) and keeps it gzipped in ``raw/``
under mock64's names. ``--compare`` compares the outputs with ``DIR/labels/raw/*.gz``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TOOLS = ("mmseqs2", "kraken2", "centrifuge")
#: the native output of each tool, relative to WORKDIR/<tool>/
OUTPUTS = {"mmseqs2": "mm_lca.tsv", "kraken2": "k2.out", "centrifuge": "cf.out"}
#: the shared raw file each output is compared with (``DIR/labels/raw/``)
SHARED_RAW = {
    "mmseqs2": "mmseqs2_mm_lca.tsv.gz",
    "kraken2": "kraken2_k2_lca.tsv.gz",
    "centrifuge": "centrifuge_cf.out.gz",
}
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


class Work:
    """A work dir: steps with ``.done`` markers, a log and one JSON line per step run."""

    def __init__(self, root: Path, threads: int):
        self.root, self.threads = root, threads
        root.mkdir(parents=True, exist_ok=True)

    def log(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)
        with open(self.root / "labellers.log", "a") as fh:
            fh.write(line + "\n")

    def step(self, name: str, cmd: list[str], cwd: Path) -> None:
        """Run ``cmd`` once: skipped when ``cwd/.done.<name>`` exists (thread-safe: waits for its own child)."""
        done = cwd / f".done.{name}"
        if done.exists():
            self.log(f"{name}: done before, skipped")
            return
        cwd.mkdir(parents=True, exist_ok=True)
        self.log(f"{name}: {' '.join(cmd)}")
        t0, load0 = time.time(), os.getloadavg()[0]
        with open(cwd / f"{name}.stderr", "w") as err, open(cwd / f"{name}.stdout", "w") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        seconds = time.time() - t0
        rec = dict(
            step=name,
            dir=str(cwd.relative_to(self.root)),
            cmd=cmd,
            rc=rc,
            seconds=round(seconds, 1),
            max_rss_mb=round(usage.ru_maxrss / 1024),
            threads=self.threads,
            load_before=round(load0, 2),
            load_after=round(os.getloadavg()[0], 2),
            finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        with open(self.root / "steps.jsonl", "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        self.log(
            f"{name}: exit {rc} in {seconds:.1f} s, peak RSS {rec['max_rss_mb']} MB, load {load0:.1f} -> {rec['load_after']}"
        )
        if rc != 0:
            tail = (cwd / f"{name}.stderr").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{name} failed (exit {rc}); end of its stderr:\n{tail}")
        done.touch()


def reference_genomes(data: Path) -> list[str]:
    with open(data / "reference_genomes.tsv") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in fh if line.strip()]
    return [r["genome_id"] for r in rows if r["reference_status"] == "in_reference"]


def genome_taxids(taxdump: Path) -> dict[str, str]:
    with open(taxdump / "genome_taxid.tsv") as fh:
        return dict(line.rstrip("\n").split("\t")[:2] for line in fh if line.strip())


def contigs_fasta(data: Path) -> Path:
    """The data dir's contigs, else the FASTA its ``build_contigs.py`` writes (once, shared with benchmarks.run)."""
    for name in ("contigs.fna", "contigs.fna.gz", "contigs.fasta", "contigs.fasta.gz"):
        if (data / name).is_file():
            return data / name
    script = data / "build_contigs.py"
    if not script.is_file():
        raise SystemExit(f"{data}: no contigs.fna and no build_contigs.py")
    tag = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:8]
    out = ROOT / "benchmarks" / "work" / "fasta" / f"{data.name}-{tag}" / "contigs.fna"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(script), str(out)], check=True)
    return out


def write_reference(work: Work, genomes: Path, ids: list[str], taxids: dict[str, str]) -> Path:
    """``ref/``: one FASTA per genome, all of them (``genomes.fna``), the Kraken2 library
    (``kraken2_library.fna``) and Centrifuge's conversion table (``seqid2taxid.tsv``)."""
    ref = work.root / "ref"
    if (ref / ".done.reference").exists():
        return ref
    (ref / "fna").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with (
        open(ref / "genomes.fna", "w") as allf,
        open(ref / "kraken2_library.fna", "w") as k2,
        open(ref / "seqid2taxid.tsv", "w") as conv,
    ):
        for gid in ids:
            taxid = taxids[gid]
            with gzip.open(genomes / f"{gid}.fna.gz", "rt") as src, open(ref / "fna" / f"{gid}.fna", "w") as one:
                for line in src:
                    one.write(line)
                    allf.write(line)
                    if line.startswith(">"):
                        seqid = line[1:].split()[0]
                        conv.write(f"{seqid}\t{taxid}\n")
                        line = f">{seqid}|kraken:taxid|{taxid}\n"
                    k2.write(line)
    (ref / "genome_ids.txt").write_text("".join(f"{g}\n" for g in ids))
    (ref / ".done.reference").touch()
    work.log(f"reference: {len(ids)} genomes written to {ref} in {time.time() - t0:.1f} s")
    return ref


def run_mmseqs2(work: Work, ref: Path, ids: list[str], taxids: dict[str, str], taxdump: Path, fasta: Path) -> None:
    d = work.root / "mmseqs2"
    if (d / OUTPUTS["mmseqs2"]).is_file() and (d / ".done.easy-taxonomy").exists():
        work.log("mmseqs2: output exists, skipped")
        return
    faa = d / "proteins"
    with ThreadPoolExecutor(work.threads) as pool:  # prodigal is single-threaded: one genome per thread
        jobs = [
            pool.submit(
                work.step,
                f"prodigal.{gid}",
                [
                    "prodigal",
                    "-i",
                    str(ref / "fna" / f"{gid}.fna"),
                    "-a",
                    str(faa / f"{gid}.faa"),
                    "-o",
                    os.devnull,
                    "-q",
                ],
                faa,
            )
            for gid in ids
        ]
        for job in jobs:
            job.result()
    if not (d / ".done.proteins").exists():
        with open(d / "proteins.faa", "w") as out:
            for gid in ids:
                out.write((faa / f"{gid}.faa").read_text())
        (d / ".done.proteins").touch()
    (d / "refDB").mkdir(exist_ok=True)
    work.step("createdb", ["mmseqs", "createdb", "proteins.faa", "refDB/refDB"], d)
    if not (d / ".done.mapping").exists():
        with open(d / "refDB" / "refDB.lookup") as fh, open(d / "taxmap.tsv", "w") as out:
            for line in fh:
                acc = line.split("\t")[1]
                out.write(f"{acc}\t{taxids[acc.split('|')[0]]}\n")
        (d / ".done.mapping").touch()
    work.step(
        "createtaxdb",
        [
            "mmseqs",
            "createtaxdb",
            "refDB/refDB",
            "tmp_taxdb",
            "--ncbi-tax-dump",
            str(taxdump),
            "--tax-mapping-file",
            "taxmap.tsv",
            "--threads",
            str(work.threads),
        ],
        d,
    )
    work.step(
        "easy-taxonomy",
        [
            "mmseqs",
            "easy-taxonomy",
            str(fasta),
            "refDB/refDB",
            "mm",
            "tmp",
            "--tax-lineage",
            "1",
            "--threads",
            str(work.threads),
        ],
        d,
    )
    shutil.rmtree(d / "tmp", ignore_errors=True)
    shutil.rmtree(d / "tmp_taxdb", ignore_errors=True)


def run_kraken2(work: Work, ref: Path, taxdump: Path, fasta: Path) -> None:
    d = work.root / "kraken2"
    if (d / OUTPUTS["kraken2"]).is_file() and (d / ".done.classify").exists():
        work.log("kraken2: output exists, skipped")
    else:
        (d / "kdb" / "taxonomy").mkdir(parents=True, exist_ok=True)
        for name in ("nodes.dmp", "names.dmp"):
            shutil.copyfile(taxdump / name, d / "kdb" / "taxonomy" / name)
        work.step(
            "add-to-library",
            ["kraken2-build", "--db", "kdb", "--add-to-library", str(ref / "kraken2_library.fna"), "--no-masking"],
            d,
        )
        work.step("build", ["kraken2-build", "--db", "kdb", "--build", "--threads", str(work.threads)], d)
        work.step(
            "classify",
            [
                "kraken2",
                "--db",
                "kdb",
                "--use-names",
                "--threads",
                str(work.threads),
                "--report",
                "k2.report",
                "--output",
                OUTPUTS["kraken2"],
                str(fasta),
            ],
            d,
        )
    if not (d / "k2_lca.tsv").is_file():
        kraken2_to_lca(d / OUTPUTS["kraken2"], taxdump, d / "k2_lca.tsv")


def run_centrifuge(work: Work, ref: Path, taxdump: Path, fasta: Path) -> None:
    d = work.root / "centrifuge"
    if (d / OUTPUTS["centrifuge"]).is_file() and (d / ".done.classify").exists():
        work.log("centrifuge: output exists, skipped")
        return
    (d / "cfdb").mkdir(parents=True, exist_ok=True)
    work.step(
        "build",
        [
            "centrifuge-build",
            "-p",
            str(work.threads),
            "--conversion-table",
            str(ref / "seqid2taxid.tsv"),
            "--taxonomy-tree",
            str(taxdump / "nodes.dmp"),
            "--name-table",
            str(taxdump / "names.dmp"),
            str(ref / "genomes.fna"),
            "cfdb/cfdb",
        ],
        d,
    )
    work.step(
        "classify",
        [
            "centrifuge",
            "-f",
            "-k",
            "1",
            "-p",
            str(work.threads),
            "-x",
            "cfdb/cfdb",
            "-U",
            str(fasta),
            "-S",
            OUTPUTS["centrifuge"],
            "--report-file",
            "cf_report.tsv",
        ],
        d,
    )


def write_labels(work: Work, tool: str, fasta: Path, taxdump: Path, labels: Path) -> None:
    """``labels/<tool>.tsv`` + ``labels/confidence/<tool>.tsv`` (``taxometer-kd labels``) and the
    native output gzipped as ``labels/raw/<name as in mock64>``: a case laid out like mock64."""
    d = work.root / tool
    raw = labels / "raw" / SHARED_RAW[tool]
    if not raw.is_file():
        raw.parent.mkdir(parents=True, exist_ok=True)
        src = d / ("k2_lca.tsv" if tool == "kraken2" else OUTPUTS[tool])
        with open(src, "rb") as fh, gzip.open(str(raw) + ".part", "wb") as out:
            shutil.copyfileobj(fh, out)
        os.replace(str(raw) + ".part", raw)
    if (labels / f"{tool}.tsv").is_file():
        work.log(f"{tool}: {labels / f'{tool}.tsv'} exists, not converted again")
        return
    (labels / "confidence").mkdir(parents=True, exist_ok=True)
    work.step(
        f"labels.{tool}",
        [
            sys.executable,
            "-m",
            "taxometer_kd",
            "labels",
            tool,
            str(d / OUTPUTS[tool]),
            "--fasta",
            str(fasta),
            "--taxdump",
            str(taxdump),
            "-o",
            str(labels / f"{tool}.tsv"),
            "--confidence-out",
            str(labels / "confidence" / f"{tool}.tsv"),
        ],
        d,
    )


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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.labellers", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data", required=True, type=Path, help="data dir (reference_genomes.tsv, contigs.fna or build_contigs.py)"
    )
    p.add_argument("--work", required=True, type=Path, help="work dir, e.g. benchmarks/work/labellers/<case>")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--genomes", type=Path, default=SHARED / "genomes")
    p.add_argument("--taxdump", type=Path, default=SHARED / "taxdump")
    p.add_argument(
        "--labels",
        type=Path,
        help="also write Vamb taxonomy files here (taxometer-kd labels): "
        "LABELS/<tool>.tsv, LABELS/confidence/<tool>.tsv, LABELS/raw/*.gz",
    )
    p.add_argument("--compare", action="store_true", help="compare with DIR/labels/raw/*.gz (mock64's shared outputs)")
    args = p.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        p.error(f"unknown tools {sorted(unknown)}; choose from {', '.join(TOOLS)}")
    work = Work(args.work.resolve(), args.threads)
    ids, taxids = reference_genomes(args.data), genome_taxids(args.taxdump)
    fasta = contigs_fasta(args.data).resolve()
    work.log(f"data {args.data}: {len(ids)} reference genomes, contigs {fasta}; tools {', '.join(tools)}")
    ref = write_reference(work, args.genomes.resolve(), ids, taxids)
    taxdump = args.taxdump.resolve()
    for tool in tools:
        if tool == "mmseqs2":
            run_mmseqs2(work, ref, ids, taxids, taxdump, fasta)
        elif tool == "kraken2":
            run_kraken2(work, ref, taxdump, fasta)
        else:
            run_centrifuge(work, ref, taxdump, fasta)
        if args.labels:
            write_labels(work, tool, fasta, taxdump, args.labels.resolve())
    if args.compare:
        for tool, rep in compare(work.root, args.data, tools).items():
            work.log(f"compare {tool}: " + json.dumps({k: v for k, v in rep.items() if k != "examples"}))


if __name__ == "__main__":
    main()
