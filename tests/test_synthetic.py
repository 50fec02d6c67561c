"""Tests of the synthetic metagenome generator (taxometer_kd.synthetic)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from taxometer_kd.synthetic import RANK_PREFIXES, REFERENCE_STATUSES, make_metagenome


def _read_fasta(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    names, seqs, lines = [], [], []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            names.append(line[1:])
            seqs.append("")
            lines.append([])
        else:
            seqs[-1] += line
            lines[-1].append(line)
    return names, seqs, lines


def _read_tsv(path: Path) -> tuple[str, list[list[str]]]:
    header, *rows = path.read_text().split("\n")[:-1]
    return header, [row.split("\t") for row in rows]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    began = time.perf_counter()
    paths = make_metagenome(tmp_path_factory.mktemp("tiny") / "new" / "dir", seed=0, size="tiny")
    assert time.perf_counter() - began < 2.0
    return paths


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    return make_metagenome(tmp_path_factory.mktemp("demo"), seed=3, size="demo", n_samples=4)


@pytest.fixture(scope="module")
def demo_table(demo) -> list[dict]:
    """One dict per contig joining truth.tsv and taxonomy.tsv."""
    _, truth = _read_tsv(demo["truth"])
    _, tax = _read_tsv(demo["taxonomy"])
    return [
        dict(
            contig=t[0],
            genome=t[1],
            length=int(t[2]),
            status=t[3],
            true=t[4].split(";"),
            label=x[1].split(";") if x[1] else [],
        )
        for t, x in zip(truth, tax)
    ]


def test_files_parse_and_agree(tiny):
    assert set(tiny) == {"fasta", "abundance", "taxonomy", "truth"}
    assert sorted(p.name for p in tiny["fasta"].parent.iterdir()) == sorted(
        ["contigs.fna", "abundance.tsv", "taxonomy.tsv", "truth.tsv"]
    )  # no temp files left
    names, seqs, lines = _read_fasta(tiny["fasta"])
    assert 250 <= len(names) <= 330 and len(set(names)) == len(names)
    assert all(re.fullmatch(r"S[0-2]C[1-9][0-9]*", n) for n in names)
    assert all(set(s) <= set("ACGT") and 2000 <= len(s) <= 12000 for s in seqs)
    assert all(all(len(x) == 80 for x in ls[:-1]) and 0 < len(ls[-1]) <= 80 for ls in lines)

    header, abund = _read_tsv(tiny["abundance"])
    assert header == "contigname\tS0\tS1\tS2"
    assert [r[0] for r in abund] == names
    depths = np.array([[float(x) for x in r[1:]] for r in abund])
    assert depths.shape == (len(names), 3) and (depths >= 0).all()
    # a contig is assembled from a sample in which its genome is present
    assert all(depths[i, int(n[1])] > 0 for i, n in enumerate(names))

    header, tax = _read_tsv(tiny["taxonomy"])
    assert header == "contigs\tpredictions"
    assert [r[0] for r in tax] == names and all(len(r) == 2 for r in tax)

    header, truth = _read_tsv(tiny["truth"])
    assert header == "contig\tgenome_id\tlength\treference_status\tlineage"
    assert [r[0] for r in truth] == names
    assert [int(r[2]) for r in truth] == [len(s) for s in seqs]
    assert {r[3] for r in truth} <= set(REFERENCE_STATUSES)
    for row in truth:
        ranks = row[4].split(";")
        assert [r.split("_")[0] for r in ranks] == list(RANK_PREFIXES)


def test_deterministic_per_seed(tiny, tmp_path):
    again = make_metagenome(tmp_path / "again", seed=0, size="tiny")
    other = make_metagenome(tmp_path / "other", seed=1, size="tiny")
    for key in tiny:
        assert again[key].read_bytes() == tiny[key].read_bytes()
        assert other[key].read_bytes() != tiny[key].read_bytes()


def test_lineage_names_unambiguous(demo):
    rank_of, parent_of = {}, {}
    for path in (demo["truth"], demo["taxonomy"]):
        _, rows = _read_tsv(path)
        for row in rows:
            ranks = row[-1].split(";") if row[-1] else []
            for rank, name in enumerate(ranks):
                assert rank_of.setdefault(name, rank) == rank, name
            for parent, child in pairwise(ranks):
                assert parent_of.setdefault(child, parent) == parent, child


def test_tree_and_reference_shape(demo_table):
    genomes = {r["genome"] for r in demo_table}
    species = {r["true"][6] for r in demo_table}
    assert 20 <= len(genomes) <= 24 and 12 <= len(species) <= 14
    assert len({r["true"][1] for r in demo_table}) == 2
    assert 2000 <= len(demo_table) <= 2600
    by_status = {s: {r["true"][6] for r in demo_table if r["status"] == s} for s in REFERENCE_STATUSES}
    assert 2 <= len(by_status["species_held_out"]) <= 4
    assert len(by_status["novel_strain"]) >= 1
    assert not by_status["species_held_out"] & (by_status["in_reference"] | by_status["novel_strain"])


def test_label_noise_statistics(demo_table):
    def rates(rows):
        n = len(rows)
        return dict(
            correct=sum(r["label"] == r["true"] for r in rows) / n,
            unlabelled=sum(not r["label"] for r in rows) / n,
            truncated=sum(0 < len(r["label"]) < 7 for r in rows) / n,
            wrong=sum(len(r["label"]) == 7 and r["label"] != r["true"] for r in rows) / n,
        )

    for r in demo_table:  # truncated labels are a prefix of the true lineage, >= family if known
        if 0 < len(r["label"]) < 7:
            assert r["label"] == r["true"][: len(r["label"])]
            assert len(r["label"]) >= 5 or r["status"] == "species_held_out"

    inref = [r for r in demo_table if r["status"] == "in_reference"]
    novel = [r for r in demo_table if r["status"] == "novel_strain"]
    held = [r for r in demo_table if r["status"] == "species_held_out"]
    ri, rn, rh = rates(inref), rates(novel), rates(held)
    assert 0.78 <= ri["correct"] <= 0.92 and 0.02 <= ri["unlabelled"] <= 0.09
    assert 0.02 <= ri["wrong"] <= 0.07 and 0.03 <= ri["truncated"] <= 0.10
    assert 0.65 <= rn["correct"] <= 0.85
    assert rn["unlabelled"] + rn["truncated"] > ri["unlabelled"] + ri["truncated"]
    assert rh["correct"] == 0.0 and not any(r["label"][6:] == r["true"][6:] for r in held)
    assert 0.45 <= rh["wrong"] <= 0.65 and 0.15 <= rh["unlabelled"] <= 0.35
    assert 0.12 <= rh["truncated"] <= 0.30

    # species-level precision of the reference-known part, and overall
    labelled = [r for r in inref if len(r["label"]) == 7]
    precision = sum(r["label"] == r["true"] for r in labelled) / len(labelled)
    assert 0.8 <= precision < 1.0
    labelled = [r for r in demo_table if len(r["label"]) == 7]
    assert 0.7 <= sum(r["label"] == r["true"] for r in labelled) / len(labelled) < 0.95

    # wrong labels of held-out species are mostly relatives (same family)
    wrong = [r for r in held if len(r["label"]) == 7]
    assert sum(r["label"][4] == r["true"][4] for r in wrong) / len(wrong) >= 0.5

    # short contigs are more often unlabelled than long ones
    short = [r for r in demo_table if r["length"] < 3500]
    long = [r for r in demo_table if r["length"] >= 6000]
    assert rates(short)["unlabelled"] > rates(long)["unlabelled"]


def test_abundance_profiles_shared_within_genome(demo):
    _, abund = _read_tsv(demo["abundance"])
    _, truth = _read_tsv(demo["truth"])
    depth = np.log1p(np.array([[float(x) for x in r[1:]] for r in abund]))
    genome = np.array([r[1] for r in truth])
    centroids = {g: depth[genome == g].mean(axis=0) for g in set(genome)}
    within = np.mean([np.abs(depth[i] - centroids[g]).mean() for i, g in enumerate(genome)])
    between = np.mean([np.abs(a - b).mean() for a in centroids.values() for b in centroids.values()])
    assert within < 0.5 * between


def test_vamb_reads_files_and_tnf_carries_lineage(tiny):
    vamb = pytest.importorskip("vamb")
    with vamb.vambtools.Reader(tiny["fasta"]) as handle:
        composition = vamb.parsecontigs.Composition.from_file(handle, str(tiny["fasta"]))
    _, truth = _read_tsv(tiny["truth"])
    assert list(composition.metadata.identifiers) == [r[0] for r in truth]
    assert list(composition.metadata.lengths) == [int(r[2]) for r in truth]

    abundance = vamb.parsebam.Abundance.from_tsv(tiny["abundance"], composition.metadata)
    assert abundance.matrix.shape == (len(truth), 3)
    for canonical in (False, True):
        taxonomy = vamb.taxonomy.Taxonomy.from_file(tiny["taxonomy"], composition.metadata, canonical)
        assert taxonomy.nseqs == len(truth)
    assert any(t.ranks == [] for t in taxonomy.contig_taxonomies)  # unclassified contigs

    tnf = composition.matrix
    lineage = [r[4].split(";") for r in truth]
    dist = np.sqrt(((tnf[:, None, :] - tnf[None, :, :]) ** 2).sum(-1))
    phylum = np.array([x[1] for x in lineage])
    species = np.array([x[6] for x in lineage])
    off_diag = ~np.eye(len(truth), dtype=bool)
    between_phyla = dist[phylum[:, None] != phylum[None, :]].mean()
    within_species = dist[(species[:, None] == species[None, :]) & off_diag].mean()
    assert between_phyla > 1.3 * within_species


def test_cli_and_no_torch(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "taxometer_kd.synthetic",
            str(tmp_path / "cli"),
            "--size",
            "tiny",
            "--seed",
            "5",
            "--samples",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "contigs.fna" in out.stdout and "tiny" in out.stdout
    assert _read_tsv(tmp_path / "cli" / "abundance.tsv")[0] == "contigname\tS0\tS1"
    probe = "import sys, taxometer_kd.synthetic; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        make_metagenome(tmp_path, size="huge")
    with pytest.raises(ValueError):
        make_metagenome(tmp_path, n_samples=0)
