"""What each step type does locally, given its resolved ``Create*`` request.

Every handler first does what the SageMaker API does with the request: validates it against
botocore's model (a request AWS would reject fails the step with the API's error, e.g. a
hyperparameter that is not a string), then refuses any field the local runtime does not
implement (``not supported locally: <field>``). Processing and Training requests then run
through the local runtime (`mlops.local_runtime.jobs`) in the environment of the image they
name (`mlops.local_runtime.images`), the QualityCheck request through ``monitoring.baseline``
(data quality) or ``monitoring.model_quality`` as the model-monitor analyzer would, and RegisterModel is the very ``CreateModelPackage``
request sent to the (local or real) SageMaker API. Each handler returns the properties
SageMaker would expose for the step (the Describe* response shape), so later ``Get``
expressions in the definition read them exactly as on AWS.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.local_runtime.executor.contract import (
    IMPLEMENTED,
    STEP_APIS,
    placement_note,
    quality_check_properties,
    rejection_reason,
    step_request,
    step_request_findings,
    unsupported_fields,
)
from mlops.local_runtime.executor.engine import StepFailed, StepHandler, StepInvocation, StepOutcome
from mlops.local_runtime.jobs.container import AwsChannel
from mlops.local_runtime.jobs.layout import LOG_NAME
from mlops.local_runtime.jobs.process import LineCallback
from mlops.local_runtime.jobs.warm import WarmRuntime

MONITOR_IMAGE_REPOSITORY = "sagemaker-model-monitor-analyzer"
# Environment of the model-monitor analyzer that the local baselines implement, by CheckType.
_ANALYZER_ENVIRONMENT = frozenset(
    {"dataset_format", "dataset_source", "output_path", "publish_cloudwatch_metrics"}
)
_MODEL_QUALITY_ENVIRONMENT = _ANALYZER_ENVIRONMENT | {
    "analysis_type",
    "problem_type",
    "inference_attribute",
    "probability_attribute",
    "ground_truth_attribute",
    "probability_threshold_attribute",
}
_ANALYZER_ENVIRONMENTS = {
    "DATA_QUALITY": _ANALYZER_ENVIRONMENT,
    "MODEL_QUALITY": _MODEL_QUALITY_ENVIRONMENT,
}


@dataclass(frozen=True)
class LocalServices:
    """Where handlers put their work: the S3 and SageMaker clients and a scratch directory;
    the warm runtime jobs may fork from (None: each job a new process) and the execution's
    cancel flag (set on Ctrl-C: running jobs are killed)."""

    s3: Any
    sagemaker: Any
    work_dir: Path
    on_line: LineCallback | None = None
    warm: WarmRuntime | None = None
    cancel: threading.Event | None = None


def default_handlers(services: LocalServices) -> dict[str, StepHandler]:
    """The handler for every step type the project's pipeline uses."""
    handlers: dict[str, Callable[[StepInvocation, LocalServices], StepOutcome]] = {
        "Processing": run_processing,
        "Training": run_training,
        "QualityCheck": run_quality_check,
        "RegisterModel": register_model,
        "Model": create_model,
        "Transform": run_transform,
    }
    return {
        step_type: _noting_placement(handler, services) for step_type, handler in handlers.items()
    }


def _noting_placement(
    handler: Callable[[StepInvocation, LocalServices], StepOutcome], services: LocalServices
) -> StepHandler:
    """``handler``, saying first (progress) and in the step's job log that a VPC placement
    does not apply locally (contract.PLACEMENT_FIELDS)."""

    def run(step: StepInvocation) -> StepOutcome:
        api = STEP_APIS.get(step.type)
        note = placement_note(api.operation, step.arguments) if api is not None else None
        if note is None:
            return handler(step, services)
        line = f"[local] {note}"
        if services.on_line is not None:
            services.on_line("stdout", line)
        try:
            return handler(step, services)
        finally:
            log = services.work_dir / job_name(step) / LOG_NAME
            if log.exists():
                with log.open("a", encoding="utf-8") as handle:
                    handle.write(f"{line}\n")

    return run


