"""Milestone 05 (2017): a GPT trained on Shakespeare with your own tinytorch.

Trains a character-level GPT (modules 10-13 plus the foundation) on the first
90% of Tiny Shakespeare, reports train and validation loss at intervals with
tokens per second and time left, and ends with a sample. Saves the model, the
tokenizer, its configuration and results.json in WS/milestones/05_transformer/;
`--sample` generates from them later.

    tito milestone run 05                          # default config (7 min on 2 cores)
    tito milestone run 05 --config small           # nanoGPT's CPU run (2 min)
    tito milestone run 05 --tokenizer bpe          # your byte-pair tokenizer
    tito milestone run 05 --sample --prompt "ROMEO:" --temperature 0.8
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import nullcontext
from pathlib import Path

SLUG = "05_transformer"
OUTPUTS = ["model.npz", "tokenizer.json", "config.json", "results.json"]
CONFIGS = {
    # nanoGPT's documented CPU configuration for shakespeare_char
    "small": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12,
        steps=2000, lr=1e-3, warmup=100, eval_every=250, eval_iters=20,
    ),
    "default": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=32,
        steps=2200, lr=2e-3, warmup=100, eval_every=250, eval_iters=10,
    ),
    # a smoke test: minutes become seconds, the loss barely moves
    "quick": dict(
        n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8,
        steps=40, lr=3e-3, warmup=5, eval_every=20, eval_iters=2,
    ),
}  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    from tito.milestone_script import (
        ArgumentParser,
        add_parallel_options,
        add_place_options,
        fraction,
        non_negative_float,
        positive_float,
        positive_int,
        seed,
        up_to,
    )

    ap = ArgumentParser(
        description="Train a GPT on Shakespeare with your tinytorch, or sample from it."
    )
    add_place_options(ap, data_help="folder holding tinyshakespeare.txt, or the file")
    ap.add_argument(
        "--dataset",
        help="corpus: tinyshakespeare (default), or tiny, a generated offline play "
        "(the default with --quick and no --data-dir)",
    )
    ap.add_argument("--config", choices=["small", "default"], default="default")
    ap.add_argument("--quick", action="store_true", help="a tiny model, seconds")
    ap.add_argument("--tokenizer", choices=["char", "bpe"], default="char")
    ap.add_argument(
        "--bpe-vocab",
        type=positive_int,
        default=512,
        help="BPE vocabulary size, the 256 bytes included",
    )
    ap.add_argument(
        "--steps", type=up_to(1_000_000), help="training steps (overrides the config)"
    )
    ap.add_argument("--lr", type=positive_float, help="peak learning rate (overrides)")
    ap.add_argument("--dropout", type=fraction, help="dropout (default 0; overrides)")
    ap.add_argument("--seed", type=seed, default=1337)
    add_parallel_options(ap, busy=", or 1 when the machine is busy")
    ap.add_argument("--sample", action="store_true", help="only sample a saved model")
    ap.add_argument("--prompt", default="ROMEO:")
    ap.add_argument(
        "--temperature",
        type=non_negative_float,
        default=0.8,
        help="0 always takes the likeliest token",
    )
    ap.add_argument(
        "--top-k", type=positive_int, help="sample from the k likeliest tokens only"
    )
    ap.add_argument(
        "--length", type=up_to(100_000), default=500, help="tokens to generate"
    )
    return ap.parse_args(argv)


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
    if args.dataset is None:
        offline = args.quick and not args.data_dir
        args.dataset = "tiny" if offline else "tinyshakespeare"
    if args.tokenizer == "bpe" and args.bpe_vocab < 257:
        return fail(
            f"--bpe-vocab {args.bpe_vocab} leaves no room for a merge beside the "
            "256 byte tokens.",
            "Pass --bpe-vocab 257 or more (512 by default).",
        )
    batch = CONFIGS["quick" if args.quick else args.config]["batch_size"]
    try:
        check_threads(args.threads)
        args.workers = check_workers(args.workers, batch)
    except TitoError as e:
        return fail(e.what, e.todo)
    if args.workers > 1 and args.threads is None:
        args.threads = 1  # one process per core already uses every core
    args.threads = use_threads(args.threads, fall_back_when_busy=True)
    try:
        ws = open_workspace(args.workspace, __file__)
    except TitoError as e:
        return fail(e.what, e.todo)

    keep_freed_memory()
    out_dir = ws / "milestones" / SLUG
    try:
        if args.sample:
            return sample_saved(args, out_dir)
        with alone(out_dir):
            return train(args, out_dir)
    except TitoError as e:
        return fail(e.what, e.todo)
    except NotImplementedError as e:
        return unfinished(e, "13")
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


# -- training -----------------------------------------------------------------


def train(args, out_dir: Path) -> int:
    from corpus import build_corpus
    from tinytorch.models.gpt import GPT
    from tinytorch.training import seed_everything

    from tito.datasets import load_text
    from tito.milestone_script import Clock, keep_previous, saving

    cfg = dict(CONFIGS["quick" if args.quick else args.config])
    given = {"steps": args.steps, "lr": args.lr, "dropout": args.dropout}
    cfg.update({k: v for k, v in given.items() if v is not None})
    seed_everything(args.seed)
    clock = Clock()

    text = load_text(args.dataset, args.data_dir)
    corpus = build_corpus(text, args.tokenizer, args.bpe_vocab)
    check_length(corpus, cfg["block_size"], args.dataset)
    encode_prompt(corpus.tokenizer, args.prompt, text)  # fail now, not after training
    model_cfg = dict(
        vocab_size=corpus.tokenizer.vocab_size,
        block_size=cfg["block_size"],
        n_layer=cfg["n_layer"],
        n_head=cfg["n_head"],
        n_embd=cfg["n_embd"],
    )
    model = GPT(**model_cfg, dropout=cfg.get("dropout", 0.0))
    describe(args, cfg, corpus, model)

    history, tokens_per_second, final_val = fit(model, corpus, cfg, args, clock)
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
        "workers": args.workers,
        "blas_threads": args.threads,
        "tokens_per_second": round(tokens_per_second, 1),
        "val_loss_per_character": round(
            final_val * len(corpus.val) / corpus.val_chars, 4
        ),
        "history": history,
        "load_average": clock.load_average(),
        "sample": {"prompt": args.prompt, "temperature": args.temperature},
    }
    # saved before sampling, so that nothing trained is lost if sampling fails;
    # results.json is written again with the sample
    with saving(out_dir):
        kept = keep_previous(out_dir, OUTPUTS)
        tokenizer = corpus.tokenizer
        save_outputs(out_dir, model, model_cfg, tokenizer, args.tokenizer, results)
    sample = generate_text(model, corpus.tokenizer, args)
    results["sample"]["text"] = sample
    with saving(out_dir):
        (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    print(
        f"\nvalidation loss {final_val:.4f} on the whole validation split "
        f"({len(corpus.val):,} tokens); {results['seconds'] / 60:.1f} minutes "
        f"({results['cpu_seconds'] / 60:.1f} CPU minutes), "
        f"{tokens_per_second:,.0f} tokens/s while training"
    )
    print(
        f"saved model, tokenizer and results in {out_dir}"
        + (f"; the previous run's in {kept}" if kept else "")
        + "\n"
    )
    print(sample)
    return 0


def check_length(corpus, block, dataset) -> None:
    """Both splits must hold a window of `block` tokens and its next token."""
    from tito.errors import TitoError

    short = min(len(corpus.train), len(corpus.val))
    if short < block + 2:
        raise TitoError(
            f"The {dataset} text is too short: a split of {short:,} tokens holds "
            f"no window of {block} tokens and the one after it.",
            f"Use a text of at least {10 * (block + 2):,} tokens, or the default "
            "corpus (drop --data-dir).",
        )


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
        + (f" on {args.workers} processes" if args.workers > 1 else "")
    )


def fit(model, corpus, cfg, args, clock):
    """Train for cfg["steps"] on args.workers processes.

    Returns the evaluation history, tokens/s and the final validation loss.
    """
    from tito.data_parallel import Team

    opt, schedule = make_optimizer(model, cfg)
    floats = sum(p.data.size for p in model.parameters()) + 8
    team = Team(args.workers, floats)
    return team.run(fit_rank, model, opt, schedule, corpus, cfg, args.seed, clock)


def fit_rank(team, model, opt, schedule, corpus, cfg, seed, clock):
    """One rank's training loop: every rank draws the same batch, takes its
    own rows, and the gradients are added up before each step."""
    import numpy as np
    from corpus import random_batch

    from tito.ui import training_progress

    rng = np.random.default_rng(seed)
    fixed = np.random.default_rng(seed + 1)  # the same eval batches every time
    B, T, steps = cfg["batch_size"], cfg["block_size"], cfg["steps"]
    probes = {
        name: [random_batch(ids, B, T, fixed) for _ in range(cfg["eval_iters"])]
        for name, ids in (("train", corpus.train), ("val", corpus.val))
    }
    history, busy, tps = [], 0.0, 0.0
    rows = team.shard(B)
    bar = training_progress() if team.is_main else None
    with bar or nullcontext():
        task = bar.add_task("training", total=steps, speed="", stats="") if bar else 0
        for step in range(steps + 1):
            if step % cfg["eval_every"] == 0 or step == steps:
                point = evaluate(team, model, probes, step, clock, tps)
                history.append(point)
                losses = f"train {point['train_loss']:.4f}  val {point['val_loss']:.4f}"
                if bar:
                    bar.update(task, stats=losses)
                    bar.console.print(
                        f"step {step:5d}  {losses}  {point['minutes']:6.2f} min  "
                        + (f"{tps:6,.0f} tok/s  " if step else " " * 13)
                        + f"(CPU {point['cpu_minutes']:.2f} min, "
                        f"load {point['load']:.1f})",
                        soft_wrap=True,
                    )
            if step == steps:
                break
            tick = time.perf_counter()
            batch = random_batch(corpus.train, B, T, rng)  # (B, T + 1), every rank
            train_step(team, model, opt, batch[rows], B)
            schedule.step()
            busy += time.perf_counter() - tick
            tps = (step + 1) * B * T / busy
            if bar:
                bar.update(task, advance=1, speed=f"{tps:,.0f} tok/s")
    final = split_loss(team, model, corpus.val, cfg["block_size"])
    return history, tps, final


def evaluate(team, model, probes, step, clock, tps) -> dict:
    import numpy as np

    elapsed = clock.elapsed()
    (cpu,) = team.sum([np.array([clock.cpu_seconds()])])  # every rank's
    return {
        "step": step,
        "train_loss": mean_loss(team, model, probes["train"]),
        "val_loss": mean_loss(team, model, probes["val"]),
        "minutes": round(elapsed["seconds"] / 60, 3),
        "cpu_minutes": round(float(cpu[0]) / 60, 3),
        "tokens_per_second": round(tps, 1) if step else None,  # none yet at 0
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


def train_step(team, model, opt, rows, batch_size):
    """Forward and backward on this rank's rows, add up, clip, step."""
    import math

    from tinytorch.optim import clip_grad_norm_

    from tito.milestone_script import diverged, quiet_overflow

    params = model.parameters()
    with quiet_overflow():  # divergence is caught below, by the gradient norm
        _, loss = model(rows[:, :-1], rows[:, 1:])
        opt.zero_grad()
        loss.backward()
    team.add_gradients(params, len(rows) / batch_size)
    norm = float(clip_grad_norm_(params, 1.0))  # of the summed gradients: every rank's
    if not math.isfinite(norm):
        raise diverged(norm, "gradient norm")
    opt.step()


