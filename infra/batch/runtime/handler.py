"""Start the batch pipeline with the newest approved model version (the batch starter Lambda).

Invoked by the EventBridge Scheduler schedule (``{"source": "schedule", "execution_id": …}``:
score ``DEFAULT_INPUT_URI``) or by the EventBridge rule on S3 ``Object Created`` under the batch
input prefix (score that one object). The model version is resolved at start time, so every
execution scores with whatever version the registry approved last, and names it in the
execution's ``ModelPackageArn`` parameter. The event id (or the schedule's execution id) is the
idempotency token: a retried invocation never starts a second execution.

Deployed on its own (``infra/batch/runtime`` is the Lambda's code asset): it imports boto3 and
the standard library only.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

OBJECT_CREATED = "Object Created"
MODEL_PACKAGE_ARN = "ModelPackageArn"  # the batch pipeline's parameters
INPUT_DATA_URL = "InputDataUrl"
_MIN_TOKEN = 32  # StartPipelineExecution's ClientRequestToken: 32-128 characters


class NoApprovedVersion(RuntimeError):  # noqa: N818 - named for what the operator reads
    """The group has no approved version yet: nothing to score with."""


def handler(event: dict[str, Any], context: Any, sagemaker: Any = None) -> dict[str, str]:
    """Start one execution; returns its ARN and what it scores with."""
    client = sagemaker or boto3.client("sagemaker")
    pipeline = os.environ["BATCH_PIPELINE_NAME"]
    input_uri = input_of(event, os.environ["DEFAULT_INPUT_URI"])
    package = newest_approved(client, os.environ["MODEL_PACKAGE_GROUP"])
    response = client.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineParameters=[
            {"Name": MODEL_PACKAGE_ARN, "Value": package},
            {"Name": INPUT_DATA_URL, "Value": input_uri},
        ],
        ClientRequestToken=request_token(event),
    )
    arn = str(response["PipelineExecutionArn"])
    logger.info("started %s: %s with %s", arn, input_uri, package)
    return {"execution": arn, "input": input_uri, "model_package": package}


def input_of(event: dict[str, Any], default_input_uri: str) -> str:
    """The S3 object an ``Object Created`` event names, else the default input prefix."""
    if event.get("detail-type") == OBJECT_CREATED:
        detail = event["detail"]
        return f"s3://{detail['bucket']['name']}/{detail['object']['key']}"
    return default_input_uri


def newest_approved(sagemaker: Any, group: str) -> str:
    """The ARN of the newest ``Approved`` version of ``group``."""
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    summaries = response.get("ModelPackageSummaryList") or []
    if not summaries:
        raise NoApprovedVersion(
            f"no approved model package in {group}: approve a version before scoring batches"
        )
    return str(summaries[0]["ModelPackageArn"])


def request_token(event: dict[str, Any]) -> str:
    """The invocation's idempotency token: the EventBridge event id or the schedule's run id."""
    token = str(event.get("id") or event.get("execution_id") or "")
    if len(token) < _MIN_TOKEN:
        raise ValueError(f"event without an id of {_MIN_TOKEN}+ characters: {event!r}")
    return token[:128]
