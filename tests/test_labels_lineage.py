"""Canonical lineages, gaps and distinct names (taxometer_kd.labels.lineage / taxdump)."""

from __future__ import annotations

import pytest
from labels_testdata import BROSSIUS, BSUBTILIS, BSUBTILIS_PLAIN, ECOLI, GAPELLA, write_taxdump

from taxometer_kd.labels.lineage import LineageNamer, Node, clean_name, parse_lineage_text
from taxometer_kd.labels.taxdump import Taxdump, UnknownTaxid


def names_of(nodes):
    return [(n.level, n.name) for n in nodes]


def test_parse_lineage_text_forms():
    mm = "-_cellular organisms;d_Bacteria;k_Pseudomonadati;p_Bacillota;-_clade;c_Bacilli;s_Bacillus subtilis;-_strain 168"
    assert names_of(parse_lineage_text(mm)) == [
        (0, "Bacteria"),
        (1, "Bacillota"),
        (2, "Bacilli"),
        (6, "Bacillus subtilis"),
    ]
    gtdb = "d__Bacteria;p__Bacillota;c__Bacilli;o__;f__;g__;s__"  # GTDB's empty ranks
    assert names_of(parse_lineage_text(gtdb)) == [(0, "Bacteria"), (1, "Bacillota"), (2, "Bacilli")]
    assert names_of(parse_lineage_text("d_d__Archaea; p_p__Halobacteriota")) == [(0, "Archaea"), (1, "Halobacteriota")]
    assert parse_lineage_text("") == () and parse_lineage_text("-_root") == ()
    with pytest.raises(ValueError, match="no rank prefix"):
        parse_lineage_text("d_Bacteria;Bacillota")
    with pytest.raises(ValueError, match="out of rank order"):
        parse_lineage_text("d_Bacteria;c_Bacilli;p_Bacillota")
    assert clean_name("s__Escherichia coli", 6) == "Escherichia coli"
    assert clean_name("a;b\tc", 3) == "a,b c"


def test_taxdump_lineages(tmp_path):
    tax = Taxdump(write_taxdump(tmp_path))
    assert names_of(tax.canonical_nodes(83333)) == names_of(tax.canonical_nodes(562))  # strain -> species
    assert [n.key for n in tax.canonical_nodes(9999)] == [n.key for n in tax.canonical_nodes(562)]  # merged
    assert [n.level for n in tax.canonical_nodes(9002)] == [0, 1, 2, 3, 5, 6]  # no family: the caller fills it
    assert [n.name for n in tax.canonical_nodes(9101)][-2:] == ["Escherichia", "Escherichia sp. env1"]
    assert tax.canonical_nodes(1) == ()
    assert tax.in_clade(83333, 562) and tax.in_clade(562, 562) and not tax.in_clade(561, 562)
    assert tax.in_clade(9999, 562) and tax.in_clade(562, 9999)
    assert tax.lca([562, 28901]) == 543 and tax.lca([562, 83333]) == 562 and tax.lca([562]) == 562
    with pytest.raises(UnknownTaxid, match="taxid 5 is not in the taxdump"):
        tax.canonical_nodes(5)


def write_all(tax, namer, taxids):
    keys = {t: namer.add(tax.canonical_nodes(t)) for t in taxids}  # every lineage first, then names
    return {t: namer.format(k) for t, k in keys.items()}


def test_gaps_and_homonyms(tmp_path):
    tax = Taxdump(write_taxdump(tmp_path))
    # both Bacillus genera in one file: each gets its family; order of arrival does not matter
    first, second = LineageNamer(), LineageNamer()
    a = write_all(tax, first, [562, 9002, 1423, 7020, 1386])
    b = write_all(tax, second, [7020, 1386, 1423, 9002, 562])
    assert a == b
    assert a[1423] == BSUBTILIS and a[7020] == BROSSIUS and a[9002] == GAPELLA and a[562] == ECOLI
    assert a[1386] == BSUBTILIS.rsplit(";", 1)[0]
    # one Bacillus only: its plain name
    alone = LineageNamer()
    assert write_all(tax, alone, [1423, 562])[1423] == BSUBTILIS_PLAIN


def test_namer_same_name_same_parent_and_missing_domain():
    namer = LineageNamer()
    g = Node(0, "Bacteria", 2)
    k1 = namer.add([g, Node(1, "Twin", 10)])
    k2 = namer.add([g, Node(1, "Twin", 11)])
    k3 = namer.add([Node(2, "Orphan", 12)])  # no domain, no phylum above it
    k4 = namer.add([g, Node(4, "Deep", 13)])  # phylum, class, order missing
    assert namer.format(k1) == "d_Bacteria;p_Twin (taxid 10)"
    assert namer.format(k2) == "d_Bacteria;p_Twin (taxid 11)"
    assert namer.format(k3) == "d_unclassified;p_unclassified;c_Orphan"
    assert namer.format(k4) == (
        "d_Bacteria;p_unclassified Bacteria;c_unclassified Bacteria;o_unclassified Bacteria;f_Deep"
    )
    assert namer.format(()) == ""


def test_vamb_accepts_the_distinct_names_and_refuses_the_plain_ones(tmp_path):
    from vamb.taxonomy import ContigTaxonomy, Taxonomy

    def check(lineages):
        Taxonomy([ContigTaxonomy.from_semicolon_sep(x, True) for x in lineages], b"", True)

    check([BSUBTILIS, BROSSIUS, GAPELLA, ECOLI, ""])
    plain = BROSSIUS.replace("g_Bacillus (Bacillidae)", "g_Bacillus")
    with pytest.raises(ValueError, match="multiple parents"):
        check([BSUBTILIS_PLAIN, plain])
