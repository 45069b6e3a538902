"""A deployment stage in another account than the tooling account: what lives there besides
its serving stack.

- its own storage: a KMS key and the data bucket its endpoint captures to and its monitor
  reports into (captured traffic stays in the stage's account; the model and its baselines are
  read from the tooling account's artifact bucket, ``infra.serving.artifacts``). The storage
  construct is the project's, so the key policy and buckets follow the same rules; its
  artifacts bucket stays empty;
- the serving stack's CloudFormation role (``serving_role``), reading the deployed version
  from the tooling account's registry;
- the tooling account's access role (``access``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.deploy.access import AccessGrant, ToolingAccess
from infra.deploy.serving_role import ServingResources, ServingStackRole
from infra.shared.arns import account_role_arn
from infra.shared.role_names import RoleNames
from infra.shared.roles import bootstrap_execution_role_arn
from infra.storage.buckets import Storage
from infra.storage.key_policy import KeyUsers
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage


class StageStack(Stack):
    """``<project>[-<stage>]-stage`` in the stage's account and region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ProjectSettings,
        stage: DeploymentStage,
        drift_features: Sequence[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if settings.account is None or stage.account is None:  # pragma: no cover - settings
            raise ValueError("a stage in another account needs both account ids")
        project = settings.names
        names = stage.names.resources
        roles = RoleNames(names, self.region)
        arn = RoleNames.arn
        cdk_deploy_role = bootstrap_execution_role_arn(self)
        self.storage = Storage(
            self,
            "Storage",
            names=names,
            region=self.region,
            account=stage.account,
            key_users=KeyUsers(
                data_users=[arn(roles.model), arn(roles.monitor)],
                grant_creators=[
                    arn(roles.monitor),
                    arn(roles.serving_cloudformation),
                    cdk_deploy_role,
                ],
                deployers=[arn(roles.serving_cloudformation), cdk_deploy_role],
            ),
        )
        self.serving_role = ServingStackRole(
            self,
            "ServingStackRole",
            serving=ServingResources(
                names=names,
                stack_name=names.serving_stack,
                drift_features=tuple(drift_features),
                retrain_on_drift=False,
                model_package_group=project.model_package_group,
                registry_account=settings.account,
            ),
            storage=self.storage.refs,
        )
        tooling = RoleNames(project, self.region)
        ci_role = project.role(project.ci_role_purpose(stage.name), region=self.region)
        self.access = ToolingAccess(
            self,
            "ToolingAccess",
            grant=AccessGrant(
                role_name=roles.tooling_access,
                tooling_account=settings.account,
                trusted_role_arns=[
                    account_role_arn(settings.account, tooling.deployer),
                    account_role_arn(settings.account, ci_role, settings.cicd.iam_path),
                ],
                serving_stack_name=names.serving_stack,
                cloudformation_role_arn=self.serving_role.role.role_arn,
                endpoint_name=names.endpoint,
                alarm_names=[names.errors_alarm, names.latency_alarm],
            ),
        )
