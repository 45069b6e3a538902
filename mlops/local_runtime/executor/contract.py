"""What each pipeline step asks of the SageMaker API, and which of it runs locally.

A step's ``Arguments`` are the request of one API call (Training → ``CreateTrainingJob``, …);
SageMaker Pipelines adds the job name and sends it, and the service validates it against the
API's model. `step_request_findings` does the same check with botocore's model
(`mlops.local_runtime.request_contract`); `definition_findings` runs it over a whole
definition with plausible values for what is only known at run time (parameters take their
typed defaults, step properties what the steps before would expose, property files a value at
every path read); `unsupported_fields` lists what a request asks for that the local runtime
does not implement, so the step fails with ``not supported locally: <field>`` instead of
silently running something else. The implemented fields are listed explicitly per operation;
every other member of the operation's input shape is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import Shape

from mlops.local_runtime.executor.expressions import (
    EvaluationContext,
    ExpressionError,
    resolve,
    split_path,
)
from mlops.local_runtime.executor.graph import build_graph
from mlops.local_runtime.request_contract import input_shape, request_findings
from sagemaker_pipelines.parameters import resolve_parameters

SERVICE = "sagemaker"


@dataclass(frozen=True)
class StepApi:
    """The API call behind a step type and the request member that names the job."""

    operation: str
    name_field: str | None


# Every step type SageMaker Pipelines documents that calls a SageMaker API. Condition and Fail
# are evaluated by the pipeline service itself; any other type is reported as unknown, so a
# new step type cannot slip past the contract test unchecked.
STEP_APIS: dict[str, StepApi] = {
    "Training": StepApi("CreateTrainingJob", "TrainingJobName"),
    "Processing": StepApi("CreateProcessingJob", "ProcessingJobName"),
    "QualityCheck": StepApi("CreateProcessingJob", "ProcessingJobName"),
    "ClarifyCheck": StepApi("CreateProcessingJob", "ProcessingJobName"),
    "Transform": StepApi("CreateTransformJob", "TransformJobName"),
    "Tuning": StepApi("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "Model": StepApi("CreateModel", "ModelName"),
    "RegisterModel": StepApi("CreateModelPackage", None),
    "AutoML": StepApi("CreateAutoMLJob", "AutoMLJobName"),
}
CONTROL_FLOW_STEPS = frozenset({"Condition", "Fail"})

ANY: frozenset[Any] | None = None
# Fields the local runtime implements, by operation: a path (``[]`` = every list item) maps to
# the values it runs (None = any value). A field of the input shape not listed is refused.
IMPLEMENTED: dict[str, dict[str, frozenset[Any] | None]] = {
    "CreateProcessingJob": {
        "ProcessingJobName": ANY,
        "RoleArn": ANY,  # no IAM locally: credentials reach a job only through the AWS channel
        "AppSpecification.ImageUri": ANY,  # mapped to an image environment, else refused
        "AppSpecification.ContainerEntrypoint": ANY,
        "AppSpecification.ContainerArguments": ANY,
        "Environment": ANY,
        "NetworkConfig.EnableNetworkIsolation": ANY,
        # hosts talk over 127.0.0.1: nothing leaves the machine to encrypt
        "NetworkConfig.EnableInterContainerTrafficEncryption": ANY,
        "NetworkConfig.VpcConfig": ANY,  # placement only: see PLACEMENT_FIELDS
        "ProcessingInputs[].InputName": ANY,
        "ProcessingInputs[].AppManaged": frozenset({False}),
        "ProcessingInputs[].S3Input.S3Uri": ANY,
        "ProcessingInputs[].S3Input.LocalPath": ANY,
        "ProcessingInputs[].S3Input.S3DataType": frozenset({"S3Prefix"}),
        "ProcessingInputs[].S3Input.S3InputMode": frozenset({"File"}),
        # ShardedByS3Key: each simulated host gets its part of the objects.
        "ProcessingInputs[].S3Input.S3DataDistributionType": frozenset(
            {"FullyReplicated", "ShardedByS3Key"}
        ),
        "ProcessingInputs[].S3Input.S3CompressionType": frozenset({"None"}),
        "ProcessingOutputConfig.Outputs[].OutputName": ANY,
        "ProcessingOutputConfig.Outputs[].AppManaged": frozenset({False}),
        "ProcessingOutputConfig.Outputs[].S3Output.S3Uri": ANY,
        "ProcessingOutputConfig.Outputs[].S3Output.LocalPath": ANY,
        "ProcessingOutputConfig.Outputs[].S3Output.S3UploadMode": frozenset({"EndOfJob"}),
        "ProcessingOutputConfig.KmsKeyId": ANY,  # server-side encryption: the S3 side's
        # N simulated hosts (`mlops.local_runtime.jobs.hosts`); botocore bounds the count.
        "ProcessingResources.ClusterConfig.InstanceCount": ANY,
        "ProcessingResources.ClusterConfig.InstanceType": ANY,
        "ProcessingResources.ClusterConfig.VolumeSizeInGB": ANY,
        "ProcessingResources.ClusterConfig.VolumeKmsKeyId": ANY,
        "StoppingCondition.MaxRuntimeInSeconds": ANY,
        "ExperimentConfig": ANY,  # Pipelines sets it; bookkeeping only
        "Tags": ANY,
    },
    "CreateTrainingJob": {
        "TrainingJobName": ANY,
        "RoleArn": ANY,
        "HyperParameters": ANY,
        "AlgorithmSpecification.TrainingImage": ANY,  # mapped to an image environment
        "AlgorithmSpecification.TrainingInputMode": frozenset({"File"}),
        "AlgorithmSpecification.MetricDefinitions": ANY,
        "AlgorithmSpecification.EnableSageMakerMetricsTimeSeries": ANY,
        "InputDataConfig[].ChannelName": ANY,
        "InputDataConfig[].DataSource.S3DataSource.S3Uri": ANY,
        "InputDataConfig[].DataSource.S3DataSource.S3DataType": frozenset({"S3Prefix"}),
        "InputDataConfig[].DataSource.S3DataSource.S3DataDistributionType": frozenset(
            {"FullyReplicated", "ShardedByS3Key"}
        ),
        "InputDataConfig[].ContentType": ANY,
        "InputDataConfig[].CompressionType": frozenset({"None"}),
        "InputDataConfig[].RecordWrapperType": frozenset({"None"}),
        "InputDataConfig[].InputMode": frozenset({"File"}),
        "OutputDataConfig.S3OutputPath": ANY,
        "OutputDataConfig.KmsKeyId": ANY,
        "OutputDataConfig.CompressionType": frozenset({"GZIP"}),
        "ResourceConfig.InstanceCount": ANY,  # N simulated hosts, as for processing
        "ResourceConfig.InstanceType": ANY,
        "ResourceConfig.VolumeSizeInGB": ANY,
        "ResourceConfig.VolumeKmsKeyId": ANY,
        "StoppingCondition.MaxRuntimeInSeconds": ANY,
        "EnableNetworkIsolation": ANY,
        "EnableInterContainerTrafficEncryption": ANY,
        "VpcConfig": ANY,  # placement only: see PLACEMENT_FIELDS
        "Environment": ANY,
        "ExperimentConfig": ANY,
        "Tags": ANY,
    },
    # The batch pipeline: the model is recorded in the (local) SageMaker API as sent; what the
    # local transform can serve of it is checked when a transform job uses it.
    "CreateModel": {
        "ModelName": ANY,
        "ExecutionRoleArn": ANY,  # recorded, never assumed
        "EnableNetworkIsolation": ANY,  # the local transform reaches nothing either way
        "VpcConfig": ANY,  # placement only: see PLACEMENT_FIELDS
        "PrimaryContainer.Image": ANY,
        "PrimaryContainer.ModelDataUrl": ANY,
        "PrimaryContainer.Environment": ANY,
        "PrimaryContainer.ModelPackageName": ANY,
        "PrimaryContainer.Mode": frozenset({"SingleModel"}),
        "Containers[].Image": ANY,
        "Containers[].ModelDataUrl": ANY,
        "Containers[].Environment": ANY,
        "Containers[].ModelPackageName": ANY,
        "Containers[].Mode": frozenset({"SingleModel"}),
        "Tags": ANY,
    },
    # `mlops.local_runtime.batch` documents each one; the rest (Environment, ModelClientConfig,
    # ManifestFile inputs, Gzip, RecordIO/TFRecord splitting, TransformAmiVersion) is refused.
    "CreateTransformJob": {
        "TransformJobName": ANY,
        "ModelName": ANY,
        "MaxConcurrentTransforms": ANY,
        "MaxPayloadInMB": ANY,
        "BatchStrategy": ANY,
        "TransformInput.DataSource.S3DataSource.S3DataType": frozenset({"S3Prefix"}),
        "TransformInput.DataSource.S3DataSource.S3Uri": ANY,
        "TransformInput.ContentType": ANY,
        "TransformInput.CompressionType": frozenset({"None"}),
        "TransformInput.SplitType": frozenset({"None", "Line"}),
        "TransformOutput.S3OutputPath": ANY,
        "TransformOutput.Accept": ANY,
        "TransformOutput.AssembleWith": ANY,
        "TransformOutput.KmsKeyId": ANY,  # server-side encryption: the S3 side's
        "TransformResources.InstanceType": ANY,
        # Objects are spread over instances whole, so any count transforms the same objects
        # into the same outputs; locally one "instance" takes them all.
        "TransformResources.InstanceCount": ANY,
        "TransformResources.VolumeKmsKeyId": ANY,
        "DataProcessing.InputFilter": ANY,
        "DataProcessing.OutputFilter": ANY,
        "DataProcessing.JoinSource": ANY,
        "DataCaptureConfig.DestinationS3Uri": ANY,
        "DataCaptureConfig.KmsKeyId": ANY,
        "DataCaptureConfig.GenerateInferenceId": ANY,
        "ExperimentConfig": ANY,
        "Tags": ANY,
    },
}
# Where a request places its job or model: the subnets and security groups its network
# interfaces get on AWS (the ``network`` setting). Placement decides only where the traffic
# goes, not what the job does (and the project's jobs are network-isolated: their traffic is
# SageMaker's own S3 staging); locally there is no VPC and everything stays on 127.0.0.1, so
# the request runs as it would in those subnets and the step's output says the placement does
# not apply (`placement_note`) instead of refusing it.
PLACEMENT_FIELDS = {
    "CreateProcessingJob": ("NetworkConfig", "VpcConfig"),
    "CreateTrainingJob": ("VpcConfig",),
    "CreateModel": ("VpcConfig",),
}
# Step-level keys of a definition step (outside Arguments) the executor honours.
IMPLEMENTED_STEP_KEYS = frozenset(
    {"Name", "Type", "Arguments", "DependsOn", "PropertyFiles", "DisplayName", "Description"}
)
QUALITY_CHECK_STEP_KEYS = frozenset(
    {
        "CheckType",
        "SkipCheck",
        "RegisterNewBaseline",
        "FailOnViolation",
        "ModelPackageGroupName",
        "SuppliedBaselineStatistics",
        "SuppliedBaselineConstraints",
    }
)
QUALITY_CHECK_OUTPUT_FILES = ("statistics.json", "constraints.json")
# Plausible run-time values for the contract check of a definition.
PLAUSIBLE_EXECUTION_ID = "a1b2c3d4e5f6"
PLAUSIBLE_JSON_VALUE = 0.5
PLAUSIBLE_ACCOUNT = "123456789012"
PLAUSIBLE_REGION = "us-east-1"


def step_request(step_type: str, arguments: Mapping[str, Any], job_name: str) -> dict[str, Any]:
    """The request SageMaker Pipelines sends for a step: its arguments plus the job name."""
    api = STEP_APIS[step_type]
    request = dict(arguments)
    if api.name_field is not None:
        request[api.name_field] = job_name
    return request


def step_request_findings(step_type: str, request: Mapping[str, Any]) -> list[str]:
    """botocore's findings on the request of a step type that calls the SageMaker API."""
    return request_findings(SERVICE, STEP_APIS[step_type].operation, request)


