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
# # 04 · Loss functions
#
# A loss turns the network's output and the right answer into one number to
# minimise. Two cover most of this course: the mean squared error for numbers,
# and cross-entropy for classes.

# %%
#| default_exp nn.losses

# %% [markdown]
# ## Cross-entropy, fused
#
# For logits `z` (one row per example, one column per class) and the true class
# `t`, cross-entropy is `-log softmax(z)[t] = logsumexp(z) - z[t]`. Computed in
# pieces (softmax, then log, then pick) it is slow and unstable: the softmax of a
# confident wrong answer is `0` in float32, and its log is `-inf`. Computed
# directly, with the maximum subtracted before the exponential, it is exact.
#
# The gradient is famously simple: `softmax(z) - onehot(t)`, divided by the
# number of examples. One op, one backward, no `(N, C)` intermediate kept
# beyond the softmax itself.
#
# Two refinements that language models need:
#
# - `ignore_index`: rows whose target equals it (padding) add nothing and are not
#   counted in the mean.
# - `label_smoothing = e`: the target is `1 - e` on the true class plus `e / C`
#   spread over all classes, so the loss is
#   `(1 - e) * (lse - z[t]) + e * (lse - mean(z))`
#   and the gradient `softmax(z) - (1 - e) onehot(t) - e / C`.
#
# Logits of shape `(N, C, d1, ...)` with targets `(N, d1, ...)` (one class per
# pixel or token) are moved to `(N * d1 * ..., C)` first.

# %%
#| export
"""Loss functions: fused cross-entropy and mean squared error.

`cross_entropy` is one graph node computing log-softmax and the negative log
likelihood together, stable at any logit size, with `ignore_index` and
`label_smoothing`. The classes wrap the functions for use as modules.
"""

import numpy as np
from tinytorch.nn.modules import Module
from tinytorch.tensor import Tensor, op_result


def _class_last(logits, targets):
    """(N, C, d1, ...) logits -> (M, C) rows; targets -> (M,)."""
    Z = logits.data
    T = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if T.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: targets must be integer class indices, got {T.dtype} "
            f"of shape {T.shape}. Convert labels with .astype(np.int64)."
        )
    if Z.ndim < 2 or T.shape != (Z.shape[0], *Z.shape[2:]):
        raise ValueError(
            f"cross_entropy: logits of shape {Z.shape} need targets of shape "
            f"{(Z.shape[0], *Z.shape[2:]) if Z.ndim >= 2 else '(N,)'}, got "
            f"{T.shape}. Logits are (N, C) or (N, C, d1, ...)."
        )
    if Z.ndim > 2:
        Z = np.moveaxis(Z, 1, -1)
    return Z.reshape(-1, Z.shape[-1]), T.reshape(-1)


def cross_entropy(
    logits, targets, ignore_index=-100, label_smoothing=0.0, reduction="mean"
):
    """Mean (or sum, or per-row with "none") cross-entropy of logits vs classes."""
    Z, T = _class_last(logits, targets)
    M, C = Z.shape
    keep = T != ignore_index
    safe_t = np.where(keep, T, 0)
    if keep.any() and (safe_t.min() < 0 or safe_t.max() >= C):
        bad = safe_t[(safe_t < 0) | (safe_t >= C)][0]
        raise ValueError(
            f"cross_entropy: target {bad} is not a class of logits with {C} "
            f"classes (0..{C - 1})."
        )

    shifted = Z - Z.max(axis=1, keepdims=True)  # (M, C)
    probs = np.exp(shifted)
    total = probs.sum(axis=1, keepdims=True)
    lse = np.log(total)[:, 0]  # (M,)
    probs /= total  # softmax
    rows = np.arange(M)
    picked = shifted[rows, safe_t]
    e = float(label_smoothing)
    per_row = lse - picked
    if e:
        per_row = (1.0 - e) * per_row + e * (lse - shifted.mean(axis=1))
    per_row = per_row * keep
    n = max(int(keep.sum()), 1)
    if reduction == "mean":
        out = np.asarray(per_row.sum() / n, dtype=Z.dtype)
    elif reduction == "sum":
        out = np.asarray(per_row.sum(), dtype=Z.dtype)
    elif reduction == "none":
        out = per_row.reshape(T.shape).astype(Z.dtype, copy=False)
        out = out.reshape(logits.shape[:1] + logits.shape[2:])
    else:
        raise ValueError(
            f"cross_entropy: reduction must be mean, sum or none, got {reduction!r}."
        )

    def backward(g):
        if reduction == "none":
            w = g.reshape(-1) * keep  # (M,)
        else:
            w = keep * (g / n if reduction == "mean" else g)
        w = w.astype(Z.dtype, copy=False)
        grad = probs * w[:, None]
        grad[rows, safe_t] -= (1.0 - e) * w
        if e:
            grad -= (e / C) * w[:, None]
        if logits.ndim > 2:
            lead = (logits.shape[0], *logits.shape[2:], C)
            grad = np.moveaxis(grad.reshape(lead), -1, 1)
        return (grad,)

    return op_result(out, (logits,), backward)


# %% [markdown]
# ## Mean squared error
#
# `mean((pred - target)^2)`; built from tensor ops, since nothing is gained by
# fusing it.


# %%
#| export
def mse_loss(pred, target, reduction="mean"):
    target = target if isinstance(target, Tensor) else Tensor(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction of shape {pred.shape} and target of shape "
            f"{target.shape} differ. Reshape one so both match."
        )
    sq = (pred - target) ** 2
    if reduction == "mean":
        return sq.mean()
    if reduction == "sum":
        return sq.sum()
    return sq


# %% [markdown]
# ## As modules


# %%
#| export
class CrossEntropyLoss(Module):
    def __init__(self, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    def forward(self, logits, targets):
        return cross_entropy(
            logits, targets, self.ignore_index, self.label_smoothing, self.reduction
        )

    def extra_repr(self):
        return (
            f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}"
        )


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, pred, target):
        return mse_loss(pred, target, self.reduction)


# %% [markdown]
# ## Checks
#
# Two classes with logits `[0, 0]`: each has probability 1/2, so the loss is
# `log 2` and the gradient `[1/2 - 1, 1/2]` for target 0. Huge logits stay
# finite: logits `[1000, 0]` with target 1 cost exactly 1000.

# %%
z = Tensor([[0.0, 0.0]], requires_grad=True)
loss = cross_entropy(z, np.array([0]))
loss.backward()
assert np.isclose(loss.item(), np.log(2))
assert np.allclose(z.grad, [[-0.5, 0.5]])

assert np.isclose(cross_entropy(Tensor([[1000.0, 0.0]]), np.array([1])).item(), 1000)

# %% [markdown]
# An ignored row does not count: the mean over the one remaining row is its loss.

# %%
z = Tensor([[2.0, 0.0], [5.0, -5.0]])
both = cross_entropy(z, np.array([0, -100]))
alone = cross_entropy(z[0:1], np.array([0]))
assert np.isclose(both.item(), alone.item())
