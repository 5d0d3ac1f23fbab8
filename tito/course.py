"""The course as data: course.yaml loaded, validated and looked up.

course.yaml is the only place that knows module numbers, names, targets,
checks and prerequisites; everything else asks this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tito.errors import TitoError


@dataclass(frozen=True)
class Module:
    number: int
    name: str
    title: str
    target: str
    checks: str
    names: tuple[str, ...] = ()
    requires: tuple[int, ...] = ()
    given: bool = False
    track: str = "foundation"

    @property
    def slug(self) -> str:
        return f"{self.number:02d}_{self.name}"

    @property
    def solution(self) -> str:
        return f"solutions/{self.slug}.py"

    @property
    def template(self) -> str:
        return f"modules/{self.slug}/{self.name}.ipynb"


@dataclass(frozen=True)
class Milestone:
    number: int
    name: str
    title: str
    script: str
    requires: tuple[int, ...]
    metric: str = ""
    goal: float | None = None  # the metric a full run must reach; None: any
    goal_field: str = "value"  # the result's field the goal is compared with

    @property
    def slug(self) -> str:
        return f"{self.number:02d}_{self.name}"

    @property
    def lower_is_better(self) -> bool:
        return "loss" in self.metric or "perplexity" in self.metric

    def describe_goal(self) -> str:
        """`test_accuracy 0.75 or more`, or "" without a goal."""
        if self.goal is None:
            return ""
        name = self.metric if self.goal_field == "value" else self.goal_field
        return f"{name} {self.goal:g} or {'less' if self.lower_is_better else 'more'}"

    def reached_by(self, result: dict) -> bool:
        """Whether `result` reaches the goal (always, without one)."""
        if self.goal is None:
            return True
        value = result.get(self.goal_field)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return value <= self.goal if self.lower_is_better else value >= self.goal


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    url: str
    md5: str
    size: int
    archive: str = ""
    folder: str = ""
    file: str = ""
    files: tuple[str, ...] = ()
    file_md5: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass
class Course:
    root: Path
    package: str
    modules: list[Module]
    milestones: list[Milestone]
    datasets: list[Dataset] = field(default_factory=list)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def module(self, key: str | int) -> Module:
        """Find a module by `9`, `09`, `09_convolutions` or `convolutions`."""
        found = _lookup(self.modules, str(key))
        if found is None:
            known = ", ".join(m.slug for m in self.modules)
            raise TitoError(
                f"There is no module '{key}' in this course."
                if str(key).strip()
                else "The module name is empty.",
                f"Use a number or name from: {known}.",
            )
        return found

    def milestone(self, key: str | int) -> Milestone:
        """Find a milestone by `4`, `04`, `04_cnn` or `cnn`."""
        found = _lookup(self.milestones, str(key))
        if found is None:
            known = ", ".join(m.slug for m in self.milestones)
            raise TitoError(
                f"There is no milestone '{key}' in this course."
                if str(key).strip()
                else "The milestone name is empty.",
                f"Use a number or name from: {known}.",
            )
        return found

    def require_solutions(self) -> None:
        """Refuse instructor work on a course installed without its solutions."""
        if not (self.root / "solutions").is_dir():
            raise TitoError(
                f"The course at {self.root} has no solutions/ folder "
                "(an installed copy), so instructor commands cannot run.",
                "Install tito from a checkout with `pip install -e .`, or set "
                "TITO_COURSE to the checkout.",
            )

    def dataset(self, name: str) -> Dataset:
        for d in self.datasets:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.datasets)
        raise TitoError(f"There is no dataset '{name}'.", f"Use one of: {known}.")


def _lookup(items, key: str):
    key = key.strip().lower()
    if not key:
        return None
    for item in items:
        names = {item.slug, item.name, str(item.number), f"{item.number:02d}"}
        if key in names or key == Path(getattr(item, "script", "")).parent.name:
            return item
    return None


def course_root() -> Path:
    """The folder holding course.yaml: TITO_COURSE, a checkout, or the wheel's copy."""
    if env := os.environ.get("TITO_COURSE"):
        if not Path(env).is_dir():
            raise TitoError(
                f"TITO_COURSE is {env}, which is not a folder.",
                "Set TITO_COURSE to the course checkout (the folder holding "
                "course.yaml), or unset it.",
            )
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent
    if (checkout / "course.yaml").is_file() and (checkout / "tito").is_dir():
        return checkout
    return here / "_course"


