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
# # 03 · Modules, parameters and layers
#
# A network is a tree of modules. Each module owns some parameters (tensors that
# training will change) and some child modules, and says in `forward` how its
# output is computed. Everything else—listing the parameters for the optimizer,
# switching dropout off for evaluation, saving the weights—comes from walking
# that tree, so it is written once, in `Module`.
#
# The names follow PyTorch: `nn.Module`, `nn.Parameter`, `nn.Linear`, and so on.

# %%
#| default_exp nn.modules

# %% [markdown]
# ## Parameter and Module
#
# A `Parameter` is a tensor that requires a gradient and that a module
# recognises as its own. A `Module` finds its parameters and children by looking
# at its own attributes, in the order they were assigned, so no registration
# call is needed: `self.weight = Parameter(...)` is enough. Buffers are arrays a
# module keeps but does not train (the running statistics of batch norm); they
# are named with `register_buffer` and saved in the `state_dict`.
#
# A parameter that appears twice (two modules sharing one weight, as a GPT's
# embedding and output layer do) is listed once, so the optimizer updates it
# once.

# %%
#| export
"""Modules: the tree a network is made of, and the standard layers.

`Module` finds parameters and child modules among its attributes, so layers
only assign them. Layers here: Linear, ReLU, GELU, Sigmoid, Tanh, Softmax,
Dropout, LayerNorm, and the containers Sequential and ModuleList.
"""

import numpy as np
from tinytorch.tensor import Tensor


class Parameter(Tensor):
    """A tensor that a module trains; always float32 and requiring grad."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model."""

    training = True
    _buffer_names = ()

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward().")

    # -- the tree ------------------------------------------------------------
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self, prefix=""):
        seen = set()
        for path, module in self.named_modules(prefix):
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{path}.{name}" if path else name), value

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name, array):
        """Keep `array` as `self.<name>`, saved with the state but not trained."""
        setattr(self, name, array)
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)

    def named_buffers(self, prefix=""):
        for path, module in self.named_modules(prefix):
            for name in module._buffer_names:
                yield (f"{path}.{name}" if path else name), getattr(module, name)

    # -- modes and gradients -------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # -- saving and loading --------------------------------------------------
    def state_dict(self):
        """Name -> a copy of the array, for every parameter and buffer."""
        state = {}
        for path, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, Parameter):
                    state[f"{path}.{name}" if path else name] = value.data.copy()
        for name, value in self.named_buffers():
            state[name] = np.array(value.data if isinstance(value, Tensor) else value)
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays from `state` into the parameters and buffers, in place."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys "
                f"{unexpected}. Build the same model before loading."
            )
        for path, module in self.named_modules():
            for name, value in list(vars(module).items()):
                key = f"{path}.{name}" if path else name
                if key not in state:
                    continue
                if isinstance(value, Parameter) or name in module._buffer_names:
                    _copy_into(module, name, value, np.asarray(state[key]), key)

    # -- printing ------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {text}")
        return "\n".join(lines) + "\n)"


def _copy_into(module, name, current, array, key):
    target = current.data if isinstance(current, Tensor) else current
    if np.shape(target) != array.shape:
        raise ValueError(
            f"load_state_dict: '{key}' has shape {array.shape} in the state but "
            f"{np.shape(target)} in the model."
        )
    if isinstance(target, np.ndarray):
        target[...] = array
    else:
        setattr(module, name, array.copy())


# %% [markdown]
# ## Linear
#
# `y = x @ W^T + b`, with `W` of shape `(out_features, in_features)`. The
# initial weights decide whether a deep stack trains at all: if each layer
# shrinks the signal a little, twenty layers shrink it to nothing. With
# `W ~ U(-a, a)`, `a = sqrt(6 / in_features)`, the weights have variance
# `2 / in_features`, which keeps the size of activations steady through ReLU
# layers (He et al., 2015). Biases start at zero.

# %%
#| export
import math

from tinytorch.nn import functional as F


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        self.in_features, self.out_features = in_features, out_features
        bound = math.sqrt(6.0 / in_features)
        w = np.random.uniform(-bound, bound, (out_features, in_features))
        self.weight = Parameter(w)  # (out, in)
        self.bias = Parameter(np.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


# %% [markdown]
# ## Activations, dropout and layer norm as modules
#
# Wrappers around chapter 02, so that they can sit in a `Sequential`.
# `Dropout` reads `self.training`, which `model.eval()` turns off.


# %%
#| export
class ReLU(Module):
    def forward(self, x):
        return x.relu()


class GELU(Module):
    """GELU, tanh approximation (PyTorch's `approximate="tanh"`)."""

    def forward(self, x):
        return F.gelu(x)


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Softmax(Module):
    def __init__(self, dim=-1):
        self.dim = dim

    def forward(self, x):
        return x.softmax(self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Dropout(Module):
    def __init__(self, p=0.5):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}.")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.weight = self.bias = None
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape))
            self.bias = Parameter(np.zeros(self.normalized_shape))

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


# %% [markdown]
# ## Containers
#
# `Sequential` runs its modules one after another; `ModuleList` only holds them
# (a transformer's list of blocks). Both store each module as an attribute named
# by its position, so the tree walk above sees them without special cases, and
# the saved names are `0.weight`, `1.bias`, ...


# %%
#| export
class Sequential(Module):
    def __init__(self, *modules):
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __getitem__(self, i):
        return self.children()[i]

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.children())

    def forward(self, x):
        for m in vars(self).values():
            if isinstance(m, Module):
                x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, modules=()):
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds modules, got {type(module).__name__}.")
        setattr(self, str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        return self.children()[i]

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.children())


# %% [markdown]
# ## Checks
#
# A two-layer network lists its four parameters in order, prints readably, and
# its state survives a round trip into a fresh copy.

# %%
np.random.seed(0)
net = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
names = [n for n, _ in net.named_parameters()]
assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
assert net[0].weight.shape == (8, 4)
print(net)

other = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
other.load_state_dict(net.state_dict())
x = Tensor(np.random.randn(3, 4))
assert np.array_equal(other(x).data, net(x).data)

# %% [markdown]
# The initialisation keeps activations alive through depth: after twenty
# Linear+ReLU layers of width 256 the output's scale is still of order one.

# %%
deep = Sequential(*[m for _ in range(20) for m in (Linear(256, 256), ReLU())])
h = deep(Tensor(np.random.randn(64, 256))).data
assert 0.1 < h.std() < 10, h.std()
