"""One transform job, locally: every input object through the model server, under the Batch
Transform contract (API CreateTransformJob; Developer Guide, "Use Batch Transform").

- Objects are transformed separately, in key order; mini-batches never mix objects.
- ``SplitType=Line`` splits an object into records; ``BatchStrategy=MultiRecord`` packs as many
  records into a request as fit in ``MaxPayloadInMB``, ``SingleRecord`` sends one per request.
  A record larger than the limit, or a whole object with ``SplitType=None``, fails its object
  (``Too much data for max payload size``, the service's data-log line).
- Up to ``MaxConcurrentTransforms`` requests are in flight at once; outputs keep input order.
- Each request is ``POST /invocations`` with ``Content-Type: ContentType`` and
  ``Accept: Accept`` to the serving container (`invoke`); a status ≥ 400 fails the object.
- Output: one ``<input>.out`` per input object that succeeded as a whole, published in one
  step; a failed object leaves no output and the job ends ``Failed`` ("Batch transform doesn't
  upload partially processed objects … the batch transform job processes the listed S3 objects
  and uploads only the output for successfully processed objects. If any object fails …
  batch transform marks the job as failed"), while the other objects still complete.
- The data log (CloudWatch ``/aws/sagemaker/TransformJobs``, stream ``<job>/<host>/data-log``)
  starts with ``MaxConcurrentTransforms=…, MaxPayloadInMB=…, BatchStrategy=MULTI_RECORD`` and
  names each failed object as ``<bucket>/<key>: ClientError: 400`` followed by the model's
  answer. Locally a failure also names the first failing record: when a request of several
  records is refused, the records are re-sent in halves until one record is found that the
  model refuses alone (what a person would otherwise do by hand).

Memory stays bounded: an object is read as a stream and at most ``MaxConcurrentTransforms + 1``
mini-batches exist at a time.
"""

from __future__ import annotations

import json
import shutil
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from mlops.core.s3uri import Location
from mlops.local_runtime.batch.capture import write_capture_manifests
from mlops.local_runtime.batch.dataprocessing import DOCUMENT, RecordError
from mlops.local_runtime.batch.objects import (
    InputObject,
    list_inputs,
    open_input,
    output_location,
    publish,
)
from mlops.local_runtime.batch.records import MalformedRecordError, iter_line_blocks
from mlops.local_runtime.batch.settings import TransformSettings

COMPLETED = "Completed"
FAILED = "Failed"
# DescribeTransformJob's FailureReason when objects failed; the data log has the details.
FAILURE_REASON = "ClientError: See job logs for more information"
TOO_LARGE = "Too much data for max payload size"
_MAX_MESSAGE = 500


class Answer(Protocol):
    """What the serving container answers (`mlops.local_runtime.serving.container`)."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> bytes: ...


Invoke = Callable[[bytes], Answer]
"""``POST /invocations`` with the job's Content-Type and Accept: the request body → answer."""


@dataclass(frozen=True)
class TransformJobSpec:
    """A job to run: the request's locations and settings, and a scratch directory."""

    name: str
    source: Location  # TransformInput S3Uri (an S3 prefix), or a local file or directory
    destination: Location  # TransformOutput S3OutputPath, or a local directory
    settings: TransformSettings
    work_dir: Path
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    capture: Location | None = None  # DataCaptureConfig.DestinationS3Uri


@dataclass(frozen=True)
class ObjectOutcome:
    """One input object: its output (None when it failed), records read, why it failed."""

    source: str
    output: str | None
    records: int
    failure: str | None = None


@dataclass(frozen=True)
class TransformJobResult:
    """What DescribeTransformJob would say, plus each object's outcome and the data log."""

    name: str
    status: str
    objects: tuple[ObjectOutcome, ...]
    data_log: Path
    capture_files: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def failure_reason(self) -> str | None:
        return FAILURE_REASON if self.status == FAILED else None

    @property
    def failed_objects(self) -> tuple[ObjectOutcome, ...]:
        return tuple(item for item in self.objects if item.failure is not None)

    @property
    def records(self) -> int:
        return sum(item.records for item in self.objects if item.failure is None)

    @property
    def description(self) -> str | None:
        """The failure reason with the failed objects named (what a pipeline step reports)."""
        if self.status != FAILED:
            return None
        failed = self.failed_objects
        if not failed:
            return self.failure_reason
        first = failed[0]
        return (
            f"{self.failure_reason}; {len(failed)} of {len(self.objects)} object(s) failed, "
            f"first {first.source}: {first.failure}"
        )


