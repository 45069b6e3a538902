"""The local endpoint through unchanged boto3 ``invoke_endpoint`` and the container routes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops.core.errors import UserError
from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint
from tests.serving.conftest import ENDPOINT_NAME, csv_body, http_request, runtime_client
from tests.serving.modelkit import FEATURES, BuiltModel, build_model, failing_model


def _expected(test_model: BuiltModel, rows: list[list[str]]) -> np.ndarray:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(FEATURES))
    return test_model.booster.inplace_predict(test_model.encode(frame)).astype(np.float32)


def _probabilities(body: bytes) -> np.ndarray:
    return np.array([p["probability"] for p in json.loads(body)["predictions"]], dtype=np.float32)


def test_ping_answers_200_with_an_empty_body_as_the_container_does(endpoint: Any) -> None:
    answer = http_request(endpoint.url, "GET", "/ping")

    assert (answer.status, answer.body, answer.headers["content-type"]) == (
        200,
        b"",
        "application/json",
    )


def test_csv_single_row_through_boto3(
    runtime: Any, test_model: BuiltModel, sample_rows: list[list[str]]
) -> None:
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME,
        Body=csv_body(sample_rows[:1]),
        ContentType="text/csv",
        Accept="application/json",
    )

    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    np.testing.assert_array_equal(
        _probabilities(response["Body"].read()), _expected(test_model, sample_rows[:1])
    )


def test_csv_many_rows_with_csv_answer_through_boto3(
    runtime: Any, test_model: BuiltModel, sample_rows: list[list[str]]
) -> None:
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME,
        Body=csv_body(sample_rows),
        ContentType="text/csv",
        Accept="text/csv",
    )

    lines = response["Body"].read().decode().splitlines()
    assert response["ContentType"] == "text/csv; charset=utf-8"  # the container's, verbatim
    probabilities = np.array([float(line.split(",")[0]) for line in lines], dtype=np.float32)
    labels = [line.split(",")[1] for line in lines]
    expected = _expected(test_model, sample_rows)
    np.testing.assert_array_equal(probabilities, expected)
    assert labels == ["Yes" if p >= 0.5 else "not Yes" for p in expected]


def test_json_objects_single_and_many_through_boto3(
    runtime: Any, test_model: BuiltModel, sample_rows: list[list[str]]
) -> None:
    records = [dict(zip(FEATURES, row, strict=True)) for row in sample_rows]
    for batch in (records[:1], records):
        response = runtime.invoke_endpoint(
            EndpointName=ENDPOINT_NAME,
            Body=json.dumps({"instances": batch}),
            ContentType="application/json",
        )

        assert response["ContentType"] == "application/json"
        np.testing.assert_array_equal(
            _probabilities(response["Body"].read()),
            _expected(test_model, sample_rows[: len(batch)]),
        )


def test_jsonlines_in_and_out_through_boto3(
    runtime: Any, test_model: BuiltModel, sample_rows: list[list[str]]
) -> None:
    body = "\n".join(json.dumps(row) for row in sample_rows[:5])

    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME,
        Body=body,
        ContentType="application/jsonlines",
        Accept="application/jsonlines",
    )

    assert response["ContentType"] == "application/jsonlines"
    lines = [json.loads(line) for line in response["Body"].read().splitlines()]
    np.testing.assert_array_equal(
        np.array([line["probability"] for line in lines], dtype=np.float32),
        _expected(test_model, sample_rows[:5]),
    )


def test_container_route_answers_like_the_serving_container(
    endpoint: Any, sample_rows: list[list[str]]
) -> None:
    answer = http_request(
        endpoint.url,
        "POST",
        "/invocations",
        csv_body(sample_rows[:3]),
        {"Content-Type": "text/csv", "Accept": "text/csv"},
    )

    assert answer.status == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert len(answer.text.splitlines()) == 3


def test_a_request_without_content_type_is_read_as_json(
    runtime: Any, sample_rows: list[list[str]]
) -> None:
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME, Body=json.dumps({"instances": sample_rows[:2]})
    )

    assert len(json.loads(response["Body"].read())["predictions"]) == 2


def test_custom_attributes_reach_the_handlers_and_come_back(
    runtime: Any, sample_rows: list[list[str]]
) -> None:
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME,
        Body=csv_body(sample_rows[:1]),
        ContentType="text/csv",
        CustomAttributes="trace-id=7f3a",
    )

    assert response["CustomAttributes"] == "trace-id=7f3a"
    assert response["InvokedProductionVariant"] == "AllTraffic"


def test_only_the_api_headers_of_the_container_answer_are_returned(
    runtime: Any, endpoint: Any, sample_rows: list[list[str]]
) -> None:
    direct = http_request(
        endpoint.url,
        "POST",
        "/invocations",
        csv_body(sample_rows[:1]),
        {"Content-Type": "text/csv"},
    )
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME, Body=csv_body(sample_rows[:1]), ContentType="text/csv"
    )

    assert "x-mlops-unseen-categories" in direct.headers
    assert "x-mlops-unseen-categories" not in response["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize(
    ("header", "value", "member"),
    [
        ("X-Amzn-SageMaker-Inference-Id", "x" * 65, "inferenceId"),
        ("X-Amzn-SageMaker-Inference-Id", "\xa0starts-with-a-space", "inferenceId"),
        ("X-Amzn-SageMaker-Custom-Attributes", "a" * 1025, "customAttributes"),
    ],
)
def test_headers_outside_the_api_shapes_are_validation_errors(
    endpoint: Any, sample_rows: list[list[str]], header: str, value: str, member: str
) -> None:
    answer = http_request(
        endpoint.url,
        "POST",
        f"/endpoints/{ENDPOINT_NAME}/invocations",
        csv_body(sample_rows[:1]),
        {"Content-Type": "text/csv", header: value},
    )

    assert (answer.status, answer.headers["x-amzn-errortype"]) == (400, "ValidationError")
    assert f"at '{member}' failed to satisfy constraint" in json.loads(answer.body)["message"]


def test_a_method_the_route_does_not_take_gets_the_containers_405(endpoint: Any) -> None:
    answer = http_request(endpoint.url, "GET", "/invocations")

    assert (answer.status, answer.headers["content-type"]) == (405, "text/html; charset=utf-8")
    assert answer.headers["allow"] == "POST, OPTIONS"


def test_a_failing_model_is_a_500_page_and_a_model_error_with_its_status(tmp_path: Path) -> None:
    with LocalEndpoint(failing_model(tmp_path), EndpointOptions(endpoint_name="broken")) as ep:
        page = http_request(ep.url, "POST", "/invocations", b"1", {"Content-Type": "text/csv"})
        with pytest.raises(ClientError) as caught:
            runtime_client(ep.url).invoke_endpoint(
                EndpointName="broken", Body=b"1", ContentType="text/csv"
            )

    assert (page.status, page.headers["content-type"]) == (500, "text/html; charset=utf-8")
    assert b"<title>500 Internal Server Error</title>" in page.body
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ModelError",
        424,
    )
    assert error["OriginalStatusCode"] == 500
    assert error["OriginalMessage"] == page.text
    assert "Received server error (500) from primary" in error["Error"]["Message"]
    assert error["LogStreamArn"].endswith(":log-group:/aws/sagemaker/Endpoints/broken")


def test_unknown_endpoint_name_is_a_validation_error(
    runtime: Any, sample_rows: list[list[str]]
) -> None:
    with pytest.raises(runtime.exceptions.ValidationError, match="Endpoint other of account"):
        runtime.invoke_endpoint(
            EndpointName="other", Body=csv_body(sample_rows[:1]), ContentType="text/csv"
        )


def test_served_handlers_come_from_the_model_artifact(endpoint: Any) -> None:
    assert endpoint.served.handler_path == endpoint.served.model_dir / "code" / "inference.py"


def test_artifact_without_code_is_refused_not_served_with_the_repository_handlers(
    tmp_path: Path,
) -> None:
    # The XGBoost image with SAGEMAKER_PROGRAM=inference.py fails to start on such an artifact
    # (artifact.py's docstring cites where), so serving it locally would hide that.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = build_model(tmp_path, rows=200, code=False)

    with pytest.raises(UserError, match=r"has no code/inference\.py: SageMaker could not start"):
        LocalEndpoint(model.archive)


def test_model_artifact_in_s3_is_downloaded_and_served(
    test_model: BuiltModel, sample_rows: list[list[str]]
) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        s3.upload_file(str(test_model.archive), "artifacts", "run-1/model.tar.gz")

        with LocalEndpoint(
            "s3://artifacts/run-1/model.tar.gz",
            EndpointOptions(endpoint_name="from-s3"),
            s3_client=s3,
        ) as served:
            response = runtime_client(served.url).invoke_endpoint(
                EndpointName="from-s3", Body=csv_body(sample_rows[:2]), ContentType="text/csv"
            )

    assert len(json.loads(response["Body"].read())["predictions"]) == 2


def test_missing_artifact_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        LocalEndpoint(tmp_path / "nope.tar.gz")


def test_stopped_endpoint_no_longer_answers(test_model: BuiltModel) -> None:
    served = LocalEndpoint(test_model.archive).start()
    url = served.url
    served.stop()

    with pytest.raises(ConnectionRefusedError):
        http_request(url, "GET", "/ping")
