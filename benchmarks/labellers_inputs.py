"""What the labellers start from: the reference genomes of a data set, their taxids, the contigs
and the reference written once into the work dir; see :mod:`benchmarks.labellers`."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.labellers_work import Work

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


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
