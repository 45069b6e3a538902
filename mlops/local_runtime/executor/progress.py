"""Live progress of a local execution on the terminal: the running step with a spinner and
the latest line of its job log, then one line per finished step with status and duration."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from mlops.local_runtime.executor.engine import FAILED, SUCCEEDED, StepRecord

_STYLES = {SUCCEEDED: "green", FAILED: "bold red"}


class RichProgress:
    """An `ExecutionObserver` that also receives job log lines (``on_line``).

    Steps may run at the same time (the engine reports their starts and ends in definition
    order): the spinner names every running step, and each finished step gets its line.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._status: Any = None
        self._running: dict[str, str] = {}  # step → type, in start order
        self._latest = ""

    def step_started(self, name: str, step_type: str) -> None:
        self._running[name] = step_type
        self._latest = ""
        if self._status is None:
            self._status = self.console.status(self._text())
            self._status.start()
        else:
            self._status.update(self._text())

    def on_line(self, stream: str, line: str) -> None:
        """Show the jobs' latest output next to the spinner (full logs are in the work dir)."""
        if self._status is not None and line.strip():
            self._latest = line.strip()[:100]
            self._status.update(self._text())

    def step_finished(self, record: StepRecord) -> None:
        self._running.pop(record.name, None)
        if self._status is not None and not self._running:
            self._status.stop()
            self._status = None
        elif self._status is not None:
            self._status.update(self._text())
        style = _STYLES.get(record.status, "yellow")
        line = (
            f"[{style}]{record.status:<9}[/] {escape(record.name):<22} "
            f"{record.type:<13} {record.seconds:7.1f} s"
        )
        self.console.print(line)
        if record.failure_reason:
            self.console.print(f"          [red]{escape(record.failure_reason)}[/]")

    def _text(self) -> str:
        if len(self._running) == 1:
            name, step_type = next(iter(self._running.items()))
            head = f"[bold]{escape(name)}[/] ({step_type}) running…"
        else:
            head = f"[bold]{escape(', '.join(self._running))}[/] running…"
        return f"{head} [dim]{escape(self._latest)}[/]" if self._latest else head
