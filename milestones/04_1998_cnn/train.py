"""Milestone 04 (1998): a CNN trained on CIFAR-10 with your own tinytorch.

Trains the small residual CNN of model.py, built from your Conv2d, BatchNorm2d,
MaxPool2d, DataLoader and augmentation (random crop and flip), with SGD and
Nesterov momentum on a one-cycle schedule. Reports per epoch the training loss
and accuracy, the test accuracy, images per second and time left; ends with a
per-class accuracy table, and writes results.json (and training_curve.png when
matplotlib is installed) in WS/milestones/04_cnn/.

    tito milestone run 04                        # the full run (6-8 min on 2 cores)
    tito milestone run 04 --quick                # a small subset, two short epochs
    tito milestone run 04 --dataset shapes       # a small generated set, offline
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

SLUG = "04_cnn"
# per-channel mean and std of the CIFAR-10 training images, in pixel units
MEAN, STD = (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)
EVAL_BATCH = 500
# --quick: a first look in about a minute; a short one-cycle needs a lower peak.
QUICK_TRAIN, QUICK_EPOCHS, QUICK_LR = 5120, 2, 0.05


def parse_args(argv=None) -> argparse.Namespace:
    from tito.milestone_script import (
        ArgumentParser,
        add_parallel_options,
        add_place_options,
        positive_float,
        positive_int,
        seed,
        up_to,
    )

    ap = ArgumentParser(description="Train a CNN on CIFAR-10 with your tinytorch.")
    add_place_options(ap, data_help="cifar-10-batches-py/, its parent or the .tar.gz")
    ap.add_argument("--dataset", choices=["cifar10", "shapes"], default="cifar10")
    ap.add_argument(
        "--epochs", type=up_to(1000), help=f"default 8; {QUICK_EPOCHS} with --quick"
    )
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument(
        "--lr",
        type=positive_float,
        help=f"peak learning rate (default 0.2; {QUICK_LR} with --quick)",
    )
    ap.add_argument("--seed", type=seed, default=0)
    ap.add_argument(
        "--quick", action="store_true", help="a small subset, two short epochs"
    )
    ap.add_argument("--arch", help="network spec (see model.py); default: model.ARCH")
    add_parallel_options(ap)
    args = ap.parse_args(argv)
    if args.lr is None:
        args.lr = QUICK_LR if args.quick else 0.2
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick else 8
    return args


def main(argv=None) -> int:
    from tito.errors import TitoError
    from tito.milestone_script import (
        alone,
        check_threads,
        check_workers,
        fail,
        keep_freed_memory,
        open_workspace,
        unfinished,
        use_threads,
    )

    args = parse_args(argv)
    if args.dataset == "shapes" and args.data_dir:
        return fail(
            "--data-dir is for cifar10; the shapes set is generated, not read.",
            "Drop --data-dir, or drop --dataset shapes to train on CIFAR-10 from it.",
        )
    try:
        check_threads(args.threads)
        args.workers = check_workers(args.workers, args.batch_size)
    except TitoError as e:
        return fail(e.what, e.todo)
    if args.workers > 1 and args.threads is None:
        args.threads = 1  # one process per core already uses every core
    args.threads = use_threads(args.threads)
    try:
        ws = open_workspace(args.workspace, __file__)
    except TitoError as e:
        return fail(e.what, e.todo)

    keep_freed_memory()
    out_dir = ws / "milestones" / SLUG
    try:
        with alone(out_dir):
            return train(args, out_dir)
    except TitoError as e:
        return fail(e.what, e.todo)
    except NotImplementedError as e:
        return unfinished(e, "09")
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
    from tinytorch.training import seed_everything

    from tito.data_parallel import Team
    from tito.errors import TitoError
    from tito.milestone_script import Clock, keep_previous, saving

    clock = Clock()
    seed_everything(args.seed)
    epochs = args.epochs
    arch = ARCH if args.arch is None else args.arch
    try:
        multiply_adds(arch)
    except ValueError as e:
        raise TitoError(
            f"--arch: {e}.", f"Pass --arch as cN, p and rN joined by commas ({ARCH})."
        ) from None

    train_x, train_y, test_x, test_y, classes = load_data(args)
    if args.batch_size > len(train_x):
        raise TitoError(
            f"--batch-size {args.batch_size} is more than the {len(train_x):,} "
            "training images: not one batch to train on.",
            f"Pass a --batch-size of {len(train_x):,} or less (128 by default).",
        )
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
        f"{epochs} epoch{'s' if epochs > 1 else ''} of {len(loader)} batches of "
        f"{args.batch_size}"
        + (f" on {args.workers} processes" if args.workers > 1 else "")
    )

    # the team adds up the gradients, two statistics, and per-class counts
    team = Team(args.workers, max(n_params + 2, 3 * len(classes)))
    work = (model, opt, schedule, loss_fn, loader, (test_x, test_y), classes)
    history, rates = team.run(fit, *work, epochs, clock)
    last = history[-1]
    test_acc, plain_acc = last["test_accuracy"], last["test_accuracy_unflipped"]
    per_class = last.pop("per_class")

    seconds = clock.elapsed()["seconds"]
    show_classes(classes, per_class)
    print(
        f"\ntest accuracy {test_acc:.2%} on {len(test_x):,} images after {epochs} "
        f"epoch{'s' if epochs > 1 else ''} ({plain_acc:.2%} without averaging over "
        "mirror images); "
        f"{seconds / 60:.1f} minutes, {rates:,.0f} images/s while training"
    )
    results = {
        "milestone": SLUG,
        "metric": "test_accuracy",
        "value": test_acc,
        "test_accuracy_unflipped": plain_acc,
        "quick": bool(args.quick),
        "seconds": round(seconds, 1),
        "epochs": epochs,
        "dataset": args.dataset,
        "arch": arch,
        "parameters": n_params,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "workers": args.workers,
        "blas_threads": args.threads or "numpy default",
        "images_per_second": rates,
        "per_class_accuracy": dict(
            zip(classes, (round(a, 4) for a in per_class), strict=True)
        ),
        "history": history,
        "load_average": clock.load_average(),
    }
    with saving(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        kept = keep_previous(out_dir, ["results.json", "training_curve.png"])
        (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        picture = plot_curves(history, out_dir / "training_curve.png")
    print(
        f"results in {out_dir / 'results.json'}"
        + (f" and {picture}" if picture else "")
        + (f"; the previous run's in {kept}" if kept else "")
    )
    return 0


def fit(team, model, opt, schedule, loss_fn, loader, test, classes, epochs, clock):
    """One rank's training: every rank draws the same augmented batch and
    trains on its own rows of it; the gradients are added up before each step.

    Returns (on every rank) the per-epoch history, the last entry also holding
    the per-class test accuracy, and the training images per second.
    """
    from tinytorch import Tensor

    from tito.milestone_script import diverged, quiet_overflow
    from tito.ui import training_progress

    buffers = [b for _, b in model.named_buffers()]  # batch-norm running statistics
    params = model.parameters()
    history, train_seconds, images_seen = [], 0.0, 0
    bar = training_progress() if team.is_main else None
    with bar or nullcontext():
        total = epochs * len(loader)
        task = bar.add_task("training", total=total, speed="", stats="") if bar else 0
        for epoch in range(1, epochs + 1):
            model.train()
            loss_sum = correct = seen = 0
            tick = time.perf_counter()
            for images, labels in loader:
                rows = team.shard(len(labels))
                x, y = images[rows], labels[rows]  # (b, C, H, W), (b,)
                with quiet_overflow():  # divergence is caught below, by the loss
                    logits = model(Tensor(x))  # (b, classes)
                    loss = loss_fn(logits, Tensor(y))
                    opt.zero_grad()
                    loss.backward()
                stats = (loss.item() * len(y), (logits.data.argmax(axis=1) == y).sum())
                batch_loss, batch_correct = team.add_gradients(
                    params, len(y) / len(labels), stats
                )
                if not math.isfinite(batch_loss):  # the same sum on every rank
                    raise diverged(batch_loss / len(labels), "training loss")
                opt.step()
                schedule.step()
                loss_sum += batch_loss
                correct += round(batch_correct)
                seen += len(labels)
                if bar:
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
            team.average(buffers)  # each rank normalised with its own rows
            test_acc, plain_acc, per_class = evaluate(team, model, *test, classes)
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
            if bar:
                bar.console.print(
                    f"epoch {epoch:2d}/{epochs}  loss {point['train_loss']:.3f}  "
                    f"train {point['train_accuracy']:.3f}  test {test_acc:.4f}  "
                    f"{point['images_per_second']:,.0f} img/s  "
                    f"{point['minutes']:.1f} min"
                )
    history[-1]["per_class"] = per_class
    return history, round(images_seen / train_seconds, 1)


def evaluate(team, model, images, labels, classes):
    """Test accuracy, averaging the scores of each image and its mirror image.

    Returns that accuracy, the accuracy on the images alone, and the first per
    class. Each rank scores its share of the images; eval mode (running
    batch-norm statistics), no graph kept.
    """
    import numpy as np
    from tinytorch import Tensor, no_grad
    from tinytorch.data import Normalize

    normalize = Normalize(MEAN, STD)
    mine = team.shard(len(labels))
    images, labels = images[mine], labels[mine]
    k = len(classes)
    both, alone, count = np.zeros(k), np.zeros(k), np.zeros(k)
    model.eval()
    with no_grad():
        for start in range(0, len(labels), EVAL_BATCH):
            batch = normalize(images[start : start + EVAL_BATCH])  # (B, C, H, W)
            y = labels[start : start + EVAL_BATCH]
            logits = model(Tensor(batch)).data  # (B, classes)
            mirrored = model(Tensor(batch[..., ::-1])).data
            count += np.bincount(y, minlength=k)
            alone += np.bincount(y, logits.argmax(axis=1) == y, minlength=k)
            both += np.bincount(y, (logits + mirrored).argmax(axis=1) == y, minlength=k)
    model.train()
    both, alone, count = team.sum([both, alone, count])  # (classes,) each
    per_class = [float(b / c) if c else 0.0 for b, c in zip(both, count, strict=True)]
    total = max(count.sum(), 1)
    return float(both.sum() / total), float(alone.sum() / total), per_class


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
    from tito.milestone_script import run

    run(main)
