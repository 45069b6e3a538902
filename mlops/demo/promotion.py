"""Staging → checks → production, and a rollback, on local endpoints.

The same path a team takes on AWS (README "Deployment stages"), with the same functions the
CLI uses (`mlops models check | promote | rollback --local`): every move is first recorded in
the registry's ``ModelLifeCycle`` (`sagemaker_pipelines.lifecycle`), then carried out — here by
writing the stage's Model → EndpointConfig → Endpoint records (`mlops.local_runtime.deploy`),
on AWS by the deploy Lambda updating that stage's serving stack. A stage's checks serve the
version as the stage's endpoint on 127.0.0.1 and send it a smoke request through boto3
``invoke_endpoint``, then read the stage's alarms (locally none exist, so the bake is one read:
the demo does not wait out a bake time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.s3uri import split_s3_uri
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage
from mlops.local_runtime.aws import FAKE_CREDENTIALS, ensure_bucket
from mlops.local_runtime.deploy import LocalDeployment, record_deployment, serve_deployment


@dataclass(frozen=True)
class StageMove:
    """One recorded move: ``version`` of the group is now ``stage``/``status``."""

    version: int
    stage: str
    status: str
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "stage": self.stage,
            "status": self.status,
            "description": self.description,
        }


class StagePath:
    """Moves versions through the project's stages locally and keeps the log of every move.

    ``serving`` is what each stage's endpoint records serve: a package's ``ModelLifeCycle``
    holds one stage, so once a version moves on to production the registry no longer says
    that staging still serves it.
    """

    def __init__(
        self, settings: ProjectSettings, *, sagemaker: Any, s3: Any, cloudwatch: Any, work_dir: Path
    ) -> None:
        self.settings = settings
        self.sagemaker = sagemaker
        self.s3 = s3
        self.cloudwatch = cloudwatch
        self.work_dir = work_dir
        self.moves: list[StageMove] = []
        self.serving: dict[str, str | None] = {
            stage.name: None for stage in settings.deployment_stages
        }
        stages = settings.deployment_stages
        self.first, self.production = stages[0], stages[-1]

    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.settings.deployment_stages]

    def deploy_first(self, arn: str) -> LocalDeployment:
        """What an approval does on AWS: the first stage's stack now serves ``arn``."""
        return self._deploy(self.first, arn, f"approved: {self.first.name} serves it")

    def check(self, deployment: LocalDeployment, stage: DeploymentStage | None = None) -> str:
        """The stage's checks of the version it serves; records ChecksPassed (or ChecksFailed,
        then raises)."""
        from sagemaker_pipelines.lifecycle import record_check
        from sagemaker_pipelines.stage_checks import (
            StageCheckFailedError,
            bake,
            smoke_instance,
            smoke_test,
        )

        stage = stage or self.first
        arn = deployment.package_arn
        names = stage.names.resources
        if deployment.capture.enabled:  # the stage's capture bucket, as its stack creates it
            ensure_bucket(self.s3, split_s3_uri(deployment.capture.destination)[0])
        endpoint = serve_deployment(
            deployment, s3_client=self.s3, work_dir=self.work_dir / f"{stage.name}-check"
        )
        try:
            with endpoint:
                smoke_test(
                    self._clients(endpoint.url),
                    names.endpoint,
                    smoke_instance(self._statistics(arn)),
                )
            bake(self.cloudwatch, [names.errors_alarm, names.latency_alarm], seconds=0)
        except StageCheckFailedError as error:
            record_check(
                self.sagemaker, arn, stage=stage.name, passed=False, description=str(error)
            )
            self._log(arn, stage.name, "ChecksFailed", str(error))
            raise
        description = f"smoke request answered by {names.endpoint}; alarms quiet"
        record_check(self.sagemaker, arn, stage=stage.name, passed=True, description=description)
        self._log(arn, stage.name, "ChecksPassed", description)
        return description

    def promote(self, arn: str, reason: str) -> LocalDeployment:
        """``mlops models promote <arn> --to <production> --reason …`` on the local registry."""
        from sagemaker_pipelines.lifecycle import promote

        promotion = promote(
            self.sagemaker,
            self.settings.names.model_package_group,
            arn,
            stages=self.stage_names(),
            to=self.production.name,
            reason=reason,
        )
        if promotion.superseded:
            self._log(promotion.superseded, self.production.name, "Superseded", reason)
        self._log(arn, self.production.name, "Deploying", reason)
        return self._deploy(self.production, arn, reason)

    def rollback(self, reason: str) -> tuple[str, LocalDeployment]:
        """``mlops models rollback --stage <production>``: the version served before comes back.
        Returns the version rolled back from and the deployment of the one restored."""
        from sagemaker_pipelines.lifecycle import rollback

        done = rollback(
            self.sagemaker,
            self.settings.names.model_package_group,
            stage=self.production.name,
            reason=reason,
        )
        self._log(done.from_arn, self.production.name, "RolledBack", reason)
        self._log(done.to_arn, self.production.name, "Deploying", reason)
        return done.from_arn, self._deploy(self.production, done.to_arn, reason)

    def _deploy(self, stage: DeploymentStage, arn: str, reason: str) -> LocalDeployment:
        from sagemaker_pipelines.lifecycle import record_in_service

        deployment = record_deployment(self.sagemaker, self.settings, arn, stage=stage)
        description = f"local records of {deployment.endpoint_name} ({reason})"
        record_in_service(self.sagemaker, arn, stage=stage.name, description=description)
        self.serving[stage.name] = arn
        self._log(arn, stage.name, "InService", description)
        return deployment

    def _statistics(self, arn: str) -> dict[str, Any]:
        """The data-quality baseline statistics: the smoke request is a typical row of them."""
        package = self.sagemaker.describe_model_package(ModelPackageName=arn)
        uri = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
        bucket, key = split_s3_uri(str(uri))
        document: dict[str, Any] = json.loads(
            self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        return document

    def _clients(self, runtime_url: str) -> Any:
        import boto3

        from sagemaker_pipelines.stage_checks import StageClients

        runtime = boto3.client(
            "sagemaker-runtime",
            region_name=self.settings.region,
            endpoint_url=runtime_url,
            **FAKE_CREDENTIALS,
        )
        return StageClients(
            cloudformation=None,
            sagemaker=self.sagemaker,
            runtime=runtime,
            cloudwatch=self.cloudwatch,
        )

    def _log(self, arn: str, stage: str, status: str, description: str) -> None:
        version = int(arn.rsplit("/", 1)[-1])
        self.moves.append(StageMove(version, stage, status, description))
