"""Canonical lineages and the names they are written with.

Vamb's taxonomy file holds, per contig, a ``;``-separated lineage of the seven canonical
ranks, top-down, possibly truncated: ``d_Bacteria;p_...;c_...;o_...;f_...;g_...;s_...``.
This module turns the canonical nodes found for a contig (by taxid, through
:mod:`taxometer_kd.labels.taxdump`, or parsed from a labeller's lineage text by
:func:`parse_lineage_text`) into such strings, with three rules:

- **Only canonical ranks.** domain (NCBI's ``superkingdom``, ``domain``, and
  ``acellular root``, the rank NCBI gave *Viruses* when it retired ``superkingdom``),
  phylum, class, order, family, genus, species. Every other node (``no rank``, ``clade``,
  ``strain``, ``subspecies``, ``kingdom``, ...) is dropped, so a label on a strain or
  subspecies becomes its species.
- **A canonical rank missing in the middle** (a genus whose family NCBI leaves unset, say)
  is filled with a placeholder named after the nearest named ancestor above it:
  ``f_unclassified Bacillales`` (several missing ranks in a row share that name, each
  with its own prefix; ``d_unclassified`` when even the domain is missing). Vamb
  reads ranks by position, so the lineage cannot simply skip the rank; truncating it at the
  gap instead would throw away the genus and species the labeller did give. The
  placeholder is shared by every contig under the same ancestor, so it behaves like an
  "incertae sedis" taxon of that ancestor.
- **Distinct names.** Vamb refuses a name with two parents. Two different taxa of the same
  rank and name (a genus name used in two families, say) are written as
  ``g_Name (Parent)``, with the parent's own written name; taxa that also share the
  parent (only possible between distinct taxids) get ``g_Name (taxid N)``. Both
  members of a collision are renamed, so the result does not depend on the order of the
  contigs. Names are only changed where they collide within the one output file.

Names are cleaned of what the file format cannot hold (``;`` becomes ``,``, tabs and line
ends become spaces) and of a GTDB rank prefix repeated in the name (``s__Escherichia coli``
in a GTDB-derived taxdump is written ``s_Escherichia coli``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from taxometer_kd.errors import KDError

#: the canonical ranks, top-down, and the prefix each is written with
CANONICAL_RANKS = ("domain", "phylum", "class", "order", "family", "genus", "species")
PREFIXES = ("d", "p", "c", "o", "f", "g", "s")
#: NCBI rank name -> level (index in CANONICAL_RANKS)
RANK_LEVEL = {
    "superkingdom": 0,
    "domain": 0,
    "acellular root": 0,
    "phylum": 1,
    "class": 2,
    "order": 3,
    "family": 4,
    "genus": 5,
    "species": 6,
}
#: one-letter prefix of a lineage text item -> level (other letters, ``k`` and ``-`` are dropped)
PREFIX_LEVEL = {p: i for i, p in enumerate(PREFIXES)}


@dataclass(frozen=True)
class Node:
    """A canonical taxon of a lineage: its level (0 = domain ... 6 = species), name and identity.

    ``key`` tells taxa apart: the taxid for lineages from a taxdump, the path of
    ``(level, name)`` pairs from the domain down for lineages from text.
    """

    level: int
    name: str
    key: Hashable


def clean_name(name: str, level: int) -> str:
    """``name`` as it can be written in Vamb's file (see the module's docstring)."""
    name = name.replace(";", ",").replace("\t", " ").replace("\r", " ").replace("\n", " ").strip()
    gtdb = PREFIXES[level] + "__"
    if name.startswith(gtdb):
        name = name[len(gtdb) :].strip()
    return name


@lru_cache(maxsize=65536)
def parse_lineage_text(text: str) -> tuple[Node, ...]:
    """The canonical nodes of a lineage string, top-down.

    Accepts MMseqs2's and Metabuli's ``--tax-lineage``/``--print-lineage`` form
    (``-_cellular organisms;d_Bacteria;p_Bacillota;...``) and GTDB's
    (``d__Bacteria;p__Bacillota;...``); items of other ranks are dropped, and empty names
    (GTDB's bare ``s__``) are skipped. Raises :class:`ValueError` (the caller adds the file
    and line) for an item without a rank prefix or ranks out of order. Cached: a labeller
    writes the same few lineages again and again.
    """
    nodes: list[Node] = []
    path: list[tuple[int, str]] = []
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        if len(item) < 2 or item[1] != "_":
            raise ValueError(f"lineage item {item!r} has no rank prefix like 'd_' or 'd__'")
        level = PREFIX_LEVEL.get(item[0])
        if level is None:
            continue
        name = clean_name(item[2:].lstrip("_"), level)
        if not name:
            continue
        if path and level <= path[-1][0]:
            raise ValueError(f"lineage item {item!r} is out of rank order in {text!r}")
        path.append((level, name))
        nodes.append(Node(level, name, ("text", tuple(path))))
    return tuple(nodes)


@dataclass(frozen=True)
class _Gap:
    """The key of a placeholder for a missing rank under ``parent`` (None: above everything)."""

    level: int
    parent: Hashable | None


class LineageNamer:
    """Collects the lineages of one output file, then writes them with distinct names.

    :meth:`add` fills the gaps of a lineage and returns its key path; once every lineage is
    in, :meth:`format` writes a key path as Vamb's lineage string.
    """

    def __init__(self) -> None:
        # key -> (level, raw name or None for a placeholder, parent key)
        self._nodes: dict[Hashable, tuple[int, str | None, Hashable | None]] = {}
        self._written: dict[Hashable, str] | None = None

    def add(self, nodes: Sequence[Node]) -> tuple[Hashable, ...]:
        """Register a lineage (canonical nodes, top-down); returns its keys, gaps filled."""
        self._written = None
        keys: list[Hashable] = []
        parent: Hashable | None = None
        for node in nodes:
            for level in range(len(keys), node.level):
                gap = _Gap(level, parent)
                self._nodes.setdefault(gap, (level, None, parent))
                keys.append(gap)
                parent = gap
            self._nodes.setdefault(node.key, (node.level, node.name, parent))
            keys.append(node.key)
            parent = node.key
        return tuple(keys)

    def format(self, keys: Sequence[Hashable]) -> str:
        """Vamb's lineage string of a key path from :meth:`add` ('' for an empty path)."""
        if self._written is None:
            self._written = self._name_all()
        return ";".join(self._written[k] for k in keys)

    def _name_all(self) -> dict[Hashable, str]:
        display: dict[Hashable, str] = {}  # key -> name without the rank prefix
        by_level: dict[int, list[Hashable]] = defaultdict(list)
        for key, (level, _, _) in self._nodes.items():
            by_level[level].append(key)
        for level in sorted(by_level):
            groups: dict[str, list[Hashable]] = defaultdict(list)
            for key in by_level[level]:
                _, raw, parent = self._nodes[key]
                if raw is None:  # a placeholder: named after the nearest named ancestor
                    if parent is None:
                        raw = "unclassified"
                    elif isinstance(parent, _Gap):
                        raw = display[parent]
                    else:
                        raw = f"unclassified {display[parent]}"
                groups[raw].append(key)
            for raw, keys in groups.items():
                if len(keys) == 1:
                    display[keys[0]] = raw
                    continue
                self._name_homonyms(raw, keys, display)
        written = {key: f"{PREFIXES[self._nodes[key][0]]}_{name}" for key, name in display.items()}
        seen: dict[str, Hashable] = {}
        for key, name in written.items():
            if seen.setdefault(name, key) != key:  # cannot happen; Vamb would refuse the file
                raise KDError(f"internal error: two taxa would both be written {name!r}")
        return written

    def _name_homonyms(self, raw: str, keys: list[Hashable], display: dict[Hashable, str]) -> None:
        by_parent: dict[Hashable | None, list[Hashable]] = defaultdict(list)
        for key in keys:
            by_parent[self._nodes[key][2]].append(key)
        for parent, same in by_parent.items():
            name = raw if parent is None else f"{raw} ({display[parent]})"
            if len(same) == 1:
                display[same[0]] = name
                continue
            # same name, same parent: distinct taxids (or a taxid and a placeholder)
            others = sorted((k for k in same if not isinstance(k, int)), key=repr)
            for key in same:
                if isinstance(key, int):
                    display[key] = f"{raw} (taxid {key})"
            for i, key in enumerate(others):
                display[key] = name if i == 0 else f"{name} #{i + 1}"
