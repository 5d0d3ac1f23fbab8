"""Installed from a built wheel (not editable), tito still finds the whole course."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def _run(*args, cwd, env=None):
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_wheel_installs_and_runs_the_journey(tmp_path):
    dist = tmp_path / "dist"
    built = _run(
        sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist,
        REPO, cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("tito-*.whl")

    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    _borrow_dependencies(bin_dir / "python")
    install = _run(
        bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index",
        wheel, cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith("TITO_")}
    env.pop("PYTHONPATH", None)
    home = tmp_path / "learner"
    home.mkdir()
    where = _run(
        bin_dir / "python", "-c",
        "import tito.course as c; print(c.__file__); print(c.load_course().root)",
        cwd=home, env=env,
    )  # fmt: skip
    module_file, root = where.stdout.split()
    assert Path(module_file).is_relative_to(venv), module_file
    assert Path(root).name == "_course" and Path(root).is_relative_to(venv)
    for part in ("course.yaml", "tests/modules/conftest.py", "modules", "milestones"):
        assert (Path(root) / part).exists(), part
    assert not (Path(root) / "solutions").exists()

    init = _run(bin_dir / "tito", "init", cwd=home, env=env)
    assert init.returncode == 0, init.stderr
    assert (home / "workspace" / "tinytorch" / "__init__.py").is_file()

    first = _first_released_exercise(Path(root))
    start = _run(bin_dir / "tito", "module", "start", first, cwd=home, env=env)
    assert start.returncode == 0, start.stderr
    assert list((home / "workspace").glob(f"{first}_*/*.ipynb"))


def _borrow_dependencies(python: Path) -> None:
    """Let the new venv import this environment's packages (typer, numpy...).

    A .pth file adds our site-packages folders to its path without running
    their .pth files, so an editable tito here stays invisible there. This
    works whether the tests run in a plain venv or with system packages.
    """
    import site
    import sysconfig

    ours = {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
    theirs = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        cwd=python.parent,
    ).stdout.strip()  # fmt: skip
    lines = [p for p in sorted(ours) if Path(p).is_dir()]
    (Path(theirs) / "_tito_test_borrow.pth").write_text("\n".join(lines) + "\n")


def _first_released_exercise(root: Path) -> str:
    import yaml

    course = yaml.safe_load((root / "course.yaml").read_text())
    for m in course["modules"]:
        slug = f"{m['number']:02d}_{m['name']}"
        if (
            not m.get("given")
            and (root / "modules" / slug / f"{m['name']}.ipynb").exists()
        ):
            return f"{m['number']:02d}"
    raise AssertionError("the wheel holds no exercise template")
