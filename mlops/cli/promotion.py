"""`mlops models check | promote | rollback`: moving a version through the deployment stages.

Every step is recorded in the registry's ``ModelLifeCycle`` first
(``sagemaker_pipelines.lifecycle``), then carried out: on AWS the deploy Lambda
(``<project>-deployer``) updates the target stage's serving stack only if the registry says so;
with ``--local`` the stage's Model → EndpointConfig → Endpoint records are written in the local
registry, as that stack would create them. Registered on the ``models`` group by
``mlops.cli.models``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops.cli.context import aws_target, state
from mlops.core.errors import UserError

if TYPE_CHECKING:
    from mlops.core.settings import ProjectSettings
    from mlops.core.stages import DeploymentStage
    from mlops.local_runtime.aws import AwsTarget
    from sagemaker_pipelines.stage_checks import StageClients

LocalOption = Annotated[
    bool, typer.Option("--local", help="Use the local registry (shared local AWS server).")
]
ReasonOption = Annotated[str, typer.Option(help="Why: recorded as the lifecycle's description.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Wait until the stage serves the version, then record <stage>/InService.",
    ),
]
TimeoutOption = Annotated[
    int, typer.Option(help="Seconds to wait for the stage's serving stack.", min=1)
]


def register(app: typer.Typer) -> None:
    """Add the promotion commands to the ``models`` group."""
    app.command("check")(check)
    app.command("promote")(promote)
    app.command("rollback")(rollback)


def check(
    ctx: typer.Context,
    arn: Annotated[str, typer.Argument(help="The version the stage serves.")],
    stage: Annotated[str, typer.Option(help="The stage to check (e.g. staging).")],
    bake_seconds: Annotated[
        int | None,
        typer.Option(
            help="How long the alarms must stay quiet (default: the stage's setting).", min=0
        ),
    ] = None,
    timeout: TimeoutOption = 3600,
    local: LocalOption = False,
    runtime_url: Annotated[
        str | None,
        typer.Option(help="Local only: the URL of the stage's running local endpoint."),
    ] = None,
) -> None:
    """The stage's checks of a version: its deployment finished, a smoke request through
    invoke_endpoint answers, the endpoint's alarms stay quiet for the bake time. Records
    <stage>/ChecksPassed or ChecksFailed in the registry; exits non-zero on a failure."""
    from sagemaker_pipelines.lifecycle import record_check
    from sagemaker_pipelines.registry import RegistryError, describe_package
    from sagemaker_pipelines.stage_checks import (
        StageCheckFailedError,
        bake,
        smoke_instance,
        smoke_test,
        wait_for_deployment,
    )

    settings = state(ctx).settings()
    target_stage = _stage(settings, stage)
    target = aws_target(ctx, local=local)
    sagemaker = target.client("sagemaker")
    if local and runtime_url is None:
        raise UserError(
            "--local needs --runtime-url: the URL of a local endpoint serving the version "
            "under the stage's endpoint name (`mlops endpoint serve --local` prints its URL)"
        )
    try:
        package = describe_package(sagemaker, arn)
        statistics = _baseline_statistics(target.client("s3"), package)
    except RegistryError as error:
        raise UserError(str(error)) from None
    clients = _stage_clients(target, settings, target_stage, runtime_url=runtime_url)
    names = target_stage.names.resources
    seconds = target_stage.bake_seconds if bake_seconds is None else bake_seconds
    try:
        if not local:  # locally there is no CloudFormation: the records are the deployment
            wait_for_deployment(
                clients.cloudformation, names.serving_stack, arn, timeout_seconds=timeout
            )
        smoke_test(clients, names.endpoint, smoke_instance(statistics))
        bake(clients.cloudwatch, [names.errors_alarm, names.latency_alarm], seconds=seconds)
    except StageCheckFailedError as error:
        record_check(sagemaker, arn, stage=stage, passed=False, description=str(error))
        raise UserError(f"{stage} checks failed for {arn}: {error}") from None
    description = (
        f"smoke request answered; {names.errors_alarm}, {names.latency_alarm} quiet for {seconds} s"
    )
    record = record_check(sagemaker, arn, stage=stage, passed=True, description=description)
    typer.echo(f"{record} {arn}: {description}")


def promote(
    ctx: typer.Context,
    arn: Annotated[str, typer.Argument(help="An approved version that passed the previous stage.")],
    to: Annotated[str, typer.Option("--to", help="The stage to promote it to (e.g. prod).")],
    reason: ReasonOption,
    wait: WaitOption = False,
    timeout: TimeoutOption = 3600,
    local: LocalOption = False,
) -> None:
    """Promote a version to the next stage: records <stage>/Deploying with the reason (and the
    version it replaces as Superseded), then deploys the same package there."""
    from sagemaker_pipelines.lifecycle import PromotionRefusedError
    from sagemaker_pipelines.lifecycle import promote as record_promotion
    from sagemaker_pipelines.registry import RegistryError

    settings = state(ctx).settings()
    stage = _stage(settings, to)
    target = aws_target(ctx, local=local)
    sagemaker = target.client("sagemaker")
    stages = [item.name for item in settings.deployment_stages]
    try:
        promotion = record_promotion(
            sagemaker,
            settings.names.model_package_group,
            arn,
            stages=stages,
            to=to,
            reason=reason,
        )
    except (PromotionRefusedError, RegistryError) as error:
        raise UserError(str(error)) from None
    if promotion.superseded:
        typer.echo(f"{to}/Superseded {promotion.superseded}")
    typer.echo(f"{to}/Deploying {arn}")
    _deploy(ctx, target, settings, stage, arn, wait=wait, timeout=timeout)


def rollback(
    ctx: typer.Context,
    stage: Annotated[str, typer.Option(help="The stage to roll back (e.g. prod).")],
    reason: ReasonOption,
    wait: WaitOption = False,
    timeout: TimeoutOption = 3600,
    local: LocalOption = False,
) -> None:
    """Return a stage to the version it served before (the registry's lifecycle knows which):
    records the current one RolledBack, the previous one Deploying, and deploys it."""
    from sagemaker_pipelines.lifecycle import PromotionRefusedError
    from sagemaker_pipelines.lifecycle import rollback as record_rollback
    from sagemaker_pipelines.registry import RegistryError

    settings = state(ctx).settings()
    target_stage = _stage(settings, stage)
    target = aws_target(ctx, local=local)
    sagemaker = target.client("sagemaker")
    try:
        done = record_rollback(
            sagemaker, settings.names.model_package_group, stage=stage, reason=reason
        )
    except (PromotionRefusedError, RegistryError) as error:
        raise UserError(str(error)) from None
    typer.echo(f"{stage}/RolledBack {done.from_arn}")
    typer.echo(f"{stage}/Deploying {done.to_arn}")
    _deploy(ctx, target, settings, target_stage, done.to_arn, wait=wait, timeout=timeout)


def _deploy(
    ctx: typer.Context,
    target: AwsTarget,
    settings: ProjectSettings,
    stage: DeploymentStage,
    arn: str,
    *,
    wait: bool,
    timeout: int,
) -> None:
    """Carry out what the registry now records: the stage serves ``arn``."""
    from sagemaker_pipelines.lifecycle import record_in_service
    from sagemaker_pipelines.stage_checks import StageCheckFailedError, wait_for_deployment

    sagemaker = target.client("sagemaker")
    if target.is_local:
        from mlops.local_runtime.deploy import record_deployment

        deployment = record_deployment(sagemaker, settings, arn, stage=stage)
        record_in_service(
            sagemaker,
            arn,
            stage=stage.name,
            description=f"local records of {deployment.endpoint_name}",
        )
        typer.echo(f"{stage.name}/InService {arn} ({deployment.endpoint_name}, local)")
        return
    response = target.client("lambda").invoke(
        FunctionName=settings.names.deployer_function,
        InvocationType="RequestResponse",
        Payload=json.dumps({"deploy": {"stage": stage.name, "model_package_arn": arn}}).encode(),
    )
    answer = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError") or answer.get("action") not in (
        "deployed",
        "already-deployed",
    ):
        raise UserError(
            f"the deployer did not deploy {arn} to {stage.name}: "
            f"{answer.get('reason') or answer.get('errorMessage') or answer}"
        )
    typer.echo(f"{answer['action']}: {answer['reason']}")
    if not wait:
        return
    clients = _stage_clients(target, settings, stage, runtime_url=None)
    try:
        status = wait_for_deployment(
            clients.cloudformation, stage.names.serving_stack, arn, timeout_seconds=timeout
        )
    except StageCheckFailedError as error:
        raise UserError(str(error)) from None
    record_in_service(
        sagemaker, arn, stage=stage.name, description=f"{stage.names.serving_stack} {status}"
    )
    typer.echo(f"{stage.name}/InService {arn}")


def _stage(settings: ProjectSettings, name: str) -> DeploymentStage:
    stages = settings.deployment_stages
    for stage in stages:
        if stage.name == name:
            return stage
    raise UserError(f"no stage {name!r}; the stages are {', '.join(s.name for s in stages)}")


def _baseline_statistics(s3: Any, package: dict[str, Any]) -> dict[str, Any]:
    from mlops.core.s3uri import split_s3_uri

    uri = (
        ((package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {})
        .get("Statistics", {})
        .get("S3Uri")
    )
    if not uri:
        raise UserError("the version has no DriftCheckBaselines.ModelDataQuality statistics")
    bucket, key = split_s3_uri(str(uri))
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def _stage_clients(
    target: AwsTarget,
    settings: ProjectSettings,
    stage: DeploymentStage,
    *,
    runtime_url: str | None,
) -> StageClients:
    """Clients of the stage's account: these credentials, or the stage's access role."""
    import boto3

    from mlops.local_runtime.aws import FAKE_CREDENTIALS
    from sagemaker_pipelines.stage_checks import StageClients

    if target.is_local:
        runtime = boto3.client(
            "sagemaker-runtime",
            region_name=target.region,
            endpoint_url=runtime_url,
            **FAKE_CREDENTIALS,
        )
        return StageClients(
            cloudformation=None,
            sagemaker=target.client("sagemaker"),
            runtime=runtime,
            cloudwatch=target.client("cloudwatch"),
        )
    session = boto3.Session(region_name=stage.region)
    if stage.cross_account:
        role = stage.names.tooling_access_role(region=stage.region)
        credentials = boto3.client("sts", region_name=stage.region).assume_role(
            RoleArn=f"arn:aws:iam::{stage.account}:role/{role}",
            RoleSessionName=f"mlops-{stage.name}",
        )["Credentials"]
        session = boto3.Session(
            region_name=stage.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
    return StageClients(
        cloudformation=session.client("cloudformation"),
        sagemaker=session.client("sagemaker"),
        runtime=session.client("sagemaker-runtime"),
        cloudwatch=session.client("cloudwatch"),
    )
