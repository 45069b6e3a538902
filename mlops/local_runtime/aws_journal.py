"""The embedded AWS's durable state: a journal of every request that changed it.

moto keeps its resources in memory, so the local server (``aws_server``) appends each
successful request that can change state — S3 writes, SageMaker ``Create*``/``Update*``,
``PutMetricData`` — to ``<state_dir>/local-aws/journal.jsonl`` and replays the journal into a
fresh moto when it starts: the registry and the buckets outlive a SIGKILL and a reboot.

moto's own recorder (``MOTO_ENABLE_RECORDING``) has the same idea but cannot be the store:
it records reads and failed requests too, inlines every body as base64 in one JSON line (a
200 MB upload is a 267 MB line, and replay reads the whole file into memory), and its replay
loses multipart uploads (the recorded ``UploadPart`` names an upload id the replayed
``CreateMultipartUpload`` no longer has). Here a body above ``INLINE_LIMIT`` is a file under
``blobs/`` named by its SHA-256 (written and synced before the line that names it, so a line
never points at a missing blob, and identical uploads are stored once), and replay maps each
recorded upload id to the new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

JOURNAL_FILE = "journal.jsonl"
BLOB_DIR = "blobs"
INLINE_LIMIT = 64 * 1024
FORMAT_VERSION = 1
PRESERVED_NAMES_KEY = "moto.preserved_header_names"  # moto.core.request's environ key

# Operations whose name says they only read (AWS's naming convention for every protocol).
_READ_ONLY_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Search",
    "BatchGet",
    "BatchDescribe",
    "Query",
    "Scan",
    "Head",
)
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# WSGI keys a request is replayed from: its method, path, query and headers as they arrived.
_REQUEST_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "RAW_URI", "REQUEST_URI")
_DROPPED_HEADERS = frozenset({"HTTP_TRANSFER_ENCODING", "HTTP_CONTENT_LENGTH", "HTTP_CONNECTION"})
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")
_UPLOAD_ID_PARAM = re.compile(r"(?<=uploadId=)[^&]+")


def operation_name(environ: Mapping[str, Any], body: bytes) -> str | None:
    """The API operation a request calls when the request names it (JSON and RPC protocols:
    ``X-Amz-Target``; query protocol: ``Action``; Smithy RPC v2: ``/operation/<name>``)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    path = str(environ.get("PATH_INFO", ""))
    if "/operation/" in path:
        return path.rsplit("/operation/", 1)[-1].strip("/") or None
    query_action = dict(parse_qsl(str(environ.get("QUERY_STRING", "")))).get("Action")
    if query_action:
        return query_action
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode("utf-8", "replace"))).get("Action")
    return None


def changes_state(environ: Mapping[str, Any], body: bytes) -> bool:
    """Whether a request can change moto's state and so belongs in the journal.

    Reads (GET/HEAD, and ``Describe*``/``List*``/``Get*``… by any protocol) are left out; a
    POST whose operation cannot be told is kept (replaying a read is harmless, losing a
    write is not).
    """
    if str(environ.get("PATH_INFO", "")).startswith("/moto-api/"):
        return False
    operation = operation_name(environ, body)
    if str(environ.get("REQUEST_METHOD", "GET")).upper() in _READ_ONLY_METHODS:
        # a read, unless it is a query-protocol call sent as GET (``?Action=CreateUser``)
        return operation is not None and not operation.startswith(_READ_ONLY_PREFIXES)
    return not (operation and operation.startswith(_READ_ONLY_PREFIXES))


