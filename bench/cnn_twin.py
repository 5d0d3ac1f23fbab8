"""A PyTorch twin of the milestone-04 CNN, for choosing its size and recipe.

Not part of the product: it exists to find, quickly and with a fast library, a
small residual CNN and training recipe whose compute fits the milestone's time
budget on this machine, before the same network is built in tinytorch. It reads
the CIFAR-10 pickles directly and prints test accuracy and minutes per epoch.

    python bench/cnn_twin.py --arch c24,p,c48,p,r48,c96,p,r96 --epochs 8
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/data/cifar-10-batches-py")
MEAN = np.array([125.3, 123.0, 113.9], np.float32).reshape(1, 3, 1, 1)
STD = np.array([63.0, 62.1, 66.7], np.float32).reshape(1, 3, 1, 1)


def load(folder: Path):
    def batch(name):
        with open(folder / name, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        return d["data"].reshape(-1, 3, 32, 32), np.array(d["labels"])

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = batch("test_batch")
    return train_x, train_y, test_x, test_y


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random crop with 4 pixels of zero padding, then a random horizontal flip."""
    n = len(x)
    padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))  # (N, 3, 40, 40)
    dy, dx = rng.integers(0, 9, n), rng.integers(0, 9, n)
    rows = dy[:, None] + np.arange(32)  # (N, 32)
    cols = dx[:, None] + np.arange(32)
    out = padded[
        np.arange(n)[:, None, None, None],
        np.arange(3)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, :, ::-1]
    return out


def build(torch, arch: str):
    """A network from a short spec: `cN` conv-BN-ReLU to N channels, `p` 2x2 max
    pool, `rN` residual block of two such convs; then a global max pool and a
    linear classifier."""
    nn = torch.nn

    def conv(cin, cout):
        return [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        ]

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*conv(c, c), *conv(c, c))

        def forward(self, x):
            return x + self.body(x)

    layers, c = [], 3
    for tok in arch.split(","):
        if tok == "p":
            layers.append(nn.MaxPool2d(2))
        elif tok[0] == "c":
            layers += conv(c, int(tok[1:]))
            c = int(tok[1:])
        elif tok[0] == "r":
            layers.append(Residual(c))
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, 10, bias=False)]
    return nn.Sequential(*layers)


def macs(arch: str) -> int:
    """Multiply-adds of one forward pass per image (convolutions only)."""
    total, c, hw = 0, 3, 32 * 32
    for tok in arch.split(","):
        if tok == "p":
            hw //= 4
        elif tok[0] == "c":
            total += c * int(tok[1:]) * 9 * hw
            c = int(tok[1:])
        elif tok[0] == "r":
            total += 2 * c * c * 9 * hw
    return total


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="c16,c32,p,r32,c64,p,c128,p,r128")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--smoothing", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--limit", type=int, default=0, help="train steps per epoch (timing)"
    )
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_x, train_y, test_x, test_y = load(DATA)
    model = build(torch, args.arch).to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    steps = len(train_x) // args.batch_size
    if args.limit:
        steps = min(steps, args.limit)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
        weight_decay=args.wd,
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=args.lr,
        total_steps=args.epochs * steps,
        pct_start=0.25,
        anneal_strategy="linear",
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.smoothing)
    test_in = torch.from_numpy((test_x.astype(np.float32) - MEAN) / STD)
    print(
        f"arch {args.arch}  params {n_params}  MMACs {macs(args.arch) / 1e6:.1f}  "
        f"steps/epoch {steps}",
        flush=True,
    )
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(train_x))
        seen = correct = 0
        t0 = time.perf_counter()
        for i in range(steps):
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            xb = (augment(train_x[idx], rng).astype(np.float32) - MEAN) / STD
            xb = torch.from_numpy(xb).to(memory_format=torch.channels_last)
            yb = torch.from_numpy(train_y[idx])
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            seen += len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
        train_s = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            pred = torch.cat(
                [
                    model(test_in[i : i + 1000]).argmax(1)
                    for i in range(0, len(test_in), 1000)
                ]
            )
        acc = (pred.numpy() == test_y).mean()
        print(
            f"epoch {epoch + 1}: train acc {correct / seen:.3f}  test acc {acc:.4f}  "
            f"train {train_s:.0f}s ({seen / train_s:.0f} img/s)  "
            f"elapsed {(time.perf_counter() - start) / 60:.1f} min",
            flush=True,
        )


if __name__ == "__main__":
    main()