def rejection_reason(step_type: str, findings: Sequence[str]) -> str:
    """A rejected ``Create*`` call as a failed pipeline step reports it."""
    operation = STEP_APIS[step_type].operation
    details = str(ParamValidationError(report="\n".join(findings)))
    return f"ClientError: Failed to invoke {SERVICE}:{operation}. Error Details: {details}"


def unsupported_fields(operation: str, request: Mapping[str, Any]) -> list[str]:
    """Fields of ``request`` (with their value when only some values run) not implemented."""
    found: list[str] = []
    _walk(request, input_shape(SERVICE, operation), "", "", IMPLEMENTED[operation], found)
    return found


def placement_note(operation: str, request: Mapping[str, Any]) -> str | None:
    """What the executor says of a request's VPC placement (None: the request has none)."""
    path = PLACEMENT_FIELDS.get(operation, ())
    config: Any = request if path else None
    for key in path:
        config = config.get(key) if isinstance(config, Mapping) else None
    if not isinstance(config, Mapping):
        return None
    subnets = ", ".join(str(subnet) for subnet in config.get("Subnets", []))
    groups = ", ".join(str(group) for group in config.get("SecurityGroupIds", []))
    return (
        f"{'.'.join(path)} (subnets {subnets}; security groups {groups}) not applicable "
        "locally: there is no VPC, the job runs on this machine as it would in those subnets"
    )


