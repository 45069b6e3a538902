"""Property tests of the local endpoint over real HTTP: random bodies, headers and routes.

Whatever a client sends, the server answers (no dropped connection), never with a 5xx, every
4xx carries a message, and ``/ping`` is still healthy afterwards.
"""

from __future__ import annotations

import http.client
import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.test_fuzz_handlers import ACCEPTS, CONTENT_TYPES, request_bodies
from tests.serving.conftest import HttpAnswer, http_request
from tests.serving.modelkit import BuiltModel

pytestmark = pytest.mark.slow

NAME = "fuzz-endpoint"
HTTP_FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Header values http.client can put on the wire (latin-1, no control characters).
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=["Cc"]),
    max_size=60,
)
HEADER_NAMES = st.text(
    alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=20
)
# Framing headers http.client sets itself, and the two the test chooses explicitly.
_RESERVED = {
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "content-type",
    "accept",
    "expect",
}
HOSTILE_BODIES = st.sampled_from(
    [
        b"",
        b"\x00" * 1000,
        b"[" * 100_000,
        b'{"instances": [[' + b"7" * 5000 + b"]]}",
        b"\xff\xfe\xfd",
        b"a," * 50_000,
        b'"' * 1001,
        b"\r\n" * 10_000,
    ]
)


@pytest.fixture(scope="module")
def endpoint(reliability_model: BuiltModel) -> Iterator[Any]:
    from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint

    with LocalEndpoint(reliability_model.archive, EndpointOptions(endpoint_name=NAME)) as served:
        yield served


@pytest.fixture(scope="module")
def bodies(raw_rows: list[list[str]]) -> st.SearchStrategy[Any]:
    return st.one_of(
        request_bodies(raw_rows[:200]).map(
            lambda b: b.encode("utf-8") if isinstance(b, str) else b
        ),
        HOSTILE_BODIES,
    )


def _message(answer: HttpAnswer, path: str) -> str:
    """The error message a client reads: JSON ``message`` on the runtime route, else the text."""
    if path.startswith("/endpoints/") and answer.headers.get("content-type") == "application/json":
        return str(json.loads(answer.body).get("message", ""))
    return answer.text


def _assert_answered(answer: HttpAnswer, path: str) -> None:
    assert answer.status < 500, f"{answer.status}: {answer.text[:300]}"
    if answer.status >= 400:
        assert _message(answer, path).strip(), f"{answer.status} without a message"
    if answer.status == 424:  # ModelError: the handler's own status must be a 4xx too
        original = json.loads(answer.body)["OriginalStatusCode"]
        assert original < 500, f"handler answered {original}: {answer.text[:300]}"


def test_random_requests_never_get_a_5xx_or_a_dropped_connection(
    endpoint: Any, bodies: st.SearchStrategy[Any]
) -> None:
    @HTTP_FUZZ
    @given(
        body=bodies,
        path=st.sampled_from(
            ["/invocations", f"/endpoints/{NAME}/invocations", "/endpoints/other/invocations"]
        ),
        content_type=st.one_of(CONTENT_TYPES, HEADER_TEXT).filter(
            lambda v: v is None or all(0x20 <= ord(c) <= 0xFF and ord(c) != 0x7F for c in v)
        ),
        accept=st.one_of(ACCEPTS, HEADER_TEXT).filter(
            lambda v: v is None or all(0x20 <= ord(c) <= 0xFF and ord(c) != 0x7F for c in v)
        ),
        extra=st.dictionaries(HEADER_NAMES, HEADER_TEXT, max_size=3),
    )
    def check(
        body: bytes, path: str, content_type: Any, accept: Any, extra: dict[str, str]
    ) -> None:
        headers = {k: v.strip() for k, v in extra.items() if k.lower() not in _RESERVED}
        if content_type is not None:
            headers["Content-Type"] = content_type.strip()
        if accept is not None:
            headers["Accept"] = accept.strip()
        try:
            answer = http_request(endpoint.url, "POST", path, body, headers)
        except (ConnectionError, http.client.HTTPException) as error:
            pytest.fail(f"connection dropped: {error!r}")
        _assert_answered(answer, path)

    check()
    assert http_request(endpoint.url, "GET", "/ping").status == 200


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"instances": [[' + b"7" * 5000 + b"]]}"],
    ids=["deep-nesting", "huge-integer"],
)
def test_json_the_parser_cannot_hold_is_a_client_error_over_http(
    endpoint: Any, body: bytes
) -> None:
    path = f"/endpoints/{NAME}/invocations"
    answer = http_request(endpoint.url, "POST", path, body, {"Content-Type": "application/json"})
    assert answer.status == 424
    document = json.loads(answer.body)
    assert document["OriginalStatusCode"] == 400
    assert document["OriginalMessage"]


def test_a_payload_over_the_limit_is_413_and_the_server_keeps_serving(
    endpoint: Any, raw_rows: list[list[str]]
) -> None:
    path = f"/endpoints/{NAME}/invocations"
    big = b"1," * (3 * 1024 * 1024 + 1)
    answer = http_request(endpoint.url, "POST", path, big, {"Content-Type": "text/csv"})
    assert answer.status == 413
    assert "exceeded" in json.loads(answer.body)["message"]
    good = http_request(
        endpoint.url,
        "POST",
        path,
        (",".join(raw_rows[0]) + "\n").encode(),
        {"Content-Type": "text/csv"},
    )
    assert good.status == 200


def test_a_client_that_hangs_up_mid_body_does_not_hurt_the_server(
    endpoint: Any, raw_rows: list[list[str]]
) -> None:
    host, port = endpoint.url.removeprefix("http://").split(":")
    for _ in range(20):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.putrequest("POST", f"/endpoints/{NAME}/invocations")
        connection.putheader("Content-Type", "text/csv")
        connection.putheader("Content-Length", "100000")
        connection.endheaders(b"1,2,3")
        connection.close()
    good = http_request(
        endpoint.url,
        "POST",
        f"/endpoints/{NAME}/invocations",
        (",".join(raw_rows[0]) + "\n").encode(),
        {"Content-Type": "text/csv"},
    )
    assert good.status == 200
    assert http_request(endpoint.url, "GET", "/ping").status == 200
