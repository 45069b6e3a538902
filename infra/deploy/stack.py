"""The deploy stack (tooling account): the Lambda that deploys versions to the stages, the
approval rule, and the serving stacks' CloudFormation roles of the stages in this account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.deploy.approval import DeployOnApproval, DeployTarget, StageTarget
from infra.deploy.serving_role import ServingResources, ServingStackRole
from infra.shared.arns import account_role_arn
from infra.shared.role_names import RoleNames
from infra.storage.buckets import StorageRefs
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage, retrains_on_drift

# Under the pipeline's prefix of the artifact bucket: the stages' explainability monitor
# configs, written by the deploy Lambda (``<stage>/<model>/analysis_config.json``).
MONITOR_CONFIGS_PREFIX = "monitor-configs"


def stage_construct_id(stage: DeploymentStage, kind: str) -> str:
    """``kind`` for the production stage (the ids stacks had before stages existed, so an
    existing deployment keeps its resources), ``<Stage><kind>`` for the others."""
    return kind if stage.production else f"{stage.name.capitalize()}{kind}"


def stage_stack_id(stage: DeploymentStage) -> str:
    """The construct id of a stage's stage stack (another account only): ``<Stage>Stage``."""
    return f"{stage.name.capitalize()}Stage"


class DeployStack(Stack):
    """Separate from the serving stacks so the function never updates the stack it lives in
    (nor CloudFormation deletes the role it is running as)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ProjectSettings,
        storage: StorageRefs,
        stages: Sequence[DeploymentStage],
        drift_features: Sequence[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = settings.names
        self.serving_roles: dict[str, ServingStackRole] = {}
        targets = []
        for stage in stages:
            stage_names = stage.names.resources
            stage_roles = RoleNames(stage_names, stage.region)
            # The instance of the shadow endpoint Clarify stands up from the served model.
            explainer = {"explainer_instance_type": settings.instances.monitoring_type}
            if stage.cross_account and stage.account is not None:
                targets.append(
                    StageTarget(
                        name=stage.name,
                        stack_name=stage_names.serving_stack,
                        cloudformation_role_arn=account_role_arn(
                            stage.account, stage_roles.serving_cloudformation
                        ),
                        region=stage.region,
                        access_role_arn=account_role_arn(stage.account, stage_roles.tooling_access),
                        **explainer,
                    )
                )
                continue
            serving_role = ServingStackRole(
                self,
                stage_construct_id(stage, "ServingStackRole"),
                serving=ServingResources(
                    names=stage_names,
                    stack_name=stage_names.serving_stack,
                    drift_features=tuple(drift_features),
                    retrain_on_drift=retrains_on_drift(settings.monitoring.retrain_on_drift, stage)
                    and bool(drift_features),
                    model_package_group=names.model_package_group,
                ),
                storage=storage,
            )
            self.serving_roles[stage.name] = serving_role
            targets.append(
                StageTarget(
                    name=stage.name,
                    stack_name=stage_names.serving_stack,
                    cloudformation_role_arn=serving_role.role.role_arn,
                    region=stage.region,
                    **explainer,
                )
            )
        self.deployer = DeployOnApproval(
            self,
            "DeployOnApproval",
            target=DeployTarget(
                model_package_group=names.model_package_group,
                stages=tuple(targets),
                baseline_bucket=storage.artifact_bucket,
                baseline_prefix=f"{names.pipeline}/",
                function_name=names.deployer_function,
                monitor_config_prefix=f"{names.pipeline}/{MONITOR_CONFIGS_PREFIX}/",
                key_arn=storage.key_arn,
            ),
            role_name=RoleNames(names, self.region).deployer,
            network=storage.network,
        )
        # Kept for the tests and docs that name the production stage's role.
        production = next(stage for stage in stages if stage.production)
        self.serving_role = self.serving_roles.get(production.name)
