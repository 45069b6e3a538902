"""The warm runtime's server: one per image environment, run by that environment's interpreter.

``<image env>/bin/python3 zygote.py --dir D --preload numpy,pandas,…`` imports the image's
heavy libraries once (what a job spends 1-4 s on before its first line of work), then listens
on the Unix socket ``D/zygote.sock`` and forks one fresh child per job. The child becomes the
job's process as a fresh ``python3 script.py …`` / ``python3 -m module …`` would be: its own
session (the caller kills the whole group), exactly the job's environment, argv, working
directory, umask and stdin/stdout/stderr (passed as file descriptors), the signal dispositions
a new interpreter has, no other file descriptor, ``sys.path`` as a new interpreter with that
``PYTHONPATH`` computes it, a fresh ``__main__``, numpy's global random state reseeded from the
OS (as at import), ``tempfile`` re-reading the job's ``TMPDIR``; its exit status is reported
as ``Popen.returncode`` would be (negative: killed by that signal). Interpreter exit is
reproduced: ``SystemExit`` codes, an uncaught exception's traceback (without this file's
frames) and status 1, ``threading`` shutdown, ``atexit`` handlers, flushed std streams.

This file is executed by the image's Python, not imported by the project: standard library
only, nothing from the repository. The client is `mlops.local_runtime.jobs.warm`.

Why it is safe to fork here: the server is single-threaded at the Python level and never runs
an OpenMP parallel region (importing xgboost does not start its thread pool); OpenBLAS's
worker threads (started when numpy loads) are shut down around ``fork`` by OpenBLAS's own
``pthread_atfork`` handlers and restarted on demand in the child. A preload that prints
anything (a warning at import) makes the server refuse to start: a fresh job would show that
output in its own log, a forked one could not.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import importlib
import importlib.machinery
import json
import os
import selectors
import signal
import socket
import struct
import subprocess  # nosec B404 - asks this interpreter for its sys.path
import sys
import tempfile
import threading
import time
import traceback
import types
from pathlib import Path
from typing import Any

SOCKET_NAME = "zygote.sock"
LOCK_NAME = "server.lock"
STATUS_NAME = "zygote.json"
EXIT_LOCKED = 3  # another server owns the directory
EXIT_PRELOAD = 4  # the preload failed or printed something
_HEADER = struct.Struct("!I")
_CHECK_EVERY_SECONDS = 1.0
_THIS_FILE = os.path.abspath(__file__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--preload", default="")
    parser.add_argument("--idle-seconds", type=float, default=900.0)
    # The client chooses the path (a short one when <dir>/zygote.sock is too long for a Unix
    # socket address): both sides must use the same, so it is given, not derived here.
    parser.add_argument("--socket", type=Path, default=None)
    args = parser.parse_args(argv)
    preload = [name for name in args.preload.split(",") if name]
    return Server(args.dir, preload, args.idle_seconds, socket_path=args.socket).serve()


class Server:
    """Accepts run/ping/stop requests on the socket; forks, kills and reaps job children."""

    def __init__(
        self,
        directory: Path,
        preload: list[str],
        idle_seconds: float,
        *,
        socket_path: Path | None = None,
    ) -> None:
        self.directory = directory
        self.preload = preload
        self.idle_seconds = idle_seconds
        self.socket_path = socket_path or directory / SOCKET_NAME
        self.selector = selectors.DefaultSelector()
        self.listener: socket.socket | None = None
        self.children: dict[int, socket.socket | None] = {}  # pid → the client waiting on it
        self.stopping = False
        self.last_activity = time.monotonic()
        self.wakeup_r, self.wakeup_w = -1, -1
        self.lock_fd = -1
        self.socket_inode = 0
        self.sys_paths: dict[str, list[str]] = {}

    # --- life ---------------------------------------------------------------------------

    def serve(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print("another warm runtime serves this directory", file=sys.stderr)
            return EXIT_LOCKED
        os.ftruncate(self.lock_fd, 0)
        os.write(self.lock_fd, str(os.getpid()).encode())
        started = time.monotonic()
        problem = self._preload()
        if problem is not None:
            print(f"preload refused: {problem}", file=sys.stderr, flush=True)
            return EXIT_PRELOAD
        preload_seconds = time.monotonic() - started
        self._listen()
        self._write_status(preload_seconds)
        print(
            f"warm runtime {os.getpid()} serving {self.socket_path} "
            f"(preloaded {', '.join(self.preload) or 'nothing'} in {preload_seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        try:
            self._loop()
        finally:
            self._close_listener()
        return 0

    def _preload(self) -> str | None:
        """Import the preload modules with stdout/stderr captured: any output is a refusal."""
        sys.stdout.flush()
        sys.stderr.flush()
        with tempfile.TemporaryFile() as capture:
            saved = os.dup(1), os.dup(2)
            os.dup2(capture.fileno(), 1)
            os.dup2(capture.fileno(), 2)
            try:
                for name in self.preload:
                    importlib.import_module(name)
            except Exception as error:
                failure: str | None = f"import {name}: {type(error).__name__}: {error}"
            else:
                failure = None
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
            capture.seek(0)
            printed = capture.read().decode("utf-8", "replace").strip()
        if failure is not None:
            return failure
        if printed:
            return f"importing the preload printed output: {printed[:500]}"
        if threading.active_count() > 1:
            return f"a preloaded module started {threading.active_count() - 1} Python thread(s)"
        return None

    def _listen(self) -> None:
        self.socket_path.unlink(missing_ok=True)  # we hold the lock: any socket here is stale
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            listener.bind(str(self.socket_path))
        finally:
            os.umask(previous)
        listener.listen(64)
        listener.setblocking(False)
        self.listener = listener
        self.socket_inode = os.stat(self.socket_path).st_ino
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_r, False)
        os.set_blocking(self.wakeup_w, False)
        signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, lambda signum, frame: self._begin_stop())
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "wakeup")

    def _write_status(self, preload_seconds: float) -> None:
        status = {
            "pid": os.getpid(),
            "python": sys.executable,
            "preload": self.preload,
            "preload_seconds": round(preload_seconds, 3),
            "socket": str(self.socket_path),
        }
        partial = self.directory / f".{STATUS_NAME}.{os.getpid()}"
        partial.write_text(json.dumps(status))
        partial.replace(self.directory / STATUS_NAME)

    def _loop(self) -> None:
        while True:
            for key, _ in self.selector.select(timeout=_CHECK_EVERY_SECONDS):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wakeup":
                    self._drain_wakeup()
                else:
                    self._client_readable(key.fileobj)  # type: ignore[arg-type]
            self._reap()
            if self.stopping and not self.children:
                return
            if not self.stopping and not self._socket_is_ours():
                self._begin_stop()  # the directory was removed or taken over
            idle = time.monotonic() - self.last_activity
            if not self.children and idle > self.idle_seconds:
                return

    def _begin_stop(self) -> None:
        """Accept nothing more; running children finish and are reported first."""
        self.stopping = True
        self._close_listener()

    def _close_listener(self) -> None:
        if self.listener is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.listener)
        if self._socket_is_ours():
            self.socket_path.unlink(missing_ok=True)
        self.listener.close()
        self.listener = None

    def _socket_is_ours(self) -> bool:
        try:
            return os.stat(self.socket_path).st_ino == self.socket_inode
        except OSError:
            return False

    # --- requests -----------------------------------------------------------------------

    def _accept(self) -> None:
        if self.listener is None:
            return
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            return
        self.last_activity = time.monotonic()
        connection.setblocking(True)
        connection.settimeout(10.0)
        try:
            kind, fds, _, _ = socket.recv_fds(connection, 1, 3)
            request = _read_json(connection) if kind == b"R" else {}
        except (OSError, ValueError) as error:
            print(f"bad request: {error}", file=sys.stderr, flush=True)
            connection.close()
            return
        operation = {b"R": "run", b"P": "ping", b"S": "stop"}.get(kind)
        if operation == "ping":
            _send_json(connection, {"pid": os.getpid(), "preload": self.preload})
            connection.close()
        elif operation == "stop":
            self._begin_stop()
            _send_json(connection, {"stopping": True, "running": len(self.children)})
            connection.close()
        elif operation == "run" and len(fds) == 3:
            self._spawn(connection, request, fds)
        else:
            for fd in fds:
                os.close(fd)
            connection.close()

    def _spawn(self, connection: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        try:
            base_path = self._base_sys_path(str(request["env"].get("PYTHONPATH", "")))
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            print(f"cannot compute sys.path: {error}", file=sys.stderr, flush=True)
            for fd in fds:
                os.close(fd)
            connection.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the job's process from here on; never returns
            try:
                self._become_job(connection, request, fds, base_path)
            except BaseException:
                with contextlib.suppress(Exception):
                    traceback.print_exc()
                    sys.stderr.flush()
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        self.children[pid] = connection
        try:
            _send_json(connection, {"pid": pid})
        except OSError:
            self._kill(pid)
            self.children[pid] = None
            connection.close()
            return
        connection.setblocking(False)
        self.selector.register(connection, selectors.EVENT_READ, pid)

    def _client_readable(self, connection: socket.socket) -> None:
        pid = self.selector.get_key(connection).data
        try:
            data = connection.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data.startswith(b"kill") or not data:  # asked to, or the caller is gone
            self._kill(pid)
        if not data:
            self.selector.unregister(connection)
            connection.close()
            if self.children.get(pid) is connection:
                self.children[pid] = None

    def _kill(self, pid: int) -> None:
        if pid in self.children:  # not reaped yet: the group is still this child's
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def _drain_wakeup(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wakeup_r, 512):
                pass

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.last_activity = time.monotonic()
            connection = self.children.pop(pid, None)
            if connection is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(connection)
            with contextlib.suppress(OSError):
                connection.setblocking(True)
                _send_json(connection, {"exit": os.waitstatus_to_exitcode(status)})
            connection.close()

    # --- the child ----------------------------------------------------------------------

    def _become_job(
        self,
        connection: socket.socket,
        request: dict[str, Any],
        fds: list[int],
        base_path: list[str],
    ) -> None:
        os.setsid()
        _reset_signals()
        for target, fd in enumerate(fds):
            os.dup2(fd, target, inheritable=True)
        self._forget_server_descriptors(connection)
        _close_other_descriptors()
        os.umask(int(request["umask"]))
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        command = [str(part) for part in request["command"]]
        sys.orig_argv = command  # type: ignore[misc]
        module = request.get("module")
        script = request.get("script")
        sys.path[:] = [
            os.getcwd() if module else os.path.dirname(str(script)),
            *base_path,
        ]
        importlib.invalidate_caches()
        tempfile.tempdir = None
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()  # type: ignore[attr-defined]  # fresh entropy, as at import
        main = types.ModuleType("__main__")
        main.__dict__.update(
            __builtins__=sys.modules["builtins"],
            __loader__=importlib.machinery.BuiltinImporter,
            __annotations__={},
        )
        sys.modules["__main__"] = main
        arguments = [str(part) for part in request["arguments"]]
        os._exit(_run_as_interpreter(module, script, arguments, main))

    def _forget_server_descriptors(self, connection: socket.socket) -> None:
        """Close the server's sockets and pipes so no Python object owns a descriptor number
        the job may reuse (the child never returns to the server's code)."""
        signal.set_wakeup_fd(-1)
        for sock in (self.listener, connection, *self.children.values()):
            if sock is not None:
                with contextlib.suppress(OSError):
                    os.close(sock.detach())
        self.listener = None
        self.selector.close()
        for fd in (self.wakeup_r, self.wakeup_w, self.lock_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _base_sys_path(self, pythonpath: str) -> list[str]:
        """``sys.path`` after ``sys.path[0]`` of a new interpreter run with this PYTHONPATH
        (and otherwise this server's environment, which a job's equals in every variable that
        shapes ``sys.path``): asked once per PYTHONPATH, then cached."""
        if pythonpath not in self.sys_paths:
            environment = dict(os.environ)
            environment["PYTHONPATH"] = pythonpath
            if not pythonpath:
                environment.pop("PYTHONPATH")
            result = subprocess.run(  # nosec B603 - this interpreter, fixed code
                [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
                env=environment,
                cwd="/",
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            self.sys_paths[pythonpath] = [str(entry) for entry in json.loads(result.stdout)]
        return list(self.sys_paths[pythonpath])


def _run_as_interpreter(
    module: str | None, script: str | None, arguments: list[str], main: types.ModuleType
) -> int:
    """Run the program as ``python -m module`` / ``python script`` would; the exit status."""
    interrupted = False
    try:
        if module:
            import runpy

            sys.argv = [module, *arguments]
            runpy._run_module_as_main(module, alter_argv=True)  # type: ignore[attr-defined]
        else:
            path = str(script)
            sys.argv = [path, *arguments]
            try:
                with open(path, "rb") as handle:
                    source = handle.read()
            except OSError as error:
                print(
                    f"{sys.executable}: can't open file {path!r}: [Errno {error.errno}] "
                    f"{error.strerror}",
                    file=sys.stderr,
                )
                return 2
            main.__dict__.update(__file__=path, __cached__=None)
            main.__dict__["__loader__"] = importlib.machinery.SourceFileLoader("__main__", path)
            compiled = compile(source, path, "exec", dont_inherit=True)
            exec(compiled, main.__dict__)  # noqa: S102  # nosec B102 - the job's own script
        code = 0
    except SystemExit as exit_request:
        code = _system_exit_code(exit_request)
    except BaseException as error:
        interrupted = isinstance(error, KeyboardInterrupt)
        _report_uncaught(error)
        code = 1
    code = _finalize(code)
    if interrupted:  # CPython exits an uncaught Ctrl-C by dying of SIGINT
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def _system_exit_code(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _report_uncaught(error: BaseException) -> None:
    """The interpreter's report of an uncaught exception, without this file's frames."""
    trace = error.__traceback__
    while trace is not None and os.path.abspath(trace.tb_frame.f_code.co_filename) == _THIS_FILE:
        trace = trace.tb_next
    error.__traceback__ = trace  # the hook prints the exception's own traceback
    with contextlib.suppress(Exception):
        sys.excepthook(type(error), error, trace)
    del trace


def _finalize(code: int) -> int:
    """What Py_FinalizeEx does before the process ends: non-daemon threads, atexit, flush."""
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            code = 120
    return code


def _reset_signals() -> None:
    """The dispositions a new CPython process starts with."""
    signal.set_wakeup_fd(-1)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _close_other_descriptors() -> None:
    """Every descriptor above stderr closed, as ``Popen(close_fds=True)`` leaves a child."""
    try:
        numbers = [int(name) for name in os.listdir("/proc/self/fd")]  # Linux: only open ones
    except OSError:
        os.closerange(3, 65536)
        return
    for number in numbers:
        if number > 2:
            with contextlib.suppress(OSError):
                os.close(number)


def _send_json(connection: socket.socket, document: dict[str, Any]) -> None:
    data = json.dumps(document).encode()
    connection.sendall(_HEADER.pack(len(data)) + data)


def _read_json(connection: socket.socket) -> dict[str, Any]:
    header = _read_exact(connection, _HEADER.size)
    (length,) = _HEADER.unpack(header)
    document = json.loads(_read_exact(connection, length))
    if not isinstance(document, dict):
        raise ValueError("a request is a JSON object")
    return document


def _read_exact(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise ValueError("connection closed mid-message")
        chunks += chunk
    return bytes(chunks)


if __name__ == "__main__":
    sys.exit(main())
