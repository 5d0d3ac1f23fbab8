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
# # 06 · Optimizers and learning-rate schedules
#
# After `loss.backward()` every parameter holds a gradient; an optimizer turns
# gradients into steps. This chapter has the three that matter most (SGD with
# momentum, Adam, AdamW), gradient clipping, and schedules that change the
# learning rate as training goes on.
#
# The updates run once per parameter per step, over every number in the model,
# so they are written with in-place NumPy operations (`out=`, `*=`): no new
# arrays per step, and no float64 sneaking in through a NumPy scalar.

# %%
#| default_exp optim

# %% [markdown]
# ## The optimizer base
#
# An optimizer holds *parameter groups*: lists of parameters with their own
# settings (a GPT, say, decays its matrices but not its biases). A plain list of
# parameters is one group. `optimizer.lr` reads the first group's rate and sets
# every group's, which is what the schedulers use. The per-parameter state
# (momentum, moment estimates) lives in `self.state`, keyed by the parameter's
# position, so it can be saved to a `.npz` file and loaded back.

# %%
#| export
"""Optimizers (SGD, Adam, AdamW), gradient clipping, learning-rate schedules.

Updates are in place and stay in the parameters' dtype. Optimizers accept a
list of parameters or a list of groups ({"params": [...], "lr": ...}); their
`lr` attribute is what schedulers set.
"""

import math

import numpy as np


class Optimizer:
    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError(
                "The optimizer got no parameters; pass model.parameters()."
            )
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        self.param_groups = []
        for group in params:
            group = {**defaults, **group, "params": list(group["params"])}
            self.param_groups.append(group)
        self.state = {}  # (group index, param index) -> dict of arrays
        self.steps = 0
        self._scratch = {}

    @property
    def lr(self):
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        self.steps += 1
        for gi, group in enumerate(self.param_groups):
            for pi, p in enumerate(group["params"]):
                if p.grad is not None:
                    state = self.state.setdefault((gi, pi), {})
                    self.update(p.data, p.grad, state, group)

    def update(self, w, g, state, group):
        raise NotImplementedError

    def scratch(self, w):
        """A reusable array shaped like `w` (one per shape and dtype), so that
        updates allocate nothing."""
        key = (w.shape, w.dtype.str)
        if key not in self._scratch:
            self._scratch[key] = np.empty_like(w)
        return self._scratch[key]

    def state_dict(self):
        """Flat name -> array dict (suitable for np.savez)."""
        out = {"steps": np.asarray(self.steps), "lr": np.asarray(self.lr)}
        for (gi, pi), state in self.state.items():
            for name, value in state.items():
                out[f"{gi}.{pi}.{name}"] = np.asarray(value)
        return out

    def load_state_dict(self, state):
        self.steps = int(state["steps"])
        self.lr = float(state["lr"])
        self.state = {}
        for key, value in state.items():
            if key.count(".") != 2:
                continue
            gi, pi, name = key.split(".")
            value = np.array(value)
            self.state.setdefault((int(gi), int(pi)), {})[name] = (
                value.item() if value.ndim == 0 else value
            )


# %% [markdown]
# ## SGD with momentum
#
# Plain SGD steps against the gradient: `w -= lr * g`. Momentum keeps a running
# direction `v = mu * v + g` and steps along it, which smooths noisy gradients
# and speeds up along long valleys. Nesterov momentum looks one step ahead:
# `w -= lr * (g + mu * v)`. Weight decay adds `wd * w` to the gradient.


