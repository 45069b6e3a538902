"""The application client against real HTTP servers: batching, retries, whose fault an error is."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inference.client import (
    EndpointClient,
    EndpointModelError,
    EndpointRequestError,
    EndpointUnavailableError,
    PayloadTooLargeError,
)
from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint
from tests.serving.conftest import ENDPOINT_NAME, runtime_client
from tests.serving.modelkit import FEATURES, BuiltModel, failing_model


class FlakyProxy:
    """A real HTTP server on 127.0.0.1 in front of the endpoint: answers the first queued
    failures itself, forwards everything else, and records each request body's size."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failures: list[tuple[int, str, dict[str, Any]]] = []
        self.body_sizes: list[int] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[Route("/endpoints/{name}/invocations", self._handle, methods=["POST"])]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.body_sizes.append(len(body))
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            status, code, extra = failure
            return Response(
                json.dumps({"message": f"injected {code}", **extra}),
                status_code=status,
                headers={"x-amzn-ErrorType": code, "Content-Type": "application/json"},
            )
        forward = urllib.request.Request(
            self.upstream + request.url.path,
            data=body,
            headers={k: v for k, v in request.headers.items() if k in ("content-type", "accept")},
            method="POST",
        )

        def call() -> tuple[int, bytes, dict[str, str]]:
            try:
                with urllib.request.urlopen(forward, timeout=30) as answer:
                    return answer.status, answer.read(), dict(answer.headers)
            except urllib.error.HTTPError as error:
                return error.code, error.read(), dict(error.headers)

        status, payload, headers = await run_in_threadpool(call)
        keep = {
            k: v for k, v in headers.items() if k.lower().startswith(("content-type", "x-amzn"))
        }
        return Response(payload, status_code=status, headers=keep)

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *args: object) -> None:
        self.server.should_exit = True
        self.thread.join()


@pytest.fixture
def proxy(endpoint: Any) -> Iterator[FlakyProxy]:
    with FlakyProxy(endpoint.url) as running:
        yield running


def _client(url: str, delays: list[float] | None = None, **options: Any) -> EndpointClient:
    return EndpointClient(
        ENDPOINT_NAME,
        runtime_client=runtime_client(url),
        sleep=(delays.append if delays is not None else lambda _: None),
        **options,
    )


def _expected(test_model: BuiltModel, rows: list[list[str]]) -> np.ndarray:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(FEATURES))
    return test_model.booster.inplace_predict(test_model.encode(frame)).astype(np.float32)


@pytest.fixture(scope="module")
def many_rows(test_model: BuiltModel) -> list[list[str]]:
    return [list(map(str, row)) for row in test_model.raw.head(300).to_numpy().tolist()]


def test_csv_batches_stay_under_the_limit_and_keep_order(
    proxy: FlakyProxy, test_model: BuiltModel, many_rows: list[list[str]]
) -> None:
    client = _client(proxy.url, max_payload_bytes=2_000)

    predictions = client.predict_csv(many_rows)

    assert len(proxy.body_sizes) > 5
    assert max(proxy.body_sizes) <= 2_000
    np.testing.assert_array_equal(
        np.array([p.probability for p in predictions], dtype=np.float32),
        _expected(test_model, many_rows),
    )


def test_json_record_batches_stay_under_the_limit_and_keep_order(
    proxy: FlakyProxy, test_model: BuiltModel, many_rows: list[list[str]]
) -> None:
    records = [
        {name: (value or None) for name, value in zip(FEATURES, row, strict=True)}
        for row in many_rows
    ]
    client = _client(proxy.url, max_payload_bytes=3_000)

    predictions = client.predict_records(records)

    assert len(proxy.body_sizes) > 5
    assert max(proxy.body_sizes) <= 3_000
    np.testing.assert_array_equal(
        np.array([p.probability for p in predictions], dtype=np.float32),
        _expected(test_model, many_rows),
    )


def test_small_input_is_one_request_with_labels(endpoint: Any, many_rows: list[list[str]]) -> None:
    client = _client(endpoint.url)

    predictions = client.predict_csv(many_rows[:10])

    assert client.requests_sent == 1
    assert {p.label for p in predictions} <= {"Yes", "not Yes"}


