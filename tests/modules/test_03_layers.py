"""Checks for module 03: Module, Parameter and the standard layers."""

import numpy as np
import pytest
import tinytorch.nn as nn
from numgrad import check_gradients
from tinytorch import Tensor

rng = np.random.default_rng(3)


class Block(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("count", np.zeros(2, dtype=np.float32))

    def forward(self, x):
        return self.drop(self.norm(self.fc(x)))


def test_parameter_is_float32_and_requires_grad():
    p = nn.Parameter(np.ones((2, 2)))
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32


def test_linear_layout_and_forward():
    layer = nn.Linear(3, 5)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    assert nn.Linear(3, 5, bias=False).bias is None


def test_linear_gradients_flow_to_parameters():
    layer = nn.Linear(3, 2)
    w, b = layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)
    x = rng.standard_normal((4, 3))
    check_gradients(lambda x, w, b: x @ w.T + b, x, w, b)
    out = layer(Tensor(x))
    out.sum().backward()
    np.testing.assert_allclose(layer.weight.grad, np.tile(x.sum(0), (2, 1)), rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad, [4.0, 4.0])


def test_parameters_children_and_modules_in_order():
    block = Block()
    names = [n for n, _ in block.named_parameters()]
    assert names == ["fc.weight", "fc.bias", "norm.weight", "norm.bias"]
    assert [type(m).__name__ for m in block.children()] == [
        "Linear",
        "LayerNorm",
        "Dropout",
    ]
    assert len(block.modules()) == 4
    assert len(block.parameters()) == 4


def test_shared_parameter_is_listed_once():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    assert len(net.parameters()) == 3


def test_train_and_eval_reach_every_module():
    net = nn.Sequential(Block(), nn.Dropout(0.9))
    net.eval()
    assert all(not m.training for m in net.modules())
    x = Tensor(rng.standard_normal((5, 3)))
    np.testing.assert_array_equal(net(x).data, net(x).data)  # no dropout
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad():
    net = nn.Linear(2, 2)
    net(Tensor(np.ones((1, 2)))).sum().backward()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_with_buffers():
    a, b = Block(), Block()
    a.count[:] = [3.0, 4.0]
    state = a.state_dict()
    assert set(state) == {"fc.weight", "fc.bias", "norm.weight", "norm.bias", "count"}
    state["fc.weight"][:] = 0  # a copy: the model is untouched
    assert np.abs(a.fc.weight.data).sum() > 0
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.fc.weight.data, a.fc.weight.data)
    np.testing.assert_array_equal(b.count, [3.0, 4.0])


def test_load_state_dict_errors_name_keys_and_shapes():
    net = nn.Linear(2, 3)
    with pytest.raises(KeyError, match="bias"):
        net.load_state_dict({"weight": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3, 2\)"):
        net.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.zeros(3)})


def test_repr_is_readable():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.1)\n"
        ")"
    )


def test_sequential_and_module_list():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[2], nn.Linear)
    x = Tensor(rng.standard_normal((5, 2)))
    manual = seq[3](seq[2](seq[1](seq[0](x))))
    np.testing.assert_array_equal(seq(x).data, manual.data)
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    blocks.append(nn.GELU())
    assert len(blocks) == 4 and len(blocks.parameters()) == 6
    assert [n for n, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]
    with pytest.raises(TypeError):
        blocks.append(3)


def test_activation_modules_match_functions():
    x = rng.standard_normal((3, 4))
    t = Tensor(x)
    np.testing.assert_allclose(nn.ReLU()(t).data, np.maximum(x, 0), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(t).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(t).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    sm = nn.Softmax(dim=0)(t).data
    np.testing.assert_allclose(sm.sum(axis=0), np.ones(4), rtol=1e-6)
    assert nn.GELU()(Tensor([0.0])).data.tolist() == [0.0]


def test_layer_norm_module():
    ln = nn.LayerNorm(4)
    x = rng.standard_normal((3, 4)) * 5 + 2
    y = ln(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=-1), 1, atol=1e-3)


def test_deep_stack_keeps_signal_and_trains():
    np.random.seed(0)
    layers = []
    for _ in range(20):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(64, 1))
    x = Tensor(rng.standard_normal((32, 64)))
    out = x
    for m in list(net)[:-1]:
        out = m(out)
    assert 0.1 < out.data.std() < 10
    net(x).sum().backward()
    first = net[0].weight.grad
    assert np.isfinite(first).all() and np.abs(first).mean() > 1e-4
