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
# # 09 · Convolutions and pooling
#
# A linear layer looks at every pixel of an image with its own weight. A
# convolution looks at a small window, say 3x3, with one set of weights, and
# slides that window over the whole image. Two ideas follow: a pattern learnt in
# one corner is recognised everywhere (weight sharing), and a layer needs only
# `out_channels * in_channels * 3 * 3` numbers however large the image is.
#
# This chapter builds the layers of a 1990s-style image classifier, in the
# PyTorch layout `(N, C, H, W)` (batch, channels, height, width):
#
# - `Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)`,
# - `MaxPool2d` and `AvgPool2d`, which shrink an image by summarising windows,
# - `BatchNorm2d`, which keeps each channel's activations near mean 0, std 1,
# - `Flatten`, the bridge from feature maps to a linear classifier.
#
# Each comes twice. First as loops that say plainly what is computed; they are
# slow, but they are the reference that every later version is checked against.
# Then vectorised: the windows gathered into one matrix, one matrix multiply,
# and a hand-written backward. Milestone 04 trains on CIFAR-10 with the second
# kind; with the first it would take days.

# %%
#| default_exp nn.conv

# %%
import time

import numpy as np
from tinytorch.autograd import gradcheck
from tinytorch.tensor import Tensor

# %% [markdown]
# ## What a convolution computes
#
# An input `x` of shape `(N, C, H, W)`, weights `w` of shape `(O, C, kh, kw)`
# and a bias `b` of shape `(O,)`. Output channel `o` at position `(i, j)` is the
# window of `x` whose top-left corner is at `(i * stride, j * stride)`,
# multiplied elementwise by `w[o]` and summed over channels and the window,
# plus `b[o]`:
#
# ```
# out[n, o, i, j] = b[o] + sum_{c, u, v} x[n, c, i*s + u, j*s + v] * w[o, c, u, v]
# ```
#
# `padding` adds a frame of zeros around `x` first, so that a 3x3 kernel with
# padding 1 keeps the height and width. The output height is
# `floor((H + 2 * padding - kh) / stride) + 1`. The floor matters: with `H = 6`,
# `kh = 3`, `stride = 2` and no padding, the windows start at rows 0 and 2; row 5
# is never read, so its gradient is exactly zero.
#
# (Deep-learning libraries call this a convolution, though mathematically it is
# a cross-correlation: the kernel is not flipped. Since the kernel is learnt,
# the difference does not matter.)


# %%
def conv2d_loop(x, w, b=None, stride=1, padding=0):
    """The reference convolution: a loop over output positions."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, O, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            top, left = i * stride, j * stride
            window = xp[:, :, top : top + kh, left : left + kw]  # (N, C, kh, kw)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b.reshape(1, O, 1, 1)
    return out


def maxpool2d_loop(x, k, stride):
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // stride + 1, (W - k) // stride + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


# %% [markdown]
# A hand-worked example: an edge detector. The kernel `[[-1, 1]]` answers
# "how much brighter is the pixel to the right?"; on an image that is dark on
# the left and bright on the right it fires only at the border.

# %%
image = np.array([[0, 0, 0, 9, 9, 9]] * 3, dtype=np.float32).reshape(1, 1, 3, 6)
edge = np.array([[-1, 1]], dtype=np.float32).reshape(1, 1, 1, 2)
print(conv2d_loop(image, edge)[0, 0])
assert conv2d_loop(image, edge)[0, 0].tolist() == [[0, 0, 9, 0, 0]] * 3

# %% [markdown]
# How slow is the loop? There are `Ho * Wo` Python iterations, each a small
# `tensordot`. For one CIFAR-10 batch through one layer:

# %%
rng = np.random.default_rng(0)
xb = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
wb = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
start = time.perf_counter()
ref = conv2d_loop(xb, wb, padding=1)
loop_seconds = time.perf_counter() - start
print(f"loop convolution, batch of 32: {loop_seconds * 1e3:.0f} ms")

# %% [markdown]
# ## Columns: a convolution as one matrix multiply
#
# Every output pixel is a dot product between one window of the input
# (`kh * kw * C` numbers) and one row of the weights. Gather every window of
# every image into a row of a matrix, the *columns* matrix, of shape
# `(N * Ho * Wo, kh * kw * C)`; reshape the weights to `(kh * kw * C, O)`; and
# the whole layer is one matrix multiply, which NumPy hands to an optimised
# BLAS routine running near the machine's peak.
#
# Gathering need not loop either. `np.lib.stride_tricks.sliding_window_view`
# returns every window as a *view*: an array whose strides step through the
# same memory, so that `view[n, i, j]` is the window at `(i, j)` without a
# single number copied. Taking every `stride`-th window is slicing that view.
# One copy then lays the windows out as rows.
#
# **Layout.** We keep the channels last inside the layer, `(N, H, W, C)`:
# a window row is then `kh * kw` runs of `C` contiguous numbers, cheap to copy,
# and the matrix product `(N * Ho * Wo, O)` *is* the output in `(N, Ho, Wo, O)`
# layout. We hand it back as `out.transpose(0, 3, 1, 2)`, a view that has the
# `(N, O, Ho, Wo)` shape everyone expects, but channels-last memory. The next
# layer's `x.transpose(0, 2, 3, 1)` undoes the view for free, so a stack of
# layers never copies an image to change its layout. Elementwise NumPy
# operations (ReLU, additions, batch norm) keep the memory order of their
# inputs, so the layout survives between convolutions.
#
# The first layer needs one more trick. Its windows' rows are 3 pixels of 3
# colours, 9 numbers, and NumPy's copy pays for every short run it walks.
# `_copy_windows` moves each such row as one item of 36 bytes instead (a
# NumPy `void` dtype over the same memory): the first layer's gather goes from
# about 1.9 to 1.0 ms. Longer rows already copy fast enough as numbers.

# %%
#| export
"""Convolution, pooling, batch norm and flatten for images in (N, C, H, W).

