"""What every step builder shares: the SDK session, the caller's values, the declared parameters.

`build_context` makes it once per definition, inside `build_definition`'s offline environment;
the builders only read it. The SDK is imported inside functions so that importing this module
(and `sagemaker_pipelines.definition`, which re-exports `CodeLocations`) stays free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mlops.core.settings import ProjectSettings
from sagemaker_pipelines.parameters import ParameterSpec, parameter_specs

if TYPE_CHECKING:
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import Parameter
    from sagemaker.core.workflow.pipeline_context import PipelineSession

SKLEARN_VERSION = "1.9-0"
XGBOOST_VERSION = "3.2-0"

PROCESSING_DIR = "/opt/ml/processing"
# ScriptProcessor stages a job's script (its `code` input) here, named by the code URI's last
# segment, and makes that path the container entry point.
PROCESSING_CODE_DIR = f"{PROCESSING_DIR}/input/code/"
# A training channel's files land in /opt/ml/input/data/<channel>/<object key basename>.
TRAINING_CODE_DIR = "/opt/ml/input/data/code/"


@dataclass(frozen=True)
class CodeLocations:
    """Where the container-side code lives in S3 (CDK assets on AWS, the local bucket locally)."""

    preprocess: str  # s3 URI of preprocess.py
    evaluate: str  # s3 URI of evaluate.py
    training_source: str  # s3 URI of sourcedir.tar.gz (train.py + inference.py)
    # s3 URI of clarify.py: the bias and explainability baselines. None builds a pipeline
    # without them (a caller that does not upload the script yet).
    clarify: str | None = None


@dataclass(frozen=True)
class JobNetwork:
    """Where the jobs attach in the user's VPC (``network`` setting): subnets and security
    groups, each id a string the definition carries verbatim (a placeholder works too).

    Only the placement changes: every job stays network-isolated, so its container still
    reaches nothing; SageMaker moves the job's own S3 traffic (inputs, outputs, the model)
    through these subnets, which is why they need a route to S3 (infra/network).
    """

    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    def vpc_config(self) -> dict[str, list[str]]:
        """``VpcConfig`` as every SageMaker API that takes one spells it."""
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnets)}


@dataclass(frozen=True)
class Images:
    """The framework images of the region: scikit-learn preprocesses, XGBoost does the rest."""

    sklearn: str
    xgboost: str


@dataclass(frozen=True)
class StepContext:
    """The values every builder reads; ``parameters`` keeps the declaration order."""

    settings: ProjectSettings
    session: PipelineSession
    role_arn: str
    artifact_bucket: str
    code: CodeLocations
    kms_key_arn: str | None
    parameters: Mapping[str, Parameter]
    images: Images
    network: JobNetwork | None = None  # None: no VPC (the default; always so locally)

    def execution_uri(self, *parts: str) -> Join:
        """s3://<bucket>/<pipeline>/<execution id>/<parts…>: one prefix per execution."""
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.functions import Join

        return Join(
            on="/",
            values=[
                "s3:/",
                self.artifact_bucket,
                self.settings.names.pipeline,
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                *parts,
            ],
        )


def build_context(
    settings: ProjectSettings,
    *,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None,
    network: JobNetwork | None = None,
) -> StepContext:
    """The session, the parameters declared from `parameter_specs` and the image URIs."""
    import boto3
    from sagemaker.core import image_uris
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    # The default bucket is given so the SDK never calls S3 to create or probe one; telemetry
    # is opted out because it would call STS and an HTTPS endpoint.
    session = PipelineSession(
        boto_session=boto3.Session(region_name=settings.region),
        default_bucket=artifact_bucket,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )
    specs = parameter_specs(settings, default_input_uri=default_input_uri)
    return StepContext(
        settings=settings,
        session=session,
        role_arn=role_arn,
        artifact_bucket=artifact_bucket,
        code=code,
        kms_key_arn=kms_key_arn,
        network=network,
        parameters=MappingProxyType({spec.name: _declare(spec) for spec in specs}),
        images=Images(
            sklearn=image_uris.retrieve("sklearn", settings.region, SKLEARN_VERSION),
            xgboost=image_uris.retrieve("xgboost", settings.region, XGBOOST_VERSION),
        ),
    )


def _declare(spec: ParameterSpec) -> Any:
    """The SDK parameter of one row of the parameter table, default converted to its type."""
    from sagemaker.core.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    if spec.type == "Integer":
        return ParameterInteger(name=spec.name, default_value=int(spec.default))
    if spec.type == "Float":
        return ParameterFloat(name=spec.name, default_value=float(spec.default))
    if spec.type == "Boolean":
        return ParameterBoolean(name=spec.name, default_value=bool(spec.default))
    return ParameterString(
        name=spec.name,
        default_value=str(spec.default),
        enum_values=list(spec.allowed) if spec.allowed else None,
    )
