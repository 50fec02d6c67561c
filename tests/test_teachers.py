"""The built-in teachers and the teacher building blocks."""

import numpy as np
import pytest
import torch
import vamb

from taxometer_kd import CrossFitHeadTeacher, EmbeddingHeadTeacher, TeacherContext, encode_dna, registry
from taxometer_kd.io import InMemoryContigs
from taxometer_kd.teachers.heads import GroupedMLP
from taxometer_kd.training.data import TrainData
from taxometer_kd.training.label_space import add_abstain_leaves
from taxometer_kd.training.trainer import train_jointly


def test_encode_dna():
    assert encode_dna(b"ACGTNacgtx").tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


def test_kmer_counts_by_hand():
    from taxometer_kd_plugins.kmer import canonical_index, kmer_counts

    canon, n = canonical_index(2)
    assert n == 10  # 16 dinucleotides, 4 palindromes (AT CG GC TA) -> (16 + 4) / 2
    # ACGT: AC, CG, GT; GT is the reverse complement of AC
    counts = kmer_counts(b"ACGT", 2, canon, n)
    ac, cg = canon[0 * 4 + 1], canon[1 * 4 + 2]
    assert counts[ac] == 2 and counts[cg] == 1 and counts.sum() == 3
    # a k-mer with N is skipped: ACNGT -> AC, GT only
    counts = kmer_counts(b"ACNGT", 2, canon, n)
    assert counts[ac] == 2 and counts.sum() == 2
    # a sequence and its reverse complement have the same canonical profile
    rng = np.random.default_rng(0)
    seq = rng.choice(np.frombuffer(b"ACGT", np.uint8), 500).tobytes()
    rc = seq[::-1].translate(bytes.maketrans(b"ACGT", b"TGCA"))
    canon5, n5 = canonical_index(5)
    assert np.array_equal(kmer_counts(seq, 5, canon5, n5), kmer_counts(rc, 5, canon5, n5))


def test_fourmer_counts_fast_path_equals_numpy():
    """k = 4 goes through vambcore for IUPAC sequences: the same counts as the NumPy path,
    lowercase, ambiguity codes, short and empty sequences included; other bytes fall back."""
    from taxometer_kd_plugins.kmer import canonical_index, kmer_counts, kmer_counts_numpy

    canon, n = canonical_index(4)
    rng = np.random.default_rng(5)
    alphabet = np.frombuffer(b"ACGTACGTACGTacgtNRYSWKMBDHVnryswkmbdhv", np.uint8)
    for length in [0, 1, 3, 4, 5, 17, 300, 5000]:
        for _ in range(5):
            seq = rng.choice(alphabet, length).tobytes()
            fast = kmer_counts(seq, 4, canon, n)
            assert fast.dtype == np.float64 and fast.shape == (n,)
            np.testing.assert_array_equal(fast, kmer_counts_numpy(seq, 4, canon, n))
    # bytes outside IUPAC: the NumPy rules (a k-mer with one is skipped), not vambcore's
    counts = kmer_counts(b"ACGT-ACGTX", 4, canon, n)
    np.testing.assert_array_equal(counts, kmer_counts_numpy(b"ACGT-ACGTX", 4, canon, n))
    assert counts.sum() == 2  # ACGT twice
    # the counts of a plain sequence, by hand: ACGTA -> ACGT, CGTA (= TACG's reverse complement)
    counts = kmer_counts(b"ACGTA", 4, canon, n)
    acgt, cgta = canon[0b00011011], canon[0b01101100]
    assert counts.sum() == 2 and counts[acgt] == 1 and counts[cgta] == 1


def test_abstain_leaves_by_hand():
    nodes = ["root", "A", "B", "a1", "a2", "b1"]
    parents = [-1, 0, 0, 1, 1, 2]
    targets = np.array([1, 3, 0, 5])  # A (genus-level label), a1, unlabelled, b1
    new_nodes, new_parents, abstain = add_abstain_leaves(nodes, parents, targets)
    assert new_nodes[6:] == ["root [unassigned]", "A [unassigned]", "B [unassigned]"]
    assert new_parents[6:] == [0, 1, 2]
    assert abstain.tolist() == [7, 3, 6, 5]
    tree = vamb.hloss_misc.Hierarchy(np.array(new_parents))  # still a valid Vamb hierarchy
    assert tree.leaf_mask().sum() == 6


