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
    teacher_targets: np.ndarray | None = None
    """The teacher's, where they differ (labels stopping at a taxon -> its abstain leaf)."""
    teacher_weights: np.ndarray | None = None
    n_abstentions: int = 0
    # --label-confidence: each label is a mixture of two targets (see apply_confidence)
    target_weights: np.ndarray | None = None
    alt_targets: np.ndarray | None = None
    alt_weights: np.ndarray | None = None
    teacher_alt_targets: np.ndarray | None = None
    teacher_alt_weights: np.ndarray | None = None
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


def hide(space: LabelSpace, rows: np.ndarray) -> None:
    """Hide the labels of ``rows`` from the student's hierarchical loss (their weights become
    0; calibration hold-out, :mod:`taxometer_kd.training.scores`). The teacher keeps them:
    the logits a held-out contig is distilled from never come from its own label anyway
    (cross-fitting), and its label still informs its neighbours' soft labels."""
    n = len(space.targets)
    weights = np.ones(n) if space.target_weights is None else np.array(space.target_weights, dtype=np.float64)
    weights[rows] = 0.0
    space.target_weights = weights
    if space.alt_weights is not None:
        space.alt_weights = np.array(space.alt_weights, dtype=np.float64)
        space.alt_weights[rows] = 0.0


def abstain_leaf_of(space: LabelSpace) -> np.ndarray:
    """For every node, its abstain leaf (itself where it has none: Vamb's leaves)."""
    out = np.arange(len(space.nodes))
    for leaf in range(space.n_real, len(space.nodes)):
        out[space.parents[leaf]] = leaf
    return out


def apply_confidence(space: LabelSpace, confidence: np.ndarray, abstain: str, abstain_weight: float) -> int:
    """Read each label with the labeller's confidence ``c`` in it (``--label-confidence``).

    A contig labelled down to node ``L`` with confidence ``c`` becomes a mixture of two
    targets: ``L`` with weight ``c``, and ``L``'s parent ``P`` with weight ``1 - c``. For the
    student, ``P`` is the label truncated by one rank (like a labeller that stops at the
    genus); for the teacher, which reads truncated labels as abstentions, it is ``P``'s
    abstain leaf ("this genus, but none of its known species"), with the abstention weight
    ``W``: weights ``c * w`` and ``(1 - c) * W``. So the teacher abstains in a region whose
    species labels' confidence averages below ``W / (1 + W)`` (2/3 at the default): a region of
    the teacher's feature space where the labeller was unsure of its species (a novel species,
    say) teaches abstention there, while one confident label among unsure neighbours is
    outvoted. Unlabelled contigs, and contigs of unknown confidence (NaN), keep their targets.
    Returns how many labels changed (confidence < 1).
    """
    c = np.nan_to_num(np.asarray(confidence, dtype=np.float64), nan=1.0)
    vamb_targets = space.targets if abstain != "both" else None
    parents = np.asarray(space.parents)
    labels = np.asarray(space.teacher_targets if space.teacher_targets is not None else space.targets)
    if vamb_targets is None:  # 'both': recover each label's own node from its abstain target
        owner = np.arange(len(space.nodes))
        owner[space.n_real :] = parents[space.n_real :]
        vamb_targets = owner[labels]
    labelled = vamb_targets != 0
    c = np.where(labelled, c, 1.0)
    parent = np.where(labelled, parents[vamb_targets], 0)
    if abstain == "none":
        teacher_alt, student_alt = parent, parent
    else:
        abst = abstain_leaf_of(space)
        teacher_alt = abst[parent]
        student_alt = teacher_alt if abstain == "both" else parent
    space.target_weights = c
    space.alt_targets, space.alt_weights = student_alt, 1.0 - c
    w_t = space.teacher_weights if space.teacher_weights is not None else np.ones(len(c))
    space.teacher_weights = w_t * c
    space.teacher_alt_targets = teacher_alt
    space.teacher_alt_weights = (1.0 - c) * (abstain_weight if abstain != "none" else 1.0)
    return int((labelled & (c < 1.0)).sum())


def cut_labels(taxonomy, confidence: np.ndarray, cut: float) -> int:
    """``--confidence-cut``: every label whose confidence is below ``cut`` loses its lowest
    rank, in place, as if the labeller had stopped one rank higher; the student then trains on
    the shorter label and the teacher reads it as an abstention under that rank. Contigs of
    unknown confidence (NaN) and unlabelled ones keep their labels. Returns how many labels
    were cut."""
    taxes = taxonomy.contig_taxonomies
    cut_rows = 0
    for i in np.flatnonzero(np.asarray(confidence, dtype=np.float64) < cut):  # NaN < cut is False
        tax = taxes[i]
        if tax is not None and len(tax.ranks) > 0:
            taxes[i] = type(tax)(tax.ranks[:-1])
            cut_rows += 1
    return cut_rows


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
