"""What the milestone training scripts share: workspace, threads, errors, clock.

A milestone script runs on its own (`python milestones/.../train.py`) as well
as under `tito milestone run`. These helpers keep its set-up and its output the
same in every script (their progress bar is `tito.ui.training_progress`).
Nothing here imports NumPy: `use_threads` must run before NumPy loads its BLAS.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

# Set by `tito milestone run` to the command the learner typed, for messages.
COMMAND_VAR = "TITO_MILESTONE_COMMAND"

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# How long an idle OpenBLAS thread spins before it sleeps, as log2 of CPU
# cycles. OpenBLAS's own default, 28, is about a tenth of a second: long enough
# for the spinning thread to hold the core that tinytorch's elementwise threads
# need between two matrix multiplies. 16 is a few microseconds.
BLAS_SPIN = "16"


def short_blas_spin() -> None:
    """Let idle BLAS threads sleep soon (unless the user chose otherwise).

    Has an effect only before NumPy loads its BLAS.
    """
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", BLAS_SPIN)


def default_workers() -> int:
    """Training processes to use: one per core (at most 8), where they can fork."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def use_threads(threads: int | None, fall_back_when_busy: bool = False) -> int | None:
    """Set the BLAS (and tinytorch's elementwise) thread count before NumPy loads.

    With `fall_back_when_busy`, a machine already loaded to its core count gets
    one thread: threads waiting for busy cores spin and stall every step.
    Returns the count set, or None for the library's default.
    """
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    if threads is None and fall_back_when_busy and cores > 1 and load >= cores:
        threads = 1
        print(
            f"threads: 1, as the machine is busy (load {load:.1f} on {cores} "
            "cores); --threads N to choose",
            file=sys.stderr,
        )
    if threads:
        for var in THREAD_VARS:
            os.environ[var] = str(threads)
    short_blas_spin()
    return threads


def open_workspace(given: str | None, script: str) -> Path:
    """The learner's workspace, importable, with the script's own folder after it.

    A TitoError if that folder does not exist.
    """
    ws = Path(given or os.environ.get("TITO_WORKSPACE") or "workspace").resolve()
    if not ws.is_dir():
        from tito.errors import TitoError

        raise TitoError(
            f"There is no workspace at {ws}.",
            "Pass --workspace with your tito workspace, or run `tito init`.",
        )
    sys.path.insert(0, str(ws))
    sys.path.insert(1, str(Path(script).resolve().parent))
    return ws


def command() -> str:
    """How the learner ran this script: `tito milestone run 04` or `python ...`."""
    import shlex

    script = shlex.quote(sys.argv[0]) if sys.argv[0] else "train.py"
    return os.environ.get(COMMAND_VAR) or f"python {script}"


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are two lines (what, then what to do), exit 2."""

    def error(self, message: str):
        from tito import ui

        what = f"{message[0].upper()}{message[1:]}."
        ui.error(what, f"`{command()} --help` lists the options.")
        sys.exit(2)


def number_type(convert, ok, expected: str):
    """An argparse type: `convert(text)` if `ok` of it, else an error that says
    what was `expected`."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse


positive_int = number_type(int, lambda v: v >= 1, "a whole number >= 1")
positive_float = number_type(
    float, lambda v: math.isfinite(v) and v > 0, "a number > 0"
)
non_negative_float = number_type(  # a temperature
    float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0"
)
fraction = number_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)")  # dropout
seed = number_type(int, lambda v: 0 <= v < 2**32, "a whole number from 0 to 4294967295")


def up_to(limit: int):
    """A whole number from 1 to limit: counts whose run would never end."""
    return number_type(int, lambda v: 1 <= v <= limit, f"a whole number 1 to {limit:,}")


