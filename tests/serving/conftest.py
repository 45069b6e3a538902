"""Shared serving fixtures: one trained test model and one running endpoint per session."""

from __future__ import annotations

import http.client
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.serving.modelkit import BuiltModel, build_model

ENDPOINT_NAME = "churn-test"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_request(
    url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> HttpAnswer:
    """One raw HTTP exchange (http.client, so any header or body can be sent as is)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return HttpAnswer(
            response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
        )
    finally:
        connection.close()


def runtime_client(url: str) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture(scope="session")
def test_model(tmp_path_factory: pytest.TempPathFactory) -> BuiltModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def endpoint(test_model: BuiltModel) -> Iterator[Any]:
    from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint

    with LocalEndpoint(test_model.archive, EndpointOptions(endpoint_name=ENDPOINT_NAME)) as served:
        yield served


@pytest.fixture(scope="session")
def runtime(endpoint: Any) -> Any:
    return runtime_client(endpoint.url)


def csv_body(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(row) for row in rows) + "\n").encode()


@pytest.fixture(scope="session")
def sample_rows(test_model: BuiltModel) -> list[list[str]]:
    return [list(map(str, row)) for row in test_model.raw.head(50).to_numpy().tolist()]


@pytest.fixture
def model_path(test_model: BuiltModel) -> Path:
    return test_model.archive
