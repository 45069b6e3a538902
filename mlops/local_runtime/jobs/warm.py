"""The warm runtime: a job's process forked from one that has already imported its image's
libraries, instead of a new interpreter that imports them again.

Importing numpy, pandas, scikit-learn, xgboost and matplotlib costs 1-4 s a job on the
2-core reference machine, and a pipeline pays it in every step. Per image environment one
server process (`zygote.py`, run by that environment's interpreter) imports the image's
``preload`` modules once, is kept alive between CLI calls (like the embedded AWS) and forks a
fresh child per job: one process per job, as before, in its own session, with exactly the
job's environment, argv, working directory and stdin/stdout/stderr.

A job runs warm only when nothing distinguishes the child from a new interpreter:

- its command is ``<image python3> script.py …`` (absolute, a regular file) or
  ``<image python3> -m module …`` — no other interpreter option;
- no directory its ``sys.path`` puts before site-packages (the script's or working directory,
  ``PYTHONPATH``) holds a module named like a preloaded one (a new interpreter would import
  that one, the forked child already has the image's);
- its environment equals the server's in every variable a library may read at import time:
  only the per-job variables (`PER_JOB`: ``SM_*``, ``AWS_*``, names, ``HOME``, temp dirs,
  ``PYTHONPATH`` — the child computes ``sys.path`` from it as a new interpreter does) may
  differ. A job whose ``Environment`` sets anything else (``OMP_NUM_THREADS``,
  ``PYTHONHASHSEED``, ``MPLBACKEND``…) to another value runs as a new process.

Anything else — no preload for the image, the server cannot start or dies, the socket is
unusable — runs the job as a new process, unchanged. ``MLOPS_WARM_RUNTIME=off`` turns the warm
runtime off; ``MLOPS_WARM_RUNTIME=<dir>`` puts its servers there. A server exits after
`IDLE_SECONDS` without a job, when its directory is removed, or on `stop_warm_runtimes`
(``mlops demo stop``); running jobs finish first.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess  # nosec B404 - starts the image's own interpreter
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.files import exclusive
from mlops.local_runtime.images import ImageEnvironment, default_cache_dir
from mlops.local_runtime.jobs import zygote
from mlops.local_runtime.jobs.container import Rerooting, container_environment
from mlops.local_runtime.jobs.process import (
    STDERR_TAIL_LINES,
    LineCallback,
    ProcessOutcome,
    WarmLauncher,
    pump_lines,
)

WARM_RUNTIME_ENV = "MLOPS_WARM_RUNTIME"
IDLE_SECONDS = 1200.0
START_TIMEOUT_SECONDS = 120.0
# Variables a job sets for itself that no preloaded library reads at import time.
PER_JOB_PREFIXES = ("SM_", "AWS_")
PER_JOB = frozenset(
    {
        "HOME",
        "TEMP",
        "TMP",
        "TMPDIR",
        "PYTHONPATH",
        "TRAINING_JOB_NAME",
        "TRAINING_JOB_ARN",
        "CURRENT_HOST",
        "SAGEMAKER_JOB_NAME",
        "SAGEMAKER_REGION",
        "MLOPS_LOCAL_HOSTS",
    }
)
_OFF = frozenset({"0", "off", "false", "no"})
_MAX_SOCKET_PATH = 100  # sockaddr_un holds 104-108 bytes
_POLL_SECONDS = 0.2
_KILL_GRACE_SECONDS = 10.0
_HEADER = struct.Struct("!I")


@dataclass(frozen=True)
class WarmRuntime:
    """Where the servers live (one directory per image environment) and how long they idle."""

    root: Path
    idle_seconds: float = IDLE_SECONDS

    def prewarm(self, image: ImageEnvironment) -> None:
        """Start the image's server without waiting for it (its imports overlap other work)."""
        if image.preload:
            _Server(self, image).ensure(wait=False)

    def run(
        self,
        image: ImageEnvironment,
        command: Sequence[str],
        program: str,
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_file: Path,
        timeout_seconds: float | None,
        on_line: LineCallback | None,
        cancel: threading.Event | None,
    ) -> ProcessOutcome | None:
        """Run the job forked from the image's server; None when it must run as a new process
        (module doc), in which case nothing has started."""
        server = _Server(self, image)
        request = server.request(command, program, env, cwd)
        if request is None:
            return None
        path = server.ensure(wait=True)
        if path is None:
            return None
        return _run_forked(path, request, log_file, timeout_seconds, on_line, cancel)

    def stop(self) -> int:
        """Ask every server under ``root`` to stop (running jobs finish); how many were up."""
        stopped = 0
        if not self.root.is_dir():
            return 0
        for directory in sorted(self.root.iterdir()):
            path = _socket_path(directory)
            with contextlib.suppress(OSError, ValueError):
                _exchange(path, b"S")
                stopped += 1
        return stopped


