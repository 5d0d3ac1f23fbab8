"""How the data layer shows things: notes and a download progress bar.

The loaders and the downloader talk to a `Display`; the default one asks
`tito.ui` (the one place that imports rich). Tests pass a quiet one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Display:
    """Notes go to stderr; `transfer` yields an `update(bytes_done)` callback."""

    def note(self, text: str) -> None:
        from tito import ui

        ui.note(text)

    @contextmanager
    def transfer(
        self, title: str, total: int | None
    ) -> Iterator[Callable[[int], None]]:
        from tito import ui

        with ui.transfer(title, total) as update:
            yield update


class Quiet(Display):
    """Shows nothing; keeps the notes for whoever asks (tests, --json)."""

    def __init__(self):
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    @contextmanager
    def transfer(
        self, title: str, total: int | None
    ) -> Iterator[Callable[[int], None]]:
        yield lambda done: None
