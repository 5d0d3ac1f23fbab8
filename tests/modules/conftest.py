"""Module checks run against a learner's package, or against the reference.

`tito module test` runs these files with the learner's workspace first on
sys.path and TITO_WORKSPACE_UNDER_TEST set. Run directly (`pytest tests/`),
they check the reference solutions, exported once into a scratch folder that
is removed when the run ends.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

_scratch: list[Path] = []


def pytest_configure(config):
    if os.environ.get("TITO_WORKSPACE_UNDER_TEST"):
        return
    from tito.course import load_course
    from tito.export import export_reference

    scratch = Path(tempfile.mkdtemp(prefix="tito-reference-"))
    _scratch.append(scratch)
    export_reference(load_course(), scratch)
    sys.path.insert(0, str(scratch))


def pytest_unconfigure(config):
    for scratch in _scratch:
        shutil.rmtree(scratch, ignore_errors=True)