def mean_loss(team, model, batches) -> float:
    """Mean loss over the rows of `batches`, each rank taking its share."""
    from tinytorch import no_grad

    total = count = 0.0
    model.eval()
    with no_grad():
        for b in batches:
            mine = b[team.shard(len(b))]
            total += model(mine[:, :-1], mine[:, 1:])[1].item() * len(mine)
            count += len(mine)
    model.train()
    total, count = team.sum([total, count])
    return float(total / count)


def split_loss(team, model, ids, block) -> float:
    """Mean loss over every non-overlapping window of a split."""
    from corpus import tiled_batches
    from tinytorch import no_grad

    total = count = 0.0
    model.eval()
    with no_grad():
        for i, b in enumerate(tiled_batches(ids, 64, block)):
            if i % team.size == team.rank:
                n = b.shape[0] * block
                total += model(b[:, :-1], b[:, 1:])[1].item() * n
                count += n
    model.train()
    total, count = team.sum([total, count])
    return float(total / count)


# -- sampling -------------------------------------------------------------------


def generate_text(model, tokenizer, args) -> str:
    import numpy as np

    prompt = encode_prompt(tokenizer, args.prompt)
    ids = model.generate(
        np.asarray(prompt), args.length, args.temperature, args.top_k, rng=args.seed
    )
    return tokenizer.decode(ids.tolist())