@pytest.mark.parametrize(
    ("status", "code", "extra"),
    [
        (503, "ServiceUnavailable", {}),
        (500, "InternalFailure", {}),
        (429, "ThrottlingException", {}),
        (424, "ModelError", {"OriginalStatusCode": 503, "OriginalMessage": "busy"}),
    ],
)
def test_transient_failures_are_retried_with_backoff_then_succeed(
    proxy: FlakyProxy, many_rows: list[list[str]], status: int, code: str, extra: dict[str, Any]
) -> None:
    proxy.failures = [(status, code, extra)] * 2
    delays: list[float] = []
    client = _client(proxy.url, delays, base_delay=0.5, max_delay=10)

    predictions = client.predict_csv(many_rows[:3])

    assert len(predictions) == 3
    assert client.requests_sent == 3
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.5
    assert 0 <= delays[1] <= 1.0


def test_retries_give_up_after_max_retries(proxy: FlakyProxy, many_rows: list[list[str]]) -> None:
    proxy.failures = [(503, "ServiceUnavailable", {})] * 10
    client = _client(proxy.url, max_retries=2)

    with pytest.raises(EndpointUnavailableError, match="after 3 attempt") as caught:
        client.predict_csv(many_rows[:1])

    assert caught.value.attempts == 3
    assert len(proxy.body_sizes) == 3


def test_real_backoff_sleeps_between_attempts(
    proxy: FlakyProxy, many_rows: list[list[str]]
) -> None:
    proxy.failures = [(503, "ServiceUnavailable", {})] * 3
    client = EndpointClient(
        ENDPOINT_NAME, runtime_client=runtime_client(proxy.url), max_retries=3, base_delay=0.05
    )

    assert len(client.predict_csv(many_rows[:1])) == 1
    assert client.requests_sent == 4


def test_bad_input_raises_at_once_as_the_callers_error_with_the_handlers_message(
    proxy: FlakyProxy, many_rows: list[list[str]]
) -> None:
    bad = dict(zip(FEATURES, many_rows[0], strict=True), age="forty")
    client = _client(proxy.url)

    with pytest.raises(EndpointRequestError) as caught:
        client.predict_records([bad])

    assert len(proxy.body_sizes) == 1
    refused = caught.value
    assert refused.message == "row 1, column 'age': value 'forty' is not a number"
    assert (refused.status, refused.code, refused.original_status, refused.error) == (
        424,
        "ModelError",
        400,
        "BadRequestError",
    )


def test_a_request_the_service_refuses_is_the_callers_error(endpoint: Any) -> None:
    client = EndpointClient("no-such-endpoint", runtime_client=runtime_client(endpoint.url))

    with pytest.raises(EndpointRequestError) as caught:
        client.predict_csv(["1,2"])

    assert (caught.value.code, caught.value.original_status) == ("ValidationError", None)


def test_model_server_errors_are_not_retried(proxy: FlakyProxy, many_rows: list[list[str]]) -> None:
    proxy.failures = [(424, "ModelError", {"OriginalStatusCode": 500, "OriginalMessage": "bug"})]
    client = _client(proxy.url)

    with pytest.raises(EndpointModelError, match="bug") as caught:
        client.predict_csv(many_rows[:1])

    assert len(proxy.body_sizes) == 1
    assert caught.value.original_status == 500


def test_a_failing_model_is_a_model_error_not_the_callers(tmp_path: Path) -> None:
    with LocalEndpoint(failing_model(tmp_path), EndpointOptions(endpoint_name="broken")) as ep:
        client = EndpointClient("broken", runtime_client=runtime_client(ep.url))
        with pytest.raises(EndpointModelError, match="500 Internal Server Error") as caught:
            client.predict_csv(["1,2"])

    assert caught.value.original_status == 500
    assert client.requests_sent == 1


def test_an_inference_id_goes_with_a_single_request(
    endpoint: Any, many_rows: list[list[str]]
) -> None:
    client = _client(endpoint.url, max_payload_bytes=2_000)

    assert len(client.predict_csv(many_rows[:2], inference_id="order-17")) == 2
    with pytest.raises(ValueError, match="inference_id names one request"):
        client.predict_csv(many_rows, inference_id="order-18")
    assert client.requests_sent == 1


def test_a_row_larger_than_the_limit_is_refused_before_sending(
    proxy: FlakyProxy, many_rows: list[list[str]]
) -> None:
    client = _client(proxy.url, max_payload_bytes=50)

    with pytest.raises(PayloadTooLargeError, match="row 1 alone"):
        client.predict_csv(many_rows[:2])

    assert proxy.body_sizes == []
