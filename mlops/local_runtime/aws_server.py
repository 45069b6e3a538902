"""The embedded AWS server process: moto on 127.0.0.1, journaled, one per state directory.

Started detached by ``mlops.local_runtime.aws.ensure_local_aws`` as
``python -m mlops.local_runtime.aws_server --state-dir D``. At start it

1. takes ``D/local-aws.server.lock`` (flock, held for its whole life, its pid written in
   it): a second server for ``D`` exits at once, so two can never share or overwrite one
   state, and "is a server alive for D" never depends on a pid that may have been reused;
2. binds 127.0.0.1, on the port it had last time when that is free (a client of a killed
   server then reaches its successor at the same address);
3. replays ``D/local-aws/journal.jsonl`` (``aws_journal``) into moto with moto's clock set to
   each request's recorded time, so ``CreationTime`` and ``LastModified`` survive a restart;
4. writes ``D/local-aws.json`` (address, pid, replay figures) atomically, then serves.

``GET /moto-api/mlops/health`` is answered here without entering moto: it is cheap at any
load (moto's ``/moto-api/data.json`` serializes every resource and fails with HTTP 500 once
a multipart upload exists) and names this process's pid.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from mlops.local_runtime.aws_journal import (
    Journal,
    JournalEntry,
    changes_state,
    created_upload_id,
    request_environ,
    with_upload_ids,
)
from mlops.local_runtime.aws_layout import HEALTH_PATH, AwsStateLayout
from mlops.local_runtime.moto_registry import install as install_registry_extensions

HOST = "127.0.0.1"
EXIT_STATE_TAKEN = 3
_RESET_PATH = "/moto-api/reset"
_PROGRESS_EVERY_SECONDS = 2.0

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# --- moto's clock --------------------------------------------------------------------------

_clock = threading.local()


def install_clock() -> None:
    """Let a request run at a given time: moto stamps resources with ``moto.core.utils.utcnow``
    (imported by name into each service module), which becomes a per-thread override.

    Installed before moto's service modules are imported, so they import the override;
    modules already loaded are patched in place. Without an override it is moto's clock.
    """
    import moto.core.utils as core_utils

    original = core_utils.utcnow
    if getattr(original, "mlops_clock", False):
        return

    def utcnow() -> datetime:
        frozen: datetime | None = getattr(_clock, "time", None)
        return frozen if frozen is not None else original()

    utcnow.mlops_clock = True  # type: ignore[attr-defined]
    core_utils.utcnow = utcnow
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("moto.") and getattr(module, "utcnow", None) is original:
            module.utcnow = utcnow  # type: ignore[attr-defined]


@contextlib.contextmanager
def _moto_time(moment: datetime) -> Iterator[None]:
    _clock.time = moment
    try:
        yield
    finally:
        _clock.time = None


def _now() -> datetime:
    """moto's own clock (naive UTC), read for a request about to run."""
    return datetime.now(UTC).replace(tzinfo=None)


# --- calling the WSGI app ----------------------------------------------------------------