Each op is a `Function` with a hand-written backward. Inside, images are
handled channels-last, (N, H, W, C): a convolution gathers its windows from a
strided view into one columns matrix and runs one matrix multiply; gradients
go back with one slice addition per kernel offset. Outputs are (N, C, H, W)
views of channels-last memory, so consecutive layers never copy to transpose.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from tinytorch.autograd import Function
from tinytorch.nn.functional import split_rows
from tinytorch.nn.modules import Module, Parameter
from tinytorch.tensor import unbroadcast


def _pair(v, name):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(n, int) for n in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, not {v!r}.")
    return pair


def output_size(size, kernel, stride, padding):
    """How many windows of `kernel` fit along `size` (after padding)."""
    return (size + 2 * padding - kernel) // stride + 1


def _channels_last(x):
    """(N, C, H, W) -> an (N, H, W, C) view of the same memory."""
    return x.transpose(0, 2, 3, 1)


def _channels_first(x):
    """(N, H, W, C) -> an (N, C, H, W) view of the same memory."""
    return x.transpose(0, 3, 1, 2)


def _check_image(x, name, channels=None):
    if x.ndim != 4:
        raise ValueError(
            f"{name} expects images of shape (N, C, H, W), got shape {x.shape}."
        )
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} expects {channels} input channels, but the input of shape "
            f"{x.shape} has {x.shape[1]}."
        )


def _copy_windows(cols, x, windows, stride):
    """cols[...] = windows, cols (N, Ho, Wo, kh, kw, C) and windows the same
    shape, a view of x (N, H, W, C), by images on all cores.

    Each row of a window, kw * C numbers, is contiguous in x. When it is short
    and x is contiguous, it is copied as one item of raw bytes.
    """
    N, Ho, Wo, kh, kw, C = cols.shape
    if kw * C > 16 or not x.flags.c_contiguous:
        split_rows(np.copyto, cols, windows)
        return
    row = np.dtype((np.void, kw * C * x.itemsize))
    (s0, s1, s2, _), (sh, sw) = x.strides, stride
    # rows[n, i, j, u], row u of window (i, j), starts at x[n, sh * i + u, sw * j]
    strides = (s0, sh * s1, sw * s2, s1)
    rows = np.ndarray((N, Ho, Wo, kh), dtype=row, buffer=x, strides=strides)
    out = cols.reshape(N, Ho, Wo, kh, kw * C).view(row)[..., 0]  # (N, Ho, Wo, kh)
    split_rows(np.copyto, out, rows)


def im2col(x, kernel, stride, padding):
    """Every window of x as one row of a matrix.

    x: (N, H, W, C). Returns cols (N, Ho, Wo, kh, kw, C), contiguous, so
    cols.reshape(N * Ho * Wo, kh * kw * C) is a free reshape.
    """
    ### BEGIN SOLUTION
    N, H, W, C = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    Ho, Wo = output_size(H, kh, sh, ph), output_size(W, kw, sw, pw)
    if ph or pw:
        padded = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=x.dtype)
        padded[:, ph : ph + H, pw : pw + W] = x
        x = padded
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, H', W', C, kh, kw)
    windows = windows[:, ::sh, ::sw][:, :Ho, :Wo]  # (N, Ho, Wo, C, kh, kw)
    cols = np.empty((N, Ho, Wo, kh, kw, C), dtype=x.dtype)
    _copy_windows(cols, x, windows.transpose(0, 1, 2, 4, 5, 3), (sh, sw))
    return cols
    ### END SOLUTION


# %% [markdown]
# ## The backward pass: scattering columns back
#
# Forward is `out = cols @ w_mat`. Matrix calculus gives the three gradients:
#
# - weights: `cols.T @ grad_out`, one more matrix multiply,
# - bias: `grad_out` summed over all positions,
# - columns: `grad_out @ w_mat.T`, then back to the image.
#
# The last step undoes the gather. Each input pixel was copied into every
# window that covers it (up to `kh * kw` of them), so its gradient is the sum of
# the gradients of all those copies. Loop over the `kh * kw` kernel offsets
# (nine for 3x3, not over pixels): offset `(u, v)` of every window sits at input
# rows `u, u + s, u + 2s, ...` and columns `v, v + s, ...`, a strided slice, so
# one slice addition moves all of them at once. Scatter into a padded buffer,
# then cut the padding away. Pixels no window touches (the rows dropped by the
# floor) keep their zero.
#
# One detail decides the speed. In the `(M, kh * kw * C)` product, offset
# `(u, v)`'s gradients are one run of `C` numbers in every `kh * kw` (every
# ninth, for 3x3), and NumPy adds from such short runs several times slower
# than from a contiguous array. So the product is computed per offset instead,
# `grad_out @ w_uv.T` for each of the `kh * kw` blocks `w_uv` (`C` rows) of
# the weight matrix: the same arithmetic, one batched `np.matmul`, and its
# result `(kh, kw, N, Ho, Wo, C)` hands each offset's gradients over as one
# contiguous image.
#
# `np.add.at` could scatter with index arrays too, but it is unbuffered and
# many times slower; strided slices are the fast way.

