"""The one error type a user can cause: what went wrong, and what to do."""


class TitoError(Exception):
    """A mistake the user can fix; shown as two lines on stderr, no traceback."""

    def __init__(self, what: str, todo: str = "", code: int = 1):
        super().__init__(what)
        self.what = what
        self.todo = todo
        self.code = code


def from_os_error(e: OSError) -> TitoError:
    """A failed file operation as what failed (with the path) and what to do."""
    import errno
    import shlex

    path = e.filename if e.filename is not None else ""
    named = f" {path}" if path else ""
    if isinstance(e, PermissionError):
        return TitoError(
            f"Permission denied:{named}.",
            "Make that folder writable for you (or choose another), then run the "
            "command again.",
        )
    if isinstance(e, (FileExistsError, NotADirectoryError)) or e.errno in (
        errno.EEXIST,
        errno.ENOTDIR,
    ):
        return TitoError(
            f"{path or 'A path'} (or a folder above it) is a file, not a folder.",
            "Choose a folder path, or move that file aside.",
        )
    if e.errno == errno.ENOSPC:
        return TitoError(f"No space left on the disk:{named}.", "Free some space.")
    quoted = f" ({shlex.quote(str(path))})" if path else ""
    return TitoError(
        f"{e.strerror or e}{quoted}.", "Check the path, then run the command again."
    )
