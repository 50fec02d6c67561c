"""The distillation losses and the joint objective, against hand-computed values."""

import math

import numpy as np
import pytest
import torch
import vamb
from loguru import logger

from taxometer_kd import EmbeddingHeadTeacher, TeacherModel, registry
from taxometer_kd.training.data import TrainData, build_student
from taxometer_kd.training.losses import distillation_step_losses
from taxometer_kd.training.predict import predict_probabilities
from taxometer_kd.training.trainer import train_jointly


def kl():
    return registry.get_loss("kl").factory


def test_kl_tau1_hand_value():
    # q_T = softmax([ln 3, 0]) = [0.75, 0.25], q_S = [0.5, 0.5]
    # KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.304099 - 0.173287 = 0.130812
    loss = kl()(1.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]]))
    assert loss.item() == pytest.approx(0.130812, abs=1e-6)


def test_kl_tau2_hand_value_and_batch_mean():
    # tau = 2: q_T = softmax([ln3/2, 0]) = [sqrt3/(1+sqrt3), 1/(1+sqrt3)] = [0.633975, 0.366025]
    # q_S = [0.5, 0.5]; KL = 0.633975 ln 1.267949 + 0.366025 ln 0.732051 = 0.150507 - 0.114166
    #    = 0.036341; times tau^2 = 4 -> 0.145363. A second contig with q_T == q_S adds 0.
    s = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    t = torch.tensor([[math.log(3.0), 0.0], [1.0, 2.0]])
    loss = kl()(2.0)(s, t)
    assert loss.item() == pytest.approx(0.145363 / 2, abs=2e-6)


def test_kl_is_zero_for_equal_logits_and_positive_otherwise():
    z = torch.randn(5, 7)
    assert kl()(4.0)(z, z).item() == pytest.approx(0.0, abs=1e-6)
    assert kl()(4.0)(z, z.flip(-1)).item() > 0.01


def test_kl_rejects_bad_temperature():
    with pytest.raises(ValueError):
        kl()(0.0)


def _toy_tree():
    # root -> A -> {a1, a2}; root -> B -> {b1}
    nodes = ["root", "A", "B", "a1", "a2", "b1"]
    parents = [-1, 0, 0, 1, 1, 2]
    return nodes, parents


def test_flat_softmax_hier_loss_hand_value():
    """Vamb's own hierarchical loss: -log P(label), P(internal) = sum of its leaves."""
    _nodes, parents = _toy_tree()
    tree = vamb.hloss_misc.Hierarchy(np.array(parents))
    loss_fn = vamb.taxvamb_encode.init_hier_loss("flat_softmax", tree).loss_fn
    logits = torch.tensor([[math.log(1.0), math.log(2.0), math.log(1.0)]])  # leaves a1 a2 b1 -> .25 .5 .25
    onehot = torch.nn.functional.one_hot(torch.tensor([1]), 105).float()  # label A
    assert loss_fn(logits, onehot).item() == pytest.approx(-math.log(0.75), abs=1e-6)
    onehot = torch.nn.functional.one_hot(torch.tensor([5]), 105).float()  # label b1
    assert loss_fn(logits, onehot).item() == pytest.approx(-math.log(0.25), abs=1e-6)


def _loss_fns():
    _nodes, parents = _toy_tree()
    tree = vamb.hloss_misc.Hierarchy(np.array(parents))
    return vamb.taxvamb_encode.init_hier_loss("flat_softmax", tree).loss_fn


def test_student_objective_weights_and_stop_gradient():
    hier = _loss_fns()
    z_s = torch.tensor([[0.1, 0.2, -0.3]], requires_grad=True)
    z_t = torch.tensor([[1.0, -1.0, 0.5]], requires_grad=True)
    onehot = torch.nn.functional.one_hot(torch.tensor([1]), 105).float()
    kd = kl()(4.0)
    alpha = 0.3
    total, hs, kdv, ht = distillation_step_losses(z_s, z_t, onehot, hier, hier(z_t, onehot), kd, alpha)
    assert total.item() == pytest.approx(ht.item() + alpha * hs.item() + (1 - alpha) * kdv.item(), rel=1e-6)
    assert kdv.item() == pytest.approx(kd(z_s.detach(), z_t.detach()).item(), rel=1e-6)
    total.backward()
    # the teacher's gradient comes from its own hierarchical loss only (teacher logits detached in KD)
    z_t2 = z_t.detach().clone().requires_grad_(True)
    hier(z_t2, onehot).backward()
    assert torch.allclose(z_t.grad, z_t2.grad, atol=1e-7)
    # alpha = 1 is stock Taxometer's loss for the student: KD has no weight
    z_s.grad = None
    total, hs, kdv, ht = distillation_step_losses(z_s, z_t, onehot, hier, hier(z_t, onehot), kd, 1.0)
    assert kdv.item() == 0.0 and total.item() == pytest.approx(ht.item() + hs.item())


