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
        home = Path(env).expanduser()
        if home.exists() and not home.is_dir():
            from tito.errors import TitoError

            raise TitoError(
                f"{ENV} names {home}, which is a file, not a folder.",
                f"Set {ENV} to a folder for the datasets, or unset it.",
            )
        return home

    from platformdirs import user_data_dir

    return Path(user_data_dir("tinytorch", appauthor=False))