def test_grouped_mlp_members_are_independent():
    torch.manual_seed(0)
    g = GroupedMLP(3, 4, (5,), 2, dropout=0.0)
    x = torch.randn(7, 4)
    out = g(x)
    assert out.shape == (3, 7, 2)
    # member 1 alone equals a plain MLP with its weights
    h = torch.nn.functional.leaky_relu(x @ g.weights[0][1] + g.biases[0][1])
    assert torch.allclose(out[1], h @ g.weights[1][1] + g.biases[1][1], atol=1e-6)
    out[0].sum().backward()
    assert g.weights[0].grad[1].abs().sum() == 0 and g.weights[0].grad[0].abs().sum() > 0


def _problem(n=120, seed=0):
    rng = np.random.default_rng(seed)
    nodes = ["root", "A", "B", "a1", "a2", "b1"]
    parents = [-1, 0, 0, 1, 1, 2]
    leaf = rng.integers(0, 2, n)
    targets = np.where(leaf == 0, 3, 5)
    feats = np.stack([leaf * 3.0 + rng.normal(0, 0.3, n), rng.normal(0, 1, n)], 1).astype(np.float32)
    data = TrainData(
        depths=torch.softmax(torch.randn(n, 2, generator=torch.Generator().manual_seed(1)), 1),
        tnf=torch.randn(n, 103, generator=torch.Generator().manual_seed(2)),
        total=torch.zeros(n, 1),
        weights=torch.ones(n, 1),
        targets=torch.as_tensor(targets),
        n_classes=105,
    )
    return nodes, parents, feats, data


def _train(folds, flip_first, train_heads=None, learn_share=1.0):
    nodes, parents, feats, data = _problem()
    if flip_first:
        data.targets[0] = 4 if data.targets[0] != 4 else 3
    torch.manual_seed(0)
    student = vamb.taxvamb_encode.VAMB2Label(2, len(nodes), nodes, parents, nhiddens=[8])
    teacher = CrossFitHeadTeacher(
        feats,
        student.nlabels,
        hidden=(8,),
        folds=folds,
        seed=3,
        learning_rate=1e-2,
        train_heads=train_heads,
        learn_share=learn_share,
    )
    kd = registry.get_loss("kl").factory(4.0)
    train_jointly(student, teacher, data, kd, 0.3, nepochs=4, batchsize=32, seed=5)
    teacher.eval()
    return teacher.predict(torch.arange(3))


@pytest.mark.parametrize(("train_heads", "learn_share"), [(None, 1.0), (1, 1.0), (2, 1.0), (1, 0.5)])
def test_cross_fitting_keeps_a_contigs_own_label_out_of_its_logits(train_heads, learn_share):
    a, b = _train(4, False, train_heads, learn_share), _train(4, True, train_heads, learn_share)
    assert torch.equal(a[0], b[0])  # contig 0's logits never saw contig 0's label
    # the test can fail: without cross-fitting the label does reach them
    c, d = _train(folds=1, flip_first=False), _train(folds=1, flip_first=True)
    assert not torch.equal(c[0], d[0])


def test_grouped_mlp_slots_equal_the_members_outputs():
    torch.manual_seed(0)
    g = GroupedMLP(4, 6, (8,), 5, dropout=0.0)
    x = torch.randn(11, 6)
    member = torch.tensor([3, 0, 0, 2, 1, 3, 3, 0, 2, 2, 1])
    dense = g(x)  # 4 x 11 x 5
    want = dense[member, torch.arange(11)]
    assert torch.allclose(g.forward_slots(x, member), want, atol=1e-5)


def test_sampled_learners_are_other_heads_and_cover_them():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    teacher = CrossFitHeadTeacher(rng.normal(size=(500, 3)).astype(np.float32), 4, hidden=(8,), folds=5, train_heads=1)
    seen = torch.zeros(5, 5, dtype=torch.long)  # own fold x learner head
    calls = []
    real = teacher.heads.forward_slots
    teacher.heads.forward_slots = lambda x, member: calls.append(member) or real(x, member)
    idx = torch.arange(500)
    for _ in range(20):
        out = teacher.training_step(idx)
        assert out.logits.shape == (500, 4) and out.fit_logits.shape == (1, 500, 4) and out.fit_mask is None
        own, learners = calls[-2:]
        assert torch.equal(own, teacher.fold[idx])  # own heads give the distillation logits
        # ... without autograd (they are only distilled from); the learning heads' logits have it
        assert not out.logits.requires_grad and out.fit_logits.requires_grad
        seen[teacher.fold[idx], learners] += 1
    assert seen.diagonal().sum() == 0  # a head never learns from its own fold
    off = seen[~torch.eye(5, dtype=torch.bool)]
    assert (off > 0).all()  # every other head does


