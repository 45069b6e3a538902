"""Stack 2: the model-build pipeline, its execution role, its code and the model registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.network.permissions import grant_sagemaker_network_interfaces
from infra.pipeline.code_assets import CodeFiles, PipelineCode
from infra.pipeline.execution_role import pipeline_execution_role
from infra.pipeline.registry import ModelRegistry
from infra.shared.acknowledgements import acknowledge_bucket_objects
from infra.shared.parameters import PublishedNames
from infra.shared.pipeline_definition import (
    PLACEHOLDERS,
    ModelBuildPipeline,
    images_in_definition,
    security_group_substitution,
    substitute_placeholders,
)
from infra.shared.role_names import RoleNames
from infra.storage.buckets import StorageRefs
from mlops.core.names import DATASET_PREFIX, ProjectNames


class PipelineStack(Stack):
    """Everything `mlops pipeline start` needs on AWS.

    ``definition`` is the JSON from ``sagemaker_pipelines.definition.build_definition`` built
    with ``infra.shared.pipeline_definition.PLACEHOLDERS``; this stack substitutes the deployed values.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        storage: StorageRefs,
        code_files: CodeFiles,
        definition: str,
        registry_readers: Mapping[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``registry_readers``: deployment stages in other accounts (account → role ARNs)."""
        super().__init__(scope, construct_id, **kwargs)

        self.registry = ModelRegistry(
            self, "Registry", group_name=names.model_package_group, readers=registry_readers
        )
        role = pipeline_execution_role(
            self,
            "ExecutionRole",
            names=names,
            role_name=RoleNames(names, self.region).pipeline,
            images=images_in_definition(definition),
        )
        self.role = role.role

        # Grants: the jobs read datasets and code, and read and write the artifacts of the
        # pipeline's executions: every step output is s3://<artifacts>/<pipeline>/<execution>/…
        # (the data-quality baseline included), so nothing outside that prefix.
        executions = f"{names.pipeline}/"
        storage.grant_read(self.role, storage.data_bucket, f"{DATASET_PREFIX}/")
        storage.grant_read(self.role, storage.artifact_bucket, executions)
        storage.grant_write(self.role, storage.artifact_bucket, executions)
        acknowledge_bucket_objects(
            role,
            storage.artifact_bucket,
            executions,
            "The pipeline's own executions in the project's artifact bucket: every step writes "
            "under <pipeline>/<execution id>/, an id created at run time; no other prefix.",
        )
        acknowledge_bucket_objects(
            role,
            storage.data_bucket,
            f"{DATASET_PREFIX}/",
            "The preprocessing job reads whichever dataset files are uploaded under the input "
            "prefix; read-only and limited to that prefix.",
        )
        code = PipelineCode(self, "Code", files=code_files)
        code.grant_read(self.role)
        # The jobs' ML storage volumes and S3 outputs are encrypted with the project key:
        # SageMaker creates a grant for the volume on the job's behalf.
        storage.grant_volume_encryption(self.role)
        # With the `network` setting the jobs attach to the VPC (the definition's VpcConfig):
        # SageMaker creates their network interfaces as this role.
        network = storage.network
        job_groups = network.job_security_group_ids if network is not None else None
        network_policy = (
            grant_sagemaker_network_interfaces(role, self.role, network, job_groups or [])
            if network is not None
            else None
        )

        default_input_uri = f"s3://{storage.data_bucket}/{DATASET_PREFIX}/"
        body, variables = substitute_placeholders(
            definition,
            {
                "RoleArn": (PLACEHOLDERS.role_arn, self.role.role_arn),
                "ArtifactBucket": (PLACEHOLDERS.artifact_bucket, storage.artifact_bucket),
                "DataBucket": (PLACEHOLDERS.data_bucket, storage.data_bucket),
                "KmsKeyArn": (PLACEHOLDERS.kms_key_arn, storage.key_arn),
                # All four assets live in the bootstrap asset bucket; keys are <hash>.<ext>.
                "CodeBucket": (PLACEHOLDERS.code_bucket, code.preprocess.s3_bucket_name),
                "PreprocessKey": (PLACEHOLDERS.preprocess_key, code.preprocess.s3_object_key),
                "EvaluateKey": (PLACEHOLDERS.evaluate_key, code.evaluate.s3_object_key),
                "ClarifyKey": (PLACEHOLDERS.clarify_key, code.clarify.s3_object_key),
                "TrainingSourceKey": (
                    PLACEHOLDERS.training_source_key,
                    code.training_source.s3_object_key,
                ),
                **security_group_substitution(
                    "JobsSecurityGroup", PLACEHOLDERS.jobs_security_group, job_groups
                ),
            },
        )
        self.pipeline = ModelBuildPipeline(
            self,
            "Pipeline",
            pipeline_name=names.pipeline,
            role_arn=self.role.role_arn,
            definition_body=body,
            variables=variables,
        )
        # The pipeline validates its role when it is created: create the policy first.
        self.pipeline.node.add_dependency(role.policy)
        if network_policy is not None:
            self.pipeline.node.add_dependency(network_policy)

        PublishedNames(
            self,
            "Names",
            names=names,
            values={
                "pipeline-name": names.pipeline,
                "model-package-group": names.model_package_group,
                "pipeline-role-arn": self.role.role_arn,
                "default-input-uri": default_input_uri,
            },
        )
