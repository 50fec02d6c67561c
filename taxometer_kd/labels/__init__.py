"""Initial labels: labellers' native outputs -> Vamb's taxonomy file, plus per-contig confidence.

- :mod:`~taxometer_kd.labels.convert`: ``convert`` and ``write_outputs``, behind
  ``taxometer-kd labels FORMAT RAW --fasta CONTIGS [--taxdump DIR] -o labels.tsv``;
- :mod:`~taxometer_kd.labels.formats`: the formats (``mmseqs2``, ``kraken2``,
  ``centrifuge``, ``metabuli``, ``taxid``), parsed in :mod:`~taxometer_kd.labels.tables`
  and :mod:`~taxometer_kd.labels.kmers`, where each format's confidence is defined;
- :mod:`~taxometer_kd.labels.lineage`: canonical ranks, gaps and distinct names;
  :mod:`~taxometer_kd.labels.taxdump`: lineages by taxid, through taxopy;
- :func:`read_confidence`: the confidence file as a float32 array in a run's contig order
  (NaN = unknown).

Importing the package is cheap; the names below load their modules on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "read_confidence": "taxometer_kd.labels.confidence",
    "FORMATS": "taxometer_kd.labels.formats",
}

__all__ = ["FORMATS", "read_confidence"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