def run_transform_job(
    spec: TransformJobSpec,
    invoke: Invoke,
    *,
    s3_client: Any = None,
    on_line: Callable[[str, str], None] | None = None,
) -> TransformJobResult:
    """Transform every object under ``spec.source``; never raises for a failed object."""
    began = time.perf_counter()
    root = spec.work_dir / spec.name
    shutil.rmtree(root, ignore_errors=True)
    (root / "output").mkdir(parents=True)
    log = _DataLog(root / "data-log", on_line)
    log.write(spec.settings.log_line)
    inputs = list_inputs(spec.source, s3_client)
    if not inputs:
        log.write(f"{spec.source}: no input object under this location")
    runner = _ObjectRunner(spec, invoke, s3_client, log)
    outcomes = tuple(runner.run(item) for item in inputs)
    completed = [
        (item, outcome) for item, outcome in zip(inputs, outcomes, strict=True) if outcome.output
    ]
    capture_files: tuple[str, ...] = ()
    if spec.capture is not None and completed:
        capture_files = write_capture_manifests(
            spec.capture,
            job_name=spec.name,
            started=spec.started,
            source=spec.source,
            destination=spec.destination,
            completed=[item.relative for item, _ in completed],
            s3=s3_client,
        )
    failed = not inputs or any(outcome.failure for outcome in outcomes)
    return TransformJobResult(
        name=spec.name,
        status=FAILED if failed else COMPLETED,
        objects=outcomes,
        data_log=log.path,
        capture_files=capture_files,
        seconds=round(time.perf_counter() - began, 3),
    )


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Batch:
    """One request: its first record's number, the original records, the body sent."""

    first: int
    sources: list[str]
    payload: bytes

    @property
    def count(self) -> int:
        return len(self.sources)


