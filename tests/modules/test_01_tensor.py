"""Checks for module 01: Tensor and its autograd engine.

Every op's gradient is compared with central finite differences in float64
(`numgrad.check_gradients`); values are compared with NumPy or worked by hand.
"""

import numpy as np
import pytest
from numgrad import check_gradients
from tinytorch.tensor import Tensor, concatenate, is_grad_enabled, no_grad, stack, where

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


# -- construction and dtypes -------------------------------------------------


def test_floats_become_float32_and_ints_stay_ints():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(np.zeros(2), dtype=np.float64).dtype == np.float64


def test_attributes():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.requires_grad and t.grad is None
    assert isinstance(t.numpy(), np.ndarray)
    assert Tensor([[4.5]]).item() == 4.5


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="int"):
        Tensor([1, 2], requires_grad=True)


def test_scalars_and_float64_constants_keep_float32():
    x = Tensor(np.ones(3), requires_grad=True)
    for y in (
        x * 2.0,
        x + np.float64(1.5),
        x / np.sqrt(2.0),
        x - np.ones(3),
        2 ** x.log(),
    ):
        assert y.dtype == np.float32
    y = (x * np.float64(3.0)).sum()
    y.backward()
    assert x.grad.dtype == np.float32


def test_numpy_array_on_the_left_gives_a_tensor():
    x = Tensor(np.ones(2), requires_grad=True)
    y = np.array([2.0, 3.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 3.0]


# -- arithmetic with broadcasting --------------------------------------------


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((2, 3), (2, 3)),
        ((2, 3), (3,)),
        ((2, 1), (1, 3)),
        ((4, 2, 3), (2, 1)),
        ((), (3,)),
    ],
)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_op_gradients(op, sa, sb):
    fns = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
    }
    check_gradients(fns[op], randn(*sa), positive(*sb))


def test_scalar_operands_and_reflected_ops():
    check_gradients(lambda a: 3.0 - a * 2.0 + 1.0, randn(3))
    check_gradients(lambda a: 2.0 / a, positive(2, 2))
    check_gradients(lambda a: -a, randn(2, 2))
    check_gradients(lambda a: a + np.ones((2, 3)), randn(3))


def test_power():
    check_gradients(lambda a: a**2, randn(3, 2))
    check_gradients(lambda a: a**3.5, positive(4))
    check_gradients(lambda a, p: a**p, positive(3), randn(3))


def test_shared_input_gradients_add_up():
    x = Tensor([3.0, -1.0], requires_grad=True)
    (x * x + x * x).sum().backward()
    assert x.grad.tolist() == [12.0, -4.0]  # d(2x^2)/dx = 4x
    check_gradients(lambda x: x * x + x * x, randn(5))


def test_shared_intermediate_node():
    check_gradients(lambda x: (lambda h: h * h + h.exp())(x * 2.0), randn(4))


def test_bias_gradient_sums_the_rows_in_float32():
    w = rng.standard_normal((4096, 24)).astype(np.float32)
    x = Tensor(rng.standard_normal((4096, 24)).astype(np.float32))
    b = Tensor(np.zeros(24, np.float32), requires_grad=True)
    ((x + b) * Tensor(w)).sum().backward()  # d/db = the column sums of w
    assert b.grad.dtype == np.float32 and b.grad.shape == (24,)
    np.testing.assert_allclose(b.grad, w.astype(np.float64).sum(0), atol=1e-3)

    c = Tensor(np.zeros(4096, np.float32), requires_grad=True)
    ((x.T + c) * Tensor(w.T)).sum().backward()  # a transposed gradient
    np.testing.assert_allclose(c.grad, w.astype(np.float64).sum(1), atol=1e-4)


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))


# -- matmul --------------------------------------------------------------------


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((3, 4), (4, 2)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((4,), (4, 3)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4,)),
        ((4,), (2, 4, 3)),
    ],
)
def test_matmul_gradients(sa, sb):
    out = check_gradients(lambda a, b: a @ b, randn(*sa), randn(*sb))
    assert out.shape == np.matmul(np.zeros(sa), np.zeros(sb)).shape


def test_matmul_values_and_constant_operand():
    a, b = randn(2, 3), randn(3, 2)
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-5)
    check_gradients(lambda a: a @ b, randn(4, 3))
    check_gradients(lambda b: a @ b, randn(3, 5))


def test_matmul_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"batch"):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5)))


