"""A teacher that needs no download: what the contigs' predicted genes look like.

Genes are predicted with pyrodigal (Prodigal's metagenomic mode; already a Vamb
dependency) on up to ``max-bp`` bp from the middle of each contig, and each contig is
described by the codon usage of its genes (61 sense codons, as frequencies with a
pseudocount, centred log-ratios), the amino-acid composition of the translated proteins
(20), and gene density and mean length. The student never sees this modality. A
cross-fitted MLP head (as in the k-mer teacher) is trained on it.

Gene prediction is the slow part (about 0.3-0.5 Mbp/s per core here): ``max-bp`` bounds it
and ``-p`` threads share it.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np
from loguru import logger

from taxometer_kd import CrossFitHeadTeacher, TeacherContext, TeacherOption, TeacherSpec, hookimpl, parse_widths
from taxometer_kd_plugins.crossfit import sampling_kwargs, sampling_options

_BASES = "TCAG"
_CODONS = ["".join(c) for c in itertools.product(_BASES, repeat=3)]
_STOPS = {"TAA", "TAG", "TGA"}
SENSE = [c for c in _CODONS if c not in _STOPS]
_CODON_INDEX = {c: i for i, c in enumerate(SENSE)}
AMINO = "ACDEFGHIKLMNPQRSTVWY"
_AA_INDEX = {a: i for i, a in enumerate(AMINO)}
N_FEATURES = len(SENSE) + len(AMINO) + 2


def middle(seq: bytes, max_bp: int) -> bytes:
    if max_bp <= 0 or len(seq) <= max_bp:
        return seq
    start = (len(seq) - max_bp) // 2
    return seq[start : start + max_bp]


def gene_features(seq: bytes, finder) -> np.ndarray:
    """Codon usage (CLR), amino-acid composition (CLR), genes per kb and mean gene length."""
    codons = np.full(len(SENSE), 0.5)
    aminos = np.full(len(AMINO), 0.5)
    genes = finder.find_genes(seq)
    total_len = 0
    for gene in genes:
        nt = gene.sequence()
        total_len += len(nt)
        for i in range(0, len(nt) - 2, 3):
            j = _CODON_INDEX.get(nt[i : i + 3])
            if j is not None:
                codons[j] += 1
        for aa in gene.translate():
            j = _AA_INDEX.get(aa)
            if j is not None:
                aminos[j] += 1
    lc, la = np.log(codons / codons.sum()), np.log(aminos / aminos.sum())
    n = len(genes)
    extra = [n / max(len(seq), 1) * 1000, (total_len / n / 1000) if n else 0.0]
    return np.concatenate([lc - lc.mean(), la - la.mean(), extra]).astype(np.float32)


def gene_profiles(contigs, max_bp: int, threads: int = 1, batch: int = 256) -> np.ndarray:
    """Gene features of every contig (rows in ``contigs``' row order), from one streamed pass.

    Batches of contigs (their middle ``max_bp`` bp only) go to ``threads`` worker threads,
    each with its own gene finder; at most two batches per thread wait, so memory stays
    bounded whatever the catalogue's size.
    """
    import pyrodigal

    out = np.empty((len(contigs), N_FEATURES), dtype=np.float32)
    local = threading.local()

    def work(items):
        finder = getattr(local, "finder", None)
        if finder is None:
            finder = local.finder = pyrodigal.GeneFinder(meta=True)
        for i, seq in items:
            out[i] = gene_features(seq, finder)
        return len(items)

    t0 = last = time.time()
    done = 0
    threads = max(1, threads)
    # pyrodigal releases the GIL while it predicts, so threads share the work
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: set = set()
        items: list = []
        for i, seq in contigs:
            items.append((i, middle(seq, max_bp)))
            if len(items) < batch:
                continue
            pending.add(pool.submit(work, items))
            items = []
            while len(pending) >= 2 * threads:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                done += sum(f.result() for f in finished)
            if time.time() - last > 10:
                logger.info(f"\tgene prediction: {done}/{len(out)} contigs in {time.time() - t0:.0f} s")
                last = time.time()
        if items:
            pending.add(pool.submit(work, items))
        for f in pending:
            f.result()
    return out


def build(ctx: TeacherContext) -> CrossFitHeadTeacher:
    o = ctx.options
    t0 = time.time()
    feats = gene_profiles(ctx.contigs, int(o["max-bp"]), ctx.n_threads)
    logger.info(f"\tgene features of {len(feats)} contigs in {time.time() - t0:.1f} s")
    return CrossFitHeadTeacher(
        feats,
        ctx.n_outputs,
        hidden=o["hidden"],
        folds=int(o["folds"]),
        seed=ctx.seed,
        learning_rate=float(o["lr"]),
        feature_dtype=ctx.feature_dtype,
        **sampling_kwargs(o),
    )


LEARN_SHARE = 1.0

OPTIONS = (
    TeacherOption("max-bp", int, 3000, "bp from the middle of each contig given to gene prediction (0: all)", low=0),
    TeacherOption(
        "hidden", parse_widths, (256,), "hidden layer widths, comma separated (0: linear)", low=1, high=16384
    ),
    TeacherOption("folds", int, 5, "cross-fitting folds (1: one head trained on all labels)", low=1, high=100),
    *sampling_options(LEARN_SHARE),
    TeacherOption("lr", float, 1e-3, "Adam learning rate of the head", low=0, high=1, low_open=True),
)


@hookimpl
def register_teachers(register):
    register(
        TeacherSpec(
            name="genes",
            description="codon usage and amino-acid composition of pyrodigal-predicted genes, cross-fitted MLP head",
            build=build,
            options=OPTIONS,
        ),
        aliases=("pyrodigal",),
    )
