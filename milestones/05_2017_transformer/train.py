"""Milestone 05 (2017): a GPT trained on Shakespeare with your own tinytorch.

Trains a character-level GPT (modules 10-13 plus the foundation) on the first
90% of Tiny Shakespeare, reports train and validation loss at intervals with
tokens per second and time left, and ends with a sample. Saves the model, the
tokenizer, its configuration and results.json in WS/milestones/05_transformer/;
`--sample` generates from them later.

    tito milestone run 05                          # default config (~15 min)
    tito milestone run 05 --config small           # nanoGPT's CPU run (~4 min)
    tito milestone run 05 --tokenizer bpe          # your byte-pair tokenizer
    tito milestone run 05 --sample --prompt "ROMEO:" --temperature 0.8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SLUG = "05_transformer"
CONFIGS = {
    # nanoGPT's documented CPU configuration for shakespeare_char
    "small": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12,
        steps=2000, lr=1e-3, warmup=100, eval_every=250, eval_iters=20,
    ),
    "default": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=32,
        steps=2600, lr=2e-3, warmup=100, eval_every=200, eval_iters=20,
    ),
    # a smoke test: minutes become seconds, the loss barely moves
    "quick": dict(
        n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8,
        steps=40, lr=3e-3, warmup=5, eval_every=20, eval_iters=2,
    ),
}  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Train a GPT on Shakespeare with your tinytorch, or sample from it."
    )
    ap.add_argument("--workspace", help="learner workspace (default $TITO_WORKSPACE)")
    ap.add_argument(
        "--data-dir", help="folder holding tinyshakespeare.txt, or the file"
    )
    ap.add_argument(
        "--dataset",
        help="corpus: tinyshakespeare (default), or tiny, a generated offline play "
        "(the default with --quick and no --data-dir)",
    )
    ap.add_argument("--config", choices=["small", "default"], default="default")
    ap.add_argument("--quick", action="store_true", help="a tiny model, seconds")
    ap.add_argument("--tokenizer", choices=["char", "bpe"], default="char")
    ap.add_argument("--bpe-vocab", type=int, default=512, help="BPE vocabulary size")
    ap.add_argument("--steps", type=int, help="training steps (overrides the config)")
    ap.add_argument("--lr", type=float, help="peak learning rate (overrides)")
    ap.add_argument("--dropout", type=float, help="dropout (default 0; overrides)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument(
        "--threads",
        type=int,
        help="BLAS threads (default: NumPy's, or 1 when the machine is busy)",
    )
    ap.add_argument("--sample", action="store_true", help="only sample a saved model")
    ap.add_argument("--prompt", default="ROMEO:")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--length", type=int, default=500, help="tokens to generate")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dataset is None:
        offline = args.quick and not args.data_dir
        args.dataset = "tiny" if offline else "tinyshakespeare"
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    if args.threads is None and cores > 1 and load >= cores:
        args.threads = 1  # threads that wait for busy cores spin and stall
        print(
            f"BLAS threads: 1, as the machine is busy (load {load:.1f} on {cores} "
            "cores); --threads N to choose",
            file=sys.stderr,
        )
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)  # before NumPy loads its BLAS
    ws = Path(args.workspace or os.environ.get("TITO_WORKSPACE") or "workspace")
    ws = ws.resolve()
    sys.path.insert(0, str(ws))
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    from tito.errors import TitoError

    try:
        run = sample_saved if args.sample else train
        return run(args, ws / "milestones" / SLUG)
    except TitoError as e:
        return fail(e.what, e.todo)
    except ImportError as e:
        if getattr(e, "name", None) == "tinytorch":
            return fail(
                f"No tinytorch package in the workspace {ws}.",
                "Pass --workspace with your tito workspace, or run `tito init`.",
            )
        if (getattr(e, "name", None) or "").startswith("tinytorch."):
            return fail(
                f"Your tinytorch has no {e.name} yet.",
                "Export the module that makes it (`tito status` lists them), "
                "test it, and run again.",
            )
        if "tito module export" not in str(e):
            raise
        return fail(str(e), "Then run `tito module test` on it until it passes.")


def fail(what: str, todo: str) -> int:
    print(f"error: {what}", file=sys.stderr)
    if todo:
        print(todo, file=sys.stderr)
    return 1


# -- training -----------------------------------------------------------------


def train(args, out_dir: Path) -> int:
    from corpus import build_corpus
    from tinytorch.models.gpt import GPT
    from tinytorch.training import seed_everything

    from tito.datasets import load_text

    cfg = dict(CONFIGS["quick" if args.quick else args.config])
    given = {"steps": args.steps, "lr": args.lr, "dropout": args.dropout}
    cfg.update({k: v for k, v in given.items() if v is not None})
    seed_everything(args.seed)
    clock = Clock()

    text = load_text(args.dataset, args.data_dir)
    corpus = build_corpus(text, args.tokenizer, args.bpe_vocab)
    model_cfg = dict(
        vocab_size=corpus.tokenizer.vocab_size,
        block_size=cfg["block_size"],
        n_layer=cfg["n_layer"],
        n_head=cfg["n_head"],
        n_embd=cfg["n_embd"],
    )
    model = GPT(**model_cfg, dropout=cfg.get("dropout", 0.0))
    describe(args, cfg, corpus, model)

    history, tokens_per_second = fit(model, corpus, cfg, args.seed, clock)
    final_val = full_split_loss(model, corpus.val, cfg["block_size"])
    sample = generate_text(model, corpus.tokenizer, args)
    results = {
        "milestone": SLUG,
        "metric": "val_loss",
        "value": round(final_val, 4),
        "quick": bool(args.quick),
        **clock.elapsed(),
        "steps": cfg["steps"],
        "dataset": args.dataset,
        "config": "quick" if args.quick else args.config,
        "tokenizer": args.tokenizer,
        "vocab_size": model_cfg["vocab_size"],
        "parameters": model.num_params(),
        "hyperparameters": cfg,
        "seed": args.seed,
        "blas_threads": args.threads,
        "tokens_per_second": round(tokens_per_second, 1),
        "val_loss_per_character": round(
            final_val * len(corpus.val) / corpus.val_chars, 4
        ),
        "history": history,
        "load_average": [clock.load_start, round(os.getloadavg()[0], 2)],
        "sample": {"prompt": args.prompt, "temperature": args.temperature},
    }
    results["sample"]["text"] = sample
    save_outputs(out_dir, model, model_cfg, corpus.tokenizer, args.tokenizer, results)

    print(
        f"\nvalidation loss {final_val:.4f} on the whole validation split "
        f"({len(corpus.val):,} tokens); {results['seconds'] / 60:.1f} minutes "
        f"({results['cpu_seconds'] / 60:.1f} CPU minutes), "
        f"{tokens_per_second:,.0f} tokens/s while training"
    )
    print(f"saved model, tokenizer and results in {out_dir}\n")
    print(sample)
    return 0


class Clock:
    """Wall and CPU time since the start, and the load average then."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.load_start = round(os.getloadavg()[0], 2)

    def elapsed(self) -> dict:
        return {
            "seconds": round(time.perf_counter() - self.wall, 1),
            "cpu_seconds": round(time.process_time() - self.cpu, 1),
        }


