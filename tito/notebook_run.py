"""Running a learner's notebook top to bottom, as a check that it runs at all.

The kernel is always this interpreter (whatever kernel the notebook's metadata
names), with the workspace first on PYTHONPATH and the notebook's folder as
its working directory. Each cell has a time limit. The notebook on disk is
never modified; the first failing cell is reported by number and first line.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class NotebookRun:
    passed: bool
    cells: int  # code cells that ran
    failed_cell: int | None = None  # 1-based, counting every cell
    first_line: str = ""
    error: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


def run_notebook(
    path: Path, workspace: Path, cell_timeout: float = 120.0
) -> NotebookRun:
    """Execute every code cell of the notebook at `path` in a fresh kernel."""
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    from tito.checks import workspace_env
    from tito.notebooks import read_notebook

    nb = read_notebook(path)
    current = {"index": None}
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        km=AsyncKernelManager(kernel_name="tito", kernel_spec_manager=_ThisPython()),
        resources={"metadata": {"path": str(Path(path).parent)}},
        on_cell_execute=lambda cell, cell_index: current.update(index=cell_index),
    )
    env = workspace_env(workspace)
    env.pop("TITO_WORKSPACE_UNDER_TEST")
    error = _execute(
        client,
        env=env,
        cwd=str(Path(path).parent),
        stdout=subprocess.DEVNULL,  # the kernel's own log lines, not cell output
        stderr=subprocess.DEVNULL,
    )
    if isinstance(error, (CellExecutionError, CellTimeoutError, DeadKernelError)):
        index = current["index"] or 0
        first = (nb.cells[index].source.strip().splitlines() or [""])[0]
        ran = sum(c.cell_type == "code" for c in nb.cells[: index + 1])
        return NotebookRun(False, ran, index + 1, first, _summary(error))
    if error is not None:
        raise error
    return NotebookRun(True, sum(c.cell_type == "code" for c in nb.cells))


def _execute(client, **kwargs) -> BaseException | None:
    """client.execute in a worker thread; the error it raised, if any.

    In a thread, nbclient leaves the signal handlers alone, so Ctrl-C and
    SIGTERM reach tito, which then stops the kernel itself.
    """
    import threading

    outcome = []

    def work():
        try:
            client.execute(**kwargs)
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=work, name="tito-notebook", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except BaseException:
        _stop_kernel(client)
        thread.join(5)
        raise
    return outcome[0] if outcome else None


def _stop_kernel(client) -> None:
    """Kill the kernel's process group and remove its connection file."""
    from tito.processes import stop_group

    km = getattr(client, "km", None)
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None:
        stop_group(process.pid)
        process.wait()
    if km is not None:
        km.cleanup_connection_file()


def _summary(error: Exception) -> str:
    from nbclient.exceptions import CellExecutionError

    if isinstance(error, CellExecutionError):
        return f"{error.ename}: {error.evalue}"[:300]
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"


def _this_python_spec():
    from jupyter_client.kernelspec import KernelSpec

    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name=f"Python {sys.version.split()[0]} (tito)",
        language="python",
    )


def _spec_manager_class():
    from jupyter_client.kernelspec import KernelSpecManager

    class ThisPython(KernelSpecManager):
        """Every kernel name resolves to the interpreter running tito."""

        def get_kernel_spec(self, kernel_name):
            return _this_python_spec()

    return ThisPython


def _ThisPython():  # noqa: N802 - reads as the class it makes
    return _spec_manager_class()()
