"""The milestone-04 network: a small residual CNN built from the learner's layers.

The architecture is written as a short spec, the same one bench/cnn_twin.py reads
to build its PyTorch twin: `cN` is a 3x3 convolution to N channels followed by
batch norm and ReLU, `p` a 2x2 max pool, `rN` a residual block of two such
convolutions whose output is added to its input. A global max pool and a linear
layer make the ten class scores.
"""

import tinytorch.nn as nn

ARCH = "c24,p,c48,p,r48,c96,p,r96"


def conv_bn_relu(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU()]


class Residual(nn.Module):
    def __init__(self, channels):
        self.body = nn.Sequential(
            *conv_bn_relu(channels, channels), *conv_bn_relu(channels, channels)
        )

    def forward(self, x):
        return x + self.body(x)  # (N, C, H, W)


def build_model(arch=ARCH, image_size=32, classes=10):
    layers, channels, size = [], 3, image_size
    for token in arch.split(","):
        if token == "p":
            layers.append(nn.MaxPool2d(2))
            size //= 2
        elif token[0] == "c":
            layers += conv_bn_relu(channels, int(token[1:]))
            channels = int(token[1:])
        elif token[0] == "r":
            layers.append(Residual(channels))
        else:
            raise ValueError(f"unknown layer '{token}' in the architecture '{arch}'")
    layers += [nn.MaxPool2d(size), nn.Flatten(), nn.Linear(channels, classes, bias=False)]
    return nn.Sequential(*layers)


def multiply_adds(arch=ARCH, image_size=32):
    """Multiply-adds of the convolutions in one forward pass of one image."""
    total, channels, pixels = 0, 3, image_size * image_size
    for token in arch.split(","):
        if token == "p":
            pixels //= 4
        elif token[0] == "c":
            total += channels * int(token[1:]) * 9 * pixels
            channels = int(token[1:])
        elif token[0] == "r":
            total += 2 * channels * channels * 9 * pixels
    return total
