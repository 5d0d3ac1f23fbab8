"""Plain conversions for tito's plain option types, so start-up stays fast.

Typer (0.2x) converts every parameter through a pydantic TypeAdapter built on
first use, which imports pydantic (a third of a second or more) on every run,
even for `--help`. tito's options are all bool, str, int, float or Path, or
lists of them: `install` gives those a direct conversion and leaves any other
type to Typer. A Typer without this machinery is left as it is.
"""

from __future__ import annotations

from pathlib import Path

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


def _bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError


_KINDS = {bool: _bool, str: str, int: int, float: float, Path: Path}


class _Plain:
    """Stands in for Typer's runtime parameter: `coerce(value, param, ctx)`."""

    def __init__(self, convert, many: bool):
        self.convert, self.many = convert, many

    def coerce(self, value, param, ctx):
        from typer import BadParameter

        if value is None:
            return () if self.many else None
        try:
            if self.many:
                return [self.convert(v) for v in value]
            return self.convert(value)
        except (TypeError, ValueError):
            name = getattr(self.convert, "__name__", "value").lstrip("_")
            raise BadParameter(
                f"{value!r} is not a valid {name}.", ctx, param
            ) from None


def install(command) -> None:
    """Give every plain parameter of `command` and its sub-commands a _Plain."""
    for param in command.params:
        _install_param(param)
    for sub in getattr(command, "commands", {}).values():
        install(sub)
    if hasattr(command, "get_help_option"):  # made on demand, per context
        made = command.get_help_option

        def get_help_option(ctx):
            option = made(ctx)
            if option is not None:
                _install_param(option)
            return option

        command.get_help_option = get_help_option


def _install_param(param) -> None:
    from typing import get_args, get_origin

    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not hasattr(param, "_runtime_param"):
        return
    annotation = descriptor.annotation
    many = param.multiple or param.nargs == -1
    if many and get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    elif many or param.nargs != 1:
        return
    if annotation in _KINDS:
        param._runtime_param = _Plain(_KINDS[annotation], many)
