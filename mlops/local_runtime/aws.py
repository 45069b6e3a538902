"""The embedded "AWS" of the local workflow: one moto server on 127.0.0.1, shared by CLI calls.

SageMaker's registry and S3 must outlive a single CLI invocation (``mlops pipeline run
--local`` registers a package that a later ``mlops models approve`` sees), so the server runs
as a detached process (``aws_server``) whose address is kept in ``<state_dir>/local-aws.json``.
It journals every state-changing request under ``<state_dir>/local-aws/`` and replays the
journal when it starts, so its state outlives the process (``mlops demo stop --reset`` forgets
it). One server per state directory: it holds a lock for its whole life, and commands check
for it, start it or stop it under a second lock, so concurrent commands share one server and
a live one is never replaced, however slow it is to answer.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from mlops.core.errors import UserError
from mlops.local_runtime.aws_journal import Journal
from mlops.local_runtime.aws_layout import HEALTH_PATH, AwsStateLayout
from mlops.local_runtime.request_contract import enforce_service_contract

DEFAULT_STATE_DIR = Path(".mlops")
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# A starting server may replay a large journal: it is waited for while its log grows, and
# given up on only after this long without a sign of progress.
_START_STALL_SECONDS = 60.0
# A live server that does not answer (busy, or stopped with SIGSTOP) is waited for this long,
# then named in the error, never replaced.
_BUSY_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 10.0
_LOCK_TIMEOUT_SECONDS = 600.0
_HEALTH_TIMEOUT_SECONDS = 2.0
_LOG_ROTATE_BYTES = 5 * 1024 * 1024


def client_config() -> Config:
    """No retries against the embedded server: moto answers unimplemented calls with HTTP 500.

    ``total_max_attempts`` counts the first call (``max_attempts`` would still retry once).
    """
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60
    )


@dataclass(frozen=True)
class AwsTarget:
    """Where a command's AWS calls go: a region of real AWS, or an endpoint such as the
    embedded local server. Every command resolves one (``mlops.cli.context.aws_target``) and
    makes all its clients from it, so no call can land in another region or account."""

    region: str
    endpoint_url: str | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        return client(service, endpoint_url=self.endpoint_url, region=self.region)


def resolve_target(
    region: str,
    *,
    local: bool,
    endpoint_url: str | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
) -> AwsTarget:
    """An explicit endpoint URL, else the embedded AWS (started on demand) with ``local``,
    else real AWS in ``region``."""
    if endpoint_url:
        return AwsTarget(region=region, endpoint_url=endpoint_url)
    if local:
        return AwsTarget(region=region, endpoint_url=ensure_local_aws(state_dir))
    return AwsTarget(region=region)


def client(service: str, *, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for AWS (``endpoint_url=None``) or for the local server.

    A client of the local server refuses, before sending, every request AWS would reject
    (botocore's service model: types, required members, lengths, ranges, patterns, enums):
    moto accepts far more than AWS does, and a request that works only locally is a bug.
    """
    if endpoint_url is None:
        return boto3.client(service, region_name=region)
    return enforce_service_contract(
        boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=client_config(),
            **FAKE_CREDENTIALS,
        )
    )


def is_serving(endpoint_url: str) -> bool:
    """True when a moto server answers at ``endpoint_url`` (an http(s) URL, nothing else).

    Asks for moto's dashboard page: a static answer, unlike ``/moto-api/data.json``, which
    serializes every resource and fails (HTTP 500) once S3 holds a multipart upload.
    """
    return _get(f"{endpoint_url}/moto-api/") is not None


def server_health(endpoint_url: str, timeout: float | None = None) -> dict[str, Any]:
    """The journaled server's own health answer (its pid, replay figures), or ``{}``."""
    body = _get(f"{endpoint_url}{HEALTH_PATH}", timeout=timeout)
    try:
        health = json.loads(body) if body else {}
    except ValueError:
        return {}
    return health if isinstance(health, dict) else {}


