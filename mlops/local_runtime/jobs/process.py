"""Running a container entry script as a subprocess, the way the container's launcher does.

Output is streamed line by line to a log file (what CloudWatch would hold) and to an optional
callback for live progress; the tail of stderr is kept because it carries the failure reason
when a script dies without writing a failure file. The child runs in its own session so a
timeout kills the whole process group, not just the interpreter.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess  # nosec B404 - runs the job's own script, no shell
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LineCallback = Callable[[str, str], None]
"""Called with (stream name "stdout" | "stderr", line without newline) as the script prints."""

_STDERR_TAIL_LINES = 50


@dataclass(frozen=True)
class ProcessOutcome:
    """How the script ended: its exit code (negative = killed by that signal), whether it hit
    the timeout, its stderr tail and the wall time."""

    returncode: int
    timed_out: bool
    stderr_tail: tuple[str, ...]
    seconds: float

    def failure_reason(self, timeout_seconds: float | None) -> str:
        """SageMaker-style reason: the last non-empty stderr line, or how the process ended."""
        if self.timed_out:
            return f"the job exceeded its timeout of {timeout_seconds:g} s and was stopped"
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"the process was killed by {name}"
        for line in reversed(self.stderr_tail):
            if line.strip():
                return line.strip()
        return f"the process exited with code {self.returncode}"


def run_script(
    script: Path,
    arguments: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_file: Path,
    timeout_seconds: float | None = None,
    on_line: LineCallback | None = None,
) -> ProcessOutcome:
    """Run ``python script arguments…`` with the project's interpreter and wait for it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
    log_lock = threading.Lock()
    started = time.monotonic()
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603  # nosec B603 - our interpreter, no shell
            [sys.executable, str(script), *arguments],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if process.stdout is None or process.stderr is None:  # pragma: no cover - PIPE given
            raise RuntimeError("subprocess pipes were not created")
        readers = [
            threading.Thread(
                target=_pump,
                args=(process.stdout, "stdout", log, log_lock, on_line, None),
                daemon=True,
            ),
            threading.Thread(
                target=_pump,
                args=(process.stderr, "stderr", log, log_lock, on_line, stderr_tail),
                daemon=True,
            ),
        ]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            process.wait()
        except BaseException:
            _kill_group(process)
            process.wait()
            raise
        for reader in readers:
            reader.join()
    return ProcessOutcome(
        returncode=process.returncode,
        timed_out=timed_out,
        stderr_tail=tuple(stderr_tail),
        seconds=time.monotonic() - started,
    )


def base_environment() -> dict[str, str]:
    """The parent's environment plus unbuffered output, so progress streams as it happens."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _pump(
    stream: IO[bytes],
    name: str,
    log: IO[str],
    lock: threading.Lock,
    on_line: LineCallback | None,
    tail: collections.deque[str] | None,
) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        with lock:
            log.write(f"{line}\n" if name == "stdout" else f"[stderr] {line}\n")
            log.flush()
        if tail is not None:
            tail.append(line)
        if on_line is not None:
            try:
                on_line(name, line)
            except Exception as error:  # a broken callback must not stall the pipe (deadlock)
                with lock:
                    log.write(f"[runtime] progress callback failed, disabled: {error!r}\n")
                on_line = None
    stream.close()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
