"""The cheaper training ops must be the same mathematics as what they replace."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from taxometer_kd.training import fastops


def reference_nll(z, mask):
    # vamb.hloss_misc.FlatSoftmaxNLL.forward, per row
    logp = F.log_softmax(z, dim=-1)
    return -torch.logsumexp(torch.where(mask, logp, torch.tensor(-torch.inf)), dim=-1)


@pytest.mark.parametrize("shape", [(7, 12), (3, 7, 12)])
def test_flat_softmax_nll_value_and_gradient_match_vamb_formula(shape):
    torch.manual_seed(0)
    z = (torch.randn(*shape) * 4).requires_grad_()
    mask = torch.rand(shape[-2], shape[-1]) < 0.3
    mask[:, 0] = True  # every label has a leaf
    g_out = torch.rand(shape[:-1])
    fast = fastops.flat_softmax_nll(z, mask)
    (g_fast,) = torch.autograd.grad((fast * g_out).sum(), z)
    ref = reference_nll(z, mask)
    (g_ref,) = torch.autograd.grad((ref * g_out).sum(), z)
    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(g_fast, g_ref)


def test_flat_softmax_nll_rows_whose_label_underflows():
    torch.manual_seed(1)
    z = torch.randn(2, 5, 9)
    mask = torch.zeros(5, 9, dtype=torch.bool)
    mask[:, :2] = True
    z[0, 1, 2:] += 150.0  # the label's leaves 150 nats below the rest: exp underflows
    z[1, 3, 5] += 300.0
    z.requires_grad_()
    fast = fastops.flat_softmax_nll(z, mask)
    assert torch.isfinite(fast).all()
    assert fast[0, 1].item() > 140 and fast[1, 3].item() > 290
    ref = reference_nll(z, mask)
    torch.testing.assert_close(fast, ref)
    (g_fast,) = torch.autograd.grad(fast.sum(), z)
    (g_ref,) = torch.autograd.grad(ref.sum(), z)
    torch.testing.assert_close(g_fast, g_ref)
    # the label's leaves are still pulled up (within-label softmax), as in the exact form
    assert g_fast[0, 1, :2].sum().item() == pytest.approx(-1.0, abs=1e-5)


def test_dropout_rate_scale_and_eval():
    torch.manual_seed(0)
    x = torch.ones(400_000)
    out = fastops.dropout(x, 0.2, training=True)
    kept = out != 0
    assert kept.float().mean().item() == pytest.approx(0.8, abs=0.005)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.8))
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)  # unbiased
    assert fastops.dropout(x, 0.2, training=False) is x
    # the mask takes four draws from each 64-bit word: every lane keeps at the same rate
    for lane in range(4):
        assert kept[lane::4].float().mean().item() == pytest.approx(0.8, abs=0.006)
    for p in (0.5, 0.05):  # and other rates come out right, odd sizes included
        k = fastops.dropout(torch.ones(100_003), p) != 0
        assert k.float().mean().item() == pytest.approx(1 - p, abs=0.006)
    # strictly positive: torch 2.11's bf16 randn gives exact zeros (5 in 1000 here), where out is 0
    # although the element was kept
    y = (torch.rand(1000) + 0.5).to(torch.bfloat16).requires_grad_()
    out = fastops.dropout(y, 0.5)
    out.sum().backward()
    assert out.dtype == torch.bfloat16
    assert torch.equal(y.grad != 0, out.detach() != 0)  # gradient through the kept elements only


def test_swap_dropout_keeps_p_and_mode():
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.3), nn.Sequential(nn.Dropout(0.1)), nn.Dropout(0.2, inplace=True))
    net.eval()
    assert fastops.swap_dropout(net) == 2
    assert isinstance(net[1], fastops.Dropout) and net[1].p == 0.3 and not net[1].training
    assert isinstance(net[2][0], fastops.Dropout) and net[2][0].p == 0.1
    assert type(net[3]) is nn.Dropout  # in-place ones are left alone
    x = torch.randn(4, 3)
    assert torch.equal(net(x), net[0](x))  # eval: identity


def test_vamb_student_dropout_is_swapped():
    import vamb

    nodes = ["root", "a", "b"]
    model = vamb.taxvamb_encode.VAMB2Label(2, 3, nodes, np.array([0, 0, 0]), nhiddens=[8, 8])
    assert fastops.swap_dropout(model) == 1
    assert isinstance(model.dropoutlayer, fastops.Dropout)


def test_dropout_mask_shared_along_leading_dimension():
    torch.manual_seed(0)
    x = torch.ones(4, 300, 50)
    out = fastops.dropout(x, 0.25, shared_leading=1)
    assert all(torch.equal(out[0], out[k]) for k in range(1, 4))  # one mask for the heads
    assert (out[0] != 0).float().mean().item() == pytest.approx(0.75, abs=0.01)
    # while within a head the units drop independently
    assert not torch.equal(out[0, 0], out[0, 1])
