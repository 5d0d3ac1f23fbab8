"""Checks for module 06: optimizers, clipping and schedules, against steps worked
by hand and against a plain float64 NumPy transcription of each update rule."""

import math

import numpy as np
import pytest
import tinytorch.optim as optim
from tinytorch.nn.modules import Parameter

rng = np.random.default_rng(6)


def run(opt_cls, grads, w0, **kwargs):
    """Apply `opt_cls` to one parameter starting at w0 with the given gradients."""
    w = Parameter(np.array(w0, dtype=np.float32))
    opt = opt_cls([w], **kwargs)
    for g in grads:
        w.grad = np.array(g, dtype=np.float32)
        opt.step()
    return w.data


def test_sgd_plain_and_weight_decay_by_hand():
    # w = 1, g = 2, lr 0.1: w = 1 - 0.2 = 0.8; with wd 0.5 the gradient is 2.5.
    np.testing.assert_allclose(run(optim.SGD, [[2.0]], [1.0], lr=0.1), [0.8])
    np.testing.assert_allclose(
        run(optim.SGD, [[2.0]], [1.0], lr=0.1, weight_decay=0.5), [0.75]
    )


def test_sgd_momentum_and_nesterov_by_hand():
    # g = 1 always, mu 0.9, lr 0.1. Momentum: v = 1, 1.9 -> w = 0.9, 0.71.
    np.testing.assert_allclose(
        run(optim.SGD, [[1.0], [1.0]], [1.0], lr=0.1, momentum=0.9), [0.71]
    )
    # Nesterov: step g + mu v = 1.9, then 1 + 0.9 * 1.9 = 2.71 -> w = 0.81, 0.539.
    np.testing.assert_allclose(
        run(optim.SGD, [[1.0], [1.0]], [1.0], lr=0.1, momentum=0.9, nesterov=True),
        [0.539],
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([Parameter([1.0])], lr=0.1, nesterov=True)


def sgd_reference(w, grads, lr, mu, wd, nesterov):
    w = np.array(w, dtype=np.float64)
    v = None
    for g in grads:
        g = np.array(g, dtype=np.float64) + wd * w
        v = g.copy() if v is None else mu * v + g
        w = w - lr * (g + mu * v if nesterov else v)
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_matches_reference_with_everything_on(nesterov):
    w0, grads = rng.standard_normal(4), rng.standard_normal((5, 4))
    got = run(
        optim.SGD, grads, w0, lr=0.05, momentum=0.8, nesterov=nesterov, weight_decay=0.1
    )
    ref = sgd_reference(w0, grads, 0.05, 0.8, 0.1, nesterov)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def adam_reference(w, grads, lr, b1, b2, eps, wd, decoupled):
    w = np.array(w, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=np.float64)
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


def test_adam_first_step_by_hand():
    # m_hat = g and v_hat = g^2, so the first step is lr * sign(g).
    np.testing.assert_allclose(
        run(optim.Adam, [[1000.0, -0.001]], [1.0, 1.0], lr=0.1), [0.9, 1.1], atol=1e-4
    )


def test_adam_second_step_by_hand():
    # g = 1 then 3, betas 0.5/0.5, lr 1. Step 1: m_hat = v_hat = 1, w = -1.
    # Step 2: m = 0.25 + 1.5 = 1.75, v = 0.25 + 4.5 = 4.75, corrections 0.75:
    # m_hat = 7/3, v_hat = 19/3, w = -1 - (7/3) / sqrt(19/3).
    w = run(optim.Adam, [[1.0], [3.0]], [0.0], lr=1.0, betas=(0.5, 0.5), eps=0.0)
    np.testing.assert_allclose(w, [-1.0 - (7 / 3) / math.sqrt(19 / 3)], rtol=1e-6)


@pytest.mark.parametrize("cls,decoupled", [(optim.Adam, False), (optim.AdamW, True)])
def test_adam_and_adamw_match_reference(cls, decoupled):
    w0 = rng.standard_normal(5)
    grads = rng.standard_normal((6, 5))
    got = run(cls, grads, w0, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
    ref = adam_reference(w0, grads, 0.01, 0.8, 0.95, 1e-6, 0.1, decoupled)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert got.dtype == np.float32


def test_adamw_decays_weights_without_gradient_signal():
    # g = 0: Adam's step is 0 (m = 0), only the decay acts: w * (1 - lr * wd).
    w = run(optim.AdamW, [[0.0]], [2.0], lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(w, [1.9])


def test_parameters_without_gradient_are_skipped_and_zero_grad():
    a, b = Parameter([1.0]), Parameter([1.0])
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = np.ones(1, dtype=np.float32)
    opt.step()
    assert a.data.tolist() == [0.0] and b.data.tolist() == [1.0]
    opt.zero_grad()
    assert a.grad is None


def test_param_groups_and_lr_property():
    a, b = Parameter([1.0]), Parameter([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = np.ones(1, dtype=np.float32)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.5])
    opt.lr = 0.01
    assert opt.lr == 0.01 and all(g["lr"] == 0.01 for g in opt.param_groups)


def test_empty_parameter_list_is_an_error():
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam([])


def test_optimizer_state_round_trip_continues_identically():
    grads = rng.standard_normal((4, 3))
    a = Parameter(np.ones(3))
    opt_a = optim.AdamW([a], lr=0.1)
    for g in grads[:2]:
        a.grad = g.astype(np.float32)
        opt_a.step()
    b = Parameter(a.data.copy())
    opt_b = optim.AdamW([b], lr=0.5)
    opt_b.load_state_dict(opt_a.state_dict())
    for g in grads[2:]:
        a.grad = b.grad = g.astype(np.float32)
        opt_a.step()
        opt_b.step()
    np.testing.assert_array_equal(a.data, b.data)


def test_clip_grad_norm():
    a, b = Parameter([0.0]), Parameter([0.0])
    a.grad = np.array([3.0], dtype=np.float32)
    b.grad = np.array([4.0], dtype=np.float32)
    total = optim.clip_grad_norm_([a, b], max_norm=1.0)
    assert math.isclose(total, 5.0, rel_tol=1e-6)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8], rtol=1e-5)
    assert optim.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], [0.6, 0.8], rtol=1e-5)


