"""The one error type a user can cause: what went wrong, and what to do."""


class TitoError(Exception):
    """A mistake the user can fix; shown as two lines on stderr, no traceback."""

    def __init__(self, what: str, todo: str = "", code: int = 1):
        super().__init__(what)
        self.what = what
        self.todo = todo
        self.code = code
