"""``AWS::SageMaker::Pipeline`` for the batch pipeline, from its offline-built definition.

The definition is built once at synth by `sagemaker_pipelines.batch.definition` with the
training pipeline's placeholders (role, data bucket, KMS key: `infra.shared.pipeline_definition`) and
each placeholder becomes a variable of an ``Fn::Sub``, so the deployed JSON is the local one
with the real values in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Fn
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.shared.pipeline_definition import (
    PLACEHOLDERS,
    definition_network,
    security_group_substitution,
    substitute_placeholders,
)
from mlops.core.settings import ProjectSettings


def batch_definition(settings: ProjectSettings) -> str:
    """The batch definition JSON with placeholders (offline; the SDK import happens here)."""
    from sagemaker_pipelines.batch.definition import build_batch_definition

    return build_batch_definition(
        settings,
        role_arn=PLACEHOLDERS.role_arn,
        data_bucket=PLACEHOLDERS.data_bucket,
        kms_key_arn=PLACEHOLDERS.kms_key_arn,
        network=definition_network(settings, PLACEHOLDERS.models_security_group),
    )


class BatchPipeline(Construct):
    """The pipeline resource; ``values`` are the CloudFormation values of the placeholders."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        definition: str,
        role_arn: str,
        data_bucket: str,
        key_arn: str,
        model_security_group_ids: Sequence[str] | None = None,
    ) -> None:
        """``model_security_group_ids``: the models' groups with the ``network`` setting."""
        super().__init__(scope, construct_id)
        replacements: Mapping[str, tuple[str, str]] = {
            "RoleArn": (PLACEHOLDERS.role_arn, role_arn),
            "DataBucket": (PLACEHOLDERS.data_bucket, data_bucket),
            "KmsKeyArn": (PLACEHOLDERS.kms_key_arn, key_arn),
            **security_group_substitution(
                "ModelsSecurityGroup", PLACEHOLDERS.models_security_group, model_security_group_ids
            ),
        }
        body, variables = substitute_placeholders(definition, replacements)
        self.pipeline_name = pipeline_name
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description="Score a batch with a registered model version (batch transform)",
            role_arn=role_arn,
            pipeline_definition={"PipelineDefinitionBody": Fn.sub(body, variables)},
        )
