"""taxometer_kd.training.optim.DAdaptAdam must take the very steps of dadaptation.DAdaptAdam, without syncs."""

import copy

import dadaptation
import pytest
import torch
from torch import nn

from taxometer_kd.training.optim import DAdaptAdam


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(), nn.BatchNorm1d(16), nn.Linear(16, 4))


def _train(net, opt, steps=30):
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(32, 6, generator=gen)
        y = torch.randint(0, 4, (32,), generator=gen)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=1, decouple=True),  # how Vamb's Taxometer uses it
        dict(lr=1, decouple=True, weight_decay=0.01),
        dict(lr=0.5, weight_decay=0.01),
        dict(lr=1, growth_rate=1.02),
    ],
)
def test_same_steps_as_dadaptation(kwargs, capsys):
    a, b = _net(), _net()
    ref = dadaptation.DAdaptAdam(a.parameters(), **kwargs)
    ours = DAdaptAdam(b.parameters(), **kwargs)
    _train(a, ref)
    _train(b, ours)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pb, pa, rtol=1e-5, atol=1e-6)
    assert ours.param_groups[0]["d"].item() == pytest.approx(ref.param_groups[0]["d"], rel=1e-6)
    assert ref.param_groups[0]["d"] > 1.5e-6  # d actually adapted (d0 = 1e-6), so the comparison means something


def test_no_host_sync_in_a_step(monkeypatch):
    net = _net()
    opt = DAdaptAdam(net.parameters(), lr=1, decouple=True)
    _train(net, opt, steps=2)

    def forbidden(*a, **k):
        raise AssertionError("host sync in DAdaptAdam.step")

    for name in ("item", "tolist", "__bool__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    _train(net, opt, steps=3)


def test_no_gradient_yet_leaves_everything_alone():
    net = _net()
    before = copy.deepcopy(net.state_dict())
    opt = DAdaptAdam(net.parameters())
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert opt.param_groups[0]["d"].item() == pytest.approx(1e-6)


def test_student_optimizer_is_the_reference_on_cpu_and_silent(capsys):
    from taxometer_kd.training.optim import student_optimizer

    opt = student_optimizer(_net().parameters(), torch.device("cpu"))
    assert type(opt) is dadaptation.DAdaptAdam and opt.defaults["decouple"] and opt.defaults["lr"] == 1
    assert capsys.readouterr().out == ""  # the reference's print does not reach vamb's stdout
    meta = student_optimizer(_net().parameters(), torch.device("meta"))
    assert type(meta) is DAdaptAdam and meta.defaults["decouple"]
