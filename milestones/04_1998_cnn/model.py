"""The milestone-04 network: a small residual CNN built from the learner's layers.

The architecture is written as a short spec, the same one bench/cnn_twin.py reads
to build its PyTorch twin: `cN` is a 3x3 convolution to N channels followed by
batch norm and ReLU, `p` a 2x2 max pool, `rN` a residual block of two such
convolutions whose output is added to its input. A global max pool and a linear
layer make the ten class scores.
"""

import math

import numpy as np
import tinytorch.nn as nn

ARCH = "c24,p,c48,p,r48,c96,p,r96"


def conv_bn_relu(c_in, c_out):
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


class Residual(nn.Module):
    def __init__(self, channels):
        self.body = nn.Sequential(
            *conv_bn_relu(channels, channels), *conv_bn_relu(channels, channels)
        )

    def forward(self, x):
        return x + self.body(x)  # (N, C, H, W)


def parse_arch(arch=ARCH, image_size=32):
    """The spec as a list of tokens: ("c", N), ("p",) or ("r", N).

    A ValueError names the first token that is not cN, p or rN (N from 1 to
    4096: wider layers would not fit in memory), a
    residual block whose N is not the width before it (it adds its input to its
    output), or the pool that would shrink the image below one pixel.
    """
    layers, channels, size = [], 3, image_size
    for token in arch.split(","):
        kind, number = token[:1], token[1:]
        if token == "p":
            size //= 2
            if size < 1:
                raise ValueError(
                    f"'{arch}' pools a {image_size}-pixel image to nothing"
                )
            layers.append(("p",))
        elif kind in ("c", "r") and number.isdigit() and 1 <= int(number) <= 4096:
            if kind == "r" and int(number) != channels:
                raise ValueError(
                    f"'{token}' in '{arch}' follows {channels} channels; a residual "
                    f"block keeps its width (r{channels})"
                )
            channels = int(number)
            layers.append((kind, channels))
        else:
            raise ValueError(f"unknown layer '{token}' in the architecture '{arch}'")
    return layers


def build_model(arch=ARCH, image_size=32, classes=10):
    layers, channels, size = [], 3, image_size
    for token in parse_arch(arch, image_size):
        if token[0] == "p":
            layers.append(nn.MaxPool2d(2))
            size //= 2
        elif token[0] == "c":
            layers += conv_bn_relu(channels, token[1])
            channels = token[1]
        else:
            layers.append(Residual(channels))
    layers += [
        nn.MaxPool2d(size),
        nn.Flatten(),
        nn.Linear(channels, classes, bias=False),
    ]
    model = nn.Sequential(*layers)
    small_init(model)
    return model


def small_init(model):
    """Weights uniform in +-1/sqrt(fan_in), PyTorch's default scale, as in the twin.

    Batch norm makes a convolution's output independent of its weights' scale,
    but not its learning: larger weights learn more slowly. And a classifier
    that starts small starts with a loss near log(10), not a blow-up.
    """
    for p in model.parameters():
        if p.data.ndim >= 2:
            bound = 1 / math.sqrt(p.data[0].size)  # fan_in: all but the first axis
            p.data[...] = np.random.uniform(-bound, bound, p.data.shape)


def multiply_adds(arch=ARCH, image_size=32):
    """Multiply-adds of the convolutions in one forward pass of one image."""
    total, channels, pixels = 0, 3, image_size * image_size
    for token in parse_arch(arch, image_size):
        if token[0] == "p":
            pixels //= 4
        elif token[0] == "c":
            total += channels * token[1] * 9 * pixels
            channels = token[1]
        else:
            total += 2 * channels * channels * 9 * pixels
    return total
