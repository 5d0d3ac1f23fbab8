"""The workspace lock: one holder at a time, a clear error after waiting."""

import subprocess
import sys
import time

import pytest

from tito.errors import TitoError
from tito.lock import locked

HOLD = """
import sys, time
from pathlib import Path
from tito.lock import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_second_holder_waits_then_gives_up(tmp_path):
    lock = tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with pytest.raises(TitoError, match="Another tito process"):
            with locked(lock, timeout=0.3):
                pass
        assert time.monotonic() - start >= 0.3
    finally:
        holder.kill()
        holder.wait()

    with locked(lock, timeout=5):  # released when the holder died
        pass