def describe(args, cfg, corpus, model) -> None:
    print(
        f"{args.dataset}: {corpus.train_chars + corpus.val_chars:,} characters, "
        f"{args.tokenizer} tokenizer of {corpus.tokenizer.vocab_size} tokens, "
        f"{len(corpus.train):,} training and {len(corpus.val):,} validation tokens"
    )
    print(
        f"GPT {cfg['n_layer']} layers x {cfg['n_embd']} wide, {cfg['n_head']} heads, "
        f"context {cfg['block_size']}: {model.num_params():,} parameters; "
        f"{cfg['steps']} steps of {cfg['batch_size']} x {cfg['block_size']} tokens"
    )


def fit(model, corpus, cfg, seed, clock):
    """Train for cfg["steps"]; return the evaluation history and tokens/s."""
    import numpy as np
    from corpus import random_batch

    opt, schedule = make_optimizer(model, cfg)
    rng = np.random.default_rng(seed)
    fixed = np.random.default_rng(seed + 1)  # the same eval batches every time
    B, T, steps = cfg["batch_size"], cfg["block_size"], cfg["steps"]
    probes = {
        name: [random_batch(ids, B, T, fixed) for _ in range(cfg["eval_iters"])]
        for name, ids in (("train", corpus.train), ("val", corpus.val))
    }
    history, busy, tps = [], 0.0, 0.0
    with progress_bar() as bar:
        task = bar.add_task("training", total=steps, speed="", losses="")
        for step in range(steps + 1):
            if step % cfg["eval_every"] == 0 or step == steps:
                point = evaluate(model, probes, step, clock, tps)
                history.append(point)
                losses = f"train {point['train_loss']:.4f}  val {point['val_loss']:.4f}"
                bar.update(task, losses=losses)
                bar.console.print(
                    f"step {step:5d}  {losses}  {point['minutes']:6.2f} min  "
                    f"{tps:6,.0f} tok/s  (CPU {point['cpu_minutes']:.2f} min, "
                    f"load {point['load']:.1f})",
                    soft_wrap=True,
                )
            if step == steps:
                break
            tick = time.perf_counter()
            train_step(model, opt, random_batch(corpus.train, B, T, rng))
            schedule.step()
            busy += time.perf_counter() - tick
            tps = (step + 1) * B * T / busy
            bar.update(task, advance=1, speed=f"{tps:,.0f} tok/s")
    return history, tps


