"""Stack 1: the KMS key and the buckets every other stack uses, and (``network`` setting) the
security groups and VPC endpoints every placed job, model and function uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import DefaultStackSynthesizer, Fn, Stack
from constructs import Construct

from infra.network.placement import ProjectNetwork
from infra.shared.parameters import PublishedNames
from infra.shared.role_names import RoleNames
from infra.storage.buckets import Storage
from infra.storage.key_policy import ForeignReader, KeyUsers
from mlops.core.names import ProjectNames
from mlops.core.settings import NetworkSettings


class StorageStack(Stack):
    """Long-lived state: retained on deletion, shared by pipeline and serving."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        account: str | None,
        serving_roles: Sequence[RoleNames] | None = None,
        foreign_readers: Sequence[ForeignReader] = (),
        network: NetworkSettings | None = None,
        **kwargs: Any,
    ) -> None:
        """``serving_roles``: the role names of each deployment stage in this account (default:
        the project's own, one stage); ``foreign_readers``: stages in other accounts;
        ``network``: the VPC placement setting (``storage.refs.network`` then carries it)."""
        super().__init__(scope, construct_id, **kwargs)
        roles = RoleNames(names, self.region)
        arn = RoleNames.arn
        cdk_deploy_role = self.cdk_deploy_role_arn()
        stages = list(serving_roles) if serving_roles is not None else [roles]
        key_users = KeyUsers(
            data_users=[
                arn(roles.pipeline),
                *(arn(stage.model) for stage in stages),
                *(arn(stage.monitor) for stage in stages),
                arn(roles.batch),
            ],
            grant_creators=[
                arn(roles.pipeline),
                *(arn(stage.monitor) for stage in stages),
                arn(roles.batch),
                *(arn(stage.serving_cloudformation) for stage in stages),
                cdk_deploy_role,
            ],
            deployers=[*(arn(stage.serving_cloudformation) for stage in stages), cdk_deploy_role],
        )
        self.network = (
            ProjectNetwork(self, "Network", settings=network, project=names.project)
            if network is not None
            else None
        )
        self.storage = Storage(
            self,
            "Storage",
            names=names,
            region=self.region,
            key_users=key_users,
            account=account,
            foreign_readers=foreign_readers,
            network=self.network.refs if self.network is not None else None,
        )
        PublishedNames(
            self,
            "Names",
            names=names,
            values={
                "data-bucket": self.storage.refs.data_bucket,
                "artifact-bucket": self.storage.refs.artifact_bucket,
                "kms-key-arn": self.storage.key.key_arn,
            },
        )

    def cdk_deploy_role_arn(self) -> str:
        """The CDK bootstrap's CloudFormation execution role (``cdk deploy`` runs as it).

        It creates the endpoint config and monitor job definition when ``cdk deploy`` changes
        the serving stack while a model is deployed, so the key policy names it too.
        """
        synthesizer = self.synthesizer
        if not isinstance(synthesizer, DefaultStackSynthesizer):  # pragma: no cover
            raise TypeError("the app must use the DefaultStackSynthesizer")
        # The ARN carries ${AWS::AccountId}-style placeholders: resolve them with Fn::Sub.
        return Fn.sub(synthesizer.cloud_formation_execution_role_arn)
