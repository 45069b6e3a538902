"""Smoke test: moto's CloudFormation creates what it supports of all four synthesized stacks."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.infra.conftest import Synthesized
from tests.infra.moto_stacks import create_stack

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def created(synthesized: Synthesized) -> Iterator[dict[str, Any]]:
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns once per resource type it skips
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        _publish_file_assets(synthesized.outdir, "Deploy")
        # In dependency order, as `cdk deploy` would.
        stacks = {
            stack_id: create_stack(cloudformation, name, synthesized.templates[stack_id])
            for stack_id, name in (
                ("Storage", "churn-mlops-storage"),
                ("Pipeline", "churn-mlops-pipeline"),
                ("StagingServing", "churn-mlops-staging-serving"),
                ("Serving", "churn-mlops-serving"),
                ("Deploy", "churn-mlops-deploy"),
            )
        }
        yield stacks


def _publish_file_assets(outdir: Path, stack_id: str) -> None:
    """What `cdk deploy` does before creating a stack: upload its assets to the CDK bucket."""
    s3 = boto3.client("s3", region_name="us-east-1")
    manifest = json.loads((outdir / f"{stack_id}.assets.json").read_text())
    for asset in manifest["files"].values():
        source = outdir / asset["source"]["path"]
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", ACCOUNT)
            bucket = bucket.replace("${AWS::Region}", "us-east-1")
            if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(Bucket=bucket)
            if source.is_dir():
                body = io.BytesIO()
                with zipfile.ZipFile(body, "w") as archive:
                    for path in sorted(source.rglob("*")):
                        archive.write(path, path.relative_to(source).as_posix())
                data = body.getvalue()
            else:
                data = source.read_bytes()
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=data)


def test_all_four_stacks_create(created: dict[str, Any]) -> None:
    assert {name: stack["StackStatus"] for name, stack in created.items()} == {
        "Storage": "CREATE_COMPLETE",
        "Pipeline": "CREATE_COMPLETE",
        "StagingServing": "CREATE_COMPLETE",
        "Serving": "CREATE_COMPLETE",
        "Deploy": "CREATE_COMPLETE",
    }


def test_approval_function_exists_with_its_configuration(created: dict[str, Any]) -> None:
    functions = boto3.client("lambda", region_name="us-east-1").list_functions()["Functions"]
    (function,) = functions
    assert function["Runtime"] == "python3.12"
    assert function["FunctionName"] == "churn-mlops-deployer"
    stages = json.loads(function["Environment"]["Variables"]["STAGES"])
    assert [(s["name"], s["stack_name"]) for s in stages] == [
        ("staging", "churn-mlops-staging-serving"),
        ("prod", "churn-mlops-serving"),
    ]


def test_buckets_exist_encrypted_with_the_project_key(created: dict[str, Any]) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    key_arn = boto3.client("ssm", region_name="us-east-1").get_parameter(
        Name="/churn-mlops/kms-key-arn"
    )["Parameter"]["Value"]
    for purpose in ("data", "artifacts"):
        bucket = f"churn-mlops-{purpose}-{ACCOUNT}-us-east-1"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        default = rule["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        assert (default["SSEAlgorithm"], default["KMSMasterKeyID"]) == ("aws:kms", key_arn)


def test_cli_parameters_resolve_to_created_resources(created: dict[str, Any]) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    values = {
        p["Name"]: p["Value"]
        for p in ssm.get_parameters_by_path(Path="/churn-mlops/")["Parameters"]
    }
    assert values["/churn-mlops/pipeline-name"] == "churn-mlops-pipeline"
    assert values["/churn-mlops/data-bucket"] == f"churn-mlops-data-{ACCOUNT}-us-east-1"
    role_name = values["/churn-mlops/pipeline-role-arn"].rsplit("/", 1)[-1]
    role = boto3.client("iam").get_role(RoleName=role_name)["Role"]
    assert "sagemaker.amazonaws.com" in str(role["AssumeRolePolicyDocument"])


def test_serving_stack_without_a_package_has_no_endpoint(created: dict[str, Any]) -> None:
    endpoints = boto3.client("sagemaker", region_name="us-east-1").list_endpoints()["Endpoints"]
    assert endpoints == []