def unsupported_step_keys(step: Mapping[str, Any]) -> list[str]:
    """Step-level keys of a definition step that the executor would otherwise ignore."""
    allowed = IMPLEMENTED_STEP_KEYS
    if step.get("Type") == "QualityCheck":
        allowed = allowed | QUALITY_CHECK_STEP_KEYS
    return sorted(key for key in step if key not in allowed and step[key] is not None)


def quality_check_properties(output_uri: str) -> dict[str, str]:
    """The properties of a QualityCheck step with ``RegisterNewBaseline`` (SDK property names)."""
    statistics, constraints = (
        f"{output_uri.rstrip('/')}/{name}" for name in QUALITY_CHECK_OUTPUT_FILES
    )
    return {
        "CalculatedBaselineStatistics": statistics,
        "CalculatedBaselineConstraints": constraints,
        "BaselineUsedForDriftCheckStatistics": statistics,
        "BaselineUsedForDriftCheckConstraints": constraints,
    }


def model_artifact_uri(output_path: str, job_name: str) -> str:
    """``ModelArtifacts.S3ModelArtifacts`` of a training job: under its own ``output/``."""
    return f"{output_path.rstrip('/')}/{job_name}/output/model.tar.gz"


def execution_variables(
    execution_id: str, pipeline_name: str, account: str, region: str, started: str
) -> dict[str, str]:
    """``Execution.*`` as an execution exposes them."""
    pipeline_arn = f"arn:aws:sagemaker:{region}:{account}:pipeline/{pipeline_name}"
    return {
        "PipelineExecutionId": execution_id,
        "PipelineName": pipeline_name,
        "PipelineArn": pipeline_arn,
        "PipelineExecutionArn": f"{pipeline_arn}/execution/{execution_id}",
        "StartDateTime": started,
        "CurrentDateTime": started,
    }


