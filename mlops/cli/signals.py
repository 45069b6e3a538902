"""SIGTERM handled like Ctrl-C, so that a stopped command still cleans up and reports.

A process manager (systemd, CI, ``timeout``, ``kill``) stops a command with SIGTERM, whose
default action ends the process at once: no ``finally`` runs, so a half-written file stays
and a pipeline run leaves no summary. Inside `sigterm_as_interrupt` the signal raises
``KeyboardInterrupt`` instead: cleanup runs and ``mlops`` exits 130 as for Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt (main thread; elsewhere a no-op)."""
    if sys.platform == "win32":
        yield
        return
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