def warm_launcher(
    runtime: WarmRuntime | None, image: ImageEnvironment | None
) -> WarmLauncher | None:
    """What `run_command` calls to try a job warm: the runtime bound to the job's image."""
    if runtime is None or image is None or not image.preload:
        return None
    return functools.partial(runtime.run, image)


def default_warm_runtime() -> WarmRuntime | None:
    """The warm runtime ``$MLOPS_WARM_RUNTIME`` selects (off, a directory), else the one next
    to the image environments."""
    setting = os.environ.get(WARM_RUNTIME_ENV, "").strip()
    if setting.lower() in _OFF:
        return None
    return WarmRuntime(Path(setting) if setting else default_cache_dir() / "warm")


def stop_warm_runtimes() -> int:
    """Stop the default warm runtime's servers (``mlops demo stop``); how many were up."""
    runtime = default_warm_runtime()
    return runtime.stop() if runtime is not None else 0


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class _Server:
    runtime: WarmRuntime
    image: ImageEnvironment

    @property
    def directory(self) -> Path:
        """One per image environment and server version: a changed ``zygote.py`` or preload
        list gets a new server instead of the one still running the old code."""
        return self.runtime.root / f"{self.image.root.name}-{_server_version(self.image.preload)}"

    @property
    def socket(self) -> Path:
        return _socket_path(self.directory)

    def base_environment(self) -> dict[str, str]:
        """What the server runs with: the image's container environment before any job."""
        return container_environment(
            image_environment=self.image.environment,
            bin_dirs=[self.image.bin_dir],
            rerooting=Rerooting(self.directory / "opt-ml"),
            scratch=self.directory / "container",
            platform={},
            job_environment={},
            aws=None,
        )

    def request(
        self, command: Sequence[str], program: str, env: Mapping[str, str], cwd: Path
    ) -> dict[str, Any] | None:
        """The run request for a job that can run warm (module doc), else None."""
        if not self.image.preload or program != str(self.image.python) or len(command) < 2:
            return None
        arguments = list(command[1:])
        module: str | None = None
        script: str | None = None
        if arguments[0] == "-m" and len(arguments) > 1:
            module, arguments = arguments[1], arguments[2:]
            if not all(part.isidentifier() for part in module.split(".")):
                return None
        elif not arguments[0].startswith("-"):
            script, arguments = arguments[0], arguments[1:]
            path = Path(script)
            if not path.is_absolute() or path.is_symlink() or not path.is_file():
                return None
        else:
            return None
        if not cwd.is_dir() or not _same_at_import(env, self.base_environment()):
            return None
        first = cwd if module else Path(str(script)).parent
        search = [first, *(Path(p) for p in env.get("PYTHONPATH", "").split(":") if p)]
        if _shadows(search, self.image.preload, self.image.root):
            return None
        return {
            "command": list(command),
            "module": module,
            "script": script,
            "arguments": arguments,
            "env": dict(env),
            "cwd": str(cwd),
            "umask": _current_umask(),
        }

    def ensure(self, *, wait: bool) -> Path | None:
        """The socket of a serving server, started when none is; None if it cannot serve."""
        if _answers(self.socket):
            return self.socket
        self.directory.mkdir(parents=True, exist_ok=True)
        launched: subprocess.Popen[bytes] | None = None
        with exclusive(self.directory / "start.lock"):
            if _answers(self.socket):
                return self.socket
            if not _lock_held(self.directory / zygote.LOCK_NAME):
                launched = self._launch()
        if not wait:
            return None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if _answers(self.socket):
                return self.socket
            if launched is not None and launched.poll() is not None:
                return None  # it refused to serve (zygote.log says why)
            if launched is None and not _lock_held(self.directory / zygote.LOCK_NAME):
                return None
            time.sleep(0.05)
        return None

    def _launch(self) -> subprocess.Popen[bytes]:
        environment = self.base_environment()
        home = Path(environment["HOME"])
        home.mkdir(parents=True, exist_ok=True)
        log = self.directory / "zygote.log"
        if log.exists() and log.stat().st_size > 1_000_000:
            log.unlink()
        with log.open("ab") as handle:
            return subprocess.Popen(  # noqa: S603  # nosec B603 - the image's interpreter
                [
                    str(self.image.python),
                    zygote.__file__,
                    "--dir",
                    str(self.directory),
                    "--preload",
                    ",".join(self.image.preload),
                    "--idle-seconds",
                    str(self.runtime.idle_seconds),
                    "--socket",
                    str(self.socket),
                ],
                env=environment,
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=handle,
                start_new_session=True,
            )


