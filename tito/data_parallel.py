"""Data-parallel training on one machine: one process per core, in the manner of DDP.

NumPy runs elementwise work (activations, normalisation, softmax, copies) on
one core; only matrix products spread over all of them. A training step of the
milestones is about half of each, so one process leaves cores idle for half of
every step. A `Team` forks one process per core instead, each running one BLAS
thread. Every process (a *rank*) holds the same copy of the model and computes
the gradients of its own slice of each batch; the ranks then add up their
gradients in shared memory, so every copy takes the same optimiser step from
the same numbers and the copies stay identical. PyTorch's
DistributedDataParallel trains on several GPUs the same way.

Rank 0 is the process that called `Team.run`: it alone prints and saves. The
others leave when the function they run returns. Forking needs Linux; on other
systems a team has one rank and runs the function in-process.
"""

from __future__ import annotations

import mmap
import os
import signal
import sys
import threading

import numpy as np

from tito.errors import TitoError

WAIT_SECONDS = 600  # the longest any rank waits for the others at one step


class Team:
    """`size` processes that train one model together.

    `floats` is the most numbers one collective call carries: the model's
    parameter count, plus a few for statistics. Create the team after the
    model and optimiser, so that every rank forks from the same state.
    """

    def __init__(self, size: int, floats: int):
        if size > 1 and not sys.platform.startswith("linux"):
            size = 1
        self.size, self.rank, self.floats = size, 0, floats
        self._calls = 0
        if size > 1:
            import multiprocessing

            # two slots per rank, used in turn: a rank writing the next call's
            # slot can never overwrite numbers another rank is still reading
            shared = mmap.mmap(-1, 2 * size * floats * 4)
            self._slots = np.frombuffer(shared, np.float32).reshape(2, size, floats)
            self._barrier = multiprocessing.get_context("fork").Barrier(size)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- running ------------------------------------------------------------

    def run(self, fn, *args):
        """fn(team, *args) on every rank; rank 0's result is returned.

        An error on any rank stops them all: the other ranks' errors are
        printed by themselves, and rank 0 raises.
        """
        if self.size == 1:
            return fn(self, *args)
        children = {}  # pid -> exit code, once known
        for rank in range(1, self.size):
            pid = os.fork()
            if pid == 0:
                self._child(rank, fn, args)  # never returns
            children[pid] = None

        def on_child_exit(signum, frame):
            for pid, code in children.items():
                if code is None:
                    try:
                        done, status = os.waitpid(pid, os.WNOHANG)
                    except ChildProcessError:
                        # reaped by a call of this handler that a second exit
                        # interrupted; that call records the exit code
                        continue
                    if done:
                        children[pid] = os.waitstatus_to_exitcode(status)
            if any(code not in (None, 0) for code in children.values()):
                self._barrier.abort()  # a worker died: stop waiting for it

        previous = signal.signal(signal.SIGCHLD, on_child_exit)
        try:
            result = fn(self, *args)
        except threading.BrokenBarrierError:
            _stop(children)
            raise TitoError(
                "A training worker process stopped; its error, if any, is above.",
                "Run again with --workers 1 to train in one process.",
            ) from None
        except BaseException:
            self._barrier.abort()  # wake the others, so that they stop too
            _stop(children)
            raise
        finally:
            signal.signal(signal.SIGCHLD, previous)
        _stop(children, gently=True)
        failed = sum(code != 0 for code in children.values())
        if failed:
            raise TitoError(
                f"{failed} of the {self.size - 1} worker processes failed.",
                "Their error is printed above; run again with --workers 1.",
            )
        return result

    def _child(self, rank, fn, args):
        self.rank, code = rank, 0
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # rank 0 stops us
        try:
            fn(self, *args)
        except (threading.BrokenBarrierError, TitoError):
            # rank 0 failed or stopped, and reports it; a TitoError comes from
            # a check every rank makes on the same summed numbers, so rank 0
            # raises it too
            code = 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
            self._barrier.abort()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    # -- collective calls: every rank makes the same calls in the same order --

    def shard(self, n: int) -> slice:
        """This rank's part of `n` rows: contiguous, sizes differ by one at most."""
        return slice(n * self.rank // self.size, n * (self.rank + 1) // self.size)

    def sum(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Each array added up over the ranks (float32); the same on every rank."""
        if self.size == 1:
            return [np.asarray(a, np.float32) for a in arrays]
        sizes = [np.size(a) for a in arrays]
        if sum(sizes) > self.floats:
            raise ValueError(f"Team.sum: {sum(sizes)} numbers, room for {self.floats}")
        slots = self._slots[self._calls % 2]  # (size, floats)
        self._calls += 1
        mine, at = slots[self.rank], 0
        for a, n in zip(arrays, sizes, strict=True):
            mine[at : at + n] = np.ravel(a)
            at += n
        self._wait()
        total = slots[:, :at].sum(axis=0)  # the same order, so the same sums
        out, at = [], 0
        for a, n in zip(arrays, sizes, strict=True):
            out.append(total[at : at + n].reshape(np.shape(a)))
            at += n
        return out

    def add_gradients(self, params, weight: float, stats=()) -> list[float]:
        """Set every gradient to the weighted sum of the ranks' gradients.

        `weight` is this rank's share of the batch (its rows over all rows),
        so that mean-loss gradients add up to the whole batch's. `stats` are
        numbers to add up across ranks on the way (loss sums, counts); their
        totals are returned.
        """
        grads = [
            np.zeros(p.data.shape, np.float32) if p.grad is None else p.grad * weight
            for p in params
        ]
        *totals, extra = self.sum([*grads, np.asarray(stats, np.float32)])
        for p, g in zip(params, totals, strict=True):
            p.grad = g.astype(p.data.dtype, copy=False)
        return [float(v) for v in extra]

    def average(self, arrays) -> None:
        """Replace each array, in place, by its mean over the ranks."""
        for a, total in zip(arrays, self.sum(list(arrays)), strict=True):
            a[...] = total / self.size

    def _wait(self):
        if self.size > 1:
            self._barrier.wait(WAIT_SECONDS)


def _stop(children: dict, gently: bool = False) -> None:
    """Wait for the worker processes (after SIGTERM unless `gently`), noting
    each one's exit code."""
    for pid, code in children.items():
        if code is not None:
            continue
        if not gently:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            _, status = os.waitpid(pid, 0)
            children[pid] = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # already reaped
            children[pid] = children[pid] or 0