@dataclass(frozen=True)
class PlannedRequest:
    """One step's API request with plausible run-time values (or why it cannot be formed)."""

    step: str
    step_type: str
    operation: str | None
    request: dict[str, Any]
    problem: str | None = None


def plausible_requests(definition: Mapping[str, Any], pipeline_name: str) -> list[PlannedRequest]:
    """Every step's request as SageMaker Pipelines would send it, both condition branches
    included, with parameters at their typed defaults and plausible run-time values."""
    context = EvaluationContext(
        parameters=dict(resolve_parameters(list(definition.get("Parameters", [])))),
        execution=execution_variables(
            PLAUSIBLE_EXECUTION_ID,
            pipeline_name,
            PLAUSIBLE_ACCOUNT,
            PLAUSIBLE_REGION,
            "2026-01-01T00:00:00+00:00",
        ),
        property_files=_plausible_property_files(definition),
    )
    context.read_s3_json = lambda uri: _plausible_documents(definition, "S3Uri")
    planned: list[PlannedRequest] = []
    for node in build_graph(dict(definition)):
        if node.type in CONTROL_FLOW_STEPS:
            continue
        if node.type not in STEP_APIS:
            problem = f"step type {node.type} has no known SageMaker API"
            planned.append(PlannedRequest(node.name, node.type, None, {}, problem))
            continue
        api = STEP_APIS[node.type]
        try:
            arguments = resolve(node.definition.get("Arguments", {}), context)
        except ExpressionError as error:
            problem = f"cannot resolve arguments: {error}"
            planned.append(PlannedRequest(node.name, node.type, api.operation, {}, problem))
            continue
        job = f"pipelines-{PLAUSIBLE_EXECUTION_ID}-{node.name}"[:63]
        request = step_request(node.type, arguments, job)
        planned.append(PlannedRequest(node.name, node.type, api.operation, request))
        context.steps[node.name] = _plausible_properties(node.type, request, job)
    return planned