@functools.cache
def _server_version(preload: tuple[str, ...]) -> str:
    digest = hashlib.sha256(Path(zygote.__file__).read_bytes())
    digest.update(",".join(preload).encode())
    return digest.hexdigest()[:8]


def _same_at_import(env: Mapping[str, str], base: Mapping[str, str]) -> bool:
    """Whether every variable outside the per-job ones has the server's value."""
    for name in set(env) | set(base):
        if name in PER_JOB or name.startswith(PER_JOB_PREFIXES):
            continue
        if env.get(name) != base.get(name):
            return False
    return True


def _shadows(directories: Sequence[Path], preload: Sequence[str], image_root: Path) -> bool:
    """Whether a directory the job's ``sys.path`` searches before the image's own packages
    holds a module or package named like a preloaded one (a new interpreter would import
    that one; the forked child already has the image's). The search stops at the first
    directory of the image environment: what follows cannot shadow what it holds."""
    names = {name.split(".", 1)[0] for name in preload}
    for directory in directories:
        if directory.resolve().is_relative_to(image_root.resolve()):
            return False
        for name in names:
            if (directory / name).is_dir() or any(directory.glob(f"{name}.*")):
                return True
    return False


def _socket_path(directory: Path) -> Path:
    """``<dir>/zygote.sock``, or a short private path when that one is too long for a socket."""
    path = directory / zygote.SOCKET_NAME
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"mlops-warm-{os.getuid()}"
    short.mkdir(mode=0o700, exist_ok=True)
    if short.stat().st_uid != os.getuid() or short.stat().st_mode & 0o077:
        raise OSError(f"{short} is not a private directory")
    return short / f"{digest}.sock"


def _answers(path: Path) -> bool:
    try:
        return bool(_exchange(path, b"P").get("pid"))
    except (OSError, ValueError):
        return False


def _exchange(path: Path, kind: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5.0)
        connection.connect(str(path))
        socket.send_fds(connection, [kind], [])
        return _read_json(connection)


