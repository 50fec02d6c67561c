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

The work dir and the tools' outputs are :mod:`benchmarks.labellers_work`, the inputs
:mod:`benchmarks.labellers_inputs`, running the tools :mod:`benchmarks.labellers_tools`,
Kraken2's LCA columns and the comparison :mod:`benchmarks.labellers_outputs`; this module is
the command line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.labellers_inputs import (
    ROOT as ROOT,
    SHARED,
    contigs_fasta,
    genome_taxids,
    reference_genomes,
    write_reference,
)
from benchmarks.labellers_outputs import (
    RANK_PREFIX as RANK_PREFIX,
    compare,
    kraken2_to_lca as kraken2_to_lca,
    read_taxonomy as read_taxonomy,
)
from benchmarks.labellers_tools import run_centrifuge, run_kraken2, run_mmseqs2, write_labels
from benchmarks.labellers_work import OUTPUTS as OUTPUTS, SHARED_RAW as SHARED_RAW, TOOLS, Work


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
