"""Stack 4: approval-to-deploy (EventBridge rule + Lambda) and the serving stack's deploy role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.deploy.approval import DeployOnApproval, DeployTarget
from infra.deploy.serving_role import ServingResources, ServingStackRole
from infra.shared.role_names import RoleNames
from infra.storage.buckets import StorageRefs
from mlops.core.names import ProjectNames


class DeployStack(Stack):
    """Separate from the serving stack so the function never updates the stack it lives in
    (nor CloudFormation deletes the role it is running as)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        storage: StorageRefs,
        serving_stack: Stack,
        drift_features: Sequence[str],
        retrain_on_drift: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.serving_role = ServingStackRole(
            self,
            "ServingStackRole",
            serving=ServingResources(
                names=names,
                stack_name=serving_stack.stack_name,
                drift_features=tuple(drift_features),
                retrain_on_drift=retrain_on_drift,
            ),
            storage=storage,
        )
        self.deployer = DeployOnApproval(
            self,
            "DeployOnApproval",
            target=DeployTarget(
                model_package_group=names.model_package_group,
                serving_stack_name=serving_stack.stack_name,
                cloudformation_role_arn=self.serving_role.role.role_arn,
                baseline_bucket=storage.artifact_bucket,
                baseline_prefix=f"{names.pipeline}/",
            ),
            role_name=RoleNames(names, self.region).deployer,
        )
        self.add_stack_dependency(serving_stack)
