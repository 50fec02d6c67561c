"""Convert a labeller's file into Vamb's taxonomy file and a confidence file.

- The taxonomy file (``contigs<TAB>predictions``) has one line per contig of the FASTA,
  in the FASTA's order; an unclassified contig (absent from the labeller's file, or
  called at a taxon above every canonical rank, such as the root) has an empty
  lineage, which Vamb 5.0.4 reads as "no label".
- The confidence file (``contigs<TAB>confidence``) has one line per contig whose
  confidence is known, in the same order: 0 for a contig without a label, the format's
  confidence (:mod:`~taxometer_kd.labels.tables`, :mod:`~taxometer_kd.labels.kmers`) for
  a labelled one. A labelled contig whose line holds nothing to compute one from (an
  MMseqs2 file without its fragment columns) is left out, which
  :func:`~taxometer_kd.labels.confidence.read_confidence` reads as NaN, "unknown".

A contig of the labeller's file that is not in the FASTA, or is there twice, is an error
naming the file and line: the file and the FASTA do not belong together. So is a file
without a single contig's line (an empty file: a labeller that failed or was cut short).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

from taxometer_kd.errors import KDError
from taxometer_kd.io import atomic_write_texts, iter_fasta
from taxometer_kd.labels.formats import FORMATS
from taxometer_kd.labels.lineage import CANONICAL_RANKS, LineageNamer, Node
from taxometer_kd.labels.lines import where
from taxometer_kd.labels.records import Record
from taxometer_kd.labels.taxdump import Taxdump, UnknownTaxid

TAXONOMY_HEADER = "contigs\tpredictions"
CONFIDENCE_HEADER = "contigs\tconfidence"


@dataclass
class Conversion:
    """The converted labels of every contig of the FASTA, in its order."""

    contigs: list[str]
    lineages: list[str]
    confidence: list[float | None]
    counts: Counter = field(default_factory=Counter)  # deepest rank name (or "unclassified") -> contigs

    def taxonomy_text(self) -> str:
        """Vamb's taxonomy file."""
        rows = (f"{c}\t{lin}" for c, lin in zip(self.contigs, self.lineages))
        return TAXONOMY_HEADER + "\n" + "".join(r + "\n" for r in rows)

    def confidence_text(self) -> str:
        """The confidence file (contigs of unknown confidence left out)."""
        rows = (f"{c}\t{v:.6g}" for c, v in zip(self.contigs, self.confidence) if v is not None)
        return CONFIDENCE_HEADER + "\n" + "".join(r + "\n" for r in rows)


def fasta_identifiers(fasta: Path | str) -> list[str]:
    """The record names of ``fasta`` in order (a name given twice is an error)."""
    names = [name for name, _ in iter_fasta(fasta)]
    if len(set(names)) != len(names):
        twice = next(n for n, k in Counter(names).items() if k > 1)
        raise KDError(f"{fasta}: contig {twice!r} appears more than once")
    if not names:
        raise KDError(f"{fasta}: no sequences")
    return names


def convert(
    fmt: str,
    raw: Path | str,
    fasta: Path | str,
    taxdump: Path | str | None = None,
    identifiers: list[str] | None = None,
) -> Conversion:
    """Convert ``raw`` (a file in format ``fmt``) for the contigs of ``fasta``.

    ``identifiers`` may give the FASTA's names when the caller has them already.
    """
    spec = FORMATS.get(fmt)
    if spec is None:
        raise KDError(f"unknown label format {fmt!r}; known: {', '.join(FORMATS)}")
    raw = Path(raw)
    if spec.needs_taxdump and taxdump is None:
        raise KDError(
            f"the {fmt} format holds taxids only: give the taxdump its database was built with (--taxdump DIR)"
        )
    tax = Taxdump(taxdump) if taxdump is not None else None
    records = list(spec.parse(raw, tax))  # a malformed line is reported before the FASTA is read
    if not records:  # every labeller lists its unclassified contigs too: a failed or unfinished run
        raise KDError(f"{raw}: no classification lines (is the labeller's run complete?)")
    names = identifiers if identifiers is not None else fasta_identifiers(fasta)
    row = {name: i for i, name in enumerate(names)}
    paths: list[tuple[Hashable, ...]] = [()] * len(names)
    confidence: list[float | None] = [0.0] * len(names)
    first_line: dict[str, int] = {}
    namer = LineageNamer()
    for record in records:
        loc = where(raw, record.line)
        i = row.get(record.contig)
        if i is None:
            raise KDError(f"{loc}: contig {record.contig!r} is not in the FASTA {fasta}")
        seen = first_line.setdefault(record.contig, record.line)
        if seen != record.line:
            raise KDError(f"{loc}: contig {record.contig!r} appears again (first on line {seen})")
        paths[i] = namer.add(_nodes(record, tax, loc))
        confidence[i] = record.confidence if paths[i] else 0.0
    lineages = [namer.format(p) for p in paths]
    counts = Counter(CANONICAL_RANKS[len(p) - 1] if p else "unclassified" for p in paths)
    return Conversion(list(names), lineages, confidence, counts)


def _nodes(record: Record, tax: Taxdump | None, loc: str) -> tuple[Node, ...]:
    """The canonical nodes of a record's call: by taxid from the taxdump, else from its text."""
    if tax is not None and record.taxid:
        try:
            return tax.canonical_nodes(record.taxid)
        except UnknownTaxid as exc:
            raise KDError(f"{loc}: {exc} (is this the taxdump the labeller's database was built with?)") from None
    if record.text is not None:
        return record.text
    if record.taxid:
        raise KDError(
            f"{loc}: this line has a taxid but no lineage text (MMseqs2 --tax-lineage 1, "
            "Metabuli --print-lineage): give the taxdump of the labeller's database (--taxdump DIR)"
        )
    return ()


def write_outputs(conversion: Conversion, labels_out: Path | str, confidence_out: Path | str | None) -> None:
    """Write the taxonomy file and (unless None) the confidence file, together atomically.

    The output folders are checked before anything is written, so a bad path leaves
    neither file behind.
    """
    targets = [Path(labels_out)] + ([Path(confidence_out)] if confidence_out is not None else [])
    if len(targets) == 2 and targets[0].resolve() == targets[1].resolve():
        raise KDError(f"the labels and the confidence would both be written to {targets[0]}")
    for target in targets:
        if not target.parent.is_dir():
            raise KDError(f"cannot write {target}: folder {target.parent} does not exist")
        if target.is_dir():
            raise KDError(f"cannot write {target}: it is a folder")
    texts = [conversion.taxonomy_text(), conversion.confidence_text()]
    try:  # both or neither: never new labels beside an old confidence file
        atomic_write_texts(list(zip(targets, texts)))
    except OSError as exc:
        raise KDError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
