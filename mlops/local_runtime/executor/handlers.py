"""What each step type does locally, given its resolved CreateXxx request.

Processing and Training requests run through the local runtime (``mlops.local_runtime``), the
QualityCheck request through ``monitoring.baseline``, and RegisterModel is the very
``CreateModelPackage`` request sent to the (local or real) SageMaker API. Each handler returns
the properties SageMaker would expose for the step (the Describe* response shape), so later
``Get`` expressions in the definition read them exactly as on AWS.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_pipelines.local.engine import StepFailed, StepHandler, StepInvocation, StepOutcome
from sagemaker_pipelines.local.expressions import render

LineCallback = Callable[[str, str], None]
_CODE_INPUT = "code"
_QUALITY_OUTPUT_FILES = ("statistics.json", "constraints.json")


@dataclass(frozen=True)
class LocalServices:
    """Where handlers put their work: the S3 and SageMaker clients and a scratch directory."""

    s3: Any
    sagemaker: Any
    work_dir: Path
    on_line: LineCallback | None = None


def default_handlers(services: LocalServices) -> dict[str, StepHandler]:
    """The handler for every step type the project's pipeline uses."""
    return {
        "Processing": lambda step: run_processing(step, services),
        "Training": lambda step: run_training(step, services),
        "QualityCheck": lambda step: run_quality_check(step, services),
        "RegisterModel": lambda step: register_model(step, services),
    }


def job_name(step: StepInvocation) -> str:
    """A valid, per-execution job name (SageMaker: pipelines-<execution id>-<step>-…)."""
    return f"{step.name.lower()}-{step.execution_id}"[:63].rstrip("-")


