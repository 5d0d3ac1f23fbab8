"""Where datasets live on this machine: TINYTORCH_DATA, or a per-user data folder.

Nothing is created here; callers make the folder when they write into it.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "TINYTORCH_DATA"


def data_home() -> Path:
    """The cache folder: $TINYTORCH_DATA if set, else the user's data folder."""
    if env := os.environ.get(ENV):
        return Path(env).expanduser()

    from platformdirs import user_data_dir

    return Path(user_data_dir("tinytorch", appauthor=False))
