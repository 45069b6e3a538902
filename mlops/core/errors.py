"""Errors a user can fix; the CLI prints their message as one line and exits non-zero."""


class UserError(Exception):
    """A problem with the user's input or environment, stated as what to fix (no traceback)."""

    exit_code: int = 2