def run_processing(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateProcessingJob: the ``code`` input is the script, the others are staged."""
    from mlops.local_runtime.jobs import JobFailed, ProcessingJobSpec, run_processing_job

    arguments = step.arguments
    inputs: dict[str, tuple[str, str]] = {}
    code: str | None = None
    for item in arguments.get("ProcessingInputs", []):
        source = item["S3Input"]
        if item["InputName"] == _CODE_INPUT:
            code = str(source["S3Uri"])
        else:
            inputs[item["InputName"]] = (str(source["S3Uri"]), str(source["LocalPath"]))
    if code is None:
        raise StepFailed(f"{step.name}: no '{_CODE_INPUT}' input names the script to run")
    outputs = {
        item["OutputName"]: (str(item["S3Output"]["LocalPath"]), str(item["S3Output"]["S3Uri"]))
        for item in arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    }
    app = arguments.get("AppSpecification", {})
    name = job_name(step)
    try:
        run_processing_job(
            ProcessingJobSpec(
                name=name,
                code=code,
                work_dir=services.work_dir,
                arguments=[render(value) for value in app.get("ContainerArguments", [])],
                inputs=inputs,
                outputs=outputs,
                environment={k: render(v) for k, v in arguments.get("Environment", {}).items()},
                timeout_seconds=_timeout(arguments),
            ),
            s3_client=services.s3,
            on_line=services.on_line,
        )
    except JobFailed as failure:
        raise StepFailed(failure.reason) from None
    return StepOutcome(
        properties={
            **arguments,
            "ProcessingJobName": name,
            "ProcessingJobStatus": "Completed",
        }
    )


def run_training(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateTrainingJob in script mode (``sagemaker_program``/``sagemaker_submit_directory``)."""
    from mlops.local_runtime.jobs import JobFailed, TrainingJobSpec, run_training_job

    arguments = step.arguments
    channels = {
        item["ChannelName"]: str(item["DataSource"]["S3DataSource"]["S3Uri"])
        for item in arguments.get("InputDataConfig", [])
    }
    name = job_name(step)
    try:
        result = run_training_job(
            TrainingJobSpec(
                name=name,
                channels=channels,
                output_path=str(arguments["OutputDataConfig"]["S3OutputPath"]),
                work_dir=services.work_dir,
                hyperparameters={
                    key: render(value)
                    for key, value in arguments.get("HyperParameters", {}).items()
                },
                environment={k: render(v) for k, v in arguments.get("Environment", {}).items()},
                timeout_seconds=_timeout(arguments),
            ),
            s3_client=services.s3,
            on_line=services.on_line,
        )
    except JobFailed as failure:
        raise StepFailed(failure.reason) from None
    return StepOutcome(
        properties={
            **arguments,
            "TrainingJobName": name,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": result.model_artifact},
            "FinalMetricDataList": [
                {"MetricName": metric, "Value": value} for metric, value in result.metrics.items()
            ],
        }
    )


def run_quality_check(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """A DATA_QUALITY check: baseline the dataset with ``monitoring.baseline``.

    With ``SkipCheck`` (the first execution) the newly calculated baseline is also the one
    registered; a check against a supplied baseline is not run locally and says so.
    """
    if step.definition.get("CheckType") != "DATA_QUALITY":
        raise StepFailed(f"{step.name}: only DATA_QUALITY checks run locally")
    if not _truthy(step.definition.get("SkipCheck")):
        raise StepFailed(
            f"{step.name}: drift checks against an earlier baseline do not run locally; "
            "set skip_check=True (Model Monitor checks drift on endpoint traffic)"
        )
    from mlops.local_runtime.jobs.staging import stage_in, stage_out
    from monitoring.baseline import write_baseline

    arguments = step.arguments
    dataset = next(
        item["S3Input"]["S3Uri"]
        for item in arguments.get("ProcessingInputs", [])
        if item["InputName"] == "baseline_dataset_input"
    )
    output = str(arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])
    root = services.work_dir / job_name(step)
    shutil.rmtree(root, ignore_errors=True)
    try:
        files = stage_in(str(dataset), root / "input", services.s3)
    except (FileNotFoundError, ValueError) as error:
        raise StepFailed(f"ClientError: {error}") from None
    csv_files = [path for path in files if path.suffix == ".csv"]
    if not csv_files:
        raise StepFailed(f"ClientError: no CSV file under the baseline dataset {dataset}")
    data = csv_files[0] if len(csv_files) == 1 else _concatenate(csv_files, root / "all.csv")
    try:
        write_baseline(data, root / "output", header=True)
    except Exception as error:
        raise StepFailed(f"AlgorithmError: {error}") from None
    stage_out(root / "output", output, services.s3)
    statistics, constraints = (f"{output.rstrip('/')}/{name}" for name in _QUALITY_OUTPUT_FILES)
    return StepOutcome(
        properties={
            "CalculatedBaselineStatistics": statistics,
            "CalculatedBaselineConstraints": constraints,
            "BaselineUsedForDriftCheckStatistics": statistics,
            "BaselineUsedForDriftCheckConstraints": constraints,
        }
    )


def register_model(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateModelPackage with the resolved request (the group is created when missing)."""
    request = _without_empty(step.arguments)
    group = request.get("ModelPackageGroupName")
    if not group:
        raise StepFailed(
            f"{step.name}: only versioned packages (ModelPackageGroupName) are supported"
        )
    # moto stores None when the status is omitted; AWS defaults to PendingManualApproval.
    request.setdefault("ModelApprovalStatus", "PendingManualApproval")
    client = services.sagemaker
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
    except client.exceptions.ClientError:
        client.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription="Created by the local pipeline executor",
        )
    response = client.create_model_package(**request)
    return StepOutcome(properties={"ModelPackageArn": response["ModelPackageArn"]})


def _concatenate(files: list[Path], target: Path) -> Path:
    """One CSV from several with the same header (the managed analyzer reads a whole prefix)."""
    with target.open("wb") as out:
        for index, path in enumerate(files):
            with path.open("rb") as source:
                header = source.readline()
                if index == 0:
                    out.write(header)
                shutil.copyfileobj(source, out)
    return target


def _timeout(arguments: dict[str, Any]) -> float | None:
    seconds = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    return float(seconds) if seconds else None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _without_empty(value: Any) -> Any:
    """Drop None and empty objects the SDK leaves in requests (``"Bias": {}``)."""
    if isinstance(value, dict):
        cleaned = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, {}, [])}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value