def lrs(scheduler, n):
    values = [scheduler.optimizer.lr]
    for _ in range(n):
        values.append(scheduler.step())
    return values


def new_opt(lr=1.0):
    return optim.SGD([Parameter([0.0])], lr=lr)


def test_step_lr():
    assert lrs(optim.StepLR(new_opt(), step_size=2, gamma=0.5), 5) == [
        1.0,
        1.0,
        0.5,
        0.5,
        0.25,
        0.25,
    ]


def test_cosine_annealing():
    got = lrs(optim.CosineAnnealingLR(new_opt(), T_max=4, eta_min=0.0), 4)
    expected = [0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(5)]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got[2] == pytest.approx(0.5)


def test_linear_warmup_then_cosine():
    got = lrs(optim.LinearWarmup(new_opt(), warmup_steps=3, total_steps=7), 7)
    np.testing.assert_allclose(got[:4], [0.25, 0.5, 0.75, 1.0])
    assert got[5] == pytest.approx(0.5)  # halfway through the 4 decay steps
    assert got[7] == pytest.approx(0.0, abs=1e-12)
    flat = lrs(optim.LinearWarmup(new_opt(), warmup_steps=1), 3)
    assert flat == [0.5, 1.0, 1.0, 1.0]


def test_one_cycle():
    sched = optim.OneCycleLR(
        new_opt(), max_lr=1.0, total_steps=100, div_factor=10.0, final_div_factor=100.0
    )
    got = lrs(sched, 99)
    assert got[0] == pytest.approx(0.1)
    assert max(got) == pytest.approx(1.0)
    assert got[-1] == pytest.approx(0.001)
    peak = int(np.argmax(got))
    assert 20 <= peak <= 35
    assert all(
        x <= y + 1e-12 for x, y in zip(got[:peak], got[1 : peak + 1], strict=True)
    )