@pytest.mark.parametrize("train_heads", [None, 1])
def test_bf16_feature_storage_trains_bit_for_bit_the_same(train_heads):
    """Stored standardised in bf16, frozen features give the very same bf16-autocast training."""
    runs = []
    for dtype in (torch.float32, torch.bfloat16):
        nodes, parents, feats, data = _problem()
        torch.manual_seed(0)
        student = vamb.taxvamb_encode.VAMB2Label(2, len(nodes), nodes, parents, nhiddens=[8])
        teacher = CrossFitHeadTeacher(
            feats,
            student.nlabels,
            hidden=(8,),
            folds=4,
            seed=3,
            learning_rate=1e-2,
            feature_dtype=dtype,
            train_heads=train_heads,
        )
        hist = train_jointly(
            student,
            teacher,
            data,
            registry.get_loss("kl").factory(4.0),
            0.3,
            nepochs=3,
            batchsize=32,
            seed=5,
            precision="bfloat16",
        )
        runs.append((hist, [p.detach().clone() for p in student.parameters()], teacher))
    (h32, p32, t32), (h16, p16, t16) = runs
    assert t16.frozen.matrix.dtype == torch.bfloat16 and t16.frozen.matrix.element_size() == 2
    assert [(h["student_ce"], h["kd"], h["teacher_ce"]) for h in h32] == [
        (h["student_ce"], h["kd"], h["teacher_ce"]) for h in h16
    ]
    assert all(torch.equal(a, b) for a, b in zip(p32, p16))
    # outside autocast (final predictions) the bf16 rounding shows, a little
    t32.eval(), t16.eval()
    a, b = t32.predict(torch.arange(120)), t16.predict(torch.arange(120))
    assert torch.allclose(a, b, atol=0.05) and not torch.equal(a, b)


