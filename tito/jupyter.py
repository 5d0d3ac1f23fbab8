"""Finding a Jupyter front end (JupyterLab, or the classic Notebook) to open
a learner's notebook with. The bare `jupyter` command is not enough: it is
there whenever nbconvert is, with or without a front end."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

FRONT_ENDS = ("jupyter-lab", "jupyter-notebook")
INSTALL = "pip install jupyterlab"


def front_end() -> str | None:
    """The path of jupyter-lab or jupyter-notebook, on PATH or beside this python."""
    here = Path(sys.executable).parent
    for name in FRONT_ENDS:
        found = shutil.which(name) or shutil.which(name, path=str(here))
        if found:
            return found
    return None
