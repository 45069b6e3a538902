"""Running a container's command as a subprocess, the way the container runtime does.

The command is run as given (its program looked up on the job's own PATH, not the caller's),
in the job's environment only. Output is streamed line by line to a log file (what CloudWatch
would hold) and to an optional callback for live progress; the tail of stderr is kept for
messages about how the process ended. The child runs in its own session so a timeout, a
cancel (another step of the execution was interrupted) or Ctrl-C kills the whole process
group, not just the interpreter. A `WarmLauncher` (the warm runtime,
`mlops.local_runtime.jobs.warm`) may run the command forked from a process that has already
imported the image's libraries; when it declines, the command runs as a new process.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess  # nosec B404 - runs the job's own command, no shell
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

LineCallback = Callable[[str, str], None]
"""Called with (stream name "stdout" | "stderr", line without newline) as the script prints."""

STDERR_TAIL_LINES = 50
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ProcessOutcome:
    """How the script ended: its exit code (negative = killed by that signal), whether it hit
    the timeout, its stderr tail and the wall time."""

    returncode: int
    timed_out: bool
    stderr_tail: tuple[str, ...]
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def stopped_reason(self, timeout_seconds: float | None) -> str | None:
        """How the process was stopped from outside (timeout, signal), if it was."""
        if self.timed_out:
            return f"the job exceeded its timeout of {timeout_seconds:g} s and was stopped"
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"the process was killed by {name}"
        return None


class WarmLauncher(Protocol):
    """Runs a command forked from a warm process, or declines (None: nothing started)."""

    def __call__(
        self,
        command: Sequence[str],
        program: str,
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_file: Path,
        timeout_seconds: float | None,
        on_line: LineCallback | None,
        cancel: threading.Event | None,
    ) -> ProcessOutcome | None: ...


class CommandNotFound(FileNotFoundError):  # noqa: N818 - reads as the container runtime's error
    """The entry point's program is not on the job's PATH (the container would not start)."""


def run_command(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_file: Path,
    timeout_seconds: float | None = None,
    on_line: LineCallback | None = None,
    cancel: threading.Event | None = None,
    warm: WarmLauncher | None = None,
) -> ProcessOutcome:
    """Run ``command`` (program looked up on ``env["PATH"]``) and wait for it; ``cancel`` set
    kills it (its outcome then reads as killed by SIGKILL)."""
    if not command:
        raise CommandNotFound("the container has no entry point")
    program = shutil.which(command[0], path=env.get("PATH", ""))
    if program is None:
        raise CommandNotFound(f"executable file not found in $PATH: {command[0]}")
    if warm is not None:
        outcome = warm(
            command,
            program,
            env=env,
            cwd=cwd,
            log_file=log_file,
            timeout_seconds=timeout_seconds,
            on_line=on_line,
            cancel=cancel,
        )
        if outcome is not None:
            return outcome
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    log_lock = threading.Lock()
    started = time.monotonic()
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603  # nosec B603 - the job's command, no shell
            list(command),
            executable=program,
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
                target=pump_lines,
                args=(process.stdout, "stdout", log, log_lock, on_line, None),
                daemon=True,
            ),
            threading.Thread(
                target=pump_lines,
                args=(process.stderr, "stderr", log, log_lock, on_line, stderr_tail),
                daemon=True,
            ),
        ]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            timed_out = _wait(process, started, timeout_seconds, cancel)
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


def _wait(
    process: subprocess.Popen[bytes],
    started: float,
    timeout_seconds: float | None,
    cancel: threading.Event | None,
) -> bool:
    """Wait for the process; kill its group on timeout (returns True) or cancel."""
    while True:
        remaining = (
            None if timeout_seconds is None else started + timeout_seconds - time.monotonic()
        )
        if remaining is not None and remaining <= 0:
            _kill_group(process)
            process.wait()
            return True
        step = remaining if cancel is None else min(_POLL_SECONDS, remaining or _POLL_SECONDS)
        try:
            process.wait(timeout=step)
            return False
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                _kill_group(process)
                process.wait()
                return False


def pump_lines(
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
