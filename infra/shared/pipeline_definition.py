"""``AWS::SageMaker::Pipeline`` from the offline-built definition, with CloudFormation values.

The definition JSON is built once at synth by ``sagemaker_pipelines.definition`` with
placeholder values for what only CloudFormation knows (bucket names, the role ARN, the code
asset URIs). Here each placeholder becomes a ``${Variable}`` of an ``Fn::Sub``, so the
deployed definition is byte-for-byte the local one with the real values substituted, and
the local executor and AWS run the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Fn
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops.core.settings import ProjectSettings
from sagemaker_pipelines.steps.context import JobNetwork


@dataclass(frozen=True)
class Placeholders:
    """Values handed to ``build_definition`` that stand in for CloudFormation values.

    Each is shaped like the real value (an ARN, a bucket name, an ``s3://`` URI) so the SDK
    treats it as it would the real one, and is unique enough to be replaced safely.
    """

    role_arn: str = "arn:aws:iam::111111111111:role/mlops-placeholder-role"
    artifact_bucket: str = "mlops-placeholder-artifact-bucket"
    data_bucket: str = "mlops-placeholder-data-bucket"
    kms_key_arn: str = "arn:aws:kms:us-east-1:111111111111:key/mlops-placeholder-kms-key"
    # Code URIs are bucket + key placeholders replaced separately: a processing job stages its
    # script as /opt/ml/processing/input/code/<last key segment> and the SDK makes that path
    # the entry point, so the key placeholder must become the asset's real key
    # (``<hash>.py``) in the entry point too, not only in the input URI.
    code_bucket: str = "mlops-placeholder-code-bucket"
    preprocess_key: str = "mlops-placeholder-preprocess-key.py"
    evaluate_key: str = "mlops-placeholder-evaluate-key.py"
    clarify_key: str = "mlops-placeholder-clarify-key.py"
    training_source_key: str = "mlops-placeholder-sourcedir-key.tar.gz"
    # The security group the storage stack creates for the jobs (pipeline) and for the models
    # (batch), when the ``network`` setting names no groups of its own.
    jobs_security_group: str = "mlops-placeholder-jobs-sg"
    models_security_group: str = "mlops-placeholder-models-sg"

    MARKER = "mlops-placeholder"

    @property
    def preprocess(self) -> str:
        return f"s3://{self.code_bucket}/{self.preprocess_key}"

    @property
    def evaluate(self) -> str:
        return f"s3://{self.code_bucket}/{self.evaluate_key}"

    @property
    def clarify(self) -> str:
        return f"s3://{self.code_bucket}/{self.clarify_key}"

    @property
    def training_source(self) -> str:
        return f"s3://{self.code_bucket}/{self.training_source_key}"


PLACEHOLDERS = Placeholders()


def definition_network(settings: ProjectSettings, security_group: str) -> JobNetwork | None:
    """Where a definition's jobs attach (``network`` setting; None without it): the subnets,
    and the groups the setting names or else ``security_group``, the placeholder of the group
    the storage stack creates (substituted with ``security_group_substitution``)."""
    network = settings.network
    if network is None:
        return None
    return JobNetwork(
        subnets=network.subnet_ids,
        security_group_ids=network.security_group_ids or (security_group,),
    )


def security_group_substitution(
    name: str, placeholder: str, group_ids: Sequence[str] | None
) -> dict[str, tuple[str, str]]:
    """The ``substitute_placeholders`` entry of a created group's placeholder (none without a
    network; a definition built with the setting's own groups holds no placeholder to replace)."""
    return {name: (placeholder, group_ids[0])} if group_ids else {}


class PlaceholderError(ValueError):
    """The definition cannot be wired into the template (a placeholder was altered)."""


def substitute_placeholders(
    definition: str, replacements: Mapping[str, tuple[str, str]]
) -> tuple[str, dict[str, str]]:
    """Turn a definition with placeholders into an ``Fn::Sub`` body and its variables.

    ``replacements`` maps a Sub variable name to ``(placeholder, CloudFormation value)``.
    Literal ``${`` in the definition is escaped as ``${!`` so Fn::Sub leaves it alone.
    """
    body = definition.replace("${", "${!")
    variables: dict[str, str] = {}
    # Longest placeholders first, so no placeholder is replaced inside a longer one.
    for name, (placeholder, value) in sorted(
        replacements.items(), key=lambda item: -len(item[1][0])
    ):
        if placeholder in body:
            body = body.replace(placeholder, "${" + name + "}")
            variables[name] = value
    if Placeholders.MARKER in body:
        at = body.index(Placeholders.MARKER)
        raise PlaceholderError(
            "the pipeline definition contains an altered placeholder near "
            f"{body[max(0, at - 60) : at + 60]!r}; build_definition must keep the values it "
            "is given verbatim"
        )
    return body, variables


# Where a step names its container image: processing, training, and the registered model.
_IMAGE_KEYS = ("ImageUri", "TrainingImage", "Image")


def images_in_definition(definition: str) -> tuple[str, ...]:
    """Every container image the definition's steps run or register, sorted and distinct.

    The execution role may pull exactly these repositories; reading them from the built JSON
    (not from a second ``image_uris.retrieve``) keeps the permission and the jobs in step.
    """
    return tuple(sorted({image for _, image in _images(json.loads(definition))}))


def registered_image(definition: str) -> str:
    """The image of the model the Register step puts in the registry (what the endpoint runs)."""
    found = {
        image for path, image in _images(json.loads(definition)) if "InferenceSpecification" in path
    }
    if len(found) != 1:
        raise ValueError(f"expected one registered model image, found {sorted(found)}")
    return found.pop()


def _images(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _IMAGE_KEYS and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _images(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _images(item, path)


class ModelBuildPipeline(Construct):
    """The SageMaker pipeline; the definition body and Sub variables come from the stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        role_arn: str,
        definition_body: str,
        variables: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.pipeline_name = pipeline_name
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description="Preprocess, baseline, train, evaluate and register the model",
            role_arn=role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": Fn.sub(definition_body, dict(variables))
                if variables
                else definition_body
            },
        )
