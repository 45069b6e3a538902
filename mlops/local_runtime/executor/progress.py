"""Live progress of a local execution on the terminal: the running step with a spinner and
the latest line of its job log, then one line per finished step with status and duration."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from mlops.local_runtime.executor.engine import FAILED, SUCCEEDED, StepRecord

_STYLES = {SUCCEEDED: "green", FAILED: "bold red"}


class RichProgress:
    """An `ExecutionObserver` that also receives job log lines (``on_line``)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._status: Any = None
        self._step = ""

    def step_started(self, name: str, step_type: str) -> None:
        self._step = name
        self._status = self.console.status(f"[bold]{escape(name)}[/] ({step_type}) running…")
        self._status.start()

    def on_line(self, stream: str, line: str) -> None:
        """Show the job's latest output next to the spinner (full logs are in the work dir)."""
        if self._status is not None and line.strip():
            text = escape(line.strip()[:100])
            self._status.update(f"[bold]{escape(self._step)}[/] running… [dim]{text}[/]")

    def step_finished(self, record: StepRecord) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        style = _STYLES.get(record.status, "yellow")
        line = (
            f"[{style}]{record.status:<9}[/] {escape(record.name):<22} "
            f"{record.type:<13} {record.seconds:7.1f} s"
        )
        self.console.print(line)
        if record.failure_reason:
            self.console.print(f"          [red]{escape(record.failure_reason)}[/]")