def call_app(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run one request through a WSGI app to completion: status line, headers, body."""
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return str(captured["status"]), list(captured["headers"]), b"".join(chunks)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked transfer: read to the end
        return bytes(stream.read())
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(stream.read(length)) if length > 0 else b""


def _error(
    start_response: StartResponse, environ: dict[str, Any], status: str, code: str, message: str
) -> list[bytes]:
    """An error in the shape the caller's protocol parses (JSON or XML), naming the cause."""
    if environ.get("HTTP_X_AMZ_TARGET") or "json" in str(environ.get("CONTENT_TYPE", "")):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        escaped = message.replace("&", "&amp;").replace("<", "&lt;")
        body = f"<Error><Code>{code}</Code><Message>{escaped}</Message></Error>".encode()
        content_type = "application/xml"
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


# --- replay -----------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    """What a start restored: requests replayed, those moto refused, journal lines left out."""

    entries: int = 0
    failed: list[str] = field(default_factory=list)
    skipped_lines: list[str] = field(default_factory=list)
    seconds: float = 0.0
    journal_bytes: int = 0


class UploadIds:
    """Multipart upload ids: moto makes a new one when ``CreateMultipartUpload`` is replayed,
    while the journal (and any client that started the upload) knows the original."""

    def __init__(self) -> None:
        self.current: dict[str, str] = {}  # original → current
        self.original: dict[str, str] = {}  # current → original

    def add(self, original: str, current: str) -> None:
        self.current[original] = current
        self.original[current] = original


def replay(
    app: WsgiApp, journal: Journal, uploads: UploadIds, *, host: str, log: Callable[[str], None]
) -> ReplayReport:
    """Run every journal entry through ``app`` in order, each at its recorded time.

    Reads the journal only: a crash here leaves it as it was. Nothing replayed is journaled
    again (``app`` is moto itself), so a replay of a replay changes nothing.
    """
    started = time.monotonic()
    scan = journal.scan()
    report = ReplayReport(skipped_lines=scan.skipped, journal_bytes=journal.size_bytes())
    last_progress = started
    for entry in scan.entries:
        body = journal.body(entry)
        environ = _replay_environ(with_upload_ids(entry.environ, uploads.current), body, host)
        with _moto_time(datetime.fromisoformat(entry.time)):
            status, _, content = call_app(app, environ)
        report.entries += 1
        if not status.startswith("2"):
            request = f"{environ.get('REQUEST_METHOD')} {environ.get('RAW_URI', '')}"
            report.failed.append(f"{request} answered {status}: {content[:200]!r}")
        elif entry.upload_id is not None:
            current = created_upload_id(environ, content)
            if current is not None:
                uploads.add(entry.upload_id, current)
        if time.monotonic() - last_progress >= _PROGRESS_EVERY_SECONDS:
            last_progress = time.monotonic()
            log(f"replaying: {report.entries}/{len(scan.entries)} requests")
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _replay_environ(recorded: dict[str, Any], body: bytes, host: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_NAME": HOST,
        "SERVER_PORT": host.rsplit(":", 1)[-1],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": HOST,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
    }
    environ.update(recorded)
    environ["CONTENT_LENGTH"] = str(len(body))
    if str(environ.get("HTTP_HOST", "")).startswith((f"{HOST}:", "localhost:")):
        environ["HTTP_HOST"] = host
    return environ


# --- the journaling front ------------------------------------------------------------------


class JournalingApp:
    """moto behind a front that journals every successful state-changing request.

    State-changing requests run one at a time (body read and blob stored before), so the
    journal's order is the order moto applied them in; reads pass straight through.
    """

    def __init__(self, app: WsgiApp, journal: Journal, uploads: UploadIds) -> None:
        self.app = app
        self.journal = journal
        self.uploads = uploads
        self.health: dict[str, Any] = {"pid": os.getpid(), "ready": False}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if path == HEALTH_PATH:
            body = json.dumps(self.health).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if method in ("GET", "HEAD", "OPTIONS") and "Action=" not in environ.get(
            "QUERY_STRING", ""
        ):
            return self.app(environ, start_response)  # a read: streamed straight through
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        if path == _RESET_PATH:
            return self._reset(environ, start_response)
        if not changes_state(environ, body):
            return self.app(environ, start_response)
        try:
            inline, blob = self.journal.store_body(body)
        except OSError as error:
            return _error(
                start_response,
                environ,
                "503 Service Unavailable",
                "ServiceUnavailable",
                f"the local AWS cannot save this request, so it did not run it: {error}",
            )
        recorded = request_environ(with_upload_ids(environ, self.uploads.original))
        moto_environ = with_upload_ids(environ, self.uploads.current)
        with self._lock:
            moment = _now()
            with _moto_time(moment):
                status, headers, content = call_app(self.app, moto_environ)
            if status.startswith("2"):
                entry = JournalEntry(
                    time=moment.isoformat(),
                    environ=recorded,
                    inline_body=inline,
                    blob=blob,
                    upload_id=created_upload_id(environ, content),
                )
                try:
                    self.journal.append(entry)
                except OSError as error:
                    return _error(
                        start_response,
                        environ,
                        "500 Internal Server Error",
                        "InternalError",
                        f"the local AWS ran this request but could not save it ({error}): "
                        "it is lost when the server restarts",
                    )
        start_response(status, headers)
        return [content]

    def _reset(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """moto's ``/moto-api/reset`` empties moto; the saved state must go with it, or the
        next start would bring back what the caller deleted."""
        with self._lock:
            status, headers, content = call_app(self.app, environ)
            if status.startswith("2"):
                self.journal.reset()
        start_response(status, headers)
        return [content]


# --- the process --------------------------------------------------------------------------


def _hold_server_lock(layout: AwsStateLayout) -> int | None:
    """The server lock's descriptor (kept open for the process's life), or None when another
    live server holds it."""
    descriptor = os.open(layout.server_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor


def _write_state(layout: AwsStateLayout, record: dict[str, Any]) -> None:
    temporary = layout.state_file.with_name(f".{layout.state_file.name}.{os.getpid()}")
    temporary.write_text(json.dumps(record, indent=2))
    os.replace(temporary, layout.state_file)


def _remove_own_state(layout: AwsStateLayout) -> None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(layout.state_file.read_text())["pid"] == os.getpid():
            layout.state_file.unlink()


def _log(message: str) -> None:
    print(f"[mlops local-aws {datetime.now().isoformat(timespec='seconds')}] {message}", flush=True)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(state_dir: Path, port: int) -> int:
    """Run the server for ``state_dir`` until SIGTERM/SIGINT; the exit status."""
    layout = AwsStateLayout(state_dir.resolve())
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    if _hold_server_lock(layout) is None:
        holder = layout.server_lock.read_text().strip() or "unknown"
        _log(f"another local AWS server (pid {holder}) already serves {layout.state_dir}")
        return EXIT_STATE_TAKEN
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    os.environ.pop("MOTO_ENABLE_RECORDING", None)  # the journal is the record
    install_clock()
    install_registry_extensions()  # ModelLifeCycle, updates that keep what they omit
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    moto_app = DomainDispatcherApplication(create_backend_app)
    journal = Journal(layout.journal_dir)
    uploads = UploadIds()
    front = JournalingApp(moto_app, journal, uploads)
    try:
        server = make_server(HOST, port, front, threaded=True, request_handler=MotoRequestHandler)
    except OSError:
        server = make_server(HOST, 0, front, threaded=True, request_handler=MotoRequestHandler)
    address = f"{HOST}:{server.port}"
    os.environ["MOTO_PORT"] = str(server.port)
    try:
        _log(f"pid {os.getpid()} on http://{address}: replaying {journal.path}")
        report = replay(moto_app, journal, uploads, host=address, log=_log)
        for line in report.skipped_lines:
            _log(f"journal {line}")
        for failure in report.failed:
            _log(f"replay: {failure}")
        if report.skipped_lines:
            _keep_damaged_copy(journal)
            journal.rewrite(journal.scan().entries)
        else:
            journal.drop_unreferenced_blobs(journal.scan().entries)
        _log(
            f"replayed {report.entries} requests in {report.seconds} s "
            f"({len(report.failed)} refused, {len(report.skipped_lines)} journal lines left out)"
        )
        summary = {
            "entries": report.entries,
            "failed": len(report.failed),
            "skipped_lines": len(report.skipped_lines),
            "seconds": report.seconds,
            "journal_bytes": report.journal_bytes,
        }
        front.health = {
            "pid": os.getpid(),
            "ready": True,
            "state_dir": str(layout.state_dir),
            "replay": summary,
        }
        _write_state(
            layout,
            {
                "endpoint_url": f"http://{address}",
                "pid": os.getpid(),
                "state_dir": str(layout.state_dir),
                "journal": str(journal.path),
                "log": str(layout.log),
                "started_at": datetime.now().isoformat(timespec="seconds"),
                "replay": summary,
            },
        )
        server.serve_forever()
    finally:
        server.server_close()
        _remove_own_state(layout)
        _log("stopped")
    return 0


def _keep_damaged_copy(journal: Journal) -> None:
    """Before unreadable lines are dropped, keep the journal as it was for inspection."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    damaged = journal.path.with_name(f"{journal.path.name}.damaged-{stamp}")
    damaged.write_bytes(journal.path.read_bytes())
    _log(f"kept the journal with its unreadable lines as {damaged}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0, help="preferred port (0: any free one)")
    args = parser.parse_args(argv)
    return serve(args.state_dir, args.port)


if __name__ == "__main__":
    sys.exit(main())