def request_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a WSGI environ a replay needs: method, path, query, headers."""
    kept: dict[str, Any] = {
        key: environ[key]
        for key in environ
        if (key in _REQUEST_KEYS or key.startswith("HTTP_") or key == "CONTENT_TYPE")
        and key not in _DROPPED_HEADERS
        and isinstance(environ[key], str)
    }
    preserved = environ.get(PRESERVED_NAMES_KEY)
    if isinstance(preserved, dict):
        kept[PRESERVED_NAMES_KEY] = dict(preserved)
    return kept


def created_upload_id(environ: Mapping[str, Any], response_body: bytes) -> str | None:
    """The upload id an S3 ``CreateMultipartUpload`` (``POST …?uploads``) answered with."""
    if "uploads" not in dict(parse_qsl(str(environ.get("QUERY_STRING", "")), True)):
        return None
    match = _UPLOAD_ID.search(response_body)
    return match.group(1).decode() if match else None


@dataclass(frozen=True)
class JournalEntry:
    """One state-changing request: when it ran (moto's clock), what arrived, and where its
    body is (inline base64, or a blob file)."""

    time: str
    environ: dict[str, Any]
    inline_body: str | None = None
    blob: str | None = None
    upload_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"v": FORMAT_VERSION, "time": self.time, "environ": self.environ}
        if self.inline_body is not None:
            record["body"] = self.inline_body
        if self.blob is not None:
            record["blob"] = self.blob
        if self.upload_id is not None:
            record["upload_id"] = self.upload_id
        return record

    @classmethod
    def from_json(cls, record: Any) -> JournalEntry:
        if not isinstance(record, dict) or record.get("v") != FORMAT_VERSION:
            raise ValueError(f"not a version {FORMAT_VERSION} journal entry")
        environ = record.get("environ")
        if not isinstance(environ, dict) or not isinstance(record.get("time"), str):
            raise ValueError("entry without time or environ")
        return cls(
            time=record["time"],
            environ=environ,
            inline_body=record.get("body"),
            blob=record.get("blob"),
            upload_id=record.get("upload_id"),
        )


@dataclass
class JournalScan:
    """What reading the journal found: the entries to replay and every line left out."""

    entries: list[JournalEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "line N: reason"
    torn_tail: bool = False  # the last line was cut off (a kill mid-write); it is dropped


class Journal:
    """Append-only, fsynced journal of state-changing requests in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / JOURNAL_FILE
        self.blobs = directory / BLOB_DIR
        self._lock = threading.Lock()

    # --- writing ---------------------------------------------------------------------------

    def store_body(self, body: bytes) -> tuple[str | None, str | None]:
        """``(inline_base64, blob_name)`` for a body: small ones inline, large ones as a synced
        blob file (done before the entry is appended, outside the append lock)."""
        if len(body) <= INLINE_LIMIT:
            return (base64.b64encode(body).decode("ascii") if body else None), None
        name = hashlib.sha256(body).hexdigest()
        target = self.blobs / name
        if not target.exists():
            self.blobs.mkdir(parents=True, exist_ok=True)
            _write_synced(target, body)
        return None, name

    def append(self, entry: JournalEntry) -> None:
        """Append one entry durably: the line is written and fsynced before this returns."""
        line = json.dumps(entry.to_json(), separators=(",", ":")) + "\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    def reset(self) -> None:
        """Forget everything (moto's ``/moto-api/reset`` was called, or a fresh start)."""
        with self._lock:
            self.path.unlink(missing_ok=True)
            shutil.rmtree(self.blobs, ignore_errors=True)

    # --- reading ---------------------------------------------------------------------------

    def scan(self) -> JournalScan:
        """Every readable entry in order; unreadable lines are named, never fatal."""
        scan = JournalScan()
        if not self.path.exists():
            return scan
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            scan.torn_tail = True
            lines.pop()
            scan.skipped.append(f"line {len(lines) + 1}: cut off mid-write (dropped)")
        for number, raw in enumerate(lines, start=1):
            try:
                entry = JournalEntry.from_json(json.loads(raw))
            except (ValueError, UnicodeDecodeError) as error:
                scan.skipped.append(f"line {number}: {error}")
                continue
            if entry.blob is not None and not (self.blobs / entry.blob).is_file():
                scan.skipped.append(f"line {number}: blob {entry.blob} is missing")
                continue
            scan.entries.append(entry)
        return scan

    def body(self, entry: JournalEntry) -> bytes:
        if entry.blob is not None:
            return (self.blobs / entry.blob).read_bytes()
        return base64.b64decode(entry.inline_body) if entry.inline_body else b""

    def rewrite(self, entries: Iterable[JournalEntry]) -> None:
        """Replace the journal with ``entries`` atomically (a crash leaves the old or the new
        one, whole) and delete blobs no entry names."""
        entries = list(entries)
        lines = "".join(
            json.dumps(e.to_json(), separators=(",", ":")) + "\n" for e in entries
        ).encode()
        with self._lock:
            _write_synced(self.path, lines)
        self.drop_unreferenced_blobs(entries)

    def drop_unreferenced_blobs(self, entries: Iterable[JournalEntry]) -> int:
        """Delete blobs no entry names: bodies of requests moto refused, or of a request cut
        off between its blob and its line. Only while nothing appends (at start)."""
        named = {e.blob for e in entries if e.blob is not None}
        dropped = 0
        with self._lock:
            if self.blobs.is_dir():
                for blob in self.blobs.iterdir():
                    if blob.name not in named:
                        blob.unlink(missing_ok=True)
                        dropped += 1
        return dropped

    def size_bytes(self) -> int:
        """Bytes on disk: the journal and its blobs."""
        total = self.path.stat().st_size if self.path.exists() else 0
        if self.blobs.is_dir():
            total += sum(blob.stat().st_size for blob in self.blobs.iterdir())
        return total


def with_upload_ids(environ: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """``environ`` with a recorded multipart upload id replaced by the one the replay made."""
    query = str(environ.get("QUERY_STRING", ""))
    match = _UPLOAD_ID_PARAM.search(query)
    if match is None or unquote(match.group(0)) not in mapping:
        return environ
    old, new = match.group(0), quote(mapping[unquote(match.group(0))], safe="")
    updated = dict(environ)
    for key in ("QUERY_STRING", "RAW_URI", "REQUEST_URI"):
        if key in updated:
            updated[key] = str(updated[key]).replace(f"uploadId={old}", f"uploadId={new}")
    return updated


def _write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a synced temporary file and a rename."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
