"""CI/CD bootstrap (tooling account): GitHub Actions reaches AWS through OIDC, no stored keys.

Deployed once by an administrator (``npx cdk deploy <project>-cicd``) after setting
``cicd.github_repository``; the workflows under ``.github/workflows`` then assume, per GitHub
environment, the role of that stage:

- trust: GitHub's OIDC provider, audience ``sts.amazonaws.com``, subject exactly
  ``repo:<owner>/<name>:environment:<stage>``: only a job of that repository running in that
  environment (whose protection rules, e.g. the production environment's required reviewers,
  GitHub enforces first) gets the role;
- ``cdk deploy``: assume the CDK bootstrap roles (deploy, file and image publishing, lookup) of
  the accounts the stage's job deploys (the first stage's job: the tooling stacks and its own
  stage; every other job: its stage only). Stage accounts trust the tooling account through
  ``cdk bootstrap --trust``;
- the registry: describe and list versions of the project's group, and ``UpdateModelPackage``
  only with ``ModelLifeCycle`` stage = this stage (``sagemaker:ModelLifeCycle:stage``): the
  staging role records staging's checks, the production role records promotions and rollbacks
  of production, and neither can approve (an approval request carries no lifecycle);
- a later stage's role invokes the deploy Lambda (promotion, rollback);
- the stage's checks: read baselines under the pipeline's prefix, describe the stage's serving
  stack, describe and invoke its endpoint, read its alarms, directly in this account or through
  the stage account's access role.

The roles take ``cicd.iam_path`` and, like every role of the app, ``cicd.permissions_boundary``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Aws, CfnOutput, DefaultStackSynthesizer, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import (
    acknowledge_bucket_objects,
    acknowledge_inline_policy,
    acknowledge_sagemaker_wildcard,
    acknowledge_wildcard,
)
from infra.shared.arns import account_role_arn, sagemaker_arn
from infra.shared.role_names import RoleNames
from mlops.core.names import ProjectNames
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage

GITHUB_OIDC = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


class CiCdStack(Stack):
    """``<project>-cicd``: the OIDC provider (unless one exists) and the stages' CI roles."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ProjectSettings,
        bootstrap_qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cicd = settings.cicd
        if cicd.github_repository is None:  # pragma: no cover - app.py checks
            raise ValueError("cicd.github_repository is not set")
        provider_arn = cicd.oidc_provider_arn
        if provider_arn is None:
            provider = iam.CfnOIDCProvider(
                self, "GitHubProvider", url=f"https://{GITHUB_OIDC}", client_id_list=[AUDIENCE]
            )
            provider_arn = provider.attr_arn
        names = settings.names
        stages = settings.deployment_stages
        self.roles: dict[str, iam.Role] = {}
        for stage in stages:
            role = iam.Role(
                self,
                f"{stage.name.capitalize()}Role",
                role_name=names.role(names.ci_role_purpose(stage.name), region=self.region),
                path=cicd.iam_path,
                assumed_by=iam.FederatedPrincipal(
                    provider_arn,
                    conditions={
                        "StringEquals": {
                            f"{GITHUB_OIDC}:aud": AUDIENCE,
                            f"{GITHUB_OIDC}:sub": (
                                f"repo:{cicd.github_repository}:environment:{stage.name}"
                            ),
                        }
                    },
                    assume_role_action="sts:AssumeRoleWithWebIdentity",
                ),
                max_session_duration=Duration.hours(2),
                description=f"GitHub Actions, environment {stage.name}: deploy and promote",
            )
            self.roles[stage.name] = role
            accounts = [stage.account or Aws.ACCOUNT_ID]
            if stage.first and stage.account not in (None, settings.account):
                accounts.insert(0, Aws.ACCOUNT_ID)  # the first stage's job deploys tooling too
            self._cdk_deploy(role, accounts, bootstrap_qualifier)
            self._registry(role, names, stage)
            if not stage.first:
                role.add_to_policy(
                    iam.PolicyStatement(
                        sid="InvokeTheDeployer",
                        actions=["lambda:InvokeFunction"],
                        resources=[
                            self.format_arn(
                                service="lambda",
                                resource="function",
                                resource_name=names.deployer_function,
                                arn_format=ArnFormat.COLON_RESOURCE_NAME,
                            )
                        ],
                    )
                )
            self._checks(role, settings, stage)
            acknowledge_inline_policy(role)
            CfnOutput(
                self,
                f"{stage.name.capitalize()}RoleArn",
                value=role.role_arn,
                description=f"AWS_ROLE_ARN of the GitHub environment {stage.name!r}",
            )

    def _cdk_deploy(self, role: iam.Role, accounts: list[str], qualifier: str) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeTheCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    account_role_arn(
                        account, f"cdk-{qualifier}-{kind}-role-{account}-{self.region}"
                    )
                    for account in accounts
                    for kind in BOOTSTRAP_ROLES
                ],
            )
        )

    def _registry(self, role: iam.Role, names: ProjectNames, stage: DeploymentStage) -> None:
        group = names.model_package_group
        versions = f"model-package/{group}/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheRegistry",
                actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                resources=[
                    sagemaker_arn(self, f"model-package-group/{group}"),
                    sagemaker_arn(self, versions),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RecordThisStageInTheLifecycle",
                actions=["sagemaker:UpdateModelPackage"],
                resources=[sagemaker_arn(self, versions)],
                conditions={"StringEquals": {"sagemaker:ModelLifeCycle:stage": stage.name}},
            )
        )
        acknowledge_sagemaker_wildcard(
            role,
            versions,
            "Versions are numbered at registration; UpdateModelPackage only with a "
            "ModelLifeCycle naming this role's stage (no approval, no other stage).",
        )

    def _checks(self, role: iam.Role, settings: ProjectSettings, stage: DeploymentStage) -> None:
        names = settings.names
        artifacts = names.bucket(
            "artifacts", account=settings.account or Aws.ACCOUNT_ID, region=self.region
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadBaselines",
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{artifacts}/{names.pipeline}/*"],
            )
        )
        acknowledge_bucket_objects(
            role,
            artifacts,
            f"{names.pipeline}/",
            "Read-only: a version's baselines (the smoke request is built from its statistics) "
            "live under its execution's prefix <pipeline>/<execution id>/.",
        )
        stage_names = stage.names.resources
        if stage.cross_account and stage.account is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="CheckThroughTheStageAccessRole",
                    actions=["sts:AssumeRole"],
                    resources=[
                        account_role_arn(
                            stage.account, RoleNames(stage_names, stage.region).tooling_access
                        )
                    ],
                )
            )
            return
        stack_arn = self.format_arn(
            service="cloudformation",
            resource="stack",
            resource_name=f"{stage_names.serving_stack}/*",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheServingStack",
                actions=["cloudformation:DescribeStacks"],
                resources=[stack_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CheckTheEndpoint",
                actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                resources=[sagemaker_arn(self, f"endpoint/{stage_names.endpoint}")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheEndpointAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    self.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=alarm,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for alarm in (stage_names.errors_alarm, stage_names.latency_alarm)
                ],
            )
        )
        acknowledge_wildcard(
            role,
            f"arn:aws:cloudformation:{self.region}:<AWS::AccountId>:stack/"
            f"{stage_names.serving_stack}/*",
            "A stack ARN ends in an id generated at creation; the name pins the stage's serving "
            "stack (read-only: the checks wait for its update to finish).",
        )