# %%
#| export
import numpy as np


def col2im(cols, shape, stride, padding):
    """Sum window gradients back into an image.

    cols (kh, kw, N, Ho, Wo, C) holds, for each kernel offset, the gradient
    of that offset of every window. shape is the input's (N, H, W, C);
    returns an (N, H, W, C) array (a view into a padded buffer when
    padding > 0).
    """
    ### BEGIN SOLUTION
    N, H, W, C = shape
    kh, kw, _, Ho, Wo, _ = cols.shape
    (sh, sw), (ph, pw) = stride, padding
    grad = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=cols.dtype)

    def scatter(grad, cols):  # a block of images; cols (n, kh, kw, Ho, Wo, C)
        for u in range(kh):
            rows = slice(u, u + sh * (Ho - 1) + 1, sh)
            for v in range(kw):
                columns = slice(v, v + sw * (Wo - 1) + 1, sw)
                grad[:, rows, columns] += cols[:, u, v]  # (n, Ho, Wo, C)

    split_rows(scatter, grad, cols.transpose(2, 0, 1, 3, 4, 5))  # by images
    return grad[:, ph : ph + H, pw : pw + W]
    ### END SOLUTION


# %% [markdown]
# ## The convolution as a `Function`
#
# `forward` gathers the columns and multiplies; it saves the columns for the
# weight gradient. `backward` returns one gradient per forward input (`None` for
# stride and padding), and skips the input gradient when nobody needs it: the
# first layer's input is the image itself, and its columns-to-image scatter
# would be wasted work.
#
# The weights are stored PyTorch-style as `(O, C, kh, kw)`; the matrix the
# multiply needs is `(kh * kw * C, O)`, a small copy made on each call.
#
# The first layer's weight gradient needs care. It is a product of a
# `(27, M)` and an `(M, 24)` matrix, with `M` over a hundred thousand rows,
# and BLAS shares work between threads by cutting the small output, which
# barely cuts. `_weight_grad` cuts the long side instead and adds up the
# pieces; on this layer it is twice as fast (measured: 3.0 ms -> 1.5 ms on
# two cores, 4.0 ms -> 2.3 ms on one).
#
# Most layers of a CNN keep the image size: stride 1 and padding
# `(k - 1) / 2`, so `Ho = H` and `Wo = W`. Their scatter has a shortcut. Lay
# each image out as one flat row of `H * W * C` numbers; then kernel offset
# `(u, v)` moves every gradient it holds by the same distance,
# `(u - p) * W * C + (v - p) * C`, and its scatter is one addition of long
# contiguous runs instead of many short ones. Gradients that would wrap round
# into the previous or next image row belong to the padding, so they are
# zeroed first; rows pushed off the top or bottom simply fall off the end of
# the slice. The multiply and the scatter take a few images at a time, so the
# scatter reads the columns from cache rather than from memory (measured on
# the 24 -> 48 layer's input gradient: 7.7 ms -> 6.5 ms).


# %%
#| export
import numpy as np


def _col2im_same_size(cols, padding, out):
    """col2im for a stride-1 convolution whose output is as big as its input.

    cols (kh, kw, N, H, W, C), as for col2im; it is overwritten. Writes the
    (N, H, W, C) input gradient into `out`, a contiguous array.

    Seen as one flat row of H * W * C numbers per image, each kernel offset
    moves its gradients by a fixed distance, so each is one addition of
    contiguous runs. A gradient that would wrap round into the next or the
    previous image row belongs to the padding; it is zeroed first.
    """
    kh, kw, N, H, W, C = cols.shape
    ph, pw = padding
    L = H * W * C
    grad = out.reshape(N, L)  # a view: out is contiguous
    grad[...] = 0

    def scatter(grad, cols):  # a block of images; cols (n, kh, kw, H, W, C)
        for u in range(kh):
            for v in range(kw):
                if abs(v - pw) >= W or abs(u - ph) >= H:
                    continue  # this offset only ever sees padding
                shift = (u - ph) * W * C + (v - pw) * C
                part = cols[:, u, v]  # (n, H, W, C)
                if v < pw:  # the first columns land left of the image
                    part[:, :, : pw - v] = 0
                elif v > pw:  # the last ones right of it
                    part[:, :, W - (v - pw) :] = 0
                part = part.reshape(-1, L)  # (n, L)
                if shift >= 0:  # rows shifted out of the image fall off
                    grad[:, shift:] += part[:, : L - shift]
                else:
                    grad[:, :shift] += part[:, -shift:]

    split_rows(scatter, grad, cols.transpose(2, 0, 1, 3, 4, 5))  # by images