def definition_findings(definition: Mapping[str, Any], pipeline_name: str) -> list[str]:
    """Every reason the SageMaker API would reject a step of ``definition`` when it runs.

    Both branches of every condition are checked; the findings name the step and operation.
    """
    findings: list[str] = []
    for planned in plausible_requests(definition, pipeline_name):
        where = f"{planned.step} ({planned.operation})" if planned.operation else planned.step
        if planned.problem is not None:
            findings.append(f"{where}: {planned.problem}")
            continue
        findings += [
            f"{where}: {finding}"
            for finding in step_request_findings(planned.step_type, planned.request)
        ]
    return findings


def _plausible_properties(step_type: str, request: dict[str, Any], job: str) -> dict[str, Any]:
    """What a finished step would expose (the Describe* response: the request, plus…)."""
    if step_type == "Training":
        output = str(request.get("OutputDataConfig", {}).get("S3OutputPath", "s3://bucket/out"))
        return {**request, "ModelArtifacts": {"S3ModelArtifacts": model_artifact_uri(output, job)}}
    if step_type == "QualityCheck":
        outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [{}])
        uri = str(outputs[0].get("S3Output", {}).get("S3Uri", "s3://bucket/quality"))
        return {**request, **quality_check_properties(uri)}
    if step_type == "Model":
        return {
            **request,
            "ModelName": job,
            "ModelArn": f"arn:aws:sagemaker:{PLAUSIBLE_REGION}:{PLAUSIBLE_ACCOUNT}:model/{job}",
        }
    if step_type == "RegisterModel":
        group = request.get("ModelPackageGroupName", "group")
        return {
            "ModelPackageArn": (
                f"arn:aws:sagemaker:{PLAUSIBLE_REGION}:{PLAUSIBLE_ACCOUNT}:model-package/{group}/1"
            )
        }
    return request


def _plausible_property_files(definition: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    """For each property file the definition reads: a document holding a value at every path."""
    documents: dict[tuple[str, str], Any] = {}
    for reference, path in _json_gets(definition, "PropertyFile"):
        if not isinstance(reference, dict) or not str(reference.get("Get", "")).startswith(
            "Steps."
        ):
            continue
        step, _, rest = str(reference["Get"]).removeprefix("Steps.").partition(".")
        name = rest.removeprefix("PropertyFiles.")
        documents[(step, name)] = _with_path(documents.get((step, name)), split_path(path))
    return documents


def _plausible_documents(definition: Mapping[str, Any], source: str) -> Any:
    document: Any = None
    for _, path in _json_gets(definition, source):
        document = _with_path(document, split_path(path))
    return document


def _json_gets(value: Any, source: str) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    if isinstance(value, dict):
        argument = value.get("Std:JsonGet")
        if isinstance(argument, dict) and source in argument and "Path" in argument:
            found.append((argument[source], str(argument["Path"])))
        for item in value.values():
            found += _json_gets(item, source)
    elif isinstance(value, list):
        for item in value:
            found += _json_gets(item, source)
    return found


def _with_path(document: Any, tokens: list[str | int]) -> Any:
    if not tokens:
        return PLAUSIBLE_JSON_VALUE
    head, rest = tokens[0], tokens[1:]
    if isinstance(head, int):
        items = list(document) if isinstance(document, list) else []
        while len(items) <= head:
            items.append(None)
        items[head] = _with_path(items[head], rest)
        return items
    mapping = dict(document) if isinstance(document, dict) else {}
    mapping[head] = _with_path(mapping.get(head), rest)
    return mapping


def _walk(
    value: Any,
    shape: Shape,
    path: str,
    shown: str,
    table: Mapping[str, frozenset[Any] | None],
    found: list[str],
) -> None:
    if value is None:
        return
    if path in table:
        allowed = table[path]
        if allowed is not None and not _allowed(value, allowed):
            found.append(f"{shown}={value}")
        return
    if path and not any(key.startswith((f"{path}.", f"{path}[]")) for key in table):
        found.append(shown)
        return
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for key, item in value.items():
            if key in shape.members:
                child = f"{path}.{key}" if path else key
                _walk(
                    item,
                    shape.members[key],
                    child,
                    child if not shown else f"{shown}.{key}",
                    table,
                    found,
                )
            else:
                found.append(f"{shown}.{key}" if shown else key)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, shape.member, f"{path}[]", f"{shown}[{index}]", table, found)


def _allowed(value: Any, allowed: frozenset[Any]) -> bool:
    # True == 1 in Python: compare booleans only with booleans.
    return any(type(value) is type(option) and value == option for option in allowed)