def folder_text(text: str) -> str:
    """An argparse type for a path: not empty (an unset shell variable, say)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return text


def add_place_options(ap: argparse.ArgumentParser, data_help: str) -> None:
    """--workspace and --data-dir, the same in every training script."""
    ap.add_argument(
        "--workspace",
        type=folder_text,
        help="learner workspace (default $TITO_WORKSPACE)",
    )
    ap.add_argument("--data-dir", type=folder_text, help=data_help)


def add_parallel_options(ap: argparse.ArgumentParser, busy: str = "") -> None:
    """--workers and --threads, the same in every training script.

    `busy` adds what the script does on a busy machine to --threads' help.
    """
    ap.add_argument(
        "--workers",
        type=positive_int,
        help="training processes, each with a share of every batch (default: one "
        "per core; 1 trains in this process)",
    )
    ap.add_argument(
        "--threads",
        type=positive_int,
        help=f"BLAS threads per process (default: 1 with several workers, else "
        f"NumPy's{busy})",
    )


def check_workers(workers: int | None, parallel_rows: int) -> int:
    """The number of training processes: `workers`, or one per core.

    More processes than cores only wait for each other, and each must keep
    some rows of every batch; either is an error (`TitoError`).
    """
    from tito.errors import TitoError

    cores = os.cpu_count() or 1
    if workers is None:
        return min(default_workers(), parallel_rows)
    if workers > cores:
        raise TitoError(
            f"--workers {workers} is more than the {cores} cores of this machine.",
            f"Pass --workers {cores} or fewer (the default is one per core).",
        )
    if workers > parallel_rows:
        raise TitoError(
            f"--workers {workers} leaves some processes without a row of the "
            f"batch ({parallel_rows} rows).",
            f"Pass --workers {parallel_rows} or fewer, or a larger batch.",
        )
    return workers


def check_threads(threads: int | None) -> None:
    """More BLAS threads than cores only wait for each other (`TitoError`)."""
    from tito.errors import TitoError

    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        raise TitoError(
            f"--threads {threads} is more than the {cores} cores of this machine.",
            f"Pass --threads {cores} or fewer, or leave it out.",
        )


def diverged(value: float, what: str) -> Exception:
    """The error for a loss or gradient that is no longer a finite number."""
    from tito.errors import TitoError

    return TitoError(
        f"Training diverged: the {what} became {value}; stopped, nothing saved.",
        "Lower the learning rate (--lr) and run again.",
    )


def quiet_overflow():
    """A context in which NumPy does not warn of overflow or NaN.

    Around a training step: a diverging run then ends with the one error of
    `diverged`, raised by the loss or gradient check, instead of a screen of
    warnings first.
    """
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def unfinished(error: NotImplementedError, module: str) -> int:
    """Report an exercise the learner has not written yet; exit status 1.

    The module is the one the exercise's message names, else `module`.
    """
    import re

    named = re.search(r"\(module (\d+)\)", str(error))
    module = named.group(1) if named else module
    return fail(
        f"Your tinytorch is not finished: {error}",
        f"Complete it, then `tito module test {module}` until it passes.",
    )


def keep_previous(out_dir: Path, names: list[str]) -> Path | None:
    """Move the files `names` of an earlier run into out_dir/previous/<time>/.

    Returns that folder, or None when there was nothing to keep.
    """
    found = [out_dir / n for n in names if (out_dir / n).is_file()]
    if not found:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(found[0].stat().st_mtime))
    backup = out_dir / "previous" / stamp
    n = 1
    while backup.exists():
        n += 1
        backup = out_dir / "previous" / f"{stamp}-{n}"
    backup.mkdir(parents=True)
    for path in found:
        path.replace(backup / path.name)
    return backup


@contextmanager
def alone(out_dir: Path):
    """Run the body as the only training of this milestone in this workspace.

    A file beside out_dir holds the process id while the body runs; a second
    run meanwhile is a TitoError naming the first. A file left by a run that
    was killed, whose process is gone, is taken over. Where the results could
    not be saved, the run is refused before it trains.
    """
    from tito.errors import TitoError

    mark = out_dir.parent / f".{out_dir.name}.running"
    me = os.getpid()
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        fd = _take(mark)
        try:
            writable(out_dir)
        except OSError:
            os.close(fd)
            mark.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise TitoError(
            f"The results of this run could not be saved in {out_dir}: "
            f"{e.strerror or e}.",
            "Make that folder writable (or free some space), then run again; "
            "nothing has been trained yet.",
        ) from None
    with os.fdopen(fd, "w") as f:
        f.write(str(me))
    try:
        yield
    finally:
        if os.getpid() == me:  # not in a forked worker
            mark.unlink(missing_ok=True)


def _take(mark: Path) -> int:
    """Create the run's mark file and return its descriptor; a TitoError if a
    live run holds it. A mark left by a killed run is taken over."""
    from tito.errors import TitoError

    while True:
        try:
            return os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            other = _process_in(mark)
            if other is not None:
                raise TitoError(
                    f"This milestone is already training in this workspace "
                    f"(process {other}); two runs would write the same results.",
                    "Wait for that run to finish, or stop it, and run again.",
                ) from None
            mark.unlink(missing_ok=True)  # its run was killed


@contextmanager
def saving(out_dir: Path):
    """Around writing a finished run's files: a failure says what was lost."""
    from tito.errors import TitoError

    try:
        yield
    except OSError as e:
        raise TitoError(
            f"Training finished, but its files could not be saved in {out_dir}: "
            f"{e.strerror or e}.",
            "Free some space or make that folder writable, then run again.",
        ) from None