def _lock_held(path: Path) -> bool:
    """Whether a live server holds its lock file (flock: released when the process dies)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)
    return False


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- one job


def _run_forked(
    path: Path,
    request: dict[str, Any],
    log_file: Path,
    timeout_seconds: float | None,
    on_line: LineCallback | None,
    cancel: threading.Event | None,
) -> ProcessOutcome | None:
    """Send the request with the job's stdin/stdout/stderr, stream its output, report its exit
    like ``Popen.returncode``; None when the server did not take the job (nothing ran)."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    stdin = os.open(os.devnull, os.O_RDONLY)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    started = time.monotonic()
    try:
        connection.settimeout(30.0)
        connection.connect(str(path))
        socket.send_fds(connection, [b"R"], [stdin, out_write, err_write])
        payload = json.dumps(request).encode()
        connection.sendall(_HEADER.pack(len(payload)) + payload)
        pid = int(_read_json(connection)["pid"])
    except (OSError, ValueError, KeyError):
        connection.close()
        for descriptor in (out_read, err_read):
            os.close(descriptor)
        return None
    finally:
        for descriptor in (stdin, out_write, err_write):
            os.close(descriptor)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    lock = threading.Lock()
    with log_file.open("w", encoding="utf-8") as log, connection:
        readers = [
            threading.Thread(
                target=pump_lines,
                args=(os.fdopen(out_read, "rb"), "stdout", log, lock, on_line, None),
                daemon=True,
            ),
            threading.Thread(
                target=pump_lines,
                args=(os.fdopen(err_read, "rb"), "stderr", log, lock, on_line, stderr_tail),
                daemon=True,
            ),
        ]
        for reader in readers:
            reader.start()
        returncode, timed_out = _wait_for_exit(connection, pid, started, timeout_seconds, cancel)
        for reader in readers:
            reader.join()
    return ProcessOutcome(
        returncode=returncode,
        timed_out=timed_out,
        stderr_tail=tuple(stderr_tail),
        seconds=time.monotonic() - started,
    )


def _wait_for_exit(
    connection: socket.socket,
    pid: int,
    started: float,
    timeout_seconds: float | None,
    cancel: threading.Event | None,
) -> tuple[int, bool]:
    """(exit status, timed out), killing the job's group on timeout, cancel or interrupt."""
    connection.setblocking(False)
    buffer = bytearray()
    timed_out = killed = False
    try:
        while True:
            document = _take_json(buffer)
            if document is not None:
                return int(document["exit"]), timed_out
            overdue = timeout_seconds is not None and time.monotonic() - started > timeout_seconds
            if not killed and (overdue or (cancel is not None and cancel.is_set())):
                timed_out = overdue
                killed = _ask_kill(connection)
            readable, _, _ = select.select([connection], [], [], _POLL_SECONDS)
            if readable:
                chunk = connection.recv(4096)
                if not chunk:  # the server died: the job is an orphan now, end it
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
                    return -signal.SIGKILL, timed_out
                buffer += chunk
    except BaseException:  # Ctrl-C: end the job as a new process's group would be ended
        _ask_kill(connection)
        deadline = time.monotonic() + _KILL_GRACE_SECONDS
        with contextlib.suppress(OSError):
            while time.monotonic() < deadline and _take_json(buffer) is None:
                if select.select([connection], [], [], _POLL_SECONDS)[0]:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    buffer += chunk
        raise


def _ask_kill(connection: socket.socket) -> bool:
    with contextlib.suppress(OSError):
        connection.send(b"kill")
    return True


def _take_json(buffer: bytearray) -> dict[str, Any] | None:
    if len(buffer) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(buffer[: _HEADER.size])
    if len(buffer) < _HEADER.size + length:
        return None
    document = json.loads(bytes(buffer[_HEADER.size : _HEADER.size + length]))
    del buffer[: _HEADER.size + length]
    if not isinstance(document, dict):
        raise ValueError("the warm runtime answers JSON objects")
    return document


def _read_json(connection: socket.socket) -> dict[str, Any]:
    buffer = bytearray()
    while True:
        document = _take_json(buffer)
        if document is not None:
            return document
        chunk = connection.recv(4096)
        if not chunk:
            raise ValueError("the warm runtime closed the connection")
        buffer += chunk
