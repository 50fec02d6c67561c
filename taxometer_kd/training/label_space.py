"""The label space of a run: Vamb's tree of the initial labels, with abstain leaves.

Vamb builds a tree (``nodes``, ``parents``) from the labels' lineages and turns each
contig's label into a node index (0 = root = unlabelled). taxometer-kd can add, under every
internal node, one leaf meaning "none of the known children" (:func:`add_abstain_leaves`):
the teacher then reads a label that stops at a taxon as evidence for that taxon's abstain
leaf, and can say "this genus, but no species we know".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import vamb

ABSTAIN_SUFFIX = " [unassigned]"


@dataclass
class LabelSpace:
    """Nodes and targets of a run. ``nodes[:n_real]`` are Vamb's; the rest are abstain leaves."""

    nodes: list[str]
    parents: list[int]
    targets: np.ndarray
    """The student's target node per contig."""
    n_real: int
    teacher_targets: Optional[np.ndarray] = None
    """The teacher's, where they differ (labels stopping at a taxon -> its abstain leaf)."""
    teacher_weights: Optional[np.ndarray] = None
    n_abstentions: int = 0
    """Contigs whose label is read as an abstention."""

    def __post_init__(self) -> None:
        self.n_labelled = int((np.asarray(self.targets) != 0).sum())


def vamb_graph(taxonomy) -> tuple[list[str], list[int], np.ndarray]:
    """Vamb's nodes, parents and per-contig target node of a parsed ``vamb.taxonomy.Taxonomy``."""
    nodes, ind_nodes, table_parent = vamb.taxvamb_encode.make_graph(taxonomy.contig_taxonomies)
    classes = ["root" if t is None or len(t.ranks) == 0 else t.ranks[-1] for t in taxonomy.contig_taxonomies]
    return list(nodes), list(table_parent), np.array([ind_nodes[c] for c in classes])


def add_abstain_leaves(nodes: Sequence[str], table_parent: Sequence[int], targets: np.ndarray):
    """Give every internal node an extra leaf child meaning "none of the known children".

    Vamb's flat softmax spreads a node's probability over its leaves only, so it cannot say
    "this genus, but no species we know". With these leaves it can: P(genus) still sums all
    its leaves, the abstain leaf included, and a contig whose label stops at a node can be
    read as evidence for that node's abstain leaf. Returns (nodes, parents, abstain_targets):
    the abstain targets send each label that stops at an internal node (root included, i.e.
    unlabelled contigs) to that node's abstain leaf.
    """
    n = len(nodes)
    has_child = np.zeros(n, dtype=bool)
    for p in table_parent[1:]:
        has_child[p] = True
    internal = np.flatnonzero(has_child)
    new_nodes = list(nodes) + [nodes[u] + ABSTAIN_SUFFIX for u in internal]
    new_parents = list(table_parent) + [int(u) for u in internal]
    abstain_of = np.arange(n)
    abstain_of[internal] = n + np.arange(len(internal))
    return new_nodes, new_parents, abstain_of[np.asarray(targets)]


def build_label_space(taxonomy, abstain: str, abstain_weight: float) -> LabelSpace:
    """The label space for ``--abstain none|teacher|both`` (see :mod:`taxometer_kd.options`)."""
    nodes, parents, targets = vamb_graph(taxonomy)
    space = LabelSpace(nodes, parents, targets, n_real=len(nodes))
    if abstain == "none":
        return space
    space.nodes, space.parents, abstain_targets = add_abstain_leaves(nodes, parents, targets)
    is_abstention = abstain_targets >= space.n_real
    space.n_abstentions = int(is_abstention.sum())
    space.teacher_weights = np.where(is_abstention, abstain_weight, 1.0)
    if abstain == "both":
        space.targets = abstain_targets
    else:
        space.teacher_targets = abstain_targets
    return space