def test_train_heads_range():
    feats = np.zeros((20, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="between 1 and folds - 1 = 3"):
        CrossFitHeadTeacher(feats, 3, folds=4, train_heads=4)


def test_cross_fit_teacher_learns_from_neighbours():
    nodes, parents, feats, data = _problem(n=400)
    torch.manual_seed(0)
    student = vamb.taxvamb_encode.VAMB2Label(2, len(nodes), nodes, parents, nhiddens=[8])
    teacher = CrossFitHeadTeacher(feats, student.nlabels, hidden=(16,), folds=5, learning_rate=1e-2)
    hist = train_jointly(
        student, teacher, data, registry.get_loss("kl").factory(4.0), 0.3, nepochs=20, batchsize=64, seed=1
    )
    assert hist[-1]["teacher_ce"] < 0.3 * hist[0]["teacher_ce"]
    teacher.eval()
    pred = teacher.predict(torch.arange(400)).argmax(1).numpy()  # leaves: a1, a2, b1
    truth = np.where(data.targets.numpy() == 3, 0, 2)
    assert (pred == truth).mean() > 0.95


def _ctx(seqs, n_outputs=3, **options):
    return TeacherContext(
        contigs=InMemoryContigs(seqs),
        n_outputs=n_outputs,
        options=options,
        device=torch.device("cpu"),
        abundance=np.random.default_rng(1).lognormal(0, 1, (len(seqs), 3)).astype(np.float32),
    )


def test_dna_cnn_windows_and_strands():
    from taxometer_kd_plugins.dna_cnn import PackedDNA

    dna = PackedDNA(InMemoryContigs([b"AACCGGTT", b"ACG"]))
    idx = torch.tensor([0, 1])
    w = dna.windows(idx, torch.tensor([2, 0]), 4, torch.tensor([False, True]))
    assert w.shape == (2, 4, 4)
    assert w[0].argmax(0).tolist() == [1, 1, 2, 2]  # CCGG
    # contig 1 is ACG + padding N, reverse complemented: N CGT -> rows: none, C, G, T
    assert w[1].sum(0).tolist() == [0, 1, 1, 1]
    assert w[1][:, 1:].argmax(0).tolist() == [1, 2, 3]


@pytest.mark.parametrize("name", ["dna-cnn", "kmer", "genes"])
def test_builtin_teachers_give_logits_of_the_label_space(name):
    spec = registry.get_teacher(name)
    rng = np.random.default_rng(0)
    seqs = [rng.choice(np.frombuffer(b"ACGT", np.uint8), int(rng.integers(600, 3000))).tobytes() for _ in range(12)]
    teacher = spec.build(_ctx(seqs, n_outputs=7, **spec.validate_options({})))
    idx = torch.arange(12)
    teacher.train()
    assert teacher(idx).shape == (12, 7)
    teacher.eval()
    out = teacher.predict(idx)
    assert out.shape == (12, 7) and torch.isfinite(out).all()
    assert torch.equal(out, teacher.predict(idx))  # prediction is deterministic


def test_gene_features_follow_the_genes():
    import pyrodigal

    from taxometer_kd_plugins.genes import AMINO, SENSE, gene_features

    rng = np.random.default_rng(1)
    used = ["GCT", "GAA", "AAA", "CTG", "ATT", "GGC"]  # A E K L I G
    orfs = []
    for _ in range(3):
        orfs.append("ATG" + "".join(rng.choice(used, 400)) + "TAA")

    def spacer() -> str:
        return "".join(rng.choice(list("ACGT"), 150))

    seq = ("AGGAGG".join([spacer(), *orfs]) + spacer()).encode()
    f = gene_features(seq, pyrodigal.GeneFinder(meta=True))
    codon_part, aa_part, extra = f[: len(SENSE)], f[len(SENSE) : len(SENSE) + len(AMINO)], f[-2:]
    assert extra[0] > 0.5  # genes per kb
    top_aa = {AMINO[i] for i in np.argsort(aa_part)[-6:]}
    assert top_aa == set("AEKLIG")
    top_codons = {SENSE[i] for i in np.argsort(codon_part)[-6:]}
    assert top_codons == set(used)


def test_kmer_coverage_needs_the_abundances():
    spec = registry.get_teacher("kmer")
    ctx = _ctx([b"ACGT" * 200], **spec.validate_options({}))
    ctx.abundance = None
    with pytest.raises(ValueError, match="abundance"):
        spec.build(ctx)
    ctx = _ctx([b"ACGT" * 200, b"GGCA" * 300], **spec.validate_options({"abundance": "false"}))
    assert spec.build(ctx).frozen.shape == (2, 136)  # canonical 4-mers only


@pytest.mark.parametrize("bad, needle", [(np.zeros(5), "2-D"), (np.array([[1.0, np.nan]]), "NaN")])
def test_feature_matrix_checks(bad, needle):
    for cls in (CrossFitHeadTeacher, EmbeddingHeadTeacher):
        with pytest.raises(ValueError, match=needle):
            cls(bad, 3)


def test_frozen_features_standardise_by_column_without_a_copy(monkeypatch):
    import taxometer_kd.teachers.heads as teacher_mod

    rng = np.random.default_rng(0)
    raw = (rng.normal(3.0, 2.0, (1000, 7)) * np.arange(1, 8)).astype(np.float32)
    raw[:, 3] = 5.0  # a constant column: sd clamped, no division by zero
    monkeypatch.setattr(teacher_mod, "_CHUNK_ELEMENTS", 64 * 7)  # chunks of 64 rows, the last partial
    frozen = teacher_mod.FrozenFeatures(raw)
    want = (raw - raw.mean(0)) / np.maximum(raw.std(0, ddof=1), 1e-6)
    np.testing.assert_allclose(frozen.standardised().numpy(), want, rtol=1e-5, atol=1e-5)
    idx = torch.tensor([999, 0, 17, 17])
    np.testing.assert_allclose(frozen.rows(idx).numpy(), want[[999, 0, 17, 17]], rtol=1e-5, atol=1e-5)
    assert np.allclose(frozen.standardised().numpy()[:, 3], 0.0)
    assert np.shares_memory(frozen.matrix.numpy(), raw)  # held once, not copied
    plain = teacher_mod.FrozenFeatures(raw, standardise=False)
    np.testing.assert_array_equal(plain.rows(idx).numpy(), raw[[999, 0, 17, 17]])
    # a read-only (memory-mapped) matrix works too, and the NaN check reaches the last chunk
    ro = raw.copy()
    ro.setflags(write=False)
    assert teacher_mod.FrozenFeatures(ro).shape == (1000, 7)
    bad = raw.copy()
    bad[-1, -1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        teacher_mod.FrozenFeatures(bad)


def test_head_teachers_see_standardised_rows_and_return_raw_embeddings():
    rng = np.random.default_rng(1)
    raw = rng.normal(10.0, 3.0, (50, 5)).astype(np.float32)
    for cls in (CrossFitHeadTeacher, EmbeddingHeadTeacher):
        teacher = cls(raw, 4)
        np.testing.assert_array_equal(teacher.embeddings(), raw)
        seen = []
        first = teacher.heads if cls is CrossFitHeadTeacher else teacher.head
        first.register_forward_pre_hook(lambda m, args, seen=seen: seen.append(args[0].clone()))
        teacher.eval()
        teacher(torch.arange(50))
        x = seen[0]
        assert torch.allclose(x.mean(0), torch.zeros(5), atol=1e-5)
        assert torch.allclose(x.std(0), torch.ones(5), atol=1e-4)


def test_grouped_mlp_slots_backward_equals_the_members_gradients():
    """The slot layout (rows grouped per member, padded) passes gradients to the right
    member and row: the same as through every member densely."""
    torch.manual_seed(0)
    g = GroupedMLP(4, 6, (8,), 5, dropout=0.0)
    x = torch.randn(13, 6, requires_grad=True)
    member = torch.tensor([3, 0, 0, 2, 1, 3, 3, 0, 2, 2, 1, 3, 3])
    w = torch.randn(13, 5)
    (g.forward_slots(x, member) * w).sum().backward()
    slots = [p.grad.clone() for p in g.parameters()] + [x.grad.clone()]
    g.zero_grad(), x.grad.zero_()
    (g(x)[member, torch.arange(13)] * w).sum().backward()
    dense = [p.grad for p in g.parameters()] + [x.grad]
    for a, b in zip(slots, dense):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert g.weights[1].grad[member.unique()].abs().sum() > 0  # the check has gradients to compare


def test_learn_share_trains_heads_on_the_first_rows_only():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(300, 3)).astype(np.float32)
    teacher = CrossFitHeadTeacher(feats, 4, hidden=(8,), folds=5, train_heads=1, learn_share=0.25)
    calls = []
    real = teacher.heads.forward_slots
    teacher.heads.forward_slots = lambda x, member: calls.append((x, member)) or real(x, member)
    idx = torch.randperm(300)[:200]
    out = teacher.training_step(idx)
    assert out.logits.shape == (200, 4)  # every row gets its distillation logits
    assert out.fit_rows == 50 and out.fit_logits.shape == (1, 50, 4)
    (x_own, own), (x_fit, learners) = calls
    assert torch.equal(x_fit, x_own[:50]) and (learners != own[:50]).all()
    # the teacher's loss pairs the fit logits with the labels of those first rows
    from taxometer_kd.training.losses import teacher_loss

    onehot = torch.nn.functional.one_hot(torch.randint(4, (200,)), 4).float()
    hier = lambda logits, oh, mask=None, alt=None: (logits - oh).square().sum(-1).mean(-1)  # noqa: E731
    want = (out.fit_logits - onehot[:50]).square().sum(-1).mean(-1).mean()
    assert torch.equal(teacher_loss(out, onehot, hier), want)
    full = CrossFitHeadTeacher(feats, 4, hidden=(8,), folds=5, train_heads=1)
    assert full.training_step(idx).fit_rows is None


@pytest.mark.parametrize("share", [0.0, 1.5])
def test_learn_share_range(share):
    with pytest.raises(ValueError, match="learn-share must be in"):
        CrossFitHeadTeacher(np.zeros((20, 2), dtype=np.float32), 3, folds=4, train_heads=1, learn_share=share)


def test_kmer_teacher_learn_share_option_reaches_the_heads():
    spec = registry.get_teacher("kmer")
    rng = np.random.default_rng(0)
    seqs = [rng.choice(np.frombuffer(b"ACGT", np.uint8), 800).tobytes() for _ in range(12)]
    default = spec.build(_ctx(seqs, **spec.validate_options({})))
    assert default.learn_share == 0.5 and default.train_heads == 1  # the default teacher's cheaper step
    full = spec.build(_ctx(seqs, **spec.validate_options({"learn-share": "1"})))
    assert full.learn_share == 1.0
    with pytest.raises(Exception, match="learn-share"):
        spec.validate_options({"learn-share": "0"})
