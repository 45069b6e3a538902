"""`mlops batch`: score a dataset with a registered model version, locally or on AWS.

``run --local`` executes the batch pipeline's definition (the JSON the batch stack deploys) with
the local Batch Transform, the model package's own handlers scoring the records; ``start`` runs
the deployed batch pipeline on AWS. Both take the newest approved version unless one is named.
Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.context import aws_target, state
from mlops.cli.pipeline import ParamOption, parse_params, watch_and_report
from mlops.core.errors import UserError

app = typer.Typer(
    help="Batch inference: the batch pipeline locally (a local Batch Transform) or on AWS.",
    no_args_is_help=True,
)

PackageOption = Annotated[
    str | None,
    typer.Option(
        "--model-package",
        help="Model package version ARN (default: the newest Approved one of the project group).",
    ),
]


@app.command("definition")
def definition(
    ctx: typer.Context,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON.")] = False,
    role_arn: Annotated[
        str | None, typer.Option(help="Execution role ARN (default: a local placeholder).")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Data bucket (default: the local data bucket name).")
    ] = None,
) -> None:
    """Print the batch pipeline definition JSON that the batch stack deploys (offline)."""
    from sagemaker_pipelines.batch.definition import build_batch_definition

    settings = state(ctx).settings()
    text = build_batch_definition(
        settings,
        role_arn=role_arn or settings.names.local_pipeline_role_arn,
        data_bucket=bucket or settings.names.local_data_bucket,
    )
    typer.echo(json.dumps(json.loads(text), indent=2, sort_keys=True) if pretty else text)


@app.command("run")
def run(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="What to score: a CSV (or JSON Lines) file, a directory of them, or an s3:// "
            "prefix in the local S3. Rows: the id column(s) first, then the features in the "
            "model's order, no header.",
        ),
    ],
    local: Annotated[
        bool, typer.Option("--local", help="Run on this machine (required: see `start`).")
    ] = False,
    out: Annotated[
        Path, typer.Option(help="Directory for summary.json, predictions and the data log.")
    ] = Path("build/batch"),
    model_package: PackageOption = None,
    param: ParamOption = None,
) -> None:
    """Execute the batch pipeline locally; writes OUT/summary.json, exits 1 if it failed."""
    if not local:
        raise UserError("batch run needs --local; use `mlops batch start` to run on AWS")
    settings = state(ctx).settings()
    params = parse_params(param)
    source: str | Path = data if data.startswith("s3://") else Path(data)
    if isinstance(source, Path) and not source.exists():
        raise UserError(f"--data {data}: no such file or directory")

    from rich.console import Console

    from mlops.local_runtime.batch.run import run_local_batch
    from mlops.local_runtime.executor.progress import RichProgress
    from sagemaker_pipelines.parameters import ParameterError
    from sagemaker_pipelines.registry import RegistryError

    console = Console(stderr=True)
    progress = RichProgress(console)
    try:
        outcome = run_local_batch(
            settings,
            data=source,
            out_dir=out,
            model_package_arn=model_package,
            overrides=params,
            observer=progress,
            on_line=progress.on_line,
        )
    except (ParameterError, RegistryError, FileNotFoundError) as error:
        raise UserError(str(error)) from None
    _print_outcome(console, outcome.summary, outcome.summary_path)
    if not outcome.succeeded:
        raise typer.Exit(1)


@app.command("start")
def start(
    ctx: typer.Context,
    model_package: PackageOption = None,
    input_uri: Annotated[
        str | None,
        typer.Option(help="S3 prefix to score (default: the pipeline's InputDataUrl default)."),
    ] = None,
    param: ParamOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show step status until it ends.")] = False,
    poll_seconds: Annotated[
        float, typer.Option(help="Seconds between status polls with --wait.", min=0.1)
    ] = 15.0,
) -> None:
    """Start an execution of the deployed batch pipeline on AWS; --wait exits 1 if it fails."""
    from sagemaker_pipelines.batch.parameters import INPUT_DATA_URL, MODEL_PACKAGE_ARN
    from sagemaker_pipelines.parameters import ParameterError
    from sagemaker_pipelines.registry import RegistryError, latest_approved
    from sagemaker_pipelines.remote import start_execution

    settings = state(ctx).settings()
    name = settings.names.batch_pipeline
    sagemaker = aws_target(ctx, local=False).client("sagemaker")
    params = parse_params(param)
    try:
        params[MODEL_PACKAGE_ARN] = (
            model_package or latest_approved(sagemaker, settings.names.model_package_group).arn
        )
        if input_uri:
            params[INPUT_DATA_URL] = input_uri
        arn = start_execution(sagemaker, name, params)
    except (ParameterError, RegistryError) as error:
        raise UserError(str(error)) from None
    except sagemaker.exceptions.ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise UserError(
            f"cannot start pipeline {name} in {settings.region}: {message} "
            "(is the batch stack deployed? see `cdk deploy`)"
        ) from None
    typer.echo(arn)
    if wait:
        watch_and_report(sagemaker, arn, poll_seconds=poll_seconds)


def _print_outcome(console: Any, summary: dict[str, Any], summary_path: Path) -> None:
    for item in summary["objects"]:
        if item["failure"]:
            console.print(f"[red]failed[/]    {item['source']}: {item['failure']}")
        else:
            console.print(f"[green]scored[/]    {item['source']} ({item['records']:,} records)")
    if summary["status"] == "Succeeded":
        console.print(
            f"[green]Succeeded[/] {summary['records']:,} records with "
            f"{summary['model_package_arn']}"
        )
    else:
        console.print(f"[red]Failed[/] at {summary['failed_step']}: {summary['failure_reason']}")
    monitoring = summary.get("monitoring")
    if monitoring and monitoring.get("skipped"):
        console.print(f"[dim]data quality not checked: {monitoring['skipped']}[/]")
    elif monitoring:
        count = len(monitoring["violations"])
        console.print(
            f"data quality: {count} violation(s) against the package's baseline "
            f"({monitoring['violations_file']})"
        )
    console.print(f"summary: {summary_path}")