def _get(url: str, timeout: float | None = None) -> bytes | None:
    if not url.startswith(("http://", "https://")):
        return None  # e.g. MLOPS_LOCAL_AWS_URL=file:///… must not be opened
    try:
        with urllib.request.urlopen(url, timeout=timeout or _HEALTH_TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310 - http(s) only, checked above
            return bytes(response.read()) if response.status == 200 else None
    except (OSError, http.client.HTTPException):  # refused, reset, timed out, not HTTP
        return None


@dataclass(frozen=True)
class ServerRecord:
    """What ``local-aws.json`` says: the server's address, its pid and its replay figures."""

    endpoint_url: str
    pid: int
    replay: dict[str, Any]


def _read_record(layout: AwsStateLayout) -> ServerRecord | None:
    try:
        state = json.loads(layout.state_file.read_text())
        return ServerRecord(
            endpoint_url=str(state["endpoint_url"]),
            pid=int(state["pid"]),
            replay=dict(state.get("replay") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_endpoint(state_dir: Path = DEFAULT_STATE_DIR) -> str | None:
    """The URL of the local server recorded in ``state_dir`` if that very server (same pid)
    answers there."""
    layout = AwsStateLayout(state_dir)
    record = _read_record(layout)
    return _answering(layout, record.pid) if record is not None else None


def _answering(layout: AwsStateLayout, pid: int, timeout: float | None = None) -> str | None:
    """The URL ``local-aws.json`` records if server ``pid`` is the one answering there."""
    record = _read_record(layout)
    if record is None or record.pid != pid:
        return None
    health = server_health(record.endpoint_url, timeout=timeout)
    return record.endpoint_url if health.get("pid") == pid else None


def server_pid(state_dir: Path = DEFAULT_STATE_DIR) -> int | None:
    """The pid of the live server that owns ``state_dir`` (it holds the server lock), if any."""
    layout = AwsStateLayout(state_dir)
    if not layout.server_lock.exists():
        return None
    descriptor = os.open(layout.server_lock, os.O_RDWR)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _lock_holder(descriptor)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _lock_holder(descriptor: int) -> int:
    """The pid a live server wrote into its lock (it writes it right after locking)."""
    for _ in range(50):
        text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.02)
    return -1


@contextlib.contextmanager
def _exclusive(layout: AwsStateLayout) -> Iterator[None]:
    """Hold the start lock: one command at a time checks for, starts or stops the server."""
    descriptor = os.open(layout.start_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + _LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UserError(
                        f"another mlops command has been starting or stopping the local AWS "
                        f"server for {_LOCK_TIMEOUT_SECONDS:.0f} s ({layout.start_lock}); "
                        f"see {layout.log}"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def ensure_local_aws(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    """Return the URL of the shared local server, starting it detached if none owns
    ``state_dir``; a new server restores the saved state before it answers."""
    override = os.environ.get("MLOPS_LOCAL_AWS_URL")
    if override:
        if not is_serving(override):
            raise UserError(
                f"MLOPS_LOCAL_AWS_URL={override} does not answer; unset it or start that server"
            )
        return override
    existing = running_endpoint(state_dir)
    if existing:
        return existing
    layout = AwsStateLayout(state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        layout.start_lock.touch(exist_ok=True)
    except OSError as error:
        raise UserError(
            f"cannot keep the local AWS state in {state_dir}: {error.strerror or error}; "
            "pass a writable directory (--state-dir) or run from the project's root"
        ) from None
    with _exclusive(layout):
        while True:
            existing = running_endpoint(state_dir)
            if existing:
                return existing
            owner = server_pid(state_dir)
            if owner is None:
                _refuse_unowned_live_server(layout)
                return _start(layout)
            url = _wait_for_owner(layout, owner)
            if url:
                return url
            # the owner exited while we waited: loop, and start a successor


def _wait_for_owner(layout: AwsStateLayout, owner: int) -> str | None:
    """The URL of the live server ``owner`` once it answers; None if it exits meanwhile.

    It is never replaced: a busy server (a large upload, a long replay) may answer late, and
    a second server would split the state.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server_pid(layout.state_dir) != owner:
            return None
        # a busy server may be slow to answer: a longer wait per try, within the deadline
        patience = min(5.0, max(0.5, deadline - time.monotonic()))
        url = _answering(layout, owner, timeout=patience)
        if url:
            return url
        time.sleep(0.2)
    raise UserError(
        f"the local AWS server (pid {owner}) owns {layout.state_dir} but has not answered for "
        f"{_BUSY_TIMEOUT_SECONDS:.0f} s; it is left running (its state is safe): retry later, see "
        f"{layout.log}, or stop it with `mlops demo stop --state-dir {layout.state_dir}`"
    )


def _refuse_unowned_live_server(layout: AwsStateLayout) -> None:
    """A server recorded here that answers but holds no lock (started by an older version of
    this tool) keeps its state in memory: starting another would hide it, so refuse."""
    record = _read_record(layout)
    if record is None or not _pid_alive(record.pid) or not is_serving(record.endpoint_url):
        return
    raise UserError(
        f"a local AWS server from an older version (pid {record.pid}, {record.endpoint_url}) "
        f"still serves {layout.state_dir}; stop it with `mlops demo stop --state-dir "
        f"{layout.state_dir}` (its in-memory state ends with it)"
    )


def _start(layout: AwsStateLayout) -> str:
    previous = _read_record(layout)
    layout.state_file.unlink(missing_ok=True)  # names a dead server: nothing may read it now
    port = previous.endpoint_url.rsplit(":", 1)[-1] if previous else "0"
    _rotate_log(layout.log)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MOTO_RECORD")}
    environment.pop("MOTO_ENABLE_RECORDING", None)
    with layout.log.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "mlops.local_runtime.aws_server",
                "--state-dir",
                str(layout.state_dir),
                "--port",
                port if port.isdigit() else "0",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=environment,
        )
    last_size, last_progress = -1, time.monotonic()
    while time.monotonic() - last_progress < _START_STALL_SECONDS:
        if process.poll() is not None:
            raise UserError(
                f"the local AWS server exited at start: {_last_line(layout.log)}; see {layout.log}"
            )
        url = _answering(layout, process.pid)
        if url:
            _announce(layout)
            return url
        size = layout.log.stat().st_size if layout.log.exists() else 0
        if size != last_size:  # the server logs replay progress: still working
            last_size, last_progress = size, time.monotonic()
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise UserError(
        f"the local AWS server made no progress for {_START_STALL_SECONDS:.0f} s at start and was "
        f"stopped; see {layout.log}"
    )


def _announce(layout: AwsStateLayout) -> None:
    """One stderr line when a start restored saved state (or could not restore some of it);
    a start from nothing stays silent, as before the state was saved."""
    record = _read_record(layout)
    if record is None:
        return
    replay = record.replay
    entries = int(replay.get("entries", 0))
    problems = int(replay.get("failed", 0)) + int(replay.get("skipped_lines", 0))
    if not entries and not problems:
        return
    restored = (
        f"restored {entries} saved requests ({_megabytes(int(replay.get('journal_bytes', 0)))}) "
        f"in {float(replay.get('seconds', 0.0)):.1f} s"
    )
    warning = f"; {problems} could not be restored, see {layout.log}" if problems else ""
    print(
        f"started the local AWS server (pid {record.pid}, {record.endpoint_url}) for "
        f"{layout.state_dir}: {restored}{warning}",
        file=sys.stderr,
    )


def stop_local_aws(state_dir: Path = DEFAULT_STATE_DIR, *, reset: bool = False) -> bool:
    """Stop the server that owns ``state_dir``; returns whether one was running.

    Its saved state stays on disk and the next ``--local`` command restores it, unless
    ``reset`` deletes it (after the server has stopped, so nothing writes it meanwhile).
    """
    layout = AwsStateLayout(state_dir)
    if not state_dir.is_dir():
        return False
    with _exclusive(layout):
        owner = server_pid(state_dir)
        stopped = False
        if owner is not None and owner > 0:
            _terminate(owner, lambda: server_pid(state_dir) is None)
            stopped = True
        else:
            record = _read_record(layout)
            if record is not None and _pid_alive(record.pid) and is_serving(record.endpoint_url):
                _terminate(record.pid, lambda: not is_serving(record.endpoint_url))
                stopped = True
        layout.state_file.unlink(missing_ok=True)
        if reset:
            shutil.rmtree(layout.journal_dir, ignore_errors=True)
    return stopped


def saved_state(state_dir: Path = DEFAULT_STATE_DIR) -> tuple[int, int]:
    """``(requests, bytes)`` of the saved state the next server start restores."""
    journal = Journal(AwsStateLayout(state_dir).journal_dir)
    return len(journal.scan().entries), journal.size_bytes()


def _terminate(pid: int, gone: Any) -> None:
    """SIGTERM, then SIGKILL if it has not gone within the stop timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if gone():
                return
            time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rotate_log(log: Path) -> None:
    if log.exists() and log.stat().st_size > _LOG_ROTATE_BYTES:
        os.replace(log, log.with_name(f"{log.name}.1"))


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "no output"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def ensure_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` in the local server if it does not exist yet."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