# -- reductions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "axis,keepdims",
    [(None, False), (0, False), (1, True), (-1, False), ((0, 2), False)],
)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduction_gradients(name, axis, keepdims):
    x = rng.permutation(24).reshape(2, 3, 4) + randn(2, 3, 4) * 0.1  # distinct
    out = check_gradients(lambda a: getattr(a, name)(axis, keepdims), x)
    np.testing.assert_allclose(
        out.data, getattr(np, name)(x, axis=axis, keepdims=keepdims), rtol=1e-12
    )


def test_max_splits_gradient_between_ties():
    x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5]


def test_mean_value():
    assert Tensor([[1.0, 2.0], [3.0, 6.0]]).mean(axis=0).data.tolist() == [2.0, 4.0]


# -- elementwise -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_smooth_unary_gradients(name):
    check_gradients(lambda a: getattr(a, name)(), randn(3, 4))


@pytest.mark.parametrize("name", ["log", "sqrt"])
def test_positive_domain_gradients(name):
    check_gradients(lambda a: getattr(a, name)(), positive(3, 4))


def test_relu_gradient_away_from_zero():
    x = randn(3, 4)
    x[np.abs(x) < 0.1] = 0.5
    out = check_gradients(lambda a: a.relu(), x)
    np.testing.assert_array_equal(out.data, np.maximum(x, 0))


def test_sigmoid_is_finite_at_extremes():
    s = Tensor([-1000.0, 0.0, 1000.0]).sigmoid().data
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])


# -- softmax --------------------------------------------------------------------------


def test_softmax_at_large_magnitudes():
    np.testing.assert_allclose(
        Tensor([1000.0, 1001.0]).softmax().data, [0.2689, 0.7311], atol=1e-4
    )
    assert np.isfinite(Tensor([-1000.0, 0.0]).softmax().data).all()
    ls = Tensor([-1000.0, 0.0]).log_softmax().data
    assert np.isfinite(ls).all()
    np.testing.assert_allclose(ls, [-1000.0, 0.0], atol=1e-3)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradients(name, axis):
    x = randn(3, 4, 2) * 3
    out = check_gradients(lambda a: getattr(a, name)(axis), x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(out.data, p if name == "softmax" else np.log(p))


# -- shapes ----------------------------------------------------------------------------


def test_reshape_transpose_permute():
    w1, w2 = randn(4, 3, 2), randn(4, 2, 3)
    check_gradients(
        lambda a: a.reshape(4, 6) * np.arange(24.0).reshape(4, 6), randn(2, 3, 4)
    )
    check_gradients(lambda a: a.reshape((3, -1)).exp(), randn(2, 3))
    check_gradients(lambda a: a.transpose(0, 2) * w1, randn(2, 3, 4))
    check_gradients(lambda a: a.permute(2, 0, 1) * w2, randn(2, 3, 4))
    check_gradients(lambda a: a.T @ a, randn(3, 2))
    assert Tensor(np.zeros((2, 3, 4))).permute(1, 2, 0).shape == (3, 4, 2)


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        Tensor(np.zeros((2, 3))).reshape(4)


# -- indexing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "idx",
    [
        1,
        slice(1, 3),
        (slice(None), 2),
        (Ellipsis, slice(0, None, 2)),
        (None, 0),
        np.array([0, 2, 0, 0]),
        np.array([[1, -1], [1, 1]]),
        (np.array([0, 1, 1]), np.array([2, 0, 2])),
        (slice(None), np.array([3, 3, 0])),
    ],
)
def test_indexing_gradients(idx):
    out = check_gradients(lambda a: a[idx], randn(3, 4))
    np.testing.assert_array_equal(out.shape, np.zeros((3, 4))[idx].shape)


def test_repeated_indices_accumulate():
    w = Tensor(np.zeros((3, 2)), requires_grad=True)
    w[np.array([2, 0, 2, 2])].sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]]


def test_boolean_mask_and_tensor_index():
    x = randn(3, 4)
    check_gradients(lambda a: a[x > 0], x)
    w = Tensor(np.zeros((4, 2)), requires_grad=True)
    w[Tensor(np.array([[1, 1], [3, 1]]))].sum().backward()
    assert w.grad[:, 0].tolist() == [0.0, 3.0, 0.0, 1.0]


# -- joining, selecting, padding -------------------------------------------------------


def test_concatenate_and_stack():
    out = check_gradients(
        lambda a, b: concatenate([a, b], axis=1), randn(2, 3), randn(2, 2)
    )
    assert out.shape == (2, 5)
    out = check_gradients(lambda a, b: stack([a, b], axis=1), randn(2, 3), randn(2, 3))
    assert out.shape == (2, 2, 3)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        stack([Tensor(np.zeros((2, 3))), Tensor(np.zeros((3, 2)))])


