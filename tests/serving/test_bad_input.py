"""Bad input gets a 4xx naming the problem, never a 500, and the server stays up.

The container route answers what the XGBoost image's serving stack answers for these (the
fidelity contract test checks that against the real toolkit): the status, and the JSON body
``{"error": …, "error-message": …}`` that ``inference.transform_fn`` writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.serving.conftest import ENDPOINT_NAME, http_request
from tests.serving.modelkit import FEATURES

GOOD = [
    "45", "12", "70.5", "840.2", "2", "3", "10.25", "5", "0",
    "One year", "DSL", "Mailed check", "No", "north",
]  # fmt: skip
GOOD_RECORD = dict(zip(FEATURES, GOOD, strict=True))


def _row(**changes: str) -> str:
    return ",".join(changes.get(name, value) for name, value in GOOD_RECORD.items())


@dataclass(frozen=True)
class Case:
    id: str
    body: bytes
    status: int
    message: str  # a substring the answer must contain
    content_type: str | None = "text/csv"
    accept: str | None = None


CASES = [
    Case("empty body", b"", 400, "empty request body"),
    Case("whitespace only", b" \n\n ", 400, "empty request body"),
    Case("too few columns", b"45,12,70.5", 400, "row 1: expected 14 values"),
    Case("too many columns on row 2", f"{_row()}\n{_row()},extra".encode(), 400, "row 2: expected 14 values"),
    Case("text in numeric column", _row(age="forty").encode(), 400, "row 1, column 'age': value 'forty' is not a number"),
    Case("text in numeric column on row 3", f"{_row()}\n{_row()}\n{_row(support_calls='x')}".encode(), 400, "row 3, column 'support_calls'"),
    Case("nan text", _row(monthly_charges="nan").encode(), 400, "column 'monthly_charges': value 'nan' is not a finite number"),
    Case("inf text", _row(total_charges="inf").encode(), 400, "value 'inf' is not a finite number"),
    Case("negative infinity text", _row(age="-Infinity").encode(), 400, "value '-Infinity' is not a finite number"),
    Case("header row", ",".join(FEATURES).encode(), 400, "looks like a header row"),
    Case("unterminated quote", f'{_row()}\n"45,12'.encode(), 400, "malformed CSV"),
    Case("bad utf-8", _row(region="nor\xff").encode("latin-1"), 400, "not valid UTF-8", content_type="text/csv; charset=utf-8"),
    Case("unsupported content type", _row().encode(), 415, "unsupported content type 'text/plain'", content_type="text/plain"),
    Case("missing content type is JSON", _row().encode(), 400, "invalid JSON", content_type=None),
    Case("unsupported accept", _row().encode(), 406, "unsupported Accept 'application/xml'", accept="application/xml"),
    Case("invalid json", b'{"instances": [', 400, "invalid JSON at line 1", content_type="application/json"),
    Case("json missing feature", json.dumps({"instances": [{k: v for k, v in GOOD_RECORD.items() if k != "age"}]}).encode(), 400, "instance 1: missing feature(s) age", content_type="application/json"),
    Case("json non-object instance", json.dumps({"instances": [GOOD_RECORD, 42]}).encode(), 400, "instance 2: expected an object", content_type="application/json"),
    Case("json instances not a list", json.dumps({"instances": GOOD_RECORD}).encode(), 400, '"instances" must be a list', content_type="application/json"),
    Case("json empty instances", b'{"instances": []}', 400, '"instances" is empty', content_type="application/json"),
    Case("json object without instances", json.dumps(GOOD_RECORD).encode(), 400, 'must be {"instances"', content_type="application/json"),
    Case("json boolean in numeric", json.dumps([dict(GOOD_RECORD, senior_citizen=True)]).encode(), 400, "column 'senior_citizen': expected a number, a string or null, got bool", content_type="application/json"),
    Case("json NaN literal", b"[" + json.dumps(GOOD_RECORD).replace('"age": "45"', '"age": NaN').encode() + b"]", 400, "column 'age': value nan is not a finite number", content_type="application/json"),
    Case("json nested value", json.dumps([dict(GOOD_RECORD, region={"a": 1})]).encode(), 400, "column 'region': expected a number, a string or null, got dict", content_type="application/json"),
    Case("json array wrong length", json.dumps({"instances": [GOOD[:-1]]}).encode(), 400, "row 1: expected 14 values", content_type="application/json"),
    Case("jsonlines bad second line", f"{json.dumps(GOOD_RECORD)}\n{{oops".encode(), 400, "invalid JSON on line 2", content_type="application/jsonlines"),
]  # fmt: skip


def _headers(case: Case) -> dict[str, str]:
    headers = {}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    if case.accept is not None:
        headers["Accept"] = case.accept
    return headers


def test_the_table_has_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_a_4xx_naming_the_problem_and_server_stays_up(
    endpoint: Any, case: Case
) -> None:
    answer = http_request(endpoint.url, "POST", "/invocations", case.body, _headers(case))

    assert answer.status == case.status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert case.message in json.loads(answer.body)["error-message"]
    assert http_request(endpoint.url, "GET", "/ping").status == 200


def test_a_body_over_6_mb_is_refused_before_the_handlers(endpoint: Any) -> None:
    answer = http_request(
        endpoint.url,
        "POST",
        "/invocations",
        b"1" * (6 * 1024 * 1024 + 1),
        {"Content-Type": "text/csv"},
    )

    assert (answer.status, "exceeds the 6 MB limit" in answer.text) == (413, True)


@pytest.mark.parametrize(
    "case",
    [
        case
        for case in CASES
        if case.id
        in {
            "text in numeric column",
            "missing content type is JSON",
            "json missing feature",
            "unsupported content type",
            "unsupported accept",
        }
    ],
    ids=lambda case: case.id,
)
def test_bad_input_through_boto3_is_a_model_error_with_our_message(
    runtime: Any, case: Case
) -> None:
    arguments: dict[str, Any] = {"EndpointName": ENDPOINT_NAME, "Body": case.body}
    if case.content_type:
        arguments["ContentType"] = case.content_type
    if case.accept:
        arguments["Accept"] = case.accept

    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(**arguments)

    response = caught.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == case.status
    assert f"Received client error ({case.status}) from primary with message" in str(caught.value)
    assert case.message in json.loads(response["OriginalMessage"])["error-message"]


def test_oversized_body_through_boto3_is_a_413_as_the_service_answers(runtime: Any) -> None:
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=ENDPOINT_NAME, Body=b"1" * (7 * 1024 * 1024), ContentType="text/csv"
        )

    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("413", 413)
    assert error["Error"]["Message"] == "HTTP content length exceeded 6291456 bytes."


def test_client_mistakes_are_counted_as_client_errors_not_server_errors(endpoint: Any) -> None:
    before = endpoint.stats.server_errors
    for case in CASES[:5]:
        http_request(endpoint.url, "POST", "/invocations", case.body, _headers(case))

    assert endpoint.stats.server_errors == before