def job_name(step: StepInvocation) -> str:
    """A valid, per-execution job name (SageMaker: pipelines-<execution id>-<step>-…)."""
    return job_name_for(step.name, step.execution_id)


def job_name_for(step_name: str, execution_id: str) -> str:
    """The job name of ``step_name`` in execution ``execution_id`` (its work-dir folder)."""
    return f"{step_name.lower()}-{execution_id}"[:63].rstrip("-")


def checked_request(step: StepInvocation, name: str) -> dict[str, Any]:
    """The step's API request, as the service accepts it and the local runtime can run it."""
    request = step_request(step.type, step.arguments, name)
    findings = step_request_findings(step.type, request)
    if findings:
        raise StepFailed(rejection_reason(step.type, findings))
    operation = STEP_APIS[step.type].operation
    # Control-plane calls (CreateModelPackage) are the API itself, not local work to refuse.
    unsupported = unsupported_fields(operation, request) if operation in IMPLEMENTED else []
    if unsupported:
        raise StepFailed(f"not supported locally: {', '.join(unsupported)}")
    return request


def run_processing(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateProcessingJob: every input staged at its LocalPath, exactly the entry point run."""
    from mlops.local_runtime.jobs import JobFailed, ProcessingJobSpec, run_processing_job

    name = job_name(step)
    request = checked_request(step, name)
    app = request["AppSpecification"]
    entrypoint = list(app.get("ContainerEntrypoint", []))
    if not entrypoint:
        raise StepFailed(
            "not supported locally: the image's own ENTRYPOINT "
            "(give AppSpecification.ContainerEntrypoint)"
        )
    spec = ProcessingJobSpec(
        name=name,
        work_dir=services.work_dir,
        entrypoint=entrypoint,
        arguments=list(app.get("ContainerArguments", [])),
        inputs={
            item["InputName"]: (str(item["S3Input"]["S3Uri"]), str(item["S3Input"]["LocalPath"]))
            for item in request.get("ProcessingInputs", [])
        },
        outputs=_outputs(request),
        environment=dict(request.get("Environment", {})),
        image=_image_environment(str(app["ImageUri"]), "AppSpecification.ImageUri"),
        image_uri=str(app["ImageUri"]),
        instance_type=str(request["ProcessingResources"]["ClusterConfig"]["InstanceType"]),
        instance_count=int(request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]),
        input_distribution={
            item["InputName"]: str(item["S3Input"]["S3DataDistributionType"])
            for item in request.get("ProcessingInputs", [])
            if "S3DataDistributionType" in item["S3Input"]
        },
        network_isolation=bool(request.get("NetworkConfig", {}).get("EnableNetworkIsolation")),
        aws=aws_channel(services),
        region=step.region,
        account=step.account,
        request=request,
        timeout_seconds=_timeout(request),
    )
    try:
        result = run_processing_job(
            spec,
            s3_client=services.s3,
            on_line=services.on_line,
            warm=services.warm,
            cancel=services.cancel,
        )
    except JobFailed as failure:
        raise StepFailed(failure.description) from None
    properties = {
        **request,
        "ProcessingJobArn": _arn(step, "processing-job", name),
        "ProcessingJobStatus": "Completed",
    }
    if result.exit_message:
        properties["ExitMessage"] = result.exit_message
    return StepOutcome(properties=properties)


def run_training(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateTrainingJob: channels staged, the image's script-mode launcher run."""
    from mlops.local_runtime.jobs import JobFailed, TrainingJobSpec, run_training_job

    name = job_name(step)
    request = checked_request(step, name)
    algorithm = request["AlgorithmSpecification"]
    channels = request.get("InputDataConfig", [])
    spec = TrainingJobSpec(
        name=name,
        channels={
            item["ChannelName"]: str(item["DataSource"]["S3DataSource"]["S3Uri"])
            for item in channels
        },
        channel_settings={item["ChannelName"]: _channel_settings(item) for item in channels},
        output_path=str(request["OutputDataConfig"]["S3OutputPath"]),
        work_dir=services.work_dir,
        hyperparameters=dict(request.get("HyperParameters", {})),
        environment=dict(request.get("Environment", {})),
        metric_definitions={
            str(item["Name"]): str(item["Regex"]) for item in algorithm.get("MetricDefinitions", [])
        },
        image=_image_environment(
            str(algorithm["TrainingImage"]), "AlgorithmSpecification.TrainingImage"
        ),
        instance_type=str(request["ResourceConfig"]["InstanceType"]),
        instance_count=int(request["ResourceConfig"]["InstanceCount"]),
        network_isolation=bool(request.get("EnableNetworkIsolation")),
        aws=aws_channel(services),
        region=step.region,
        account=step.account,
        timeout_seconds=_timeout(request),
    )
    try:
        result = run_training_job(
            spec,
            s3_client=services.s3,
            on_line=services.on_line,
            warm=services.warm,
            cancel=services.cancel,
        )
    except JobFailed as failure:
        raise StepFailed(failure.description) from None
    return StepOutcome(
        properties={
            **request,
            "TrainingJobArn": _arn(step, "training-job", name),
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": result.model_artifact},
            "FinalMetricDataList": [
                {"MetricName": metric, "Value": value} for metric, value in result.metrics.items()
            ],
        }
    )


def run_quality_check(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """A DATA_QUALITY or MODEL_QUALITY baseline, as the model-monitor analyzer computes it from
    its Environment.

    With ``SkipCheck`` (the first execution) the newly calculated baseline is also the one
    registered; a check against a supplied baseline is not run locally and says so.
    """
    check_type = str(step.definition.get("CheckType"))
    if check_type not in _ANALYZER_ENVIRONMENTS:
        raise StepFailed(f"not supported locally: CheckType={check_type}")
    if str(step.definition.get("SkipCheck")).lower() != "true":
        raise StepFailed(
            "not supported locally: SkipCheck=false (drift checks against an earlier baseline; "
            "Model Monitor checks drift on endpoint traffic)"
        )
    name = job_name(step)
    request = checked_request(step, name)
    image = str(request["AppSpecification"]["ImageUri"])
    if image.rsplit("/", 1)[-1].partition(":")[0] != MONITOR_IMAGE_REPOSITORY:
        raise StepFailed(f"not supported locally: AppSpecification.ImageUri={image}")
    environment = dict(request.get("Environment", {}))
    unknown = sorted(set(environment) - _ANALYZER_ENVIRONMENTS[check_type])
    if unknown:
        raise StepFailed(
            "not supported locally: " + ", ".join(f"Environment.{key}" for key in unknown)
        )
    if environment.get("publish_cloudwatch_metrics", "Disabled") != "Disabled":
        raise StepFailed("not supported locally: Environment.publish_cloudwatch_metrics=Enabled")
    header, suffix = _dataset_format(environment.get("dataset_format"))
    dataset = _location_of(request, environment.get("dataset_source"), "ProcessingInputs")
    output = _location_of(request, environment.get("output_path"), "ProcessingOutputConfig")

    from mlops.local_runtime.jobs.staging import stage_in, stage_out
    from monitoring.baseline import write_baseline

    root = services.work_dir / name
    shutil.rmtree(root, ignore_errors=True)
    try:
        files = stage_in(dataset, root / "input", services.s3)
    except (FileNotFoundError, ValueError) as error:
        raise StepFailed(f"ClientError: {error}") from None
    data_files = sorted(path for path in files if path.suffix == suffix)
    if not data_files:
        raise StepFailed(f"ClientError: no {suffix} file under the dataset {dataset}")
    if suffix == ".parquet" and len(data_files) > 1:
        raise StepFailed("not supported locally: a parquet dataset of several files")
    data = (
        data_files[0]
        if len(data_files) == 1
        else _concatenate(data_files, root / "all.csv", header=header)
    )
    try:
        if check_type == "MODEL_QUALITY":
            _model_quality_baseline(data, root / "output", environment, header=header)
        else:
            write_baseline(data, root / "output", header=header)
    except StepFailed:
        raise
    except Exception as error:
        raise StepFailed(f"AlgorithmError: {error}") from None
    stage_out(root / "output", output, services.s3)
    return StepOutcome(properties={**request, **quality_check_properties(output)})


# MonitoringProblemType → the problem types of `mlops.core.problem_types`.
_MONITOR_PROBLEM_TYPES = {
    "BinaryClassification": "binary",
    "MulticlassClassification": "multiclass",
    "Regression": "regression",
}


def _model_quality_baseline(
    data: Path, out_dir: Path, environment: dict[str, str], *, header: bool
) -> None:
    """The analyzer's MODEL_QUALITY baselining (``monitoring.model_quality``) of a dataset with
    a header, its columns named by the attribute variables."""
    from monitoring.model_quality import write_model_quality_baseline

    if environment.get("analysis_type") != "MODEL_QUALITY":
        raise StepFailed(
            f"ClientError: analysis_type is {environment.get('analysis_type')!r}, the "
            "MODEL_QUALITY check needs MODEL_QUALITY"
        )
    problem_type = _MONITOR_PROBLEM_TYPES.get(environment.get("problem_type", ""))
    if problem_type is None:
        raise StepFailed(f"ClientError: problem_type {environment.get('problem_type')!r}")
    inference = environment.get("inference_attribute")
    truth = environment.get("ground_truth_attribute")
    if not header or not inference or not truth:
        raise StepFailed(
            "not supported locally: a model-quality dataset without a header, or without "
            "inference_attribute and ground_truth_attribute column names"
        )
    write_model_quality_baseline(
        data,
        out_dir,
        problem_type=problem_type,  # type: ignore[arg-type]
        inference_attribute=inference,
        ground_truth_attribute=truth,
        probability_attribute=environment.get("probability_attribute"),
        probability_threshold=float(environment.get("probability_threshold_attribute", 0.5)),
    )


def register_model(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateModelPackage with the resolved request (the group is created when missing)."""
    request = checked_request(step, "")
    group = request.get("ModelPackageGroupName")
    if not group:
        raise StepFailed(
            "not supported locally: an unversioned model package (no ModelPackageGroupName)"
        )
    request = _without_empty(request)
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


def create_model(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateModel, named as Pipelines names it; a package container must name a package.

    The model is recorded in the (local) SageMaker API; whether the local transform can serve
    it is decided when a transform job uses it (`mlops.local_runtime.batch.model`).
    """
    from sagemaker_pipelines.registry import RegistryError, describe_package

    name = job_name(step)
    request = checked_request(step, name)
    containers = [request.get("PrimaryContainer") or {}, *request.get("Containers", [])]
    for container in containers:
        package = container.get("ModelPackageName")
        if package is None:
            continue
        try:
            describe_package(services.sagemaker, str(package))
        except RegistryError as error:
            raise StepFailed(
                f"ClientError: Could not find model package {package}: {error}"
            ) from None
    response = services.sagemaker.create_model(**request)
    return StepOutcome(properties={**request, "ModelArn": response["ModelArn"]})


def run_transform(step: StepInvocation, services: LocalServices) -> StepOutcome:
    """CreateTransformJob: the local Batch Transform over the request's S3 objects."""
    from mlops.local_runtime.batch import COMPLETED, TransformRequestError
    from mlops.local_runtime.batch.model import resolve_model, run_transform_request

    name = job_name(step)
    request = checked_request(step, name)
    try:
        model = resolve_model(services.sagemaker, str(request["ModelName"]))
        result = run_transform_request(
            request,
            model=model,
            s3=services.s3,
            work_dir=services.work_dir,
            on_line=services.on_line,
        )
    except TransformRequestError as error:
        raise StepFailed(str(error)) from None
    if result.status != COMPLETED:
        raise StepFailed(result.description or str(result.failure_reason))
    return StepOutcome(
        properties={
            **request,
            "TransformJobArn": _arn(step, "transform-job", name),
            "TransformJobStatus": result.status,
        }
    )


def aws_channel(services: LocalServices) -> AwsChannel | None:
    """The embedded AWS as jobs reach it; None when the S3 client talks to real AWS."""
    from mlops.local_runtime.aws import FAKE_CREDENTIALS

    endpoint = getattr(services.s3.meta, "endpoint_url", None)
    if not endpoint or ".amazonaws.com" in str(endpoint):
        return None
    return AwsChannel(
        endpoint_url=str(endpoint),
        region=str(services.s3.meta.region_name),
        access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
    )


def _channel_settings(channel: dict[str, Any]) -> dict[str, str]:
    """What ``inputdataconfig.json`` reports of a channel: its content type, distribution."""
    settings = {"ContentType": str(channel["ContentType"])} if "ContentType" in channel else {}
    source = channel.get("DataSource", {}).get("S3DataSource", {})
    if "S3DataDistributionType" in source:
        settings["S3DataDistributionType"] = str(source["S3DataDistributionType"])
    return settings


def _image_environment(uri: str, field: str) -> Any:
    from mlops.local_runtime.images import (
        ImageEnvironmentError,
        UnknownImageError,
        image_environment,
        image_for_uri,
    )

    try:
        return image_environment(image_for_uri(uri))
    except UnknownImageError as error:
        raise StepFailed(f"not supported locally: {field}={uri} ({error})") from None
    except ImageEnvironmentError as error:
        raise StepFailed(str(error)) from None


def _outputs(request: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        item["OutputName"]: (str(item["S3Output"]["LocalPath"]), str(item["S3Output"]["S3Uri"]))
        for item in request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    }


def _location_of(request: dict[str, Any], container_path: str | None, where: str) -> str:
    """The S3 URI of the input (or output) mounted at ``container_path``."""
    if where == "ProcessingInputs":
        mounts = {
            str(item["S3Input"]["LocalPath"]).rstrip("/"): str(item["S3Input"]["S3Uri"])
            for item in request.get("ProcessingInputs", [])
        }
    else:
        mounts = {local.rstrip("/"): uri for local, uri in _outputs(request).values()}
    key = (container_path or "").rstrip("/")
    if key not in mounts:
        raise StepFailed(
            f"ClientError: no {where} entry is mounted at {container_path!r} "
            "(the analyzer's dataset_source / output_path)"
        )
    return mounts[key]


def _dataset_format(text: str | None) -> tuple[bool, str]:
    """(header, file suffix) of the analyzer's ``dataset_format``; JSON is not implemented."""
    try:
        document = json.loads(text) if text else {"csv": {"header": True}}
    except json.JSONDecodeError:
        raise StepFailed(f"ClientError: dataset_format is not JSON: {text!r}") from None
    if not isinstance(document, dict) or len(document) != 1:
        raise StepFailed(f"ClientError: dataset_format must name one format, got {text!r}")
    (kind, options), *_ = document.items()
    options = options if isinstance(options, dict) else {}
    if kind == "csv":
        return str(options.get("header", True)).lower() == "true", ".csv"
    if kind == "parquet":
        return True, ".parquet"
    raise StepFailed(f"not supported locally: dataset_format {kind}")


def _concatenate(files: list[Path], target: Path, *, header: bool) -> Path:
    """One CSV from several (the analyzer reads a whole prefix); one header kept if any."""
    with target.open("wb") as out:
        for index, path in enumerate(files):
            with path.open("rb") as source:
                first = source.readline()
                if index == 0 or not header:
                    out.write(first if first.endswith(b"\n") else first + b"\n")
                shutil.copyfileobj(source, out)
    return target


def _arn(step: StepInvocation, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{step.region}:{step.account}:{kind}/{name}"


def _timeout(arguments: dict[str, Any]) -> float | None:
    seconds = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    return float(seconds) if seconds else None


def _without_empty(value: Any) -> Any:
    """Drop None and empty objects the SDK leaves in requests (``"Bias": {}``)."""
    if isinstance(value, dict):
        cleaned = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, {}, [])}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value
