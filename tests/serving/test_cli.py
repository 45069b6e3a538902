"""`mlops endpoint invoke` and the registry resolution behind `serve --model-package`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint
from sagemaker_pipelines.registry import RegistryError, deployable_package, latest_approved
from tests.serving.conftest import ENDPOINT_NAME, runtime_client
from tests.serving.modelkit import FEATURES, BuiltModel

GROUP = "churn-mlops-models"


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["endpoint", "invoke", *args], catch_exceptions=False)


def test_invoke_prints_one_prediction_per_csv_row(
    endpoint: Any, test_model: BuiltModel, tmp_path: Path
) -> None:
    frame = test_model.raw.head(40)
    data = tmp_path / "rows.csv"
    data.write_text(",".join(FEATURES) + "\n" + frame.to_csv(header=False, index=False))

    result = _invoke(
        "--endpoint", ENDPOINT_NAME, "--data", str(data), "--header",
        "--endpoint-url", endpoint.url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    expected = test_model.booster.inplace_predict(test_model.encode(frame))
    np.testing.assert_allclose([float(line.split(",")[0]) for line in lines], expected, atol=1e-6)


def test_invoke_sends_json_instances_and_prints_json(
    endpoint: Any, test_model: BuiltModel, tmp_path: Path
) -> None:
    records = [
        dict(zip(FEATURES, row, strict=True)) for row in test_model.raw.head(5).to_numpy().tolist()
    ]
    data = tmp_path / "rows.json"
    data.write_text(json.dumps({"instances": records}))

    result = _invoke(
        "--endpoint", ENDPOINT_NAME, "--data", str(data), "--accept", "application/json",
        "--endpoint-url", endpoint.url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["predictions"]) == 5


def test_invoke_reports_a_bad_row_as_a_user_error(
    endpoint: Any, test_model: BuiltModel, tmp_path: Path
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("1,2,3\n")

    with pytest.raises(UserError, match="row 1: expected 14 values"):
        _invoke("--endpoint", ENDPOINT_NAME, "--data", str(data), "--endpoint-url", endpoint.url)


def test_serve_requires_local_and_exactly_one_model_source() -> None:
    with pytest.raises(UserError, match="only --local"):
        CliRunner().invoke(app, ["endpoint", "serve", "--latest-approved"], catch_exceptions=False)
    with pytest.raises(UserError, match="exactly one of"):
        CliRunner().invoke(app, ["endpoint", "serve", "--local"], catch_exceptions=False)


def _register(sagemaker: Any, url: str, status: str) -> str:
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "xgboost:3.2-0", "ModelDataUrl": url}],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
        },
    )["ModelPackageArn"]
    return str(arn)


def test_latest_approved_package_is_resolved_downloaded_and_served(
    test_model: BuiltModel,
) -> None:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        s3.upload_file(str(test_model.archive), "models", "v2/model.tar.gz")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        _register(sagemaker, "s3://models/v1/model.tar.gz", "Approved")
        newest = _register(sagemaker, "s3://models/v2/model.tar.gz", "Approved")
        _register(sagemaker, "s3://models/v3/model.tar.gz", "PendingManualApproval")

        package = latest_approved(sagemaker, GROUP)
        with LocalEndpoint(
            package.model_data_url, EndpointOptions(endpoint_name="registry"), s3_client=s3
        ) as served:
            response = runtime_client(served.url).invoke_endpoint(
                EndpointName="registry",
                Body=",".join(test_model.raw.iloc[0]),
                ContentType="text/csv",
            )

    assert (package.arn, package.model_data_url) == (newest, "s3://models/v2/model.tar.gz")
    assert package.approval_status == "Approved"
    assert len(json.loads(response["Body"].read())["predictions"]) == 1


def test_group_without_approved_package_is_refused_naming_the_group() -> None:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        _register(sagemaker, "s3://models/v1/model.tar.gz", "PendingManualApproval")

        with pytest.raises(RegistryError, match=f"no approved model package in group {GROUP}"):
            latest_approved(sagemaker, GROUP)


def test_unknown_package_arn_is_refused() -> None:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/9"

        with pytest.raises(RegistryError, match="model package"):
            deployable_package(sagemaker, arn)


@pytest.mark.slow
def test_serve_runs_until_sigterm_and_flushes_capture(
    test_model: BuiltModel, tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import subprocess
    import sys

    capture = tmp_path / "capture"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlops.cli.main",
            "endpoint",
            "serve",
            "--local",
            "--model",
            str(test_model.archive),
            "--port",
            "0",
            "--name",
            "cli-served",
            "--capture",
            str(capture),
            "--sampling",
            "100",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("serving endpoint cli-served at http://127.0.0.1:"), first
        data = tmp_path / "rows.csv"
        data.write_text(test_model.raw.head(3).to_csv(header=False, index=False))
        monkeypatch.chdir(tmp_path)  # `invoke --local` finds the running endpoint in .mlops/
        result = CliRunner().invoke(
            app, ["endpoint", "invoke", "--endpoint", "cli-served", "--data", str(data), "--local"]
        )
        assert result.exit_code == 0, result.output
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    assert "captured 1 record(s)" in stderr
    assert len(list(capture.rglob("*.jsonl"))) == 1
    assert not (tmp_path / ".mlops" / "endpoints" / "cli-served.json").exists()
