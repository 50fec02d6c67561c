"""A teacher that needs no download: canonical k-mer profiles and coverage with their own
cross-fitted network. It is the ``default`` teacher.

Longer k-mers (``k=5..7``) carry oligonucleotide biases that TNF averages away, but on
contigs of a few kb their profiles are noisy: on the benchmark data k=4 with coverage
distilled best (see the README), so that is the default. Each contig's canonical k-mer counts are
turned into centred log-ratios (log frequency with a pseudocount, minus the contig's mean
log frequency), standardised per column, and a learnable MLP head is trained on them with
the hierarchical loss, cross-fitted (:class:`taxometer_kd.teacher.CrossFitHeadTeacher`):
the logits a contig is distilled from come from a head that never saw its label.
"""

from __future__ import annotations

import time

import numpy as np
import vambcore
from loguru import logger

from taxometer_kd import (
    CrossFitHeadTeacher,
    TeacherContext,
    TeacherOption,
    TeacherSpec,
    encode_dna,
    hookimpl,
    parse_bool,
    parse_widths,
)
from taxometer_kd_plugins.crossfit import sampling_kwargs, sampling_options


def canonical_index(k: int) -> tuple[np.ndarray, int]:
    """Map each of the 4**k k-mer codes to the index of its canonical (min with its RC) form."""
    codes = np.arange(4**k)
    digits = (codes[:, None] >> (2 * np.arange(k - 1, -1, -1))) & 3  # most significant first
    rc_digits = (3 - digits)[:, ::-1]
    rc = (rc_digits << (2 * np.arange(k - 1, -1, -1))).sum(1)
    canon = np.minimum(codes, rc)
    uniq, index = np.unique(canon, return_inverse=True)
    return index.astype(np.int64), len(uniq)


# vambcore (Vamb's own Rust 4-mer counter) gives the same counts as the NumPy path below for
# sequences of IUPAC letters, in either case (tested); other bytes take the NumPy path
_IUPAC = b"ACGTNRYSWKMBDHVacgtnryswkmbdhv"


def kmer_counts(seq: bytes, k: int, canon: np.ndarray, n_canon: int) -> np.ndarray:
    """Canonical k-mer counts of one sequence; k-mers with a non-ACGT base are skipped."""
    if k == 4 and not bytes(seq).translate(None, _IUPAC):
        return _fourmer_counts_vambcore(seq, canon, n_canon)
    return kmer_counts_numpy(seq, k, canon, n_canon)


def _fourmer_counts_vambcore(seq: bytes, canon: np.ndarray, n_canon: int) -> np.ndarray:
    counts = np.zeros(256, dtype=np.uint32)
    vambcore.kmercounts(counts, seq if isinstance(seq, bytearray) else bytearray(seq))
    return np.bincount(canon, weights=counts, minlength=n_canon)


def kmer_counts_numpy(seq: bytes, k: int, canon: np.ndarray, n_canon: int) -> np.ndarray:
    """:func:`kmer_counts` for any k and any bytes (non-ACGT bytes break k-mers)."""
    codes = encode_dna(seq).astype(np.int64)
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(n_canon, dtype=np.float64)
    bad = codes > 3
    idx = np.zeros(n, dtype=np.int64)
    for j in range(k):
        idx = (idx << 2) | (codes[j : j + n] & 3)
    if bad.any():
        badwin = np.convolve(bad.astype(np.int64), np.ones(k, dtype=np.int64), "valid") > 0
        idx = idx[~badwin]
    return np.bincount(canon[idx], minlength=n_canon).astype(np.float64)


def kmer_profiles(
    contigs, k: int, pseudocount: float = 0.5, log_every: float = 10.0, extra_columns: int = 0
) -> np.ndarray:
    """Centred log-ratio transformed canonical k-mer frequencies, one row per contig.

    ``contigs`` yields ``(row, DNA)`` (:class:`taxometer_kd.teachers.base.Contigs`), in one
    streamed pass. ``extra_columns`` more (uninitialised) columns are allocated at the end,
    for the caller's own features, so that no second full-size array is needed."""
    canon, n_canon = canonical_index(k)
    out = np.empty((len(contigs), n_canon + extra_columns), dtype=np.float32)
    t0 = last = time.time()
    nbases = 0
    for i, seq in contigs:
        counts = kmer_counts(seq, k, canon, n_canon) + pseudocount
        logf = np.log(counts / counts.sum())
        out[i, :n_canon] = logf - logf.mean()
        nbases += len(seq)
        now = time.time()
        if now - last > log_every:
            logger.info(f"\t{k}-mer profiles: {nbases / 1e6:.0f} Mbp read, {nbases / (now - t0) / 1e6:.1f} Mbp/s")
            last = now
    return out


def abundance_features(ctx: TeacherContext) -> np.ndarray:
    """Per-contig coverage features: log relative abundance per sample and log total depth.

    Negative depths, which Vamb accepts, count as 0 here (a log needs them non-negative)."""
    ab = ctx.abundance
    if ab is None:
        raise ValueError("the kmer teacher's abundance=true needs the run's abundances")
    ab = np.clip(np.asarray(ab, dtype=np.float64), 0.0, None)
    ab = ab * (1e6 / np.maximum(ab.sum(0, keepdims=True), 1e-12))  # samples to equal depth
    total = ab.sum(1, keepdims=True)
    rel = ab / np.maximum(total, 1e-12)
    return np.hstack([np.log(rel + 1e-3), np.log(total + 1e-3)]).astype(np.float32)


def build(ctx: TeacherContext) -> CrossFitHeadTeacher:
    o = ctx.options
    k = int(o["k"])
    t0 = time.time()
    coverage = abundance_features(ctx) if o["abundance"] else np.zeros((ctx.n_contigs, 0), dtype=np.float32)
    feats = kmer_profiles(ctx.contigs, k, extra_columns=coverage.shape[1])
    feats[:, feats.shape[1] - coverage.shape[1] :] = coverage
    logger.info(
        f"\t{k}-mer profiles ({feats.shape[1] - coverage.shape[1]} canonical k-mers) of {len(feats)} contigs "
        f"in {time.time() - t0:.1f} s"
    )
    return CrossFitHeadTeacher(
        feats,
        ctx.n_outputs,
        hidden=o["hidden"],
        dropout=float(o["dropout"]),
        folds=int(o["folds"]),
        seed=ctx.seed,
        learning_rate=float(o["lr"]),
        feature_dtype=ctx.feature_dtype,
        **sampling_kwargs(o),
    )


LEARN_SHARE = 0.5

OPTIONS = (
    TeacherOption("k", int, 4, "k-mer length", choices=(3, 4, 5, 6, 7)),
    TeacherOption(
        "hidden", parse_widths, (256,), "hidden layer widths, comma separated (0: linear)", low=1, high=16384
    ),
    TeacherOption("folds", int, 10, "cross-fitting folds (1: one head trained on all labels)", low=1, high=100),
    *sampling_options(LEARN_SHARE),
    TeacherOption("dropout", float, 0.2, "dropout in the head", low=0, high=1, high_open=True),
    TeacherOption("lr", float, 1e-3, "Adam learning rate of the head", low=0, high=1, low_open=True),
    TeacherOption("abundance", parse_bool, True, "also give the head the contigs' coverage"),
)


@hookimpl
def register_teachers(register):
    register(
        TeacherSpec(
            name="kmer",
            description="canonical k-mer profiles (CLR) and coverage, cross-fitted MLP heads; the default teacher",
            build=build,
            options=OPTIONS,
        ),
        aliases=("kmer-profile", "default"),
    )