@pytest.mark.parametrize("n_samples,n_cols", [(4, 103), (4, 141), (4, 83), (1, 2)])
def test_student_first_layer_takes_abundances_features_and_total(n_samples, n_cols):
    """TNF (103 columns) or a Taxometer_G embedding of any width, wider or narrower than TNF
    (the genes teacher's 83 columns with 4 samples once made VAMB2Label refuse nsamples = -16)."""
    nodes, parents = _toy_tree()
    student = build_student(n_samples, n_cols, nodes, parents, "flat_softmax", torch.device("cpu"))
    assert student.encoderlayers[0].in_features == n_samples + n_cols + 1
    n = 5
    out = student(torch.rand(n, n_samples), torch.randn(n, n_cols), torch.rand(n, 1), torch.ones(n, 1))
    assert out.shape == (n, student.nlabels)
    if n_cols == 103:  # the stock model, built by the same call stock Taxometer makes
        torch.manual_seed(3)
        a = build_student(n_samples, n_cols, nodes, parents, "flat_softmax", torch.device("cpu"))
        torch.manual_seed(3)
        b = vamb.taxvamb_encode.VAMB2Label(n_samples, len(nodes), nodes, parents, nhiddens=[512] * 4)
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _toy_problem(n=256, n_samples=3, seed=0, labelled=True):
    """Two well-separated classes in the teacher's features; student sees noise only."""
    rng = np.random.default_rng(seed)
    nodes, parents = _toy_tree()
    leaf = rng.integers(0, 2, n)  # 0 -> a1 (node 3), 1 -> b1 (node 5)
    targets = np.where(leaf == 0, 3, 5) if labelled else np.zeros(n, dtype=int)
    feats = np.stack([leaf * 4.0 + rng.normal(0, 0.3, n), rng.normal(0, 1, n)], 1).astype(np.float32)
    data = TrainData(
        depths=torch.softmax(torch.randn(n, n_samples), 1),
        tnf=torch.randn(n, 103),
        total=torch.randn(n, 1),
        weights=torch.ones(n, 1),
        targets=torch.as_tensor(targets),
        n_classes=105,
    )
    student = vamb.taxvamb_encode.VAMB2Label(n_samples, len(nodes), nodes, parents, nhiddens=[16, 16])
    teacher = EmbeddingHeadTeacher(feats, student.nlabels, hidden=(16,), learning_rate=1e-2)
    return student, teacher, data, leaf


def test_joint_training_trains_the_teacher():
    torch.manual_seed(0)
    student, teacher, data, leaf = _toy_problem()
    hist = train_jointly(student, teacher, data, kl()(4.0), 0.3, nepochs=15, batchsize=64, seed=1)
    assert hist[-1]["teacher_ce"] < 0.5 * hist[0]["teacher_ce"]
    with torch.no_grad():
        pred = teacher.predict(torch.arange(len(leaf))).argmax(1).numpy()
    # leaves are [a1, a2, b1] in the flat-softmax output
    assert ((pred == 0) == (leaf == 0)).mean() > 0.95


