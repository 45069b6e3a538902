"""`mlops models`: the model registry on AWS or on the local server (``--local``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mlops.cli import promotion
from mlops.cli.context import aws_target, state
from mlops.core.errors import UserError

app = typer.Typer(
    help="The model registry (local or AWS): list, describe, approve, reject; check, promote and "
    "roll back versions through the deployment stages.",
    no_args_is_help=True,
)
promotion.register(app)

LocalOption = Annotated[
    bool, typer.Option("--local", help="Use the local registry (shared local AWS server).")
]
GroupOption = Annotated[
    str | None, typer.Option(help="Model package group (default: from settings).")
]


def _registry(ctx: typer.Context, local: bool) -> tuple[Any, str]:
    """A SageMaker client (AWS or the local server) and the project's group name."""
    target = aws_target(ctx, local=local)
    return target.client("sagemaker"), state(ctx).settings().names.model_package_group


@app.command("list")
def list_models(ctx: typer.Context, local: LocalOption = False, group: GroupOption = None) -> None:
    """Model versions in the group, newest first."""
    from rich.console import Console
    from rich.table import Table

    from sagemaker_pipelines.registry import RegistryError, list_packages

    sagemaker, default_group = _registry(ctx, local)
    try:
        packages = list_packages(sagemaker, group or default_group, with_metadata=True)
    except RegistryError as error:
        raise UserError(str(error)) from None
    table = Table(
        "version", "status", "created", "dataset · gate", "input", title=group or default_group
    )
    table.add_column("arn", no_wrap=True)  # whole, so that it can be copied or grepped
    for package in packages:
        table.add_row(
            str(package.version),
            package.status,
            package.created,
            package.describe(),
            package.metadata.get("input-data", "-"),
            package.arn,
        )
    Console(width=240).print(table)


@app.command("describe")
def describe(ctx: typer.Context, arn: str, local: LocalOption = False) -> None:
    """The package as JSON: model data, metrics, drift baselines, approval; its dataset and
    gate (what Register recorded) as one line on stderr."""
    from sagemaker_pipelines.registry import RegistryError, describe_metadata, describe_package

    sagemaker, _ = _registry(ctx, local)
    try:
        package = describe_package(sagemaker, arn)
    except RegistryError as error:
        raise UserError(str(error)) from None
    metadata = package.get("CustomerMetadataProperties") or {}
    line = f"version {package.get('ModelPackageVersion', '?')}: {describe_metadata(metadata)}"
    if metadata.get("input-data"):
        line += f" · input {metadata['input-data']}"
    typer.echo(line, err=True)
    typer.echo(json.dumps(package, indent=2, sort_keys=True, default=str))


@app.command("approve")
def approve(
    ctx: typer.Context,
    arn: Annotated[str | None, typer.Argument(help="Model package ARN.")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Approve the newest version.")] = False,
    local: LocalOption = False,
    group: GroupOption = None,
    reason: Annotated[str | None, typer.Option(help="Approval description.")] = None,
) -> None:
    """Approve a version: the deployment picks it up."""
    _set_status(ctx, arn, latest=latest, local=local, group=group, status="Approved", reason=reason)


@app.command("reject")
def reject(
    ctx: typer.Context,
    arn: Annotated[str | None, typer.Argument(help="Model package ARN.")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Reject the newest version.")] = False,
    local: LocalOption = False,
    group: GroupOption = None,
    reason: Annotated[str | None, typer.Option(help="Why it is rejected.")] = None,
) -> None:
    """Reject a version."""
    _set_status(ctx, arn, latest=latest, local=local, group=group, status="Rejected", reason=reason)


def _set_status(
    ctx: typer.Context,
    arn: str | None,
    *,
    latest: bool,
    local: bool,
    group: str | None,
    status: str,
    reason: str | None,
) -> None:
    from sagemaker_pipelines.registry import RegistryError, latest_package, set_approval

    if (arn is None) == (not latest):
        raise UserError("give either a model package ARN or --latest")
    sagemaker, default_group = _registry(ctx, local)
    try:
        target = arn or latest_package(sagemaker, group or default_group)
        package = set_approval(sagemaker, target, status, reason)
    except RegistryError as error:
        raise UserError(str(error)) from None
    typer.echo(f"{package.get('ModelApprovalStatus')} {target}")
