"""Running each labeller (MMseqs2, Kraken2, Centrifuge) in the work dir, and converting its
native output into Vamb's taxonomy format; see :mod:`benchmarks.labellers`."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.labellers_outputs import kraken2_to_lca
from benchmarks.labellers_work import OUTPUTS, SHARED_RAW, Work


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