def test_where_and_masked_fill():
    cond = randn(2, 3) > 0
    check_gradients(lambda a, b: where(cond, a, b), randn(2, 3), randn(3))
    check_gradients(lambda a: where(cond, a, 0.0), randn(2, 3))
    mask = np.triu(np.ones((3, 3), dtype=bool), k=1)
    out = check_gradients(
        lambda a: a.masked_fill(mask, -1e9).softmax(-1), randn(2, 3, 3)
    )
    assert np.all(out.data[:, mask] < 1e-12)
    filled = Tensor(np.zeros((2, 2))).masked_fill(np.eye(2, dtype=bool), -np.inf)
    assert filled.dtype == np.float32 and np.isneginf(filled.data[0, 0])


def test_pad():
    out = check_gradients(lambda a: a.pad(((0, 0), (1, 2))), randn(2, 3))
    assert out.shape == (2, 6)
    assert out.data[:, 0].tolist() == [0.0, 0.0]
    check_gradients(lambda a: a.pad(1), randn(2, 2, 2))


# -- the backward pass ------------------------------------------------------


def test_backward_needs_grad_for_non_scalar():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_constant_is_an_error():
    with pytest.raises(RuntimeError, match="requires_grad"):
        Tensor([1.0]).sum().backward()


def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]


def test_graph_is_freed_unless_retained():
    x = Tensor([2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [8.0]
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_leaf_gradients_do_not_alias():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 5
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_the_gradient_given_to_backward_is_never_changed():
    given = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    leaf = Tensor(np.zeros(3), requires_grad=True)
    leaf.backward(given)  # the root is itself a leaf
    leaf.backward(given)  # accumulates into .grad
    x = Tensor(np.zeros(3), requires_grad=True)
    y = x + 1.0  # whose backward hands the given gradient straight on
    y.backward(given)
    y = x + 1.0
    y.backward(given)
    x.grad *= 10
    assert given.tolist() == [1.0, 2.0, 3.0]
    assert leaf.grad.tolist() == [2.0, 4.0, 6.0]
    assert x.grad.tolist() == [20.0, 40.0, 60.0]


def test_a_view_is_kept_only_when_nothing_else_sees_its_memory():
    from tinytorch.tensor import op_result

    def transposed_copy(x):  # backward hands back a view of a fresh array
        return op_result(x.data.copy(), (x,), lambda g: (g.T.copy().T,))

    def transposed_view(x):  # backward hands back a view of its own input
        return op_result(x.data.copy(), (x,), lambda g: (g.T.T,))

    x = Tensor(randn(3, 4), requires_grad=True)
    transposed_copy(x).sum().backward()
    assert x.grad.base is not None  # kept as it came: no copy was needed
    given = np.ones((3, 4), dtype=np.float32)
    z = Tensor(randn(3, 4), requires_grad=True)
    transposed_view(z).backward(given)
    z.grad += 1  # must not reach the caller's array
    assert given.tolist() == np.ones((3, 4)).tolist()
    a = Tensor(randn(2, 2), requires_grad=True)
    b = Tensor(randn(2, 2), requires_grad=True)
    shared = op_result(a.data + b.data, (a, b), lambda g: (g.T.T, g.T.T))
    shared.backward(np.ones((2, 2), dtype=np.float32))
    a.grad *= 3
    assert b.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_long_chain_does_not_recurse():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):  # 3,000 nodes, deeper than the recursion limit
        y = y * 1.0 + x * 0.0
    y.backward()
    assert x.grad.tolist() == [1.0]


def test_fifty_layer_network_backward():
    x = Tensor(randn(4, 8))
    weights = [Tensor(randn(8, 8) / np.sqrt(8), requires_grad=True) for _ in range(50)]
    h = x
    for w in weights:
        h = (h @ w).tanh()
    h.sum().backward()
    assert all(w.grad is not None and np.isfinite(w.grad).all() for w in weights)
    check_gradients(lambda a, b: ((x @ a).tanh() @ b).tanh(), randn(8, 8), randn(8, 8))


def test_no_grad_and_detach():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0
    assert is_grad_enabled() and not y.requires_grad
    try:
        with no_grad():
            raise KeyError
    except KeyError:
        pass
    assert is_grad_enabled()
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.data.tolist() == [2.0]


def test_only_leaves_keep_gradients_and_constants_get_none():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([2.0])
    h = x * c
    (h * h).sum().backward()
    assert x.grad.tolist() == [8.0]  # d(4x^2)/dx
    assert c.grad is None and h.grad is None
