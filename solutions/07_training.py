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
# # 07 · The training loop
#
# Every training run repeats the same five lines: forward, loss, zero the
# gradients, backward, step. Around them sit the chores: switching between
# training and evaluation mode, turning off the graph during evaluation,
# stepping the learning-rate schedule, clipping, measuring loss, accuracy and
# speed, saving checkpoints. This chapter writes them once.
#
# - `seed_everything(seed)` makes a run repeatable; `set_num_threads(n)` limits
#   NumPy's matrix-product threads.
# - `Trainer(model, optimizer, ...)` with `fit`, `train_epoch` and `evaluate`.
# - `save_checkpoint` / `load_checkpoint`: the model, the optimizer and any
#   metadata in one `.npz` file.
#
# Like the rest of `tinytorch`, nothing here prints unless asked: a progress bar
# appears only with `progress=True`.

# %%
#| default_exp training

# %% [markdown]
# ## Seeding
#
# Initial weights, dropout masks and shuffling all draw from NumPy's global
# random state (dropout derives its generator from it), and Python's `random`
# is seeded too for code that uses it.

# %%
#| export
"""Training helpers: seeding, a Trainer with fit/evaluate, and checkpoints.

The Trainer accepts any iterable of (inputs, targets) batches, as arrays or
tensors. It never prints, except for an opt-in rich progress bar on stderr.
Checkpoints are single `.npz` files holding model state, optimizer state and
JSON metadata.
"""

import random

import numpy as np


def seed_everything(seed):
    """Seed Python's and NumPy's random generators; return the seed."""
    random.seed(seed)
    np.random.seed(seed)
    return seed


# %% [markdown]
# ## Threads
#
# NumPy hands matrix products to a BLAS library that starts one thread per core.
# On a machine shared with other busy processes that can backfire badly: a
# product split in two waits for its slower half, and a descheduled thread can
# make a millisecond product take a hundred. `set_num_threads(1)` is then the
# faster choice. It uses `threadpoolctl` when that is installed and returns
# whether the limit could be applied.