def _input_grad_same_size(g, w_offsets, kernel, shape, padding, piece=4 << 20):
    """The (N, H, W, C) input gradient of a stride-1 convolution whose output
    is as big as its input; g (N * H * W, O), w_offsets (kh * kw, O, C).

    A few images at a time (about `piece` bytes of columns), so that the
    scatter finds the columns the multiply has just written still in cache.
    """
    (kh, kw), (N, H, W, C) = kernel, shape
    grad = np.empty(shape, dtype=g.dtype)
    step = max(1, piece // (kh * kw * H * W * C * g.itemsize))
    for lo in range(0, N, step):
        n = min(step, N - lo)
        cols = np.matmul(g[lo * H * W : (lo + n) * H * W], w_offsets)  # (k, n*H*W, C)
        cols = cols.reshape(kh, kw, n, H, W, C)
        _col2im_same_size(cols, padding, out=grad[lo : lo + n])
    return grad


def _weight_grad(cols, g, rows=256):
    """cols.T @ g: cols (M, K) and g (M, O) -> the (K, O) weight gradient.

    BLAS shares a product between threads by cutting its output, and a first
    layer's output (27 x 24 for 3 -> 24 channels) is too small to cut well.
    Then the long side M is cut instead: pieces of `rows` rows, small enough
    that BLAS runs each on one thread, one share of the pieces per core, and
    the partial products summed.
    """
    (M, K), O = cols.shape, g.shape[1]
    if K * O > 4096 or M < 4 * rows:  # a big enough output: BLAS does well
        return cols.T @ g
    B = M // rows
    pieces = cols[: B * rows].reshape(B, rows, K), g[: B * rows].reshape(B, rows, O)
    parts = split_rows(
        lambda c, g: np.matmul(c.transpose(0, 2, 1), g).sum(axis=0), *pieces
    )  # one (K, O) sum per core
    total = sum(parts[1:], parts[0])
    if B * rows < M:  # the rows left over
        total += cols[B * rows :].T @ g[B * rows :]
    return total


class Conv2dFunction(Function):
    """out = conv(x, weight) + bias on (N, C, H, W) images."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ### BEGIN SOLUTION
        N, C, H, W = x.shape
        O, _, kh, kw = weight.shape
        cols = im2col(_channels_last(x), (kh, kw), stride, padding)
        Ho, Wo = cols.shape[1:3]
        cols = cols.reshape(N * Ho * Wo, kh * kw * C)  # (M, K)
        w_mat = weight.transpose(2, 3, 1, 0).reshape(kh * kw * C, O)  # (K, O)
        out = cols @ w_mat  # (M, O)
        if bias is not None:
            out += bias
        ctx.save_for_backward(cols, w_mat)
        ctx.shapes = (x.shape, weight.shape, (N, Ho, Wo, O))
        ctx.stride, ctx.padding = stride, padding
        return _channels_first(out.reshape(N, Ho, Wo, O))  # (N, O, Ho, Wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out):
        ### BEGIN SOLUTION
        cols, w_mat = ctx.saved_tensors
        (N, C, H, W), (O, _, kh, kw), out_shape = ctx.shapes
        g = _channels_last(grad_out).reshape(-1, O)  # (M, O)
        grad_w = _weight_grad(cols, g).reshape(kh, kw, C, O).transpose(3, 2, 0, 1)
        grad_w = np.ascontiguousarray(grad_w)  # (O, C, kh, kw)
        grad_b = unbroadcast(g, (O,)) if ctx.needs_input_grad[2] else None
        grad_x = None
        stride = ctx.stride
        if ctx.needs_input_grad[0]:
            w_offsets = w_mat.reshape(kh * kw, C, O).transpose(0, 2, 1)  # (k, O, C)
            if stride == (1, 1) and out_shape[1:3] == (H, W):
                shape = (N, H, W, C)
                grad = _input_grad_same_size(g, w_offsets, (kh, kw), shape, ctx.padding)
            else:
                grad_cols = np.matmul(g, w_offsets)  # (kh * kw, M, C)
                grad_cols = grad_cols.reshape(kh, kw, *out_shape[:3], C)
                grad = col2im(grad_cols, (N, H, W, C), stride, ctx.padding)
            grad_x = _channels_first(grad)  # (N, C, H, W)
        return grad_x, grad_w, grad_b, None, None
        ### END SOLUTION


# %% [markdown]
# The layer holds the parameters. Initial weights are uniform in `±sqrt(6 /
# fan_in)` with `fan_in = C * kh * kw`, the same He initialisation as
# `Linear`: each output sums `fan_in` products, so this keeps the activations'
# scale steady through a stack of ReLU layers.

# %%
#| export
import math

import numpy as np


class Conv2d(Module):
    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True
    ):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        kh, kw = self.kernel_size
        bound = math.sqrt(6.0 / (in_channels * kh * kw))
        w = np.random.uniform(-bound, bound, (out_channels, in_channels, kh, kw))
        self.weight = Parameter(w)  # (O, C, kh, kw)
        self.bias = Parameter(np.zeros(out_channels)) if bias else None

    def forward(self, x):
        _check_image(x, "Conv2d", self.in_channels)
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(
                f"Conv2d: the input of shape {x.shape} (padding {self.padding}) is "
                f"smaller than the kernel {self.kernel_size}."
            )
        return Conv2dFunction.apply(
            x, self.weight, self.bias, self.stride, self.padding
        )

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, bias={self.bias is not None}"
        )


# %% [markdown]
# ### Checks: the columns version against the loop, and its gradients
#
# Same numbers as the loop (to float32 rounding), for several strides,
# paddings and a non-square input; and gradients against finite differences in
# float64 (`gradcheck` from chapter 05).

# %%
for stride, padding, k in [(1, 1, 3), (2, 0, 3), (2, 1, 3), (1, 0, 1)]:
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    conv = Conv2d(3, 4, k, stride=stride, padding=padding)
    got = conv(Tensor(x)).data
    want = conv2d_loop(x, conv.weight.data, conv.bias.data, stride, padding)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.allclose(got, want, atol=1e-5), np.abs(got - want).max()

conv = Conv2d(2, 3, 3, stride=2, padding=1)
x = rng.standard_normal((2, 2, 5, 4))
assert gradcheck(
    lambda x, w, b: Conv2dFunction.apply(x, w, b, (2, 2), (1, 1)),
    [x, conv.weight.data, conv.bias.data],
)
print("Conv2d matches the loop and finite differences")

# %% [markdown]
# ## Pooling
#
# Max pooling keeps the largest value of each window, so a feature detected
# anywhere in the window survives while the image shrinks. Its gradient goes
# to the one input that was the maximum; the others get zero. If several
# inputs tie (common after a ReLU: a window of zeros), the gradient must still
# go to exactly one of them, or it would be counted several times. We keep the
# first in reading order, as PyTorch does.
#
# No loop over pixels: loop over the `k * k` offsets of the window instead.
# Offset `(u, v)` of every window is one strided slice of the input, so the
# running maximum over offsets is `k * k` elementwise operations on whole
# images, and we remember which offset won (a strict `>` keeps the first of
# equal values). Backward sends the gradient to the winning offset with one
# slice operation per offset: a write when windows do not overlap, an
# addition when they do. Average pooling is the same walk with a sum, and its
# gradient is shared equally.
#
# The 2x2 windows of nearly every CNN get a shortcut, shaped by what NumPy
# does fast. An elementwise operation on a strided slice whose contiguous runs
# are one pixel's channels costs more than copying the slice out and working
# on the copy (measured on 64 images of 24 x 32 x 32: 0.23 ms, against 0.10 ms
# for the copy and 0.04 ms for the same operation on it). So forward first
# copies the four offsets apart, into one contiguous `(4, n, Ho, Wo, C)`
# array, then takes the maximum of the top pair, of the bottom pair and of the
# two winners. Backward is the mirror image: the four masked gradients on
# contiguous arrays, then one copy that interleaves them into the image.
#
# NumPy runs each of these elementwise passes on one core. Images never mix,
# so both directions cut the batch into blocks of images and hand one block to
# each core with `split_rows` from module 02; the convolution's gather and
# scatter above do the same. A block too big for the core's cache is done in
# pieces of a few images (`_in_pieces`), so that the second and later passes
# over a piece read it from cache rather than from memory.

# %%
#| export
import functools

import numpy as np


def _offset_slices(k, stride, out_h, out_w):
    """For each kernel offset (u, v): the input slices it reads, in order."""
    (kh, kw), (sh, sw) = k, stride
    for u in range(kh):
        for v in range(kw):
            rows = slice(u, u + sh * (out_h - 1) + 1, sh)
            columns = slice(v, v + sw * (out_w - 1) + 1, sw)
            yield rows, columns


def _quarters(x):
    """The four offsets of 2x2 windows of x (n, H, W, C), copied apart.

    Returns (4, n, Ho, Wo, C), contiguous: top-left, top-right, bottom-left,
    bottom-right. One copy reads x once; the arithmetic then runs on
    contiguous arrays, which NumPy does several times faster than on the
    strided slices themselves.
    """
    n, H, W, C = x.shape
    Ho, Wo = H // 2, W // 2
    windows = x[:, : 2 * Ho, : 2 * Wo].reshape(n, Ho, 2, Wo, 2, C)
    q = np.empty((2, 2, n, Ho, Wo, C), dtype=x.dtype)  # (u, v, n, Ho, Wo, C)
    np.copyto(q, windows.transpose(2, 4, 0, 1, 3, 5))
    return q.reshape(4, n, Ho, Wo, C)


def _max_of_four(x, best, winner):
    """Max over the four offsets of 2x2 windows of x (n, H, W, C) into best,
    and the winning offset (0 to 3) into winner, both (n, Ho, Wo, C), as a
    knock-out round; ties go to the earlier offset, as in the loop."""
    a, b, c, d = _quarters(x)
    bottom = np.maximum(c, d)
    np.maximum(a, b, out=best)  # the top pair's winner
    np.greater(b, a, out=winner.view(bool))  # 0 or 1
    # where the bottom pair wins, winner becomes 2 or 3. In arithmetic, not with
    # a masked copy: a mask that is true at random costs a mispredicted branch
    # per element, several times the price of the whole sum.
    change = np.greater(d, c).view(np.uint8)
    change += 2
    change -= winner  # (2 or 3) - (0 or 1): what to add where the bottom wins
    change *= np.greater(bottom, best).view(np.uint8)
    winner += change
    np.maximum(best, bottom, out=best)


_OFFSETS = np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1, 1)


def _route_to_four(g, winner, grad):
    """Backward of _max_of_four: g (n, Ho, Wo, C) to the winners in grad
    (n, H, W, C). Writes every input of the windows, zero where it lost."""
    n, Ho, Wo, C = g.shape
    parts = np.empty((2, 2, n, Ho, Wo, C), dtype=g.dtype)  # (u, v, n, Ho, Wo, C)
    np.multiply(g, winner == _OFFSETS, out=parts.reshape(4, n, Ho, Wo, C))
    windows = grad[:, : 2 * Ho, : 2 * Wo].reshape(n, Ho, 2, Wo, 2, C)
    np.copyto(windows, parts.transpose(2, 3, 0, 4, 1, 5))  # one interleaving copy


def _in_pieces(kernel, piece_bytes=1 << 20):
    """kernel over a block of images, in pieces of about piece_bytes (all
    arrays together) when the block is too big to stay in a core's cache.

    A kernel that makes several passes over its arrays then finds them still in
    cache on the next pass, instead of reading them from memory again.
    """

    def run(*arrays):
        rows, size = arrays[0].shape[0], sum(a.nbytes for a in arrays)
        if rows == 0 or size <= 4 * piece_bytes:
            return kernel(*arrays)
        step = max(1, piece_bytes * rows // size)
        for lo in range(0, rows, step):
            kernel(*(a[lo : lo + step] for a in arrays))

    return run


def _max_over_offsets(slices, x, best, winner):
    """The same for any window: a running maximum over the offsets."""
    rows, columns = slices[0]
    np.copyto(best, x[:, rows, columns])
    winner[...] = 0
    for q, (rows, columns) in enumerate(slices[1:], start=1):
        candidate = x[:, rows, columns]
        better = candidate > best  # ties keep the earlier offset
        np.maximum(best, candidate, out=best)
        np.putmask(winner, better, q)


def _route_to_winner(slices, overlap, g, winner, grad):
    """Send each output gradient g (n, Ho, Wo, C) to its window's winner."""
    for q, (rows, columns) in enumerate(slices):
        if overlap:  # windows share inputs: add
            grad[:, rows, columns] += g * (winner == q)
        else:  # each input in one window: write
            np.multiply(g, winner == q, out=grad[:, rows, columns])


class MaxPool2dFunction(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride):
        ### BEGIN SOLUTION
        xl = _channels_last(x)  # (N, H, W, C)
        N, H, W, C = xl.shape
        Ho, Wo = (
            output_size(H, kernel[0], stride[0], 0),
            output_size(W, kernel[1], stride[1], 0),
        )
        best = np.empty((N, Ho, Wo, C), dtype=xl.dtype)
        winner = np.empty((N, Ho, Wo, C), dtype=np.uint8)
        if kernel == stride == (2, 2):  # the usual case: a shortcut
            pool = _max_of_four
        else:
            slices = list(_offset_slices(kernel, stride, Ho, Wo))
            pool = functools.partial(_max_over_offsets, slices)
        # images are independent: blocks of them on all cores
        split_rows(_in_pieces(pool), xl, best, winner)
        ctx.winner, ctx.shape, ctx.kernel, ctx.stride = winner, xl.shape, kernel, stride
        return _channels_first(best)  # (N, C, Ho, Wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out):
        ### BEGIN SOLUTION
        g = _channels_last(grad_out)  # (N, Ho, Wo, C)
        (H, W), (Ho, Wo) = ctx.shape[1:3], g.shape[1:3]
        (kh, kw), (sh, sw) = ctx.kernel, ctx.stride
        overlap = kh > sh or kw > sw
        # when the windows tile the image exactly, every input is written below
        tiled = not overlap and (Ho - 1) * sh + kh == H and (Wo - 1) * sw + kw == W
        grad = (np.empty if tiled else np.zeros)(ctx.shape, dtype=g.dtype)
        if ctx.kernel == ctx.stride == (2, 2):
            route = _route_to_four
        else:
            slices = list(_offset_slices(ctx.kernel, ctx.stride, Ho, Wo))
            route = functools.partial(_route_to_winner, slices, overlap)
        split_rows(_in_pieces(route), g, ctx.winner, grad)
        return _channels_first(grad), None, None  # (N, C, H, W)
        ### END SOLUTION


class AvgPool2dFunction(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride):
        ### BEGIN SOLUTION
        xl = _channels_last(x)  # (N, H, W, C)
        N, H, W, C = xl.shape
        Ho, Wo = (
            output_size(H, kernel[0], stride[0], 0),
            output_size(W, kernel[1], stride[1], 0),
        )
        slices = list(_offset_slices(kernel, stride, Ho, Wo))
        total = np.zeros((N, Ho, Wo, C), dtype=x.dtype)
        for rows, columns in slices:
            total += xl[:, rows, columns]
        ctx.slices, ctx.shape = slices, xl.shape
        return _channels_first(total / len(slices))  # (N, C, Ho, Wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out):
        ### BEGIN SOLUTION
        g = _channels_last(grad_out) / len(ctx.slices)  # (N, Ho, Wo, C)
        grad = np.zeros(ctx.shape, dtype=g.dtype)  # (N, H, W, C)
        for rows, columns in ctx.slices:
            grad[:, rows, columns] += g
        return _channels_first(grad), None, None
        ### END SOLUTION


class _Pool2d(Module):
    function = None

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")

    def forward(self, x):
        _check_image(x, type(self).__name__)
        (kh, kw), (H, W) = self.kernel_size, x.shape[2:]
        if H < kh or W < kw:
            raise ValueError(
                f"{type(self).__name__}: the input of shape {x.shape} is smaller "
                f"than the window {self.kernel_size}."
            )
        return self.function.apply(x, self.kernel_size, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(_Pool2d):
    function = MaxPool2dFunction


class AvgPool2d(_Pool2d):
    function = AvgPool2dFunction


# %% [markdown]
# Checks: against the loop, and the tie rule: a window of four equal values
# passes its gradient on once, not four times.

# %%
x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
assert np.array_equal(MaxPool2d(2)(Tensor(x)).data, maxpool2d_loop(x, 2, 2))
assert np.array_equal(MaxPool2d(3, 2)(Tensor(x)).data, maxpool2d_loop(x, 3, 2))

flat = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
MaxPool2d(2)(flat).sum().backward()
assert flat.grad.sum() == 1.0 and flat.grad[0, 0, 0, 0] == 1.0

assert gradcheck(lambda x: AvgPool2dFunction.apply(x, (2, 2), (1, 1)), [x[:1, :2]])
print("pooling matches the loop; ties pass the gradient once")

# %% [markdown]
# ## Batch normalisation
#
# Deep stacks of convolutions train slowly when the scale of the activations
# drifts from layer to layer. `BatchNorm2d` measures, for each channel, the mean
# and variance over the batch and all positions, `N * H * W` numbers, and
# normalises: `x_hat = (x - mean) / sqrt(var + eps)`. A learnt scale `gamma` and
# shift `beta` per channel then let the network undo it where that helps:
# `y = gamma * x_hat + beta`.
#
# At test time there may be one image, so there is no batch to measure. During
# training the layer keeps running averages, `running = (1 - momentum) *
# running + momentum * batch_value` with `momentum = 0.1`, and `eval()` uses
# them instead. (The running variance uses the unbiased batch variance, divided
# by `M - 1` for `M = N * H * W`, as PyTorch does; the normalisation itself
# uses the biased one.) The running statistics are buffers: saved in the
# `state_dict`, never trained.
#
# The backward, with `M` values per channel and `g` the output gradient:
#
# ```
# d_beta  = sum(g)            d_gamma = sum(g * x_hat)
# d_x     = gamma / sqrt(var + eps) * (g - d_beta / M - x_hat * d_gamma / M)
# ```
#
# The two subtracted terms are there because every `x` also moved the mean and
# the variance that all the others were normalised with.
#
# In channels-last memory a channel's `M` values are one column of an
# `(M, C)` matrix, so every statistic is a sum over axis 0. Each pass over a
# large activation costs time, so the forward computes the mean and variance
# from two sums, `sum(x)` and `sum(x * x)`, and applies the normalisation as
# one scale and one shift per channel; the backward recomputes `x_hat` from
# the saved input instead of storing it.
# Both the sums and the elementwise passes run on blocks of rows, one block
# per core (`split_rows` again); the partial sums are added at the end.
#
# `sum(x * x) - sum(x)**2 / M` subtracts two large numbers, so the sums must
# be accurate. Adding a hundred thousand float32 values one after another
# loses digits; converting each value to float64 first is exact but several
# times slower. The middle way: float32 sums over short runs of rows (256
# terms, too few to lose much), then float64 to add up the runs.

# %%
#| export
import numpy as np


def _as_rows(x):
    """(N, C, H, W) -> (N * H * W, C) in channels-last order (free if it is)."""
    xl = _channels_last(x)  # (N, H, W, C)
    return xl.reshape(-1, xl.shape[-1]), xl.shape


_RUN = 256  # rows summed in float32 before the float64 total


def _channel_sums(a, b=None):
    """Per-channel sums of a (m, C), or of a * b, as float64 (C,)."""
    m, C = a.shape
    whole = m - m % _RUN
    operands = [x for x in (a, b) if x is not None]
    spec = "kmc->kc" if b is None else "kmc,kmc->kc"
    runs = [x[:whole].reshape(-1, _RUN, C) for x in operands]  # (k, _RUN, C)
    rest = [x[whole:][None] for x in operands]  # (1, m - whole, C)
    total = np.einsum(spec, *runs).sum(axis=0, dtype=np.float64)  # (C,)
    return total + np.einsum(spec, *rest)[0]


def _sums_in_blocks(*arrays):
    """_channel_sums over blocks of rows on all cores, added up."""
    return sum(split_rows(_channel_sums, *arrays))


def _affine(x, scale, shift, out):
    """out = x * scale + shift, per channel, on rows (m, C)."""
    np.multiply(x, scale, out=out)
    out += shift


class BatchNorm2dFunction(Function):
    @staticmethod
    def forward(
        ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps
    ):
        ### BEGIN SOLUTION
        rows, shape = _as_rows(x)  # (M, C)
        M = rows.shape[0]
        if training:
            mean = _sums_in_blocks(rows) / M  # (C,)
            square = _sums_in_blocks(rows, rows) / M
            var = np.maximum(square - mean * mean, 0.0)  # biased, (C,)
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (M / max(M - 1, 1))
        else:
            mean, var = running_mean, running_var
        inv_std = 1.0 / np.sqrt(var + eps)  # (C,)
        scale = (gamma * inv_std).astype(rows.dtype)  # y = x * scale + shift
        shift = (beta - mean * scale).astype(rows.dtype)
        out = np.empty_like(rows)  # (M, C)
        split_rows(lambda x, o: _affine(x, scale, shift, o), rows, out)
        ctx.save_for_backward(rows, gamma)
        ctx.stats = (mean, inv_std, scale)
        ctx.training, ctx.shape = training, shape
        return _channels_first(out.reshape(shape))  # (N, C, H, W)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_out):
        ### BEGIN SOLUTION
        rows, gamma = ctx.saved_tensors
        mean, inv_std, scale = ctx.stats
        g, _ = _as_rows(grad_out)  # (M, C)
        M = g.shape[0]
        d_beta = _sums_in_blocks(g)  # (C,)
        g_dot_x = _sums_in_blocks(g, rows)
        d_gamma = inv_std * (g_dot_x - mean * d_beta)  # sum(g * x_hat)
        grad = np.empty_like(g)  # (M, C)
        if ctx.training:  # the batch statistics depend on x too
            a = (-scale * inv_std * d_gamma / M).astype(g.dtype)
            b = (-scale * d_beta / M - a * mean).astype(g.dtype)

            def combine(g, x, out):  # out = g * scale + x * a + b
                _affine(g, scale, b, out)
                out += x * a

            split_rows(combine, g, rows, grad)
        else:
            split_rows(lambda g, o: np.multiply(g, scale, out=o), g, grad)
        grad_x = _channels_first(grad.reshape(ctx.shape))
        dtype = gamma.dtype
        return grad_x, d_gamma.astype(dtype), d_beta.astype(dtype), *[None] * 5
        ### END SOLUTION


class BatchNorm2d(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features))  # gamma (C,)
        self.bias = Parameter(np.zeros(num_features))  # beta (C,)
        self.register_buffer("running_mean", np.zeros(num_features, np.float32))
        self.register_buffer("running_var", np.ones(num_features, np.float32))

    def forward(self, x):
        _check_image(x, "BatchNorm2d", self.num_features)
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] < 2:
            raise ValueError(
                f"BatchNorm2d needs more than one value per channel to train; the "
                f"input has shape {x.shape}. Use a larger batch, or call eval()."
            )
        return BatchNorm2dFunction.apply(
            x,
            self.weight,
            self.bias,
            self.running_mean,
            self.running_var,
            self.training,
            self.momentum,
            self.eps,
        )

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