def evaluate(model, probes, step, clock, tps) -> dict:
    elapsed = clock.elapsed()
    return {
        "step": step,
        "train_loss": mean_loss(model, probes["train"]),
        "val_loss": mean_loss(model, probes["val"]),
        "minutes": round(elapsed["seconds"] / 60, 3),
        "cpu_minutes": round(elapsed["cpu_seconds"] / 60, 3),
        "tokens_per_second": round(tps, 1),
        "load": round(os.getloadavg()[0], 2),
    }


def save_outputs(out_dir, model, model_cfg, tokenizer, kind, results) -> None:
    from tinytorch.training import save_checkpoint

    out_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out_dir / "model.npz", model, **model_cfg)
    tokenizer.save(out_dir / "tokenizer.json")
    config = {"model": model_cfg, "tokenizer": kind}
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def make_optimizer(model, cfg):
    """AdamW (weight decay on matrices only), linear warmup then cosine to lr/10."""
    import tinytorch.optim as optim

    params = model.parameters()
    groups = [
        {"params": [p for p in params if p.data.ndim >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.data.ndim < 2], "weight_decay": 0.0},
    ]
    opt = optim.AdamW(groups, lr=cfg["lr"], betas=(0.9, 0.99))
    schedule = optim.LinearWarmup(
        opt, cfg["warmup"], total_steps=cfg["steps"], min_lr=cfg["lr"] / 10
    )
    return opt, schedule


def train_step(model, opt, batch):
    from tinytorch.optim import clip_grad_norm_

    _, loss = model(batch[:, :-1], batch[:, 1:])
    opt.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def mean_loss(model, batches) -> float:
    from tinytorch import no_grad

    model.eval()
    with no_grad():
        losses = [model(b[:, :-1], b[:, 1:])[1].item() for b in batches]
    model.train()
    return float(sum(losses) / len(losses))


def full_split_loss(model, ids, block) -> float:
    """Mean loss over every non-overlapping window of a split."""
    from corpus import tiled_batches
    from tinytorch import no_grad

    total, count = 0.0, 0
    model.eval()
    with no_grad():
        for b in tiled_batches(ids, 64, block):
            n = b.shape[0] * block
            total += model(b[:, :-1], b[:, 1:])[1].item() * n
            count += n
    model.train()
    return total / count


def progress_bar():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        console=Console(stderr=True),
    )


# -- sampling -------------------------------------------------------------------


def generate_text(model, tokenizer, args) -> str:
    import numpy as np

    try:
        prompt = tokenizer.encode(args.prompt)
    except ValueError as e:
        raise _prompt_error(args.prompt, e) from None
    if not prompt:
        raise _prompt_error(args.prompt, "it is empty")
    ids = model.generate(
        np.asarray(prompt), args.length, args.temperature, args.top_k, rng=args.seed
    )
    return tokenizer.decode(ids.tolist())


def _prompt_error(prompt, reason):
    from tito.errors import TitoError

    return TitoError(
        f"Cannot generate from the prompt {prompt!r}: {reason}",
        "Pass --prompt with characters from the training text, e.g. --prompt 'ROMEO:'.",
    )


def sample_saved(args, out_dir: Path) -> int:
    from tinytorch.models.gpt import GPT
    from tinytorch.text.tokenizers import BPETokenizer, CharTokenizer
    from tinytorch.training import load_checkpoint

    from tito.errors import TitoError

    config = out_dir / "config.json"
    if not config.is_file():
        raise TitoError(
            f"No trained model in {out_dir}.",
            "Train one first: `tito milestone run 05` (or --quick for a tiny one).",
        )
    saved = json.loads(config.read_text())
    model = GPT(**saved["model"])
    load_checkpoint(out_dir / "model.npz", model)
    kind = CharTokenizer if saved["tokenizer"] == "char" else BPETokenizer
    tokenizer = kind.load(out_dir / "tokenizer.json")
    print(generate_text(model, tokenizer, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