def encode_prompt(tokenizer, prompt: str, text: str = "") -> list[int]:
    """The prompt's token ids; a TitoError if the tokenizer cannot encode it.

    `text` (the training text, when at hand) supplies an example that works.
    """
    from tito.errors import TitoError

    try:
        ids = tokenizer.encode(prompt)
        reason = "" if ids else "it is empty"
    except ValueError as e:
        ids, reason = [], str(e).split(";")[0]
    if reason:
        example = (text.split(":")[0] + ":")[:20] if ":" in text[:200] else text[:6]
        raise TitoError(
            f"Cannot generate from the prompt {prompt!r}: {reason}.",
            "Pass a --prompt made of characters from the training text"
            + (f", e.g. --prompt {example!r}." if example else "."),
        )
    return ids


def sample_saved(args, out_dir: Path) -> int:
    from tito.errors import TitoError

    config = out_dir / "config.json"
    if not config.is_file():
        raise TitoError(
            f"No trained model in {out_dir}.",
            "Train one first: `tito milestone run 05` (or --quick for a tiny one).",
        )
    model, tokenizer = load_saved(out_dir)
    print(generate_text(model, tokenizer, args))
    return 0


def load_saved(out_dir: Path):
    """The model and tokenizer saved in out_dir; a TitoError if they are damaged."""
    import zipfile

    from tinytorch.models.gpt import GPT
    from tinytorch.text.tokenizers import BPETokenizer, CharTokenizer
    from tinytorch.training import load_checkpoint

    from tito.errors import TitoError

    try:
        saved = json.loads((out_dir / "config.json").read_text())
        model = GPT(**saved["model"])
        load_checkpoint(out_dir / "model.npz", model)
        kind = CharTokenizer if saved["tokenizer"] == "char" else BPETokenizer
        tokenizer = kind.load(out_dir / "tokenizer.json")
        if tokenizer.vocab_size != saved["model"]["vocab_size"]:
            raise ValueError(
                f"its tokenizer has {tokenizer.vocab_size} tokens, the model "
                f"{saved['model']['vocab_size']}"
            )
    except (
        OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile
    ) as e:  # fmt: skip
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TitoError(
            f"The model saved in {out_dir} cannot be loaded: {why}.",
            "Train again (`tito milestone run 05`), or copy back a run kept in "
            f"{out_dir / 'previous'}.",
        ) from None
    return model, tokenizer


if __name__ == "__main__":
    from tito.milestone_script import run

    run(main)