# %%
#| export
def set_num_threads(n):
    """Limit NumPy's BLAS to `n` threads for the rest of the process."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=int(n), user_api="blas")
    return True


# %% [markdown]
# ## The Trainer
#
# `train_epoch` runs one pass over the training batches and returns the mean
# loss, the accuracy (when the targets are class labels) and the throughput in
# examples per second. `evaluate` does the same without gradients and in
# evaluation mode. `fit` alternates the two and returns one record per epoch.
#
# The loss and accuracy are summed as Python floats weighted by batch size, so
# a smaller last batch counts for what it is.

# %%
#| export
import time

from tinytorch.optim import clip_grad_norm_
from tinytorch.tensor import Tensor, no_grad


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _correct(out, y):
    """How many predictions match integer targets (class axis 1), or None."""
    y = y.data if isinstance(y, Tensor) else np.asarray(y)
    if (
        y.dtype.kind not in "iu"
        or out.ndim < 2
        or y.shape != out.shape[:1] + out.shape[2:]
    ):
        return None
    return int((out.data.argmax(axis=1) == y).sum())


class Trainer:
    """Trains `model` with `optimizer` on batches of (inputs, targets).

    loss_fn: callable(output, targets) -> scalar Tensor (default cross-entropy).
    scheduler: stepped after every batch (or every epoch with
    scheduler_step="epoch"). clip_grad_norm: max gradient norm, or None.
    progress: show a rich progress bar on stderr.
    """

    def __init__(
        self,
        model,
        optimizer,
        loss_fn=None,
        scheduler=None,
        clip_grad_norm=None,
        progress=False,
        scheduler_step="batch",
    ):
        if loss_fn is None:
            from tinytorch.nn.losses import cross_entropy as loss_fn
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.scheduler_step = scheduler, scheduler_step
        self.clip_grad_norm, self.progress = clip_grad_norm, progress
        self.history = []

    def train_step(self, x, y):
        """One optimisation step; returns (loss as float, correct or None)."""
        out = self.model(_as_tensor(x))
        loss = self.loss_fn(out, y)
        self.optimizer.zero_grad()
        loss.backward()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        if self.scheduler is not None and self.scheduler_step == "batch":
            self.scheduler.step()
        return loss.item(), _correct(out, y)

    def train_epoch(self, loader, label="train"):
        self.model.train()
        record = self._run(loader, self.train_step, label)
        if self.scheduler is not None and self.scheduler_step == "epoch":
            self.scheduler.step()
        return record

    def evaluate(self, loader, label="eval"):
        self.model.eval()
        with no_grad():
            return self._run(loader, self._eval_step, label)

    def fit(self, train_loader, epochs=1, val_loader=None):
        """Train for `epochs`; return a list of per-epoch records."""
        for epoch in range(1, epochs + 1):
            record = {"epoch": epoch}
            train = self.train_epoch(train_loader, f"epoch {epoch}/{epochs}")
            record.update({f"train_{k}": v for k, v in train.items()})
            if val_loader is not None:
                val = self.evaluate(val_loader, f"eval {epoch}/{epochs}")
                record.update({f"val_{k}": v for k, v in val.items()})
            record["lr"] = self.optimizer.lr
            self.history.append(record)
        return self.history

    def _eval_step(self, x, y):
        out = self.model(_as_tensor(x))
        return self.loss_fn(out, y).item(), _correct(out, y)

    def _run(self, loader, step, label):
        total_loss = seen = 0.0
        correct, counted = 0, True
        start = time.perf_counter()
        with _Progress(self.progress, label, _length(loader)) as bar:
            for x, y in loader:
                n = len(x)
                loss, hits = step(x, y)
                total_loss += loss * n
                seen += n
                if hits is None:
                    counted = False
                else:
                    correct += hits
                rate = seen / max(time.perf_counter() - start, 1e-9)
                acc = correct / seen if counted else None
                bar.advance(total_loss / seen, acc, rate)
        seconds = time.perf_counter() - start
        if not seen:
            raise ValueError(f"{label}: the loader produced no batches.")
        record = {"loss": total_loss / seen, "seconds": seconds}
        if counted:
            record["accuracy"] = correct / seen
        record["samples_per_sec"] = seen / max(seconds, 1e-9)
        return record


def _length(loader):
    try:
        return len(loader)
    except TypeError:
        return None


# %% [markdown]
# ## The progress bar
#
# `rich` draws it, on stderr so that a script's results on stdout stay clean.
# It is imported only when a bar is asked for; without one, `_Progress` does
# nothing.


# %%
#| export
class _Progress:
    def __init__(self, enabled, label, total):
        self.enabled, self.label, self.total = enabled, label, total

    def __enter__(self):
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(self.label, total=self.total, stats="")
        return self

    def advance(self, loss, accuracy, rate):
        if not self.enabled:
            return
        stats = f"loss {loss:.4f}"
        if accuracy is not None:
            stats += f"  acc {accuracy:.3f}"
        stats += f"  {rate:,.0f}/s"
        self._bar.update(self._task, advance=1, stats=stats)

    def __exit__(self, *exc):
        if self.enabled:
            self._bar.__exit__(*exc)
        return False


# %% [markdown]
# ## Checkpoints
#
# A checkpoint is one `.npz` archive: `model/<name>` for each array of the
# model's `state_dict`, `optim/<name>` for the optimizer's state, and the
# metadata (epoch, metrics, configuration: anything JSON can hold) as a JSON
# string. NumPy reads it back without pickle, so loading a checkpoint cannot run
# code. The file is written next to its final name and renamed into place, so an
# interrupted save never leaves half a checkpoint.

# %%
#| export
import json
import os
import tempfile
from pathlib import Path


def save_checkpoint(path, model, optimizer=None, **metadata):
    """Save model (and optimizer) state plus JSON-able metadata to `path`."""
    path = Path(path)
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
    arrays["meta"] = np.array(json.dumps(metadata))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path, model, optimizer=None):
    """Load state saved by `save_checkpoint` into `model` (and `optimizer`);
    return the metadata dict."""
    with np.load(path, allow_pickle=False) as archive:
        model_state, optim_state = {}, {}
        for key in archive.files:
            if key.startswith("model/"):
                model_state[key[len("model/") :]] = archive[key]
            elif key.startswith("optim/"):
                optim_state[key[len("optim/") :]] = archive[key]
        meta = json.loads(str(archive["meta"])) if "meta" in archive.files else {}
    model.load_state_dict(model_state)
    if optimizer is not None:
        if not optim_state:
            raise KeyError(f"{path} holds no optimizer state; load the model only.")
        optimizer.load_state_dict(optim_state)
    return meta


# %% [markdown]
# ## Checks
#
# A small classifier on two well separated blobs reaches full accuracy in a
# few epochs, and a checkpoint round trip restores its predictions exactly.

# %%
from tinytorch import nn, optim

seed_everything(0)
X = np.concatenate([np.random.randn(200, 2) - 3, np.random.randn(200, 2) + 3])
Y = np.repeat([0, 1], 200)
batches = [(X[i : i + 50], Y[i : i + 50]) for i in np.random.permutation(8) * 50]
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1))
history = trainer.fit(batches, epochs=3, val_loader=batches)
assert history[-1]["val_accuracy"] == 1.0

with tempfile.TemporaryDirectory() as d:
    save_checkpoint(Path(d) / "ckpt.npz", model, trainer.optimizer, epoch=3)
    copy = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    meta = load_checkpoint(Path(d) / "ckpt.npz", copy)
assert meta == {"epoch": 3}
assert np.array_equal(copy(Tensor(X)).data, model(Tensor(X)).data)