def writable(out_dir: Path) -> None:
    """Raise OSError unless out_dir and out_dir/previous, where an earlier
    run's files are moved, can be made where missing and written to."""
    import tempfile

    previous = out_dir / "previous"
    for folder in (out_dir, previous):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(20, "a file is where a folder belongs", folder)
    for folder in (out_dir, previous):  # the run's mark proved out_dir.parent
        if folder.is_dir():
            with tempfile.TemporaryFile(dir=folder):
                pass


def _process_in(mark: Path) -> int | None:
    """The live process whose id `mark` holds, or None."""
    try:
        pid = int(mark.read_text().strip())
        os.kill(pid, 0)  # no signal: only asks whether it exists
    except PermissionError:
        return pid  # alive, another user's
    except (OSError, ValueError):
        return None  # gone, or the file unreadable
    return pid


def run(main) -> None:
    """Exit with main()'s status; Ctrl-C ends quietly with status 130."""
    try:
        code = main()
    except KeyboardInterrupt:
        if not os.environ.get(COMMAND_VAR):  # tito says it itself
            print("Interrupted.", file=sys.stderr)
        code = 130
    sys.exit(code)


def fail(what: str, todo: str = "") -> int:
    """Two lines on stderr, what went wrong and what to do; exit status 1."""
    from tito import ui

    ui.error(what, todo)
    return 1


def keep_freed_memory() -> None:
    """Ask glibc to reuse freed memory instead of returning it to the system.

    Every step allocates the same large activation arrays; by default each one
    comes fresh from the kernel, zeroed page by page, which costs about a tenth
    of a training step. Harmless where glibc is absent.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)  # the largest glibc accepts
    libc.mallopt(M_TRIM_THRESHOLD, 2**30)
    libc.mallopt(M_TOP_PAD, 256 * 2**20)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Clock:
    """Wall and CPU time since the start, and the load average then."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), _cpu_seconds()
        self.load_start = round(os.getloadavg()[0], 2)
        self.pid = os.getpid()

    def cpu_seconds(self) -> float:
        """This process's CPU seconds since the start; in a worker forked since,
        since its fork (a new process's counters start at zero)."""
        if os.getpid() != self.pid:
            return _cpu_seconds()
        return _cpu_seconds() - self.cpu

    def elapsed(self) -> dict:
        return {
            "seconds": round(time.perf_counter() - self.wall, 1),
            "cpu_seconds": round(self.cpu_seconds(), 1),
        }

    def load_average(self) -> list[float]:
        """The load average at the start and now."""
        return [self.load_start, round(os.getloadavg()[0], 2)]
