"""``taxometer-kd labels``: a labeller's native output -> Vamb's taxonomy file + confidence file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: format names, repeated here so that building the parser imports nothing heavy
FORMAT_NAMES = ("mmseqs2", "kraken2", "centrifuge", "metabuli", "taxid")

_EPILOG = """\
formats and the confidence each gives (in [0, 1]):
  mmseqs2     easy-taxonomy _lca.tsv       support of the LCA vote (column 8)
  kraken2     --output [--use-names]       k-mers in the label's clade / k-mers looked up
  centrifuge  -k 1 classification output   hitLength / queryLength
  metabuli    classifications.tsv          score
  taxid       contig<TAB>taxid[<TAB>conf]  third column, else 1
Contigs without a label get confidence 0; a labelled contig whose file line gives
nothing to compute one from is left out of the confidence file (read as unknown).
kraken2, centrifuge and taxid need --taxdump; mmseqs2 and metabuli need it unless
the file carries lineage names (--tax-lineage 1, --print-lineage)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``labels`` subcommand on ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "labels",
        help="convert a labeller's output (MMseqs2, Kraken2, Centrifuge, Metabuli, taxids) to Vamb's taxonomy file",
        description="Convert a labeller's native output (plain or gzipped) into Vamb's taxonomy file "
        "(one line per contig of the FASTA, in its order, canonical ranks d_ ... s_) and a "
        "per-contig confidence file (contigs<TAB>confidence).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("format", choices=FORMAT_NAMES, metavar="FORMAT", help=f"one of: {', '.join(FORMAT_NAMES)}")
    p.add_argument("raw", type=Path, metavar="RAW", help="the labeller's output file")
    p.add_argument("--fasta", type=Path, required=True, metavar="CONTIGS", help="the contigs the labeller was run on")
    p.add_argument(
        "--taxdump",
        type=Path,
        metavar="DIR",
        help="NCBI-style taxdump (nodes.dmp, names.dmp[, merged.dmp]) of the labeller's database",
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="LABELS", help="Vamb taxonomy file to write")
    p.add_argument(
        "--confidence-out",
        type=Path,
        metavar="PATH",
        help="confidence file to write (default: LABELS with .confidence.tsv in place of its suffix)",
    )
    p.set_defaults(func=run)
    return p


def default_confidence_path(labels: Path) -> Path:
    """``labels.tsv`` -> ``labels.confidence.tsv`` (beside it)."""
    return (
        labels.with_name(labels.stem + ".confidence.tsv")
        if labels.suffix
        else labels.with_name(labels.name + ".confidence.tsv")
    )


def refuse_overwriting_inputs(args: argparse.Namespace, outputs: list[Path]) -> None:
    """A KDError if an output is one of the input files (the same file by any path or link)."""
    import os

    from taxometer_kd.errors import KDError

    inputs = [args.raw, args.fasta]
    if args.taxdump is not None:
        inputs += [args.taxdump / f"{name}.dmp" for name in ("nodes", "names", "merged")]
    for target in outputs:
        for source in inputs:
            if target.exists() and source.exists() and os.path.samefile(target, source):
                raise KDError(f"cannot write {target}: it is the input {source}")


def run(args: argparse.Namespace) -> int:
    """The command: convert, write, print a summary; a user error is one ERROR line and status 2."""
    from taxometer_kd.errors import KDError

    try:
        from taxometer_kd.labels.convert import convert, write_outputs

        confidence_out = args.confidence_out or default_confidence_path(args.output)
        refuse_overwriting_inputs(args, [args.output, confidence_out])
        conversion = convert(args.format, args.raw, args.fasta, args.taxdump)
        write_outputs(conversion, args.output, confidence_out)
    except KDError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    n = len(conversion.contigs)
    known = sum(v is not None for v in conversion.confidence)
    deepest = ", ".join(f"{rank} {k}" for rank, k in sorted(conversion.counts.items(), key=lambda kv: -kv[1]))
    print(f"{args.output}: {n} contigs ({deepest})")
    print(f"{confidence_out}: {known} confidence values ({n - known} unknown)")
    return 0
