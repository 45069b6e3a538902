"""One local pipeline execution end to end: stage code and data, build, execute, summarise.

This mirrors what happens on AWS: the CDK stack uploads the code as content-addressed assets
and deploys the definition; an execution reads its input from S3 and writes under its own
prefix; the registry records the package. Here S3 and the registry are the shared local moto
server (`mlops.local_runtime.aws`), so a later CLI call (``mlops models approve``) sees what this run
registered.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.core.names import LOCAL_ACCOUNT
from mlops.core.s3uri import split_s3_uri
from mlops.core.settings import ProjectSettings
from mlops.local_runtime.aws import DEFAULT_STATE_DIR, client, ensure_bucket, ensure_local_aws
from mlops.local_runtime.executor.artifacts import LocalArtifacts, collect_artifacts
from mlops.local_runtime.executor.engine import (
    SUCCEEDED,
    ExecutionInterrupted,
    ExecutionObserver,
    ExecutionResult,
    execute,
)
from mlops.local_runtime.executor.handlers import LocalServices, default_handlers
from sagemaker_pipelines.definition import (
    REGISTER,
    CodeLocations,
    build_definition,
)

SUMMARY_FILE = "summary.json"
METRIC_NAMES = ("auc", "f1", "precision", "recall", "accuracy")


@dataclass(frozen=True)
class StepSummary:
    """One step of the execution as ``summary.json`` lists it."""

    name: str
    type: str
    status: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class RunSummary:
    """What one local execution did: the ``summary.json`` document, typed.

    ``summary.json`` is a documented interface (README, docs/contracts.md §12): ``to_json``
    writes exactly its keys, and readers in this repository use the fields instead.
    """

    status: str
    execution_id: str
    failed_step: str | None
    failure_reason: str | None
    input: str
    steps: tuple[StepSummary, ...]
    metrics: Mapping[str, float]
    model_package_arn: str | None
    artifacts: LocalArtifacts

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def to_json(self) -> dict[str, Any]:
        """The ``summary.json`` document: artifact paths as strings (null when not produced)."""
        artifacts = self.artifacts
        return {
            "status": self.status,
            "execution_id": self.execution_id,
            "failed_step": self.failed_step,
            "failure_reason": self.failure_reason,
            "input": self.input,
            "steps": [step.to_json() for step in self.steps],
            "metrics": dict(self.metrics),
            "model_package_arn": self.model_package_arn,
            "model_data": _text(artifacts.model_data),
            "evaluation": _text(artifacts.evaluation),
            "baseline_statistics": _text(artifacts.baseline_statistics),
            "baseline_constraints": _text(artifacts.baseline_constraints),
            "plots": [str(path) for path in artifacts.plots],
        }

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


@dataclass(frozen=True)
class LocalRun:
    """The execution's result and its summary (written to ``summary_path``)."""

    result: ExecutionResult
    summary: RunSummary
    summary_path: Path


def run_local_pipeline(
    settings: ProjectSettings,
    *,
    data: Path | str,
    out_dir: Path,
    overrides: dict[str, str] | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
    observer: ExecutionObserver | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> LocalRun:
    """Execute the pipeline on ``data`` (a local CSV file or an s3:// URI in local S3)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    endpoint = ensure_local_aws(state_dir)
    s3 = client("s3", endpoint_url=endpoint, region=settings.region)
    sagemaker = client("sagemaker", endpoint_url=endpoint, region=settings.region)
    bucket = settings.names.local_artifact_bucket
    ensure_bucket(s3, bucket)
    execution_id = uuid.uuid4().hex[:12]

    code = upload_code(s3, bucket, out_dir / "work" / "code")
    input_uri = upload_input(s3, bucket, data, execution_id)
    definition = build_definition(
        settings,
        role_arn=settings.names.local_pipeline_role_arn,
        artifact_bucket=bucket,
        default_input_uri=input_uri,
        code=code,
    )
    (out_dir / "definition.json").write_text(definition)

    summary_path = out_dir / SUMMARY_FILE
    try:
        result = execute(
            definition,
            handlers=default_handlers(
                LocalServices(
                    s3=s3, sagemaker=sagemaker, work_dir=out_dir / "work", on_line=on_line
                )
            ),
            execution_id=execution_id,
            pipeline_name=settings.names.pipeline,
            overrides=overrides,
            read_json=lambda uri: read_s3_json(s3, uri),
            observer=observer,
            account=LOCAL_ACCOUNT,
            region=settings.region,
        )
    except ExecutionInterrupted as interrupted:  # record where it stopped, then keep stopping
        build_summary(interrupted.result, LocalArtifacts(), input_uri=input_uri).write(summary_path)
        raise
    try:
        artifacts = collect_artifacts(result, s3, out_dir)
    except (BotoCoreError, ClientError):
        if result.status == SUCCEEDED:
            raise
        artifacts = LocalArtifacts()  # the step failure is the story; copies are secondary
    summary = build_summary(result, artifacts, input_uri=input_uri)
    summary.write(summary_path)
    return LocalRun(result, summary, summary_path)


def upload_code(s3: Any, bucket: str, scratch: Path) -> CodeLocations:
    """Upload the code like CDK assets: the key holds the content hash, so it is stable."""
    from sagemaker_pipelines.code import processing_scripts, write_sourcedir_tarball

    scripts = processing_scripts()
    tarball = write_sourcedir_tarball(scratch / "sourcedir.tar.gz")
    return CodeLocations(
        preprocess=_upload_content_addressed(s3, bucket, scripts["preprocess"]),
        evaluate=_upload_content_addressed(s3, bucket, scripts["evaluate"]),
        training_source=_upload_content_addressed(s3, bucket, tarball),
    )


def upload_input(s3: Any, bucket: str, data: Path | str, execution_id: str) -> str:
    """The input prefix: an s3:// URI as given, or a local file uploaded under its own prefix."""
    if isinstance(data, str) and data.startswith("s3://"):
        return data
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    key = f"input/{execution_id}/{path.name}"
    s3.upload_file(str(path), bucket, key)
    return f"s3://{bucket}/input/{execution_id}/"


def read_s3_json(s3: Any, uri: str) -> Any:
    """Parse the JSON object at ``uri`` (property files, ``Std:JsonGet`` on S3)."""
    bucket, key = split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def build_summary(
    result: ExecutionResult, artifacts: LocalArtifacts, *, input_uri: str
) -> RunSummary:
    """The run's summary: step outcomes, the evaluation's metrics, the local artifact copies."""
    arn = result.properties(REGISTER).get("ModelPackageArn")
    return RunSummary(
        status=result.status,
        execution_id=result.execution_id,
        failed_step=result.failed_step,
        failure_reason=result.failure_reason,
        input=input_uri,
        steps=tuple(
            StepSummary(record.name, record.type, record.status, record.seconds)
            for record in result.steps
        ),
        metrics=_metrics(artifacts.evaluation),
        model_package_arn=str(arn) if arn is not None else None,
        artifacts=artifacts,
    )


def _metrics(evaluation: Path | None) -> dict[str, float]:
    """The headline metrics of ``evaluation.json`` (contracts §6), as far as it has them."""
    metrics: dict[str, float] = {}
    if evaluation is None:
        return metrics
    section = json.loads(evaluation.read_text()).get("binary_classification_metrics", {})
    for name in METRIC_NAMES:
        value = section.get(name, {}).get("value")
        if isinstance(value, int | float):
            metrics[name] = float(value)
    return metrics


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _upload_content_addressed(s3: Any, bucket: str, path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    key = f"code/{digest}/{path.name}"
    s3.upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"