# %% [markdown]
# ## Flatten
#
# The classifier at the end is a `Linear` layer, which wants `(N, features)`.
# `Flatten` reshapes `(N, C, H, W)` to `(N, C * H * W)`, and it must do so with
# the tensor's own `reshape`: going through `x.data` would hand the next layer a
# new tensor with no history, and every layer before it would silently stop
# learning.


# %%
#| export
class Flatten(Module):
    def __init__(self, start_dim=1):
        self.start_dim = start_dim

    def forward(self, x):
        ### BEGIN SOLUTION
        return x.reshape(*x.shape[: self.start_dim], -1)
        ### END SOLUTION


# %% [markdown]
# Checks: batch norm against NumPy by hand in both modes, and a small CNN in
# which every parameter receives a gradient.

# %%
from tinytorch.nn.modules import Linear, ReLU, Sequential

x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * 3 + 1
bn = BatchNorm2d(3)
y = bn(Tensor(x)).data
mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
want = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
assert np.allclose(y, want, atol=1e-4)
assert np.allclose(bn.running_mean, 0.1 * mean, atol=1e-5)
assert np.allclose(bn.running_var, 0.9 + 0.1 * var * 100 / 99, atol=1e-5)
bn.eval()
want = (x - bn.running_mean.reshape(1, 3, 1, 1)) / np.sqrt(
    bn.running_var.reshape(1, 3, 1, 1) + 1e-5
)
assert np.allclose(bn(Tensor(x)).data, want, atol=1e-4)