class _ObjectFailure(Exception):  # noqa: N818 - internal control flow, not an error type
    def __init__(self, message: str, log_lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log_lines = log_lines or [message]


class _RequestRefused(Exception):  # noqa: N818 - internal control flow
    def __init__(self, batch: _Batch, answer: Answer) -> None:
        super().__init__(f"status {answer.status}")
        self.batch = batch
        self.answer = answer


class _DataLog:
    def __init__(self, path: Path, on_line: Callable[[str, str], None] | None) -> None:
        self.path = path
        self._on_line = on_line
        path.write_text("")

    def write(self, message: str) -> None:
        moment = datetime.now(UTC)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        line = f"{stamp}:[sagemaker logs]: {message}"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        if self._on_line is not None:
            self._on_line("data-log", line)


class _ObjectRunner:
    def __init__(self, spec: TransformJobSpec, invoke: Invoke, s3: Any, log: _DataLog) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.processing = spec.settings.processing
        self.invoke = invoke
        self.s3 = s3
        self.log = log

    def run(self, item: InputObject) -> ObjectOutcome:
        partial = self.spec.work_dir / self.spec.name / "output" / f"{item.relative}.out"
        partial.parent.mkdir(parents=True, exist_ok=True)
        try:
            records = self._transform(item, partial)
        except _ObjectFailure as failure:
            partial.unlink(missing_ok=True)
            for line in failure.log_lines:
                self.log.write(f"{item.label}: {line}")
            return ObjectOutcome(item.label, None, 0, failure.message)
        target = output_location(self.spec.destination, item.relative)
        publish(partial, target, self.s3)
        return ObjectOutcome(item.label, str(target), records)

    def _transform(self, item: InputObject, partial: Path) -> int:
        records = 0
        workers = self.settings.max_concurrent
        with (
            open_input(item, self.s3) as stream,
            partial.open("wb") as out,
            ThreadPoolExecutor(workers, thread_name_prefix="transform") as pool,
        ):
            inflight: deque[tuple[_Batch, Future[bytes]]] = deque()
            try:
                for batch in self._batches(stream):
                    inflight.append((batch, pool.submit(self._request, batch)))
                    while len(inflight) > workers:
                        records += self._write(out, *inflight.popleft())
                while inflight:
                    records += self._write(out, *inflight.popleft())
            finally:
                for _, future in inflight:
                    future.cancel()
        return records

    def _write(self, out: BinaryIO, batch: _Batch, future: Future[bytes]) -> int:
        """The batch's output records, in order. Assembled here, not in the request's thread,
        so that thread is free for the next request as soon as the answer arrives."""
        try:
            body = future.result()
        except _RequestRefused as refused:
            raise self._located(refused) from None
        out.write(self._assemble(batch, body))
        return batch.count

    # --------------------------------------------------------------------- requests

    def _batches(self, stream: BinaryIO) -> Iterator[_Batch]:
        """Mini-batches of the object's records, in order, each within MaxPayloadInMB.

        Sizes are summed per block of records (prefix sums, then a bisection for where the
        payload would overflow), so packing costs no Python work per record.
        """
        limit = self.settings.max_payload_bytes
        whole_object = not self.settings.split_lines
        single = self.settings.single_record
        sources: list[str] = []
        models: list[str] = []
        size = 0
        first = number = 1  # the first record of the pending batch; the block's first record
        for block in iter_line_blocks(stream):
            try:
                selected = self.processing.model_records(block, number)
            except RecordError as error:
                raise _ObjectFailure(str(error)) from None
            if all(map(str.isascii, selected)):
                sizes = [len(model) + 1 for model in selected]
            else:
                sizes = [len(model.encode()) + 1 for model in selected]
            largest = max(sizes, default=0)
            if largest > limit:
                raise self._too_large(number + sizes.index(largest))
            prefix = list(accumulate(sizes))
            position = 0
            while position < len(block):
                if single and sources:
                    yield _Batch(first, sources, _payload(models))
                    sources, models, size, first = [], [], 0, number + position
                base = prefix[position - 1] if position else 0
                end = (
                    position + 1 if single else bisect_right(prefix, base + limit - size, position)
                )
                if end == position:  # the next record does not fit: the batch is full
                    if whole_object:
                        raise self._too_large(number + position)
                    yield _Batch(first, sources, _payload(models))
                    sources, models, size, first = [], [], 0, number + position
                    continue
                sources.extend(block[position:end])
                models.extend(selected[position:end])
                size += prefix[end - 1] - base
                position = end
            number += len(block)
        if sources:
            yield _Batch(first, sources, _payload(models))

    def _too_large(self, record: int) -> _ObjectFailure:
        return _ObjectFailure(
            f"{TOO_LARGE} (record {record}: the request would exceed MaxPayloadInMB="
            f"{self.settings.max_payload_mb})",
            [TOO_LARGE],
        )

    def _request(self, batch: _Batch) -> bytes:
        """The answer's body; a refusal raises (the object fails)."""
        answer = self._answer(batch.payload)
        if answer.status >= 400:
            raise _RequestRefused(batch, answer)
        return answer.body

    def _answer(self, payload: bytes) -> Answer:
        try:
            return self.invoke(payload)
        except Exception as error:  # the container's own answer to an exception is a 500
            return _Failure(500, f"{type(error).__name__}: {error}".encode())

    def _assemble(self, batch: _Batch, body: bytes) -> bytes:
        processing = self.processing
        if not self.settings.assemble_lines:
            return body
        if processing.passthrough:
            if processing.output_kind == DOCUMENT or processing.output_kind == "opaque":
                return body if body.endswith(b"\n") else body + b"\n"
            lines = body.splitlines()
            return b"\n".join(lines) + b"\n" if lines else b""
        text = body.decode("utf-8", errors="replace")
        answers = [text] if processing.output_kind == DOCUMENT else text.splitlines()
        try:
            rows = processing.output_records(batch.sources, answers)
        except MalformedRecordError as error:
            raise _ObjectFailure(self._output_failure(batch, answers, error)) from None
        return ("\n".join(rows) + "\n").encode("utf-8")

    def _output_failure(self, batch: _Batch, answers: list[str], error: Exception) -> str:
        if len(answers) != batch.count:
            last = batch.first + batch.count - 1
            return f"records {batch.first}-{last}: {error}"
        for offset, (source, answer) in enumerate(zip(batch.sources, answers, strict=True)):
            try:
                self.processing.output_records([source], [answer])
            except MalformedRecordError as single:
                return f"record {batch.first + offset}: {single}"
        return f"records {batch.first}-{batch.first + batch.count - 1}: {error}"

    # --------------------------------------------------------------------- failures

    def _located(self, refused: _RequestRefused) -> _ObjectFailure:
        """The object's failure, naming the first record the model refuses on its own."""
        batch, answer = refused.batch, refused.answer
        kind = "ClientError" if answer.status < 500 else "ServerError"
        lines = [
            f"{kind}: {answer.status}",
            "",
            "Message:",
            *_text(answer.body).splitlines(),
        ]
        where = f"records {batch.first}-{batch.first + batch.count - 1}"
        if batch.count == 1:
            where = f"record {batch.first}"
        else:
            found = self._first_refused(batch)
            if found is not None:
                offset, answer = found
                where = f"record {batch.first + offset}"
        message = f"{where}: {_error_message(answer.body)} ({kind} {answer.status})"
        return _ObjectFailure(message, [*lines, message])

    def _first_refused(self, batch: _Batch) -> tuple[int, Answer] | None:
        """Bisect the request's records down to one the model refuses alone (or None)."""
        models = batch.payload.split(b"\n")[:-1]
        low, high = 0, len(models)
        while high - low > 1:
            middle = (low + high) // 2
            first_half = self._answer(_payload_bytes(models[low:middle]))
            if first_half.status >= 400:
                high = middle
            else:
                second_half = self._answer(_payload_bytes(models[middle:high]))
                if second_half.status < 400:
                    return None  # only the records together are refused
                low = middle
        alone = self._answer(_payload_bytes(models[low:high]))
        return (low, alone) if alone.status >= 400 else None


@dataclass(frozen=True)
class _Failure:
    status: int
    body: bytes


def _payload(models: list[str]) -> bytes:
    return ("\n".join(models) + "\n").encode("utf-8")


def _payload_bytes(models: list[bytes]) -> bytes:
    return b"\n".join(models) + b"\n"


def _text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text[:_MAX_MESSAGE] + ("…" if len(text) > _MAX_MESSAGE else "")


def _error_message(body: bytes) -> str:
    """The serving toolkit's ``error-message`` when the answer has one, else the answer."""
    try:
        document = json.loads(body)
    except ValueError:
        return _text(body) or "(empty answer)"
    if isinstance(document, dict) and isinstance(document.get("error-message"), str):
        return str(document["error-message"])
    return _text(body)
