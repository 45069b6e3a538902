"""One local pipeline execution end to end: stage code and data, build, execute, summarise.

This mirrors what happens on AWS: the CDK stack uploads the code as content-addressed assets
and deploys the definition; an execution reads its input from S3 and writes under its own
prefix; the registry records the package. Here S3 and the registry are the shared local moto
server (`mlops.local_runtime.aws`), so a later CLI call (``mlops models approve``) sees what this
run registered. Each execution writes into its own folder (`history`): ``summary.json``,
``report.html``, ``definition.json`` and local copies of what the steps produced.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.core.names import LOCAL_ACCOUNT
from mlops.core.problem_types import ProblemType, problem_type_spec
from mlops.core.s3uri import split_s3_uri
from mlops.core.settings import ProjectSettings
from mlops.local_runtime.aws import DEFAULT_STATE_DIR, client, ensure_bucket, ensure_local_aws
from mlops.local_runtime.executor.artifacts import LocalArtifacts, collect_artifacts
from mlops.local_runtime.executor.definition_cache import cached_definition
from mlops.local_runtime.executor.engine import (
    SUCCEEDED,
    ExecutionInterrupted,
    ExecutionObserver,
    ExecutionResult,
    execute,
)
from mlops.local_runtime.executor.handlers import LocalServices, default_handlers, job_name_for
from mlops.local_runtime.jobs.staging import put_file
from mlops.local_runtime.jobs.warm import WarmRuntime, default_warm_runtime
from sagemaker_pipelines.definition import (
    CHECK_METRIC,
    REGISTER,
    THRESHOLD_PARAMETER,
    TRAIN,
    CodeLocations,
)

SUMMARY_FILE = "summary.json"
DEFINITION_FILE = "definition.json"
REPORT_FILE = "report.html"
DEFINITION_CACHE_DIR = "definitions"
INPUT_PARAMETER = "InputDataUrl"
MAX_PARALLEL_STEPS = 2


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
class DatasetSummary:
    """The schema the run trained under."""

    target: str
    problem_type: str
    positive_label: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "problem_type": self.problem_type,
            "positive_label": self.positive_label,
        }


@dataclass(frozen=True)
class GateSummary:
    """The quality gate: ``value comparison threshold``; ``passed`` None when not reached."""

    metric: str
    comparison: str
    threshold: float
    value: float | None
    passed: bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "comparison": self.comparison,
            "threshold": self.threshold,
            "value": self.value,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class RunSummary:
    """What one local execution did: the ``summary.json`` document, typed.

    ``summary.json`` is a documented interface (README, docs/contracts.md §12): ``to_json``
    writes exactly its keys, and readers in this repository use the fields instead.
    """

    status: str
    execution_id: str
    started: str
    failed_step: str | None
    failure_reason: str | None
    input: str
    dataset: DatasetSummary
    parameters: Mapping[str, Any]
    overrides: Mapping[str, str]
    gate: GateSummary
    steps: tuple[StepSummary, ...]
    metrics: Mapping[str, float]
    standard_deviations: Mapping[str, float]
    warnings: tuple[str, ...]
    model_package_arn: str | None
    artifacts: LocalArtifacts
    report: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def to_json(self) -> dict[str, Any]:
        """The ``summary.json`` document: artifact paths as strings (null when not produced)."""
        artifacts = self.artifacts
        return {
            "status": self.status,
            "execution_id": self.execution_id,
            "started": self.started,
            "failed_step": self.failed_step,
            "failure_reason": self.failure_reason,
            "input": self.input,
            "dataset": self.dataset.to_json(),
            "parameters": dict(self.parameters),
            "overrides": dict(self.overrides),
            "gate": self.gate.to_json(),
            "steps": [step.to_json() for step in self.steps],
            "metrics": dict(self.metrics),
            "standard_deviations": dict(self.standard_deviations),
            "warnings": list(self.warnings),
            "model_package_arn": self.model_package_arn,
            "model_data": _text(artifacts.model_data),
            "evaluation": _text(artifacts.evaluation),
            "baseline_statistics": _text(artifacts.baseline_statistics),
            "baseline_constraints": _text(artifacts.baseline_constraints),
            "feature_spec": _text(artifacts.feature_spec),
            "training_log": _text(artifacts.training_log),
            "plots": [str(path) for path in artifacts.plots],
            "report": _text(self.report),
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
    execution_id: str | None = None,
) -> LocalRun:
    """Execute the pipeline on ``data`` (a local CSV file or an s3:// URI in local S3).

    ``settings`` must name the problem type (the CLI infers it from the data first). Writes
    ``summary.json`` and ``report.html`` into ``out_dir`` — also when the run fails, and when
    Ctrl-C (or a SIGTERM the CLI turns into one) stops it.
    """
    from mlops.local_runtime.executor.report import write_run_report

    out_dir.mkdir(parents=True, exist_ok=True)
    endpoint = ensure_local_aws(state_dir)
    s3 = client("s3", endpoint_url=endpoint, region=settings.region)
    sagemaker = client("sagemaker", endpoint_url=endpoint, region=settings.region)
    bucket = settings.names.local_artifact_bucket
    ensure_bucket(s3, bucket)
    execution_id = execution_id or new_execution_id()
    started = datetime.now(UTC).isoformat(timespec="seconds")

    code = upload_code(s3, bucket, out_dir / "work" / "code")
    input_uri = upload_input(s3, bucket, data)
    # As on AWS: one deployed definition (its default input the bucket's input/ prefix), and
    # this execution's input as the InputDataUrl parameter. The definition then depends only
    # on the settings and the code, and is built once per change of them.
    definition = cached_definition(
        settings,
        cache_dir=state_dir / DEFINITION_CACHE_DIR,
        role_arn=settings.names.local_pipeline_role_arn,
        artifact_bucket=bucket,
        default_input_uri=f"s3://{bucket}/input/",
        code=code,
    )
    (out_dir / DEFINITION_FILE).write_text(definition)
    warm = default_warm_runtime()
    if warm is not None:
        prewarm_images(json.loads(definition), warm)

    context = _RunContext(settings, input_uri, started, dict(overrides or {}), out_dir)
    summary_path = out_dir / SUMMARY_FILE
    cancel = threading.Event()
    try:
        result = execute(
            definition,
            handlers=default_handlers(
                LocalServices(
                    s3=s3,
                    sagemaker=sagemaker,
                    work_dir=out_dir / "work",
                    on_line=on_line,
                    warm=warm,
                    cancel=cancel,
                )
            ),
            execution_id=execution_id,
            pipeline_name=settings.names.pipeline,
            overrides={INPUT_PARAMETER: input_uri, **(overrides or {})},
            read_json=lambda uri: read_s3_json(s3, uri),
            observer=observer,
            account=LOCAL_ACCOUNT,
            region=settings.region,
            max_parallel=parallel_steps(),
            cancel=cancel,
        )
    except ExecutionInterrupted as interrupted:  # record where it stopped, then keep stopping
        stopped = context.summary(interrupted.result, _logs_only(interrupted.result, out_dir))
        _finish(stopped, summary_path, write_run_report)
        raise
    try:
        artifacts = collect_artifacts(result, s3, out_dir)
    except (BotoCoreError, ClientError):
        if result.status == SUCCEEDED:
            raise
        artifacts = _logs_only(result, out_dir)  # the step failure is the story
    summary = _finish(context.summary(result, artifacts), summary_path, write_run_report)
    return LocalRun(result, summary, summary_path)


def new_execution_id() -> str:
    return uuid.uuid4().hex[:12]


def parallel_steps() -> int:
    """How many steps run at once: SageMaker runs every ready step; here the cores bound it
    (each step is at least one busy process), at most `MAX_PARALLEL_STEPS`."""
    return max(1, min(MAX_PARALLEL_STEPS, os.cpu_count() or 1))


def prewarm_images(definition: dict[str, Any], warm: WarmRuntime) -> None:
    """Start the warm runtime of every image the definition's jobs name, without waiting:
    their imports overlap the steps before the first job of each image."""
    from mlops.local_runtime.images import (
        ImageEnvironmentError,
        UnknownImageError,
        image_environment,
        image_for_uri,
    )

    for uri in sorted(_image_uris(definition)):
        try:
            warm.prewarm(image_environment(image_for_uri(uri)))
        except (UnknownImageError, ImageEnvironmentError, OSError):
            continue  # the step that names it reports the problem


def _image_uris(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("ImageUri", "TrainingImage") and isinstance(item, str):
                found.add(item)
            else:
                found |= _image_uris(item)
    elif isinstance(value, list):
        for item in value:
            found |= _image_uris(item)
    return found


def _finish(
    summary: RunSummary, summary_path: Path, write_report: Callable[[RunSummary, Path], Path]
) -> RunSummary:
    """Write report.html next to the summary, then the summary naming it."""
    report = write_report(summary, summary_path.parent / REPORT_FILE)
    summary = _with_report(summary, report)
    summary.write(summary_path)
    return summary


def _with_report(summary: RunSummary, report: Path) -> RunSummary:
    return replace(summary, report=report)


def _logs_only(result: ExecutionResult, out_dir: Path) -> LocalArtifacts:
    log = training_log(result.execution_id, out_dir)
    return LocalArtifacts(training_log=log)


def training_log(execution_id: str, out_dir: Path) -> Path | None:
    """The Train job's log in the run's work directory, when the job started."""
    path = out_dir / "work" / job_name_for(TRAIN, execution_id) / "job.log"
    return path if path.is_file() else None


@dataclass(frozen=True)
class _RunContext:
    """What a summary needs beyond the execution result."""

    settings: ProjectSettings
    input_uri: str
    started: str
    overrides: dict[str, str]
    out_dir: Path

    def summary(self, result: ExecutionResult, artifacts: LocalArtifacts) -> RunSummary:
        schema = self.settings.dataset
        problem_type = schema.require_problem_type()
        metrics, deviations = evaluation_metrics(artifacts.evaluation, problem_type)
        gate = self.settings.resolved_gate()
        parameters = dict(result.context.parameters)
        threshold = float(parameters.get(THRESHOLD_PARAMETER, gate.threshold))
        outcome = result.properties(CHECK_METRIC).get("Outcome")
        arn = result.properties(REGISTER).get("ModelPackageArn")
        if artifacts.training_log is None:
            artifacts = _replace_log(artifacts, training_log(result.execution_id, self.out_dir))
        return RunSummary(
            status=result.status,
            execution_id=result.execution_id,
            started=self.started,
            failed_step=result.failed_step,
            failure_reason=result.failure_reason,
            input=self.input_uri,
            dataset=DatasetSummary(schema.require_target(), problem_type, schema.positive_label),
            parameters=parameters,
            overrides=self.overrides,
            gate=GateSummary(
                metric=gate.metric,
                comparison=gate.comparison,
                threshold=threshold,
                value=metrics.get(gate.metric),
                passed=None if outcome is None else outcome == "True",
            ),
            steps=tuple(
                StepSummary(record.name, record.type, record.status, record.seconds)
                for record in result.steps
            ),
            metrics=metrics,
            standard_deviations=deviations,
            warnings=spec_warnings(artifacts.feature_spec),
            model_package_arn=str(arn) if arn is not None else None,
            artifacts=artifacts,
        )


def _replace_log(artifacts: LocalArtifacts, log: Path | None) -> LocalArtifacts:
    return replace(artifacts, training_log=log)


def evaluation_metrics(
    evaluation: Path | None, problem_type: ProblemType
) -> tuple[dict[str, float], dict[str, float]]:
    """The headline metrics of ``evaluation.json`` (contracts §6) and their standard
    deviations, as far as it has them (a NaN, e.g. an undefined AUC, is left out)."""
    metrics: dict[str, float] = {}
    deviations: dict[str, float] = {}
    if evaluation is None:
        return metrics, deviations
    spec = problem_type_spec(problem_type)
    section = json.loads(evaluation.read_text()).get(spec.metrics_section, {})
    for name in spec.metric_names:
        entry = section.get(name, {})
        value, spread = entry.get("value"), entry.get("standard_deviation")
        if isinstance(value, int | float) and math.isfinite(value):
            metrics[name] = float(value)
        if isinstance(spread, int | float) and math.isfinite(spread):
            deviations[name] = float(spread)
    return metrics, deviations


def spec_warnings(feature_spec: Path | None) -> tuple[str, ...]:
    """What preprocess warned about (e.g. a feature blank in every row)."""
    if feature_spec is None:
        return ()
    return tuple(str(item) for item in json.loads(feature_spec.read_text()).get("warnings", []))


def upload_code(s3: Any, bucket: str, scratch: Path) -> CodeLocations:
    """Upload the code like CDK assets: the key holds the content hash, so it is stable."""
    from sagemaker_pipelines.code import processing_scripts, write_sourcedir_tarball

    scripts = processing_scripts()
    tarball = write_sourcedir_tarball(scratch / "sourcedir.tar.gz")
    return CodeLocations(
        preprocess=_upload_content_addressed(s3, bucket, scripts["preprocess"]),
        evaluate=_upload_content_addressed(s3, bucket, scripts["evaluate"]),
        training_source=_upload_content_addressed(s3, bucket, tarball),
        clarify=_upload_content_addressed(s3, bucket, scripts["clarify"]),
    )


def upload_input(s3: Any, bucket: str, data: Path | str) -> str:
    """The input prefix: an s3:// URI as given, or a local file uploaded under its own prefix,
    named by a hash of its name and content (the same file is uploaded once: a second run on
    it, the inner loop, moves no data)."""
    if isinstance(data, str) and data.startswith("s3://"):
        return data
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    digest = hashlib.sha256(path.name.encode())
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    prefix = f"input/{digest.hexdigest()[:16]}"
    _upload_once(s3, bucket, f"{prefix}/{path.name}", path)
    return f"s3://{bucket}/{prefix}/"


def read_s3_json(s3: Any, uri: str) -> Any:
    """Parse the JSON object at ``uri`` (property files, ``Std:JsonGet`` on S3)."""
    bucket, key = split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _upload_content_addressed(s3: Any, bucket: str, path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    key = f"code/{digest}/{path.name}"
    _upload_once(s3, bucket, key, path)
    return f"s3://{bucket}/{key}"


def _upload_once(s3: Any, bucket: str, key: str, path: Path) -> None:
    """Upload unless an object of the same size is already at the (content-addressed) key."""
    try:
        if int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"]) == path.stat().st_size:
            return
    except ClientError:
        pass
    put_file(s3, path, bucket, key)
