"""Milestone 04 (1998): a CNN trained on CIFAR-10 with your own tinytorch.

Trains the small residual CNN of model.py, built from your Conv2d, BatchNorm2d,
MaxPool2d, DataLoader and augmentation (random crop and flip), with SGD and
Nesterov momentum on a one-cycle schedule. Reports per epoch the training loss
and accuracy, the test accuracy, images per second and time left; ends with a
per-class accuracy table, and writes results.json (and training_curve.png when
matplotlib is installed) in WS/milestones/04_cnn/.

    tito milestone run 04                        # the full run (about 20 min)
    tito milestone run 04 --quick                # a small subset, two short epochs
    tito milestone run 04 --dataset shapes       # a small generated set, offline
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SLUG = "04_cnn"
# per-channel mean and std of the CIFAR-10 training images, in pixel units
MEAN, STD = (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)
EVAL_BATCH = 500
# --quick: a first look in about a minute; a short one-cycle needs a lower peak.
QUICK_TRAIN, QUICK_EPOCHS, QUICK_LR = 5120, 2, 0.05


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Train a CNN on CIFAR-10 with your tinytorch."
    )
    ap.add_argument("--workspace", help="learner workspace (default $TITO_WORKSPACE)")
    ap.add_argument(
        "--data-dir", help="cifar-10-batches-py/, its parent or the .tar.gz"
    )
    ap.add_argument("--dataset", choices=["cifar10", "shapes"], default="cifar10")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument(
        "--lr", type=float, help="peak learning rate (default 0.2; 0.05 with --quick)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--quick", action="store_true", help="a small subset, two short epochs"
    )
    ap.add_argument("--arch", help="network spec (see model.py); default: model.ARCH")
    ap.add_argument("--threads", type=int, help="BLAS threads (default: NumPy's)")
    args = ap.parse_args(argv)
    if args.lr is None:
        args.lr = QUICK_LR if args.quick else 0.2
    return args


def main(argv=None) -> int:
    from tito.milestone_script import (
        fail,
        keep_freed_memory,
        open_workspace,
        use_threads,
    )

    args = parse_args(argv)
    args.threads = use_threads(args.threads)
    ws = open_workspace(args.workspace, __file__)
    if args.epochs < 1 or args.batch_size < 1:
        return fail(
            "--epochs and --batch-size must be at least 1.", "Pass a positive number."
        )
    from tito.errors import TitoError

    keep_freed_memory()
    try:
        return train(args, ws / "milestones" / SLUG)
    except TitoError as e:
        return fail(e.what, e.todo)
    except ImportError as e:
        if "tinytorch" not in str(e) and "module" not in str(e):
            raise
        return fail(str(e), "Export and test modules 08 and 09: `tito module test 09`.")


# -- data -----------------------------------------------------------------------


def load_data(args):
    """Train and test images (uint8) and labels; a subset for --quick."""
    from tito.datasets import load_cifar10, load_shapes

    if args.dataset == "shapes":
        d = load_shapes(n_train=5000, n_test=1000, seed=args.seed)
    else:
        d = load_cifar10(args.data_dir)
    train_x, train_y, test_x, test_y = d.train_x, d.train_y, d.test_x, d.test_y
    if args.quick:
        train_x, train_y = train_x[:QUICK_TRAIN], train_y[:QUICK_TRAIN]
        test_x, test_y = test_x[:1000], test_y[:1000]
    return train_x, train_y, test_x, test_y, list(d.classes)


def make_loader(train_x, train_y, args):
    from tinytorch.data import (
        Compose,
        DataLoader,
        Normalize,
        RandomCrop,
        RandomHorizontalFlip,
        TensorDataset,
    )

    augment = Compose(
        [
            RandomCrop(32, padding=4, seed=args.seed + 1),
            RandomHorizontalFlip(seed=args.seed + 2),
            Normalize(MEAN, STD),
        ]
    )
    return DataLoader(
        TensorDataset(train_x, train_y),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        seed=args.seed,
        transform=augment,
    )


# -- training -----------------------------------------------------------------


def train(args, out_dir: Path) -> int:
    import tinytorch.nn as nn
    import tinytorch.optim as optim
    from model import ARCH, build_model, multiply_adds
    from tinytorch import Tensor
    from tinytorch.training import seed_everything

    from tito.milestone_script import Clock
    from tito.ui import training_progress

    clock = Clock()
    seed_everything(args.seed)
    epochs = QUICK_EPOCHS if args.quick else args.epochs
    arch = args.arch or ARCH

    train_x, train_y, test_x, test_y, classes = load_data(args)
    loader = make_loader(train_x, train_y, args)
    model = build_model(arch, classes=len(classes))
    steps = epochs * len(loader)
    opt = optim.SGD(
        model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    schedule = optim.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.25)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    n_params = sum(p.data.size for p in model.parameters())
    print(
        f"{args.dataset}: {len(train_x):,} training and {len(test_x):,} test images, "
        f"{len(classes)} classes"
    )
    print(
        f"CNN {arch}: {n_params:,} parameters, "
        f"{multiply_adds(arch) / 1e6:.1f}M multiply-adds per image; "
        f"{epochs} epochs of {len(loader)} batches of {args.batch_size}"
    )

    history, train_seconds, images_seen = [], 0.0, 0
    with training_progress() as bar:
        task = bar.add_task("training", total=steps, speed="", stats="")
        for epoch in range(1, epochs + 1):
            model.train()
            loss_sum = correct = seen = 0
            tick = time.perf_counter()
            for images, labels in loader:
                logits = model(Tensor(images))  # (B, classes)
                loss = loss_fn(logits, Tensor(labels))
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
                loss_sum += loss.item() * len(labels)
                correct += int((logits.data.argmax(axis=1) == labels).sum())
                seen += len(labels)
                speed = (images_seen + seen) / (
                    train_seconds + time.perf_counter() - tick
                )
                bar.update(
                    task,
                    advance=1,
                    speed=f"{speed:,.0f} img/s",
                    stats=f"loss {loss_sum / seen:.3f}",
                )
            train_seconds += time.perf_counter() - tick
            images_seen += seen
            test_acc, plain_acc, per_class = evaluate(model, test_x, test_y, classes)
            point = {
                "epoch": epoch,
                "train_loss": round(loss_sum / seen, 4),
                "train_accuracy": round(correct / seen, 4),
                "test_accuracy": round(test_acc, 4),
                "test_accuracy_unflipped": round(plain_acc, 4),
                "images_per_second": round(images_seen / train_seconds, 1),
                "minutes": round(clock.elapsed()["seconds"] / 60, 2),
                "load": round(os.getloadavg()[0], 2),
            }
            history.append(point)
            bar.console.print(
                f"epoch {epoch:2d}/{epochs}  loss {point['train_loss']:.3f}  "
                f"train {point['train_accuracy']:.3f}  test {test_acc:.4f}  "
                f"{point['images_per_second']:,.0f} img/s  {point['minutes']:.1f} min"
            )

    seconds = clock.elapsed()["seconds"]
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "milestone": SLUG,
        "metric": "test_accuracy",
        "value": round(test_acc, 4),
        "test_accuracy_unflipped": round(plain_acc, 4),
        "quick": bool(args.quick),
        "seconds": round(seconds, 1),
        "epochs": epochs,
        "dataset": args.dataset,
        "arch": arch,
        "parameters": n_params,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "blas_threads": args.threads or "numpy default",
        "images_per_second": round(images_seen / train_seconds, 1),
        "per_class_accuracy": dict(
            zip(classes, (round(a, 4) for a in per_class), strict=True)
        ),
        "history": history,
        "load_average": clock.load_average(),
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    picture = plot_curves(history, out_dir / "training_curve.png")

    show_classes(classes, per_class)
    print(
        f"\ntest accuracy {test_acc:.2%} on {len(test_x):,} images after {epochs} "
        f"epochs ({plain_acc:.2%} without averaging over mirror images); "
        f"{seconds / 60:.1f} minutes, "
        f"{images_seen / train_seconds:,.0f} images/s while training"
    )
    print(
        f"results in {out_dir / 'results.json'}"
        + (f" and {picture}" if picture else "")
    )
    return 0


def evaluate(model, images, labels, classes):
    """Test accuracy, averaging the scores of each image and its mirror image.

    Returns that accuracy, the accuracy on the images alone, and the first per
    class. Eval mode (running batch-norm statistics), no graph kept.
    """
    import numpy as np
    from tinytorch import Tensor, no_grad
    from tinytorch.data import Normalize

    normalize = Normalize(MEAN, STD)
    model.eval()
    both = np.empty(len(labels), dtype=np.int64)
    alone = np.empty(len(labels), dtype=np.int64)
    with no_grad():
        for start in range(0, len(labels), EVAL_BATCH):
            batch = normalize(images[start : start + EVAL_BATCH])  # (B, C, H, W)
            logits = model(Tensor(batch)).data  # (B, classes)
            mirrored = model(Tensor(batch[..., ::-1])).data
            alone[start : start + EVAL_BATCH] = logits.argmax(axis=1)
            both[start : start + EVAL_BATCH] = (logits + mirrored).argmax(axis=1)
    model.train()
    right = both == labels
    per_class = [
        float(right[labels == k].mean()) if (labels == k).any() else 0.0
        for k in range(len(classes))
    ]
    return float(right.mean()), float((alone == labels).mean()), per_class


def show_classes(classes, per_class) -> None:
    from tito import ui

    rows = [[name, f"{acc:.1%}"] for name, acc in zip(classes, per_class, strict=True)]
    ui.table("test accuracy per class", ["class", "accuracy"], rows)


def plot_curves(history, path: Path):
    """Loss and accuracy per epoch as a PNG, if matplotlib is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss")
    right.plot(
        epochs, [h["train_accuracy"] for h in history], marker="o", label="train"
    )
    right.plot(epochs, [h["test_accuracy"] for h in history], marker="o", label="test")
    right.set(xlabel="epoch", ylabel="accuracy")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
