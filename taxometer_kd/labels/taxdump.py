"""An NCBI-style taxdump, read through taxopy: canonical lineages, clades and LCAs by taxid.

The directory must hold ``nodes.dmp`` and ``names.dmp``; ``merged.dmp``, when present,
makes taxids that NCBI merged into others resolve to the taxon they were merged into (so
the output of a labeller built on an older taxdump still converts). The files are read
by `taxopy <https://github.com/apcamargo/taxopy>`_ (given explicitly, so taxopy never
tries to download NCBI's taxonomy).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from taxometer_kd.errors import KDError
from taxometer_kd.labels.lineage import RANK_LEVEL, Node, clean_name


class UnknownTaxid(ValueError):
    """A taxid that the taxdump does not hold (the caller names the file and line)."""

    def __init__(self, taxid: int, directory: Path):
        super().__init__(f"taxid {taxid} is not in the taxdump {directory}")
        self.taxid = taxid


class Taxdump:
    """The taxonomy of one taxdump directory, with per-taxid caches."""

    def __init__(self, directory: Path | str):
        import taxopy

        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise KDError(f"--taxdump {self.directory}: not a directory")
        files = {name: self.directory / f"{name}.dmp" for name in ("nodes", "names", "merged")}
        for name in ("nodes", "names"):
            if not files[name].is_file():
                raise KDError(f"--taxdump {self.directory}: {name}.dmp is missing")
        merged = files["merged"] if files["merged"].is_file() else None
        try:
            self._db = taxopy.TaxDb(
                nodes_dmp=str(files["nodes"]),
                names_dmp=str(files["names"]),
                merged_dmp=str(merged) if merged else None,
                keep_files=True,
            )
        except (ValueError, IndexError, KeyError, OSError, UnicodeDecodeError) as exc:
            raise KDError(
                f"--taxdump {self.directory}: could not read the taxdump "
                f"(nodes.dmp, names.dmp{', merged.dmp' if merged else ''}): {type(exc).__name__}: {exc}"
            ) from None
        self._nodes: dict[int, tuple[Node, ...]] = {}
        self._ancestors: dict[int, frozenset[int]] = {}

    def __contains__(self, taxid: int) -> bool:
        return taxid in self._db.taxid2name and taxid in self._db.taxid2parent

    def _taxon(self, taxid: int):  # -> taxopy.Taxon
        import taxopy

        if taxid not in self:
            raise UnknownTaxid(taxid, self.directory)
        try:
            return taxopy.Taxon(taxid, self._db)
        except (KeyError, taxopy.exceptions.TaxidError):
            # a parent missing from nodes.dmp, or an ancestor without a scientific name
            raise KDError(
                f"--taxdump {self.directory}: the lineage of taxid {taxid} is broken "
                "(an ancestor is missing from nodes.dmp or has no scientific name in names.dmp)"
            ) from None

    def canonical_nodes(self, taxid: int) -> tuple[Node, ...]:
        """The canonical taxa from the domain down to ``taxid`` or its nearest canonical ancestor.

        Top-down; a rank NCBI leaves unset is simply absent (the caller fills it). When two
        nodes of a lineage map to the same canonical rank, the upper one is kept.
        """
        found = self._nodes.get(taxid)
        if found is None:
            taxon = self._taxon(taxid)
            nodes: list[Node] = []
            for rank, tid in reversed(taxon.ranked_taxid_lineage):
                level = RANK_LEVEL.get(rank)
                if level is None or (nodes and level <= nodes[-1].level):
                    continue
                name = clean_name(self._db.taxid2name[tid], level)
                nodes.append(Node(level, name or f"taxid {tid}", self.canonical_taxid(tid)))
            found = self._nodes[taxid] = tuple(nodes)
        return found

    def canonical_taxid(self, taxid: int) -> int:
        """``taxid`` itself, or the taxid it was merged into (merged.dmp)."""
        merged = self._db.oldtaxid2newtaxid
        return merged.get(taxid, taxid) if merged else taxid

    def ancestors(self, taxid: int) -> frozenset[int]:
        """``taxid`` and all taxa above it (root included), merged taxids resolved."""
        found = self._ancestors.get(taxid)
        if found is None:
            found = frozenset(self.canonical_taxid(t) for t in self._taxon(taxid).taxid_lineage)
            found = found | {self.canonical_taxid(taxid)}
            self._ancestors[taxid] = found
        return found

    def in_clade(self, taxid: int, clade: int) -> bool:
        """Whether ``taxid`` lies in the clade rooted at ``clade`` (itself included)."""
        return self.canonical_taxid(clade) in self.ancestors(taxid)

    def lca(self, taxids: Iterable[int]) -> int:
        """The lowest common ancestor of ``taxids`` (at least one), by taxopy."""
        import taxopy

        ids = list(dict.fromkeys(self.canonical_taxid(t) for t in taxids))
        if len(ids) == 1:
            return ids[0]
        try:
            return taxopy.find_lca([self._taxon(t) for t in ids], self._db).taxid
        except taxopy.exceptions.LCAError:
            raise ValueError(f"taxids {ids} have no common ancestor in the taxdump {self.directory}") from None
