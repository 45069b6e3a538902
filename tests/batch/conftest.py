"""Fixtures for the batch tests: the serving tests' model as an approved package version.

The package is registered in the session's local AWS (a moto server in its own process) the way
the training pipeline's Register step registers one: the XGBoost image, the ``model.tar.gz`` and
the program environment of contracts §4, and a data-quality baseline of the model's raw
features as its drift-check baseline. `run_local_batch` then resolves it as the newest approved
version, exactly as after ``mlops models approve``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops.core.settings import ProjectSettings, load_settings
from tests.serving.conftest import (  # the shared session fixtures
    endpoint,  # noqa: F401
    test_model,  # noqa: F401
)
from tests.serving.modelkit import BuiltModel

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
ID_COLUMN = "customer_id"


@dataclass(frozen=True)
class Package:
    arn: str
    settings: ProjectSettings
    s3: Any
    sagemaker: Any


@pytest.fixture(scope="module")
def local_aws(moto_server_url: str) -> Iterator[str]:
    """`mlops.local_runtime.aws` pointed at the session's server for this module."""
    previous = os.environ.get("MLOPS_LOCAL_AWS_URL")
    os.environ["MLOPS_LOCAL_AWS_URL"] = moto_server_url
    try:
        yield moto_server_url
    finally:
        if previous is None:
            os.environ.pop("MLOPS_LOCAL_AWS_URL", None)
        else:
            os.environ["MLOPS_LOCAL_AWS_URL"] = previous


@pytest.fixture(scope="module")
def batch_settings() -> ProjectSettings:
    """cdk.json's project with the serving test data's id column."""
    return load_settings({"dataset": {"id_column": ID_COLUMN}})


@pytest.fixture(scope="module")
def approved_package(
    local_aws: str,
    batch_settings: ProjectSettings,
    test_model: BuiltModel,  # noqa: F811 - the shared fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Package:
    from mlops.local_runtime.aws import client, ensure_bucket
    from monitoring.baseline import write_baseline

    settings = batch_settings
    s3 = client("s3", endpoint_url=local_aws, region=settings.region)
    sagemaker = client("sagemaker", endpoint_url=local_aws, region=settings.region)
    bucket = settings.names.local_artifact_bucket
    ensure_bucket(s3, bucket)
    ensure_bucket(s3, settings.names.local_data_bucket)
    s3.upload_file(str(test_model.archive), bucket, "batch-tests/model.tar.gz")
    work = tmp_path_factory.mktemp("baseline")
    features = work / "baseline.csv"
    test_model.raw.to_csv(features, index=False)
    write_baseline(features, work / "out")
    uris = {}
    for name in ("statistics", "constraints"):
        key = f"batch-tests/baseline/{name}.json"
        s3.upload_file(str(work / "out" / f"{name}.json"), bucket, key)
        uris[name] = f"s3://{bucket}/{key}"
    group = settings.names.model_package_group
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except sagemaker.exceptions.ClientError:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    quality = {
        "Statistics": {"ContentType": "application/json", "S3Uri": uris["statistics"]},
        "Constraints": {"ContentType": "application/json", "S3Uri": uris["constraints"]},
    }
    arn = str(
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": XGBOOST_IMAGE,
                        "ModelDataUrl": f"s3://{bucket}/batch-tests/model.tar.gz",
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                        },
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            DriftCheckBaselines={"ModelDataQuality": quality},
        )["ModelPackageArn"]
    )
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return Package(arn, settings, s3, sagemaker)


def batch_rows(model: BuiltModel, start: int, stop: int) -> list[str]:
    """Batch input rows of the model's data: an id, then the raw features (no header)."""
    rows = model.raw.iloc[start:stop].to_numpy().tolist()
    return [",".join([f"C{start + offset:05d}", *row]) for offset, row in enumerate(rows)]


def write_rows(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path