# %%
#| export
class SGD(Optimizer):
    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs a momentum above 0.")
        defaults = dict(
            lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )
        super().__init__(params, defaults)

    def update(self, w, g, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        tmp = self.scratch(w)
        if wd:  # g + wd * w, in the scratch array
            np.multiply(w, wd, out=tmp)
            tmp += g
            g = tmp
        if mu:
            v = state.get("momentum")
            if v is None:
                v = state["momentum"] = g.copy()
            else:
                v *= mu
                v += g
            if group["nesterov"]:  # w -= lr * (g + mu * v)
                np.multiply(g, lr, out=tmp)
                w -= tmp
                np.multiply(v, lr * mu, out=tmp)
                w -= tmp
                return
            g = v
        np.multiply(g, lr, out=tmp)
        w -= tmp


# %% [markdown]
# ## Adam and AdamW
#
# Adam keeps two running averages per parameter: of the gradient, `m`, and of its
# square, `v`. Early on both are biased toward their zero start, so they are
# divided by `1 - beta^t`. The step is `lr * m_hat / (sqrt(v_hat) + eps)`: each
# coordinate moves by roughly `lr`, whatever the scale of its gradient.
#
# Weight decay in Adam (`Adam(weight_decay=...)`) adds `wd * w` to the gradient,
# where the division by `sqrt(v)` then weakens it for parameters with large
# gradients. AdamW decays the weights directly, `w *= 1 - lr * wd`, separate from
# the gradient step (Loshchilov and Hutter, 2019), and is the usual choice for
# transformers.
#
# `update` does this with one scratch array per parameter and in-place ops only.


# %%
#| export
class Adam(Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def update(self, w, g, state, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        wd = group["weight_decay"]
        if not state:
            state["t"] = 0
            state["m"] = np.zeros_like(w)
            state["v"] = np.zeros_like(w)
        state["t"] += 1
        t, m, v = state["t"], state["m"], state["v"]
        tmp = self.scratch(w)
        if wd and self.decoupled:
            w *= 1.0 - lr * wd
        elif wd:
            g = g + wd * w
        # m = b1 m + (1 - b1) g
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        # v = b2 v + (1 - b2) g^2
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # w -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
        np.sqrt(v, out=tmp)
        tmp *= 1.0 / math.sqrt(bc2)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / bc1
        w -= tmp


class AdamW(Adam):
    decoupled = True

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01
    ):
        super().__init__(params, lr, betas, eps, weight_decay)


# %% [markdown]
# ## Gradient clipping
#
# One bad batch can produce a gradient many times larger than usual and undo
# hours of training. `clip_grad_norm_` measures the length of all gradients
# together, as one long vector, and if it exceeds `max_norm` scales them all down
# by the same factor; the direction is kept. It returns the length measured
# before clipping, worth logging.


# %%
#| export
def clip_grad_norm_(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total


# %% [markdown]
# ## Learning-rate schedules
#
# A schedule sets `optimizer.lr` from a step count; call `scheduler.step()` once
# per step (or per epoch, as you choose the counts). Each computes the rate for
# step `k` from a formula, so a schedule resumes exactly after building it and
# setting `last_step = k`: the next `step()` gives the rate of step `k + 1`.
#
# - `StepLR`: multiply by `gamma` every `step_size` steps.
# - `CosineAnnealingLR`: from the base rate down to `eta_min` along half a cosine
#   over `T_max` steps.
# - `LinearWarmup`: from 0 up to the base rate over `warmup_steps`, then (if
#   `total_steps` is given) a cosine down to `min_lr`, the usual transformer
#   recipe.
# - `OneCycleLR`: up from `max_lr / div_factor` to `max_lr` over the first
#   `pct_start` of training, then a cosine down to `max_lr / div_factor /
#   final_div_factor`.


# %%
#| export
class LRScheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_step = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, k):
        raise NotImplementedError

    def step(self):
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)
        return self.optimizer.lr

    def get_last_lr(self):
        return self.optimizer.lr


def _cosine(start, end, frac):
    frac = min(max(frac, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * frac))


class StepLR(LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, k):
        return self.base_lr * self.gamma ** (k // self.step_size)


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, k):
        return _cosine(self.base_lr, self.eta_min, k / self.T_max)


class LinearWarmup(LRScheduler):
    def __init__(self, optimizer, warmup_steps, total_steps=None, min_lr=0.0):
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.min_lr = min_lr
        super().__init__(optimizer)

    def lr_at(self, k):
        if k < self.warmup_steps:
            return self.base_lr * (k + 1) / (self.warmup_steps + 1)
        if self.total_steps is None:
            return self.base_lr
        span = max(self.total_steps - self.warmup_steps, 1)
        return _cosine(self.base_lr, self.min_lr, (k - self.warmup_steps) / span)


class OneCycleLR(LRScheduler):
    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps,
        pct_start=0.3,
        div_factor=25.0,
        final_div_factor=1e4,
    ):
        self.max_lr, self.total_steps = max_lr, total_steps
        self.start_lr = max_lr / div_factor
        self.final_lr = self.start_lr / final_div_factor
        self.up = max(int(pct_start * total_steps) - 1, 1)
        super().__init__(optimizer)

    def lr_at(self, k):
        if k <= self.up:
            return _cosine(self.start_lr, self.max_lr, k / self.up)
        down = max(self.total_steps - 1 - self.up, 1)
        return _cosine(self.max_lr, self.final_lr, (k - self.up) / down)


# %% [markdown]
# ## Checks
#
# Two SGD steps with momentum 0.9 on `w = 1`, gradient always 1, rate 0.1:
# `v = 1`, `w = 0.9`; then `v = 1.9`, `w = 0.71`.

# %%
from tinytorch.nn.modules import Parameter

w = Parameter([1.0])
opt = SGD([w], lr=0.1, momentum=0.9)
for _ in range(2):
    w.grad = np.ones(1, dtype=np.float32)
    opt.step()
assert np.allclose(w.data, [0.71])

# %% [markdown]
# Adam's first step moves every coordinate by `lr`, whatever its gradient's scale:
# `m_hat = g`, `v_hat = g^2`, step `lr * g / |g|`.

# %%
w = Parameter([1.0, 1.0])
opt = Adam([w], lr=0.1)
w.grad = np.array([1000.0, -0.001], dtype=np.float32)
opt.step()
assert np.allclose(w.data, [0.9, 1.1], atol=1e-4)
assert w.data.dtype == np.float32

# %% [markdown]
# ## Systems: the cost of a step
#
# An optimizer step touches every parameter a dozen times (read the gradient,
# update two moments, form the step, apply it), so its cost grows with the
# number of parameters, not with the batch. Measured here for a million of
# them: a fraction of the matrix products of a training step on that model.

# %%
import time

w = Parameter(np.random.randn(1000, 1000))
w.grad = np.random.randn(1000, 1000).astype(np.float32)
opt = AdamW([w], lr=1e-3)
opt.step()
start = time.perf_counter()
for _ in range(10):
    opt.step()
print(
    f"AdamW, 1M parameters: {(time.perf_counter() - start) / 10 * 1e3:.2f} ms per step"
)