def load_course(root: Path | None = None) -> Course:
    import yaml

    root = Path(root) if root else course_root()
    path = root / "course.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TitoError(
            f"No course.yaml at {path}.",
            "Reinstall tito, or set TITO_COURSE to the folder holding course.yaml.",
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise TitoError(
            f"{path} is not valid YAML{at}: {problem}.",
            "Fix the YAML syntax at that line.",
        ) from None
    return _parse(root, path, data)


def _parse(root: Path, path: Path, data) -> Course:
    check = _Checker(path)
    check.type(data, dict, "the top level")
    package = check.field(data, "package", str, "the top level")
    modules = [
        Module(
            number=check.field(m, "number", int, where),
            name=check.field(m, "name", str, where),
            title=check.field(m, "title", str, where),
            target=check.field(m, "target", str, where),
            checks=check.field(m, "checks", str, where),
            names=tuple(check.field(m, "names", list, where, [])),
            requires=tuple(check.field(m, "requires", list, where, [])),
            given=check.field(m, "given", bool, where, False),
            track=check.field(m, "track", str, where, "foundation"),
        )
        for i, m in enumerate(check.field(data, "modules", list, "the top level"))
        if check.type(m, dict, where := f"modules[{i}]")
    ]
    milestones = [
        Milestone(
            number=check.field(m, "number", int, where),
            name=check.field(m, "name", str, where),
            title=check.field(m, "title", str, where),
            script=check.field(m, "script", str, where),
            requires=tuple(check.field(m, "requires", list, where)),
            metric=check.field(m, "metric", str, where, ""),
            goal=check.number(m, "goal", where),
            goal_field=check.field(m, "goal_field", str, where, "value"),
        )
        for i, m in enumerate(check.field(data, "milestones", list, "the top level"))
        if check.type(m, dict, where := f"milestones[{i}]")
    ]
    datasets = [
        Dataset(
            name=check.field(d, "name", str, where),
            title=check.field(d, "title", str, where),
            url=check.field(d, "url", str, where),
            md5=check.field(d, "md5", str, where),
            size=check.field(d, "size", int, where),
            archive=check.field(d, "archive", str, where, ""),
            folder=check.field(d, "folder", str, where, ""),
            file=check.field(d, "file", str, where, ""),
            files=tuple(check.field(d, "files", list, where, [])),
            file_md5=dict(check.field(d, "file_md5", dict, where, {})),
        )
        for i, d in enumerate(check.field(data, "datasets", list, "the top level", []))
        if check.type(d, dict, where := f"datasets[{i}]")
    ]
    for i, m in enumerate(modules):
        check.target(m.target, f"modules[{i}].target")
    numbers = {m.number for m in modules}
    for m in [*modules, *milestones]:
        for r in m.requires:
            if r not in numbers:
                raise TitoError(
                    f"{path}: '{m.name}' requires module {r!r}, which the course "
                    "lacks.",
                    f"Fix its 'requires' list: module numbers from "
                    f"{', '.join(map(str, sorted(numbers)))}.",
                )
    return Course(root, package, modules, milestones, datasets)


class _Checker:
    """Validates course.yaml, naming the file, the key and what was expected."""

    def __init__(self, path: Path):
        self.path = path

    def type(self, value, kind, where: str):
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TitoError(
                f"{self.path}: {where} should be a {kind.__name__}, "
                f"not {type(value).__name__}.",
                "Fix course.yaml at that key.",
            )
        return True

    def target(self, value: str, where: str) -> None:
        import re

        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", value):
            raise TitoError(
                f"{self.path}: {where} is '{value}'; expected a dotted module "
                "name inside the package, such as `nn.conv`.",
                "Fix course.yaml at that key.",
            )

    def number(self, data: dict, key: str, where: str) -> float | None:
        """An optional number (int or float) at `key`, or None."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TitoError(
                f"{self.path}: {where}.{key} should be a number, "
                f"not {type(value).__name__}.",
                "Fix course.yaml at that key.",
            )
        return float(value)

    def field(self, data: dict, key: str, kind, where: str, default=...):
        if key not in data:
            if default is ...:
                raise TitoError(
                    f"{self.path}: {where} has no '{key}' ({kind.__name__} expected).",
                    "Add the key to course.yaml.",
                )
            return default
        self.type(data[key], kind, f"{where}.{key}")
        return data[key]
