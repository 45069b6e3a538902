"""Data capture in SageMaker's JSONL format and S3 key layout, for the local endpoint.

A record per sampled *successful* invocation (a failed one has no model output to pair with
the input), written as one JSON object per line::

    {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data", "encoding"},
                     "endpointOutput": {..., "mode": "OUTPUT"}},
     "eventMetadata": {"eventId": <uuid>, "inferenceId": <caller's InferenceId, when given>,
                       "inferenceTime": "YYYY-MM-DDTHH:MM:SSZ"},
     "eventVersion": "0"}

under ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``, the layout
Model Monitor reads. ``encoding`` follows SageMaker's ``CaptureContentTypeHeader``: ``CSV`` for
the configured CSV content types, ``JSON`` for the JSON ones (both stored as text, the body
verbatim), ``BASE64`` for anything else. The defaults equal what ``infra/serving/endpoint.py`` configures
on the real endpoint (without that header SageMaker would base64-encode everything).

Records are buffered and written as a new file per flush (S3 objects cannot be appended to),
when the buffer passes ``max_buffer_bytes``, every ``flush_interval_seconds`` (1 s; a timer
thread, so an idle endpoint flushes too), and on ``close()``, so nothing accepted is lost at a
graceful shutdown, and a process killed outright (SIGKILL, OOM) loses at most the records of
its last second. A local file appears whole or not at all (written aside, then renamed). All
methods are thread-safe.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.core.media import CAPTURED_AS_CSV, CAPTURED_AS_JSON
from mlops.core.names import VARIANT_NAME
from mlops.core.s3uri import split_s3_uri

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureConfig:
    """Where and how much to capture (the local twin of an endpoint's DataCaptureConfig)."""

    destination: str  # a local directory or s3://bucket/prefix
    sampling_percentage: float = 100.0
    endpoint_name: str = "local-endpoint"
    variant_name: str = VARIANT_NAME
    csv_content_types: Sequence[str] = CAPTURED_AS_CSV
    json_content_types: Sequence[str] = CAPTURED_AS_JSON
    max_buffer_bytes: int = 1_000_000
    flush_interval_seconds: float = 1.0  # what a SIGKILL can lose, at most
    s3_client: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.sampling_percentage <= 100:
            raise ValueError(f"sampling percentage must be 0-100, got {self.sampling_percentage}")
        if self.destination.startswith("s3://") and self.s3_client is None:
            raise ValueError("an s3:// capture destination needs an s3_client")


class CaptureWriter:
    """Buffers capture records and writes them as JSONL files; see the module docstring."""

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._buffer: list[tuple[str, str]] = []  # (hour prefix, json line)
        self._buffered_bytes = 0
        self._random = random.Random()  # noqa: S311 - sampling, not security
        self._closed = threading.Event()
        self._written = 0
        self._files: list[str] = []
        self._timer = threading.Thread(
            target=self._flush_periodically, daemon=True, name="capture-flush"
        )
        self._timer.start()

    @property
    def records_written(self) -> int:
        """Records that have reached the destination (not counting the buffer)."""
        return self._written

    @property
    def files(self) -> list[str]:
        """Local paths or S3 URIs of the files written so far."""
        with self._flush_lock:
            return list(self._files)

    def sampled(self) -> bool:
        """Whether the next invocation is captured (decided before the model runs)."""
        percentage = self.config.sampling_percentage
        if percentage >= 100:
            return True
        if percentage <= 0:
            return False
        with self._lock:
            return self._random.random() * 100 < percentage

    def record(
        self,
        *,
        input_body: bytes,
        input_content_type: str,
        output_body: bytes,
        output_content_type: str,
        inference_id: str | None = None,
        when: datetime | None = None,
    ) -> None:
        """Buffer one invocation's record; flushes when the buffer is full.

        ``inference_id`` is the caller's ``InferenceId``: recorded as
        ``eventMetadata.inferenceId``, which Model Monitor then joins ground truth on.
        """
        moment = (when or datetime.now(UTC)).astimezone(UTC)
        metadata = {"eventId": str(uuid.uuid4())}
        if inference_id is not None:
            metadata["inferenceId"] = inference_id
        metadata["inferenceTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        line = json.dumps(
            {
                "captureData": {
                    "endpointInput": self._payload(input_body, input_content_type, "INPUT"),
                    "endpointOutput": self._payload(output_body, output_content_type, "OUTPUT"),
                },
                "eventMetadata": metadata,
                "eventVersion": "0",
            },
            separators=(",", ":"),
        )
        prefix = moment.strftime("%Y/%m/%d/%H")
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("capture writer is closed")
            self._buffer.append((prefix, line))
            self._buffered_bytes += len(line) + 1
            full = self._buffered_bytes >= self.config.max_buffer_bytes
        if full:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered so far (one file per hour prefix)."""
        with self._flush_lock:
            with self._lock:
                pending, self._buffer, self._buffered_bytes = self._buffer, [], 0
            if not pending:
                return
            by_prefix: dict[str, list[str]] = {}
            for prefix, line in pending:
                by_prefix.setdefault(prefix, []).append(line)
            for prefix, lines in by_prefix.items():
                try:
                    self._files.append(self._write(prefix, "\n".join(lines) + "\n"))
                    self._written += len(lines)
                except Exception:  # keep the records for the next flush rather than lose them
                    logger.exception("data capture write failed; will retry at the next flush")
                    with self._lock:
                        self._buffer[:0] = [(prefix, line) for line in lines]
                        self._buffered_bytes += sum(len(line) + 1 for line in lines)

    def close(self) -> None:
        """Stop the periodic flush and write what is left; later ``record`` calls raise."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._timer.join(timeout=5)
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self.config.flush_interval_seconds):
            self.flush()

    def _payload(self, body: bytes, content_type: str, mode: str) -> dict[str, str]:
        media = content_type.split(";", 1)[0].strip().lower()
        if media in self.config.csv_content_types:
            encoding, data = "CSV", body.decode("utf-8", errors="replace")
        elif media in self.config.json_content_types:
            encoding, data = "JSON", body.decode("utf-8", errors="replace")
        else:
            encoding, data = "BASE64", base64.b64encode(body).decode("ascii")
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": data,
            "encoding": encoding,
        }

    def _write(self, hour_prefix: str, text: str) -> str:
        now = datetime.now(UTC)
        name = f"{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
        key = f"{self.config.endpoint_name}/{self.config.variant_name}/{hour_prefix}/{name}"
        destination = self.config.destination
        if destination.startswith("s3://"):
            bucket, prefix = split_s3_uri(destination)
            object_key = f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key
            self.config.s3_client.put_object(
                Bucket=bucket,
                Key=object_key,
                Body=text.encode("utf-8"),
                ContentType="application/jsonl",
            )
            return f"s3://{bucket}/{object_key}"
        path = Path(destination) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # readers never see half a file
        return str(path)
