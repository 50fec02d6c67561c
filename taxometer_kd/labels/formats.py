"""The labeller formats ``taxometer-kd labels`` reads, by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from taxometer_kd.labels.kmers import parse_centrifuge, parse_kraken2
from taxometer_kd.labels.records import Record
from taxometer_kd.labels.tables import parse_metabuli, parse_mmseqs2, parse_taxid
from taxometer_kd.labels.taxdump import Taxdump

Parser = Callable[[Path, Taxdump | None], Iterator[Record]]


@dataclass(frozen=True)
class LabelFormat:
    """A labeller's output format: its parser, and whether it always needs a taxdump.

    Formats with ``needs_taxdump`` False may carry lineage text (MMseqs2
    ``--tax-lineage 1``, Metabuli ``--print-lineage``); a file of theirs without it
    needs the taxdump too, which the converter reports at its first classified line.
    """

    name: str
    parse: Parser
    needs_taxdump: bool
    description: str
    confidence: str


FORMATS: dict[str, LabelFormat] = {
    f.name: f
    for f in (
        LabelFormat(
            "mmseqs2",
            parse_mmseqs2,
            False,
            "MMseqs2 easy-taxonomy _lca.tsv",
            "support of the LCA vote (column 8)",
        ),
        LabelFormat(
            "kraken2",
            parse_kraken2,
            True,
            "Kraken2 --output (with or without --use-names)",
            "k-mers in the label's clade / k-mers looked up (Kraken2's own confidence)",
        ),
        LabelFormat(
            "centrifuge", parse_centrifuge, True, "Centrifuge classification output (-k 1)", "hitLength / queryLength"
        ),
        LabelFormat("metabuli", parse_metabuli, False, "Metabuli classifications.tsv", "score"),
        LabelFormat("taxid", parse_taxid, True, "contig<TAB>taxid[<TAB>confidence]", "third column, else 1"),
    )
}