class _FixedTeacher(TeacherModel):
    """A teacher with fixed, confident logits (no parameters)."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("logits", logits)

    def forward(self, indices):
        return self.logits.index_select(0, indices)


def test_unlabelled_contigs_get_the_kd_signal():
    """Contigs labelled only 'root' have zero hierarchical loss, yet the student gets KD gradient."""
    torch.manual_seed(0)
    student, _, data, leaf = _toy_problem(labelled=False)
    teacher = _FixedTeacher(torch.tensor([[3.0, -3.0, 0.0]]).repeat(len(leaf), 1))
    hier = student.loss_fn
    idx = torch.arange(32)
    onehot = torch.nn.functional.one_hot(data.targets[idx], 105).float()
    z_s = student(data.depths[idx], data.tnf[idx], data.total[idx], data.weights[idx])
    z_t = teacher(idx)
    total, hs, kdv, _ = distillation_step_losses(z_s, z_t, onehot, hier, hier(z_t, onehot), kl()(4.0), 0.3)
    assert hs.item() == pytest.approx(0.0, abs=1e-6)
    assert kdv.item() > 0.1
    total.backward()
    grad = student.outputlayer.weight.grad
    assert grad is not None and grad.abs().sum().item() > 1e-3
    # and the training loop feeds every contig, labelled or not, through both models
    seen = []

    class Recording(_FixedTeacher):
        def forward(self, indices):
            seen.append(indices.clone())
            return super().forward(indices)

    rec = Recording(teacher.logits)
    train_jointly(student, rec, data, kl()(4.0), 0.3, nepochs=1, batchsize=len(leaf), seed=1)
    assert sorted(torch.cat(seen).tolist()) == list(range(len(leaf)))


@pytest.mark.parametrize("name", ["flat_softmax", "soft_margin"])
def test_row_weighted_loss_matches_vamb_and_weights_rows(name):
    from taxometer_kd.training.losses import RowWeightedLoss

    _nodes, parents = _toy_tree()
    tree = vamb.hloss_misc.Hierarchy(np.array(parents))
    vamb_loss = vamb.taxvamb_encode.init_hier_loss(name, tree)
    rows = RowWeightedLoss(name, tree)
    torch.manual_seed(0)
    logits = torch.randn(6, vamb_loss.n_labels)
    targets = torch.tensor([1, 3, 4, 5, 2, 0])
    onehot = torch.nn.functional.one_hot(targets, 105).float()
    assert rows(logits, onehot).item() == pytest.approx(vamb_loss.loss_fn(logits, onehot).item(), rel=1e-6)
    # weight 3 on row 0 == row 0 given three times
    w = torch.ones(6)
    w[0] = 3
    tripled = torch.cat([logits[:1], logits[:1], logits])
    tripled_t = torch.cat([onehot[:1], onehot[:1], onehot])
    assert rows(logits, onehot * w[:, None]).item() == pytest.approx(
        vamb_loss.loss_fn(tripled, tripled_t).item(), rel=1e-6
    )
    # a 0/1 mask selects rows
    mask = torch.tensor([1.0, 0, 1, 0, 1, 1])
    sel = mask.bool()
    assert rows(logits, onehot, mask).item() == pytest.approx(
        vamb_loss.loss_fn(logits[sel], onehot[sel]).item(), rel=1e-6
    )


@pytest.mark.parametrize("name", ["flat_softmax", "soft_margin"])
def test_row_weighted_loss_over_stacked_heads_equals_one_call_per_head(name):
    from taxometer_kd.training.losses import RowWeightedLoss

    _nodes, parents = _toy_tree()
    tree = vamb.hloss_misc.Hierarchy(np.array(parents))
    n_labels = vamb.taxvamb_encode.init_hier_loss(name, tree).n_labels
    rows = RowWeightedLoss(name, tree)
    torch.manual_seed(1)
    logits = torch.randn(3, 6, n_labels, requires_grad=True)
    onehot = torch.nn.functional.one_hot(torch.tensor([1, 3, 4, 5, 2, 0]), 105).float()
    onehot = onehot * torch.tensor([1.0, 2, 1, 0.5, 1, 3])[:, None]
    mask = torch.tensor([[1.0, 0, 1, 1, 0, 1], [0, 1, 1, 1, 1, 0], [1, 1, 0, 0, 1, 1]])
    stacked = rows(logits, onehot, mask)
    assert stacked.shape == (3,)
    one_by_one = torch.stack([rows(logits[k], onehot, mask[k]) for k in range(3)])
    torch.testing.assert_close(stacked, one_by_one)
    (g1,) = torch.autograd.grad(stacked.sum(), logits)
    (g2,) = torch.autograd.grad(one_by_one.sum(), logits)
    torch.testing.assert_close(g1, g2)
    assert g1[0, 1].abs().sum() == 0  # a masked row gets no gradient


def test_bfloat16_training_runs_forward_under_autocast_and_still_learns():
    torch.manual_seed(0)
    student, teacher, data, _leaf = _toy_problem()
    seen = []
    original = teacher.forward

    def forward(indices):
        out = original(indices)
        seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
        return out

    teacher.forward = forward
    hist = train_jointly(student, teacher, data, kl()(4.0), 0.3, nepochs=15, batchsize=64, seed=1, precision="bfloat16")
    assert seen and all(on and dtype == torch.bfloat16 for on, dtype in seen)
    assert all(p.dtype == torch.float32 for p in [*student.parameters(), *teacher.parameters()])  # fp32 master weights
    assert hist[-1]["teacher_ce"] < 0.5 * hist[0]["teacher_ce"]
    assert hist[-1]["student_ce"] < 0.7 * hist[0]["student_ce"]
    with pytest.raises(ValueError, match="precision"):
        train_jointly(student, teacher, data, kl()(4.0), 0.3, nepochs=1, batchsize=64, seed=1, precision="fp8")


def test_precision_auto_follows_the_hardware(monkeypatch):
    from taxometer_kd.training.device import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve_precision("auto", cpu) == "float32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto", cpu) == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", torch.device("cuda")) == "float32"


def test_prediction_keeps_every_row_in_order_and_logs_progress():
    logits = torch.randn(10, 3)
    lines: list = []
    sink = logger.add(lines.append, format="{message}")
    try:
        probs = predict_probabilities(
            lambda idx: logits[idx],
            lambda z: torch.softmax(z, 1),
            10,
            4,
            torch.device("cpu"),
            "teacher",
            progress_every=0,
        )
        predict_probabilities(lambda idx: logits[idx], lambda z: z, 10, 4, torch.device("cpu"), "quiet")
    finally:
        logger.remove(sink)
    assert np.allclose(probs, torch.softmax(logits, 1).numpy(), atol=1e-6)
    # after each batch but the last; the default 30 s interval says nothing for a fast model
    assert [str(m).strip().split(" (")[0] for m in lines] == [
        "teacher: predicted 4/10 contigs",
        "teacher: predicted 8/10 contigs",
    ]
