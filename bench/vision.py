"""Vision benchmark: tinytorch's Conv2d, MaxPool2d and a CNN training step vs PyTorch.

CIFAR-10 shapes at batch 128, forward and backward, one run, ratios printed
(tinytorch time / PyTorch time). Targets: Conv2d 2x, MaxPool2d 1.5x, the
milestone-04 training step 2.5x. Run against the reference solutions:

    tito dev build /tmp/ref && PYTHONPATH=/tmp/ref python bench/vision.py

Both libraries use as many threads as the machine has cores, or the number in
OPENBLAS_NUM_THREADS (NumPy's BLAS reads it; PyTorch and tinytorch's own
threaded kernels are set to match). On a
busy shared machine, single-threaded runs of both compare more steadily.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from tito.milestone_script import short_blas_spin

short_blas_spin()  # before NumPy loads its BLAS, as the milestones do

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import load_torch, paired, report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BATCH = 128


def load_milestone_model(name="model"):
    path = ROOT / "milestones" / "04_1998_cnn" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"milestone04_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def channels_last(a):
    """The same (N, C, H, W) values in channels-last memory, as layers pass them."""
    return a.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)


def conv_case(c_in, c_out, size, input_grad=True):
    import tinytorch.nn as nn
    from tinytorch import Tensor

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, c_in, size, size)).astype(np.float32)
    g = rng.standard_normal((BATCH, c_out, size, size)).astype(np.float32)
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    xt = Tensor(channels_last(x), input_grad)
    gt = channels_last(g)  # the gradient a batch norm hands back

    def ours():
        xt.grad = conv.weight.grad = None
        conv(xt).backward(gt)

    return ours, x, g, conv.weight.data


def torch_conv(torch, x, g, w, input_grad=True):
    xt = torch.from_numpy(x).to(memory_format=torch.channels_last)
    xt.requires_grad_(input_grad)
    gt = torch.from_numpy(g).to(memory_format=torch.channels_last)
    wt = torch.from_numpy(w.copy()).requires_grad_()

    def theirs():
        xt.grad = wt.grad = None
        torch.nn.functional.conv2d(xt, wt, padding=1).backward(gt)

    return theirs


def pool_case(channels, size):
    import tinytorch.nn as nn
    from tinytorch import Tensor

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, channels, size, size)).astype(np.float32)
    g = rng.standard_normal((BATCH, channels, size // 2, size // 2))
    g = g.astype(np.float32)
    xt = Tensor(channels_last(x), True)  # what a convolution hands the pool
    gt = channels_last(g)
    pool = nn.MaxPool2d(2)

    def ours():
        xt.grad = None
        pool(xt).backward(gt)

    return ours, x, g


def torch_pool(torch, x, g):
    xt = torch.from_numpy(x).to(memory_format=torch.channels_last).requires_grad_()
    gt = torch.from_numpy(g).to(memory_format=torch.channels_last)

    def theirs():
        xt.grad = None
        torch.nn.functional.max_pool2d(xt, 2).backward(gt)

    return theirs


def step_case(arch):
    import tinytorch.nn as nn
    import tinytorch.optim as optim
    from tinytorch import Tensor

    model = load_milestone_model().build_model(arch)
    opt = optim.SGD(
        model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)

    def ours():
        loss = loss_fn(model(Tensor(x)), Tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return ours, x, y


def torch_step(torch, arch, x, y):
    sys.path.insert(0, str(ROOT / "bench"))
    from cnn_twin import build

    model = build(torch, arch).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(
        model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    xt = torch.from_numpy(x).to(memory_format=torch.channels_last)
    yt = torch.from_numpy(y)

    def theirs():
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return theirs


def main() -> None:
    from tito.milestone_script import keep_freed_memory

    keep_freed_memory()  # as the milestones do
    torch = load_torch()
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))
    os.environ["TINYTORCH_NUM_THREADS"] = str(threads)  # tinytorch's own kernels
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"threads: {threads}")
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    convs = [(3, 24, 32), (24, 48, 16), (48, 48, 8), (48, 96, 8), (96, 96, 4)]
    for c_in, c_out, size in convs:
        first = c_in == 3  # the image needs no gradient
        ours, x, g, w = conv_case(c_in, c_out, size, not first)
        theirs = torch_conv(torch, x, g, w, not first) if torch else None
        name = f"Conv2d {c_in}->{c_out} 3x3 pad 1 on {size}x{size}"
        rows.append((name, *paired(ours, theirs, 30, rounds=6), 2.0))
    for channels, size in [(24, 32), (48, 16), (96, 8)]:
        ours, x, g = pool_case(channels, size)
        theirs = torch_pool(torch, x, g) if torch else None
        name = f"MaxPool2d 2x2 on {channels}x{size}x{size}"
        rows.append((name, *paired(ours, theirs, 60, rounds=6), 1.5))
    arch = load_milestone_model().ARCH
    ours, x, y = step_case(arch)
    theirs = torch_step(torch, arch, x, y) if torch else None
    rows.append((f"training step {arch}", *paired(ours, theirs, 7), 2.5))
    report(f"vision, batch {BATCH}, forward + backward", rows)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
