# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Custom operations and gradient checking
#
# Chapter 01 built every op as a closure passed to `op_result`. That is all a
# custom op needs, but larger ops (a convolution, an attention kernel) read
# better in the shape PyTorch gave them: a class with a `forward` that computes
# the result from NumPy arrays and saves what the backward needs on a context
# object, and a `backward` that turns the output gradient into one gradient per
# input.
#
# ```python
# class Scale(Function):
#     @staticmethod
#     def forward(ctx, x, factor):        # tensors arrive as np.ndarray
#         ctx.factor = factor
#         return x * factor
#
#     @staticmethod
#     def backward(ctx, grad_out):        # np.ndarray shaped like the output
#         return grad_out * ctx.factor, None   # one per forward input
#
# y = Scale.apply(x, 3.0)                 # a Tensor, wired into the graph
# ```
#
# The second half of the chapter is the tool that tells you whether a hand-written
# backward is right: `gradcheck` compares it with central finite differences in
# float64.

# %%
#| default_exp autograd

# %% [markdown]
# ## Function
#
# `apply` does four things: replace each tensor argument by its array, run
# `forward`, wrap the result with `op_result`, and give the graph a closure that
# calls `backward` and keeps the gradients of the tensor arguments only.
# `ctx.needs_input_grad` tells `backward` which gradients anyone will use, so it
# can skip the others (return `None` for them).
#
# The output keeps the dtype of the inputs: a float64 constant inside `forward`
# would otherwise silently turn a float32 network into a float64 one, twice as
# slow.

# %%
#| export
"""Function: custom ops with a hand-written backward, and gradcheck.

A subclass defines `forward(ctx, *args)` on NumPy arrays and
`backward(ctx, grad_out)` returning one gradient per forward argument;
`Sub.apply(*args)` runs it on tensors and records it in the graph.
`gradcheck` compares an op's gradients with central finite differences.
"""

import numpy as np
from tinytorch.tensor import Tensor, is_grad_enabled, op_result


class Context:
    """What `forward` leaves for `backward`: saved arrays and any attributes."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Function:
    """Base class for ops with a hand-written backward (see the module docs)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("A Function subclass must define forward.")

    @staticmethod
    def backward(ctx, grad_out):
        raise NotImplementedError("A Function subclass must define backward.")

    @classmethod
    def apply(cls, *args, **kwargs):
        is_tensor = [isinstance(a, Tensor) for a in args]
        arrays = [a.data if t else a for a, t in zip(args, is_tensor, strict=True)]
        record = is_grad_enabled()
        needs = tuple(
            t and record and a.requires_grad
            for a, t in zip(args, is_tensor, strict=True)
        )
        ctx = Context(needs)
        out = np.asarray(cls.forward(ctx, *arrays, **kwargs))
        out = _keep_dtype(out, arrays, is_tensor)
        positions = [i for i, t in enumerate(is_tensor) if t]
        parents = tuple(args[i] for i in positions)
        if not any(needs):
            return op_result(out, (), None)

        def backward(g):
            grads = cls.backward(ctx, g)
            if not isinstance(grads, tuple):
                grads = (grads,)
            extra = grads[len(args) :]  # for arguments given by keyword
            if len(grads) < len(args) or any(e is not None for e in extra):
                raise ValueError(
                    f"{cls.__name__}.backward returned {len(grads)} gradients for "
                    f"{len(args)} forward inputs; return one per input (None for "
                    "non-tensors)."
                )
            return tuple(_checked(cls, i, grads[i], arrays[i]) for i in positions)

        return op_result(out, parents, backward)


def _keep_dtype(out, arrays, is_tensor):
    for a, t in zip(arrays, is_tensor, strict=True):
        if t and a.dtype.kind == "f":
            if out.dtype.kind == "f" and out.dtype != a.dtype:
                return out.astype(a.dtype)
            return out
    return out


def _checked(cls, i, grad, array):
    if grad is None:
        return None
    grad = np.asarray(grad)
    if grad.shape != array.shape:
        raise ValueError(
            f"{cls.__name__}.backward: gradient {i} has shape {grad.shape}, but "
            f"forward input {i} has shape {array.shape}."
        )
    if grad.dtype != array.dtype and array.dtype.kind == "f":
        grad = grad.astype(array.dtype)
    return grad


# %% [markdown]
# ## Gradient checking
#
# The derivative of `f` at `x` along one coordinate is, to second order,
# `(f(x + eps) - f(x - eps)) / (2 eps)`. With `eps = 1e-6` that needs float64:
# float32 has only about seven significant digits, and the difference of two
# nearly equal float32 numbers is mostly rounding.
#
# A non-scalar output is reduced to a number by a fixed random weighting
# `sum(out * R)`, which checks every output's gradient at once (a plain sum would
# miss errors that cancel). Then each input element is nudged in turn. This is
# one forward pass per element, fine for the small inputs of a test.


# %%
#| export
def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare the gradients of `fn(*inputs)` with central finite differences.

    Inputs are copied to float64 tensors that require grad (integer arrays are
    passed through unchanged). Returns True, or raises AssertionError naming the
    input, the position and both values.
    """
    xs = [_as_float64(x) for x in inputs]
    out = fn(*xs)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    for x in xs:
        if isinstance(x, Tensor):
            x.grad = None
    (out * weights).sum().backward()
    for k, x in enumerate(xs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            continue
        analytic = np.zeros(x.shape) if x.grad is None else x.grad
        numeric = _numeric_grad(fn, xs, x, weights, eps)
        bad = ~np.isclose(analytic, numeric, atol=atol, rtol=rtol)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise AssertionError(
                f"gradcheck: input {k} (shape {x.shape}) at {pos}: backward gives "
                f"{analytic[pos]:.6g}, finite differences {numeric[pos]:.6g} "
                f"({int(bad.sum())} of {bad.size} entries differ)."
            )
    return True


def _as_float64(x):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind != "f":
        return x
    return Tensor(data.astype(np.float64), requires_grad=True, dtype=np.float64)


def _numeric_grad(fn, xs, x, weights, eps):
    grad = np.zeros(x.shape)
    flat = x.data.reshape(-1)  # a view: nudging it nudges x
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = float((fn(*xs).data * weights).sum())
        flat[i] = keep - eps
        down = float((fn(*xs).data * weights).sum())
        flat[i] = keep
        grad.reshape(-1)[i] = (up - down) / (2 * eps)
    return grad


# %% [markdown]
# ## Checks
#
# A `Function` for `x * w` summed over the last axis, with its backward written
# by hand, checked against finite differences; and a deliberately wrong backward,
# which `gradcheck` must reject.


# %%
class RowDot(Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return (x * w).sum(axis=-1)

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        g = grad_out[..., None]
        return g * w, g * x


rng = np.random.default_rng(0)
x = rng.standard_normal((3, 4))
w = rng.standard_normal((3, 4))
assert gradcheck(RowDot.apply, [x, w])


class WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * x  # should be 2 * x


try:
    gradcheck(WrongSquare.apply, [x])
    raise RuntimeError("gradcheck accepted a wrong backward")
except AssertionError:
    pass

# %% [markdown]
# `apply` keeps float32 in float32, even when `forward` mixes in a float64
# constant.


# %%
class Halve(Function):
    @staticmethod
    def forward(ctx, x):
        return x * np.float64(0.5)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out * 0.5


t = Tensor(np.ones(3), requires_grad=True)
h = Halve.apply(t)
assert h.dtype == np.float32
h.sum().backward()
assert t.grad.tolist() == [0.5, 0.5, 0.5]
