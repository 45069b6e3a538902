"""File primitives the local caches share: atomic writes, pruning, an exclusive lock.

Several CLI processes (two terminals, the test workers) read and write the same cache folders
under ``.mlops/`` at once, so an entry is written through a uniquely named hidden sibling and
renamed into place (a reader sees the old entry or the new one, whole), and work that must
happen once takes an ``flock`` on a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import uuid
from collections.abc import Iterator
from pathlib import Path


def write_text_atomically(path: Path, text: str) -> None:
    """``path`` holds ``text`` or what it held before, never a part (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def keep_newest(directory: Path, pattern: str, keep: int) -> None:
    """Delete all but the ``keep`` most recently written files matching ``pattern``."""
    entries = sorted(directory.glob(pattern), key=lambda entry: entry.stat().st_mtime)
    for stale in entries[:-keep]:
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the block."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
