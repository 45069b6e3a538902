"""The local endpoint's HTTP surface: the serving container plus the runtime API route.

Routes
    ``GET  /ping``                             the container's health check
    ``POST /invocations``                      the container's answer as is (``container``)
    ``POST /endpoints/{name}/invocations``     sagemaker-runtime ``InvokeEndpoint`` (``runtime``)

``/invocations`` answers exactly what the XGBoost image's serving stack answers (status,
Content-Type with charset, body), which tests/fidelity checks request by request against the
real toolkit. The runtime route wraps that answer the way the managed service does, so
unchanged boto3 or AWS CLI code behaves here as against AWS.

Inference is CPU-bound and synchronous, so it runs in a worker thread (bounded by a capacity
limiter); the event loop only reads bodies and writes responses and ``/ping`` stays responsive
under load. Nothing a client sends stops the server.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlops.core.names import VARIANT_NAME
from mlops.local_runtime.serving import container, runtime
from mlops.local_runtime.serving.artifact import ServedModel
from mlops.local_runtime.serving.capture import CaptureWriter

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = runtime.MAX_BODY_BYTES
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # read (and drop) this much of an oversized body at most
# The handlers' count of categorical values scored as missing (inference.py names it too).
UNSEEN_CATEGORIES_HEADER = "X-Mlops-Unseen-Categories"


@dataclass
class InvocationStats:
    """Counters a caller (the demo, a test) can read while the server runs."""

    invocations: int = 0
    succeeded: int = 0
    client_errors: int = 0
    server_errors: int = 0
    captured: int = 0
    unseen_categories: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int, *, captured: bool, unseen: int = 0) -> None:
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
            self.unseen_categories += unseen


class _PayloadTooLargeError(Exception):
    pass


def create_app(
    served: ServedModel,
    *,
    endpoint_name: str,
    variant_name: str = VARIANT_NAME,
    region: str = "us-east-1",
    capture: CaptureWriter | None = None,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    worker_threads: int = 2,
    stats: InvocationStats | None = None,
) -> Starlette:
    """Build the ASGI app serving ``served`` as endpoint ``endpoint_name``."""
    limiter = anyio.CapacityLimiter(worker_threads)
    counters = stats if stats is not None else InvocationStats()

    async def ping(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _send(container.method_not_allowed("GET, HEAD, OPTIONS"))
        return _send(container.ping())

    async def container_invocations(request: Request) -> Response:
        if request.method != "POST":
            return _send(container.method_not_allowed("POST, OPTIONS"))
        headers = _lowered(request)
        try:
            body = await _read_body(request, max_payload_bytes)
        except _PayloadTooLargeError as error:
            counters.count(413, captured=False)
            return Response(str(error).encode(), 413, media_type="text/plain")
        answer = await _invoke(body, headers, None)
        return _send(answer)

    async def runtime_invocations(request: Request) -> Response:
        name = request.path_params["name"]
        headers = _lowered(request)
        refusal = runtime.validate(headers)
        if refusal is None and name != endpoint_name:
            refusal = runtime.unknown_endpoint(name, endpoint_name)
        if refusal is not None:
            await _drain(request)
            return _reply(refusal)
        try:
            body = await _read_body(request, max_payload_bytes)
        except _PayloadTooLargeError:
            counters.count(413, captured=False)
            return _reply(runtime.too_large(max_payload_bytes))
        forwarded = runtime.forwarded_headers(headers)
        answer = await _invoke(body, forwarded, forwarded.get(runtime.INFERENCE_ID))
        return _reply(
            runtime.answer(
                answer, endpoint_name=endpoint_name, variant_name=variant_name, region=region
            )
        )

    async def _invoke(
        body: bytes, headers: Mapping[str, str], inference_id: str | None
    ) -> container.ContainerResponse:
        answer, captured = await anyio.to_thread.run_sync(
            _invoke_and_capture, served, capture, body, headers, inference_id, limiter=limiter
        )
        counters.count(answer.status, captured=captured, unseen=_unseen(answer))
        return answer

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if capture is not None:  # flush what is buffered before the process goes away
            capture.close()

    every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            Route("/ping", ping, methods=every_method),
            Route("/invocations", container_invocations, methods=every_method),
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
    headers: Mapping[str, str],
    inference_id: str | None,
) -> tuple[container.ContainerResponse, bool]:
    """Handlers, then the capture record, in a worker thread: a capture flush (an S3 put when
    the buffer fills) must not stall the event loop."""
    sampled = capture is not None and capture.sampled()
    answer = container.invoke(served, body, headers)
    if not sampled or capture is None or answer.status >= 400:
        return answer, False
    capture.record(
        input_body=body,
        input_content_type=headers.get("content-type", ""),
        output_body=answer.body,
        output_content_type=answer.content_type,
        inference_id=inference_id,
    )
    return answer, True


def _unseen(answer: container.ContainerResponse) -> int:
    for name, value in answer.headers.items():
        if name.lower() == UNSEEN_CATEGORIES_HEADER.lower():
            return int(value) if value.isdigit() else 0
    return 0


def _lowered(request: Request) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def _send(answer: container.ContainerResponse) -> Response:
    response = Response(answer.body, status_code=answer.status, headers=dict(answer.headers))
    response.headers["content-type"] = answer.content_type
    return response


def _reply(answer: runtime.RuntimeResponse) -> Response:
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


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
