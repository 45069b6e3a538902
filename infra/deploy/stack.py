"""Stack 4: approval-to-deploy (EventBridge rule + Lambda) for the serving stack."""

from __future__ import annotations

from typing import Any

from aws_cdk import DefaultStackSynthesizer, Fn, Stack
from constructs import Construct

from infra.deploy.approval import DeployOnApproval
from infra.storage.buckets import StorageRefs
from mlops.core.names import ProjectNames


class DeployStack(Stack):
    """Separate from the serving stack so the function never updates the stack it lives in."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        storage: StorageRefs,
        serving_stack: Stack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        synthesizer = serving_stack.synthesizer
        if isinstance(synthesizer, DefaultStackSynthesizer):
            # The ARN carries ${AWS::AccountId}-style placeholders: resolve them with Fn::Sub.
            cloudformation_role_arn = Fn.sub(synthesizer.cloud_formation_execution_role_arn)
        else:  # pragma: no cover - the app always uses the default synthesizer
            raise TypeError("the serving stack must use the DefaultStackSynthesizer")
        self.deployer = DeployOnApproval(
            self,
            "DeployOnApproval",
            model_package_group=names.model_package_group,
            serving_stack_name=serving_stack.stack_name,
            cloudformation_role_arn=cloudformation_role_arn,
            baseline_bucket=storage.artifact_bucket,
        )
        self.add_stack_dependency(serving_stack)