model = Sequential(
    Conv2d(3, 4, 3, padding=1, bias=False),
    BatchNorm2d(4),
    ReLU(),
    MaxPool2d(2),
    Flatten(),
    Linear(4 * 2 * 2, 10),
)
model(Tensor(x)).sum().backward()
assert all(p.grad is not None and np.abs(p.grad).sum() > 0 for p in model.parameters())
print("batch norm matches NumPy; every parameter of a small CNN has a gradient")

# %% [markdown]
# ## Systems: what the speed-up bought, and what it costs
#
# Time the loop and the columns version on the same batch, count the work, and
# look at the memory the columns matrix takes.
#
# A 3x3 convolution from `C` to `O` channels does `kh * kw * C * O` multiply-adds
# per output pixel, two floating-point operations each. The columns matrix holds
# every input pixel `kh * kw` times (nine times for 3x3): the price of turning
# the convolution into one matrix multiply. For the first layers of a CIFAR
# network at batch 128 that is tens of megabytes per layer, kept until the
# backward pass.

# %%
conv = Conv2d(16, 32, 3, padding=1, bias=False)
conv.weight.data[...] = wb
fast = conv(Tensor(xb)).data  # the first call also starts BLAS's threads
assert np.allclose(fast, ref, atol=1e-3)
runs = []
for _ in range(5):
    start = time.perf_counter()
    conv(Tensor(xb))
    runs.append(time.perf_counter() - start)
fast_seconds = sorted(runs)[2]  # the median: other programs share the machine

N, C, H, W = xb.shape
flops = 2 * N * H * W * 3 * 3 * C * 32
cols_bytes = N * H * W * 3 * 3 * C * 4
print(f"loop:    {loop_seconds * 1e3:8.1f} ms")
print(f"columns: {fast_seconds * 1e3:8.1f} ms  ({loop_seconds / fast_seconds:.0f}x)")
print(f"work: {flops / 1e9:.2f} GFLOP, {flops / fast_seconds / 1e9:.1f} GFLOP/s")
print(f"columns: {cols_bytes / 2**20:.1f} MiB, input: {xb.nbytes / 2**20:.1f} MiB")

# %% [markdown]
# Try it: double the batch, or use a 5x5 kernel. Which grows faster, the time
# or the memory of the columns? At what batch size would the columns of all
# layers of a network no longer fit in your machine's memory?
