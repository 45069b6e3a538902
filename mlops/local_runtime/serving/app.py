"""The local endpoint's HTTP surface: the serving-container contract plus the runtime API route.

Routes
    ``GET  /ping``                             200 once the model is loaded (container contract)
    ``POST /invocations``                      container contract: handler status and message as is
    ``POST /endpoints/{name}/invocations``     sagemaker-runtime ``InvokeEndpoint`` (rest-json)

The runtime route answers like the managed service does, so unchanged boto3 code behaves the
same here as against AWS: success carries the handler's body, ``Content-Type`` and
``x-Amzn-Invoked-Production-Variant``; a 4xx/5xx from the handlers becomes ``ModelError``
(HTTP 424) with ``OriginalStatusCode``/``OriginalMessage`` and the message
``Received client error (400) from primary with message "…"``; a payload over 6 MB is 413 and
an unknown endpoint name 400, both as ``ValidationError``. botocore reads the error code from
``x-amzn-ErrorType`` and the message from the JSON body's ``message``.

Inference is CPU-bound and synchronous, so it runs in a worker thread (bounded by a capacity
limiter); the event loop only reads bodies and writes responses and ``/ping`` stays responsive
under load. Client mistakes never become a 500 and never stop the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlops.local_runtime.serving.artifact import ServedModel
from mlops.local_runtime.serving.capture import DEFAULT_VARIANT, CaptureWriter

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time endpoints: 6 MB request payload
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # read (and drop) this much of an oversized body at most
ACCOUNT_ID = "000000000000"


@dataclass
class InvocationStats:
    """Counters a caller (the demo, a test) can read while the server runs."""

    invocations: int = 0
    succeeded: int = 0
    client_errors: int = 0
    server_errors: int = 0
    captured: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int, *, captured: bool) -> None:
        with self._lock:
            self.invocations += 1
            if status < 400:
                self.succeeded += 1
            elif status < 500:
                self.client_errors += 1
            else:
                self.server_errors += 1
            if captured:
                self.captured += 1


@dataclass(frozen=True)
class _Outcome:
    status: int
    body: bytes
    content_type: str


class _PayloadTooLargeError(Exception):
    pass


def create_app(
    served: ServedModel,
    *,
    endpoint_name: str,
    variant_name: str = DEFAULT_VARIANT,
    capture: CaptureWriter | None = None,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    worker_threads: int = 2,
    stats: InvocationStats | None = None,
) -> Starlette:
    """Build the ASGI app serving ``served`` as endpoint ``endpoint_name``."""
    limiter = anyio.CapacityLimiter(worker_threads)
    counters = stats if stats is not None else InvocationStats()

    async def ping(request: Request) -> Response:
        return Response(b"\n", status_code=200, media_type="text/plain")

    async def container_invocations(request: Request) -> Response:
        outcome = await _invoke(request)
        return Response(outcome.body, status_code=outcome.status, media_type=outcome.content_type)

    async def runtime_invocations(request: Request) -> Response:
        name = request.path_params["name"]
        if name != endpoint_name:
            await _drain(request)
            return _runtime_error(
                400,
                "ValidationError",
                f"Endpoint {name} of account {ACCOUNT_ID} not found. "
                f"(this local server serves {endpoint_name})",
            )
        outcome = await _invoke(request)
        if outcome.status >= 400:
            message = outcome.body.decode("utf-8", errors="replace").strip()
            if outcome.status == 413:
                return _runtime_error(413, "ValidationError", message)
            kind = "client" if outcome.status < 500 else "server"
            return _runtime_error(
                424,
                "ModelError",
                f'Received {kind} error ({outcome.status}) from primary with message "{message}". '
                f"See the local endpoint's log for more information.",
                OriginalStatusCode=outcome.status,
                OriginalMessage=message,
                LogStreamArn=f"arn:aws:logs:local:{ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}",
            )
        return Response(
            outcome.body,
            status_code=200,
            headers={
                "Content-Type": outcome.content_type,
                "x-Amzn-Invoked-Production-Variant": variant_name,
                "x-amzn-RequestId": str(uuid.uuid4()),
            },
        )

    async def _invoke(request: Request) -> _Outcome:
        try:
            body = await _read_body(request, max_payload_bytes)
        except _PayloadTooLargeError as error:
            counters.count(413, captured=False)
            return _Outcome(413, str(error).encode(), "text/plain")
        content_type = request.headers.get("content-type")
        accept = request.headers.get("accept")
        outcome, captured = await anyio.to_thread.run_sync(
            _invoke_and_capture, served, capture, body, content_type, accept, limiter=limiter
        )
        counters.count(outcome.status, captured=captured)
        return outcome

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if capture is not None:  # flush what is buffered before the process goes away
            capture.close()

    app = Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", container_invocations, methods=["POST"]),
            Route("/endpoints/{name}/invocations", runtime_invocations, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.stats = counters
    return app


def _invoke_and_capture(
    served: ServedModel,
    capture: CaptureWriter | None,
    body: bytes,
    content_type: str | None,
    accept: str | None,
) -> tuple[_Outcome, bool]:
    """Handlers, then the capture record, in a worker thread: a capture flush (an S3 put when
    the buffer fills) must not stall the event loop."""
    sampled = capture is not None and capture.sampled()
    outcome = _run_handlers(served, body, content_type, accept)
    if not sampled or capture is None or outcome.status >= 400:
        return outcome, False
    capture.record(
        input_body=body,
        input_content_type=content_type or "",
        output_body=outcome.body,
        output_content_type=outcome.content_type,
    )
    return outcome, True


def _run_handlers(
    served: ServedModel, body: bytes, content_type: str | None, accept: str | None
) -> _Outcome:
    """Call the handlers; an exception with a 4xx ``status_code`` is the client's mistake."""
    try:
        payload, response_type = served.invoke(body, content_type, accept)
    except Exception as error:
        status = getattr(error, "status_code", None)
        message = getattr(error, "message", None) or str(error)
        if isinstance(status, int) and 400 <= status < 500:
            return _Outcome(status, str(message).encode("utf-8"), "text/plain")
        logger.exception("handler failed on a request (answered 500)")
        return _Outcome(
            500, f"model handler failed: {type(error).__name__}: {error}".encode(), "text/plain"
        )
    return _Outcome(200, payload, response_type)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or ``_PayloadTooLargeError`` after draining it (so the client sees the 413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        size = await _drain(request)
        raise _PayloadTooLargeError(_too_large(max(size, int(declared)), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            size += await _drain(request)
            raise _PayloadTooLargeError(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request: Request) -> int:
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > _DRAIN_LIMIT_BYTES:
                break
    except Exception:  # noqa: S110 - the stream was already consumed or the client went away
        pass
    return size


def _too_large(size: int, limit: int) -> str:
    return (
        f"request payload of {size} bytes exceeds the {limit // (1024 * 1024)} MB limit; "
        "split the rows into smaller requests"
    )


def _runtime_error(status: int, code: str, message: str, **extra: Any) -> Response:
    document = {"message": message, **extra}
    return Response(
        json.dumps(document).encode("utf-8"),
        status_code=status,
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )
