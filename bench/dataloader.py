"""Benchmark: tinytorch's DataLoader with CIFAR-10 augmentation against PyTorch's.

One epoch of the real CIFAR-10 training set (50,000 uint8 images) in batches of
128, through the milestone's recipe: random crop with 4 pixels of padding, random
horizontal flip, conversion to float32 and per-channel normalisation. Prints
images per second and seconds per epoch for tinytorch (the reference solutions,
or a learner's package with --workspace) and, when it is installed, for
torch.utils.data.DataLoader over a TensorDataset with the same tensor operations
(one thread, as NumPy's elementwise operations use): once with its default
per-sample collation, once fetching whole batches.

    python bench/dataloader.py [--data-dir DIR] [--epochs 3] [--workspace WS]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import load_torch, median_seconds, report

SHARED = Path(__file__).resolve().parents[2] / "shared/data/cifar-10-batches-py"
BATCH = 128
PAD = 4


def main() -> None:
    args = parse_args()
    data = import_tinytorch_data(args.workspace)
    x, y = load_train(args.data_dir)
    mean = x.mean(axis=(0, 2, 3)) / 255  # (C,)
    std = x.std(axis=(0, 2, 3)) / 255  # (C,)
    print(f"CIFAR-10 training set: {x.shape} {x.dtype}, {x.nbytes / 1e6:.0f} MB")

    ours = tinytorch_epoch(data, x, y, mean, std, args.seed)
    rows = [("tinytorch DataLoader + augmentation", *epoch_seconds(ours, args.epochs))]

    torch = load_torch()
    if torch is not None:
        torch.set_num_threads(1)  # like NumPy's elementwise ops; the machine is shared
        torch.manual_seed(args.seed)
        for name, (epoch, slow) in torch_epochs(torch, x, y, mean, std).items():
            rows.append((name, *epoch_seconds(epoch, 1 if slow else args.epochs)))

    print(f"\none epoch, batch {BATCH}, best of {args.epochs} (per-sample: one)")
    print(f"{'loader':<40} {'wall s':>7} {'cpu s':>7} {'images/s':>10}")
    for name, wall, cpu in rows:
        print(f"{name:<40} {wall:>7.2f} {cpu:>7.2f} {len(x) / wall:>10,.0f}")
    if torch is None:
        print("(PyTorch is not installed: no comparison)")
    else:
        ours_s = rows[0][1]
        report(
            "epoch wall time, tinytorch / PyTorch (lower is better)",
            [(name, ours_s, wall, 1.0) for name, wall, _ in rows[1:]],
        )
    per_batch_costs(data, x, mean, std, args.seed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="CIFAR-10 folder or archive (default: ../shared/data "
        "beside the checkout, else the data cache)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="a learner workspace whose tinytorch to time "
        "(default: the reference solutions)",
    )
    return parser.parse_args()


def import_tinytorch_data(workspace: Path | None):
    """tinytorch.data from a workspace, or from the reference solutions."""
    if workspace is None:
        from tito.course import load_course
        from tito.export import export_reference

        workspace = Path(tempfile.mkdtemp(prefix="bench-dataloader-"))
        export_reference(load_course(), workspace)
    sys.path.insert(0, str(workspace))
    import tinytorch.data

    return tinytorch.data


def load_train(data_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    from tito.datasets import load_cifar10

    if data_dir is None and SHARED.is_dir():
        data_dir = SHARED
    cifar = load_cifar10(data_dir)
    return cifar.train_x, cifar.train_y


def epoch_seconds(epoch, epochs: int) -> tuple[float, float]:
    """(wall, cpu) seconds of the fastest of `epochs` calls of `epoch()`.

    CPU time is this process's own, so it shows the cost of the work even when
    other programs share the cores and stretch the wall time.
    """
    runs = []
    for _ in range(epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        epoch()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


def tinytorch_epoch(data, x, y, mean, std, seed: int):
    rng = np.random.default_rng(seed)
    recipe = data.Compose(
        [
            data.RandomCrop(32, padding=PAD, seed=rng),
            data.RandomHorizontalFlip(0.5, seed=rng),
            data.ToFloat(),
            data.Normalize(mean, std),
        ]
    )
    loader = data.DataLoader(
        data.TensorDataset(x, y), BATCH, shuffle=True, seed=rng, transform=recipe
    )

    def epoch():
        for xb, yb in loader:
            assert xb.dtype == np.float32 and yb.dtype == np.int64

    return epoch


def torch_epochs(torch, x, y, mean, std) -> dict:
    """One-epoch functions for PyTorch's DataLoader, per-sample and batched."""
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    augment = torch_augment(torch, mean, std)

    per_sample = DataLoader(dataset, batch_size=BATCH, shuffle=True)
    batched = DataLoader(
        dataset,
        sampler=BatchSampler(RandomSampler(dataset), BATCH, drop_last=False),
        batch_size=None,
    )

    def run(loader):
        def epoch():
            for xb, _ in loader:
                augment(xb)

        return epoch

    return {  # name: (one epoch, slow enough to time once)
        "torch DataLoader, per-sample collate": (run(per_sample), True),
        "torch DataLoader, whole-batch indexing": (run(batched), False),
    }


def torch_augment(torch, mean, std):
    """The recipe in PyTorch tensor ops: (N, 3, 32, 32) uint8 -> float32."""
    mean_t = torch.from_numpy(mean.astype(np.float32)).view(1, 3, 1, 1)
    std_t = torch.from_numpy(std.astype(np.float32)).view(1, 3, 1, 1)

    def augment(xb):
        n = len(xb)
        padded = torch.nn.functional.pad(xb, (PAD, PAD, PAD, PAD))  # (N, 3, 40, 40)
        windows = padded.unfold(2, 32, 1).unfold(3, 32, 1)  # (N, 3, 9, 9, 32, 32)
        top = torch.randint(0, 2 * PAD + 1, (n,))
        left = torch.randint(0, 2 * PAD + 1, (n,))
        out = windows[torch.arange(n), :, top, left]  # (N, 3, 32, 32)
        flip = torch.nonzero(torch.rand(n) < 0.5).flatten()
        out[flip] = out[flip].flip(3)
        return (out.float() / 255 - mean_t) / std_t

    return augment


def per_batch_costs(data, x, mean, std, seed: int) -> None:
    """Where one batch's time goes in tinytorch (median of repeated calls)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))[:BATCH]
    xb = x[idx]
    xf = data.ToFloat()(xb)
    steps = {
        "fetch (fancy indexing)": lambda: x[idx],
        "RandomCrop(32, padding=4)": lambda: data.RandomCrop(32, PAD, seed=rng)(xb),
        "RandomHorizontalFlip()": lambda: data.RandomHorizontalFlip(seed=rng)(xb),
        "ToFloat()": lambda: data.ToFloat()(xb),
        "Normalize(mean, std)": lambda: data.Normalize(mean, std)(xf),
    }
    print(f"\nper batch of {BATCH} (median)")
    for name, fn in steps.items():
        print(f"{name:<44} {median_seconds(fn, repeat=50) * 1e6:>8.0f} us")
    total = statistics.fsum(median_seconds(fn, repeat=50) for fn in steps.values())
    batches = -(-len(x) // BATCH)
    print(f"{'sum, times ' + str(batches) + ' batches':<44} {total * batches:>8.2f} s")


if __name__ == "__main__":
    main()
