"""`mlops pipeline`: print the definition, run it locally, start and watch it on AWS.

Heavy imports (the SageMaker SDK for the definition, the ML stack for local jobs) happen inside
the commands, so ``--help`` and flag errors answer at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.context import aws_target, state
from mlops.core.errors import UserError

app = typer.Typer(
    help="Build the pipeline definition, run it locally, start and watch AWS executions.",
    no_args_is_help=True,
)

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        help="Override a pipeline parameter: KEY=VALUE, e.g. --param MaxDepth=6 (repeatable).",
    ),
]


def parse_params(assignments: list[str] | None) -> dict[str, str]:
    """``["MaxDepth=6"]`` → ``{"MaxDepth": "6"}``; names are checked against the definition."""
    params: dict[str, str] = {}
    for assignment in assignments or []:
        name, separator, value = assignment.partition("=")
        if not separator or not name.strip():
            raise UserError(f"--param {assignment!r}: expected KEY=VALUE, e.g. MaxDepth=6")
        params[name.strip()] = value
    return params


@app.command("definition")
def definition(
    ctx: typer.Context,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON.")] = False,
    role_arn: Annotated[
        str | None, typer.Option(help="Execution role ARN (default: a local placeholder).")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Artifact bucket (default: the local bucket name).")
    ] = None,
    input_uri: Annotated[
        str | None, typer.Option(help="Default of the InputDataUrl parameter.")
    ] = None,
) -> None:
    """Print the pipeline definition JSON that the CDK stack deploys (offline, deterministic)."""
    from sagemaker_pipelines.definition import CodeLocations, build_definition

    settings = state(ctx).settings()
    bucket = bucket or settings.names.local_artifact_bucket
    text = build_definition(
        settings,
        role_arn=role_arn or settings.names.local_pipeline_role_arn,
        artifact_bucket=bucket,
        default_input_uri=input_uri or f"s3://{bucket}/input/",
        code=CodeLocations(
            preprocess=f"s3://{bucket}/code/preprocess.py",
            evaluate=f"s3://{bucket}/code/evaluate.py",
            training_source=f"s3://{bucket}/code/sourcedir.tar.gz",
        ),
    )
    typer.echo(json.dumps(json.loads(text), indent=2, sort_keys=True) if pretty else text)


@app.command("run")
def run(
    ctx: typer.Context,
    local: Annotated[
        bool, typer.Option("--local", help="Run on this machine (required: see `start`).")
    ] = False,
    data: Annotated[
        str | None,
        typer.Option(
            help="Input CSV: a local file or an s3:// URI in the local S3. "
            "Default: generate the embedded churn dataset into --out."
        ),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Label column.")] = None,
    positive_label: Annotated[
        str | None, typer.Option(help="Label value meaning the positive class.")
    ] = None,
    drop_columns: Annotated[
        str | None, typer.Option(help="Comma-separated id columns that are not features.")
    ] = None,
    param: ParamOption = None,
    out: Annotated[Path, typer.Option(help="Directory for summary.json and artifacts.")] = Path(
        "build/pipeline"
    ),
    rows: Annotated[
        int, typer.Option(help="Rows of the generated dataset when --data is absent.", min=100)
    ] = 10_000,
) -> None:
    """Execute the pipeline definition locally; writes OUT/summary.json, exits 1 if it failed."""
    if not local:
        raise UserError("pipeline run needs --local; use `mlops pipeline start` to run on AWS")
    dataset: dict[str, Any] = {}
    if target is not None:
        dataset["target"] = target
    if positive_label is not None:
        dataset["positive_label"] = positive_label
    if drop_columns is not None:
        dataset["drop_columns"] = drop_columns
    settings = state(ctx).settings({"dataset": dataset} if dataset else None)
    params = parse_params(param)

    from rich.console import Console

    from mlops.local_runtime.executor.progress import RichProgress
    from mlops.local_runtime.executor.run import run_local_pipeline
    from sagemaker_pipelines.parameters import ParameterError

    console = Console(stderr=True)
    source: str | Path
    if data is None:
        from mlops.dataset.generator import write_csv

        source = out / "data" / "churn.csv"
        write_csv(source, rows=rows, seed=42)
        console.print(f"generated {rows:,} rows of the default dataset at {source}")
    elif data.startswith("s3://"):
        source = data
    else:
        source = Path(data)
        if not source.is_file():
            raise UserError(f"--data {data}: no such file")
    progress = RichProgress(console)
    try:
        outcome = run_local_pipeline(
            settings,
            data=source,
            out_dir=out,
            overrides=params,
            observer=progress,
            on_line=progress.on_line,
        )
    except ParameterError as error:
        raise UserError(str(error)) from None
    except FileNotFoundError as error:
        raise UserError(str(error)) from None
    summary = outcome.summary
    if summary.succeeded:
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in summary.metrics.items())
        console.print(f"[green]Succeeded[/] {metrics}")
        console.print(f"registered {summary.model_package_arn}")
    else:
        console.print(f"[red]Failed[/] at {summary.failed_step}: {summary.failure_reason}")
    console.print(f"summary: {outcome.summary_path}")
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command("start")
def start(
    ctx: typer.Context,
    param: ParamOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show step status until it ends.")] = False,
    poll_seconds: Annotated[
        float, typer.Option(help="Seconds between status polls with --wait.", min=0.1)
    ] = 15.0,
    pipeline_name: Annotated[
        str | None, typer.Option(help="Deployed pipeline (default: from settings).")
    ] = None,
) -> None:
    """Start an execution of the deployed pipeline on AWS; --wait exits 1 if it fails."""
    from sagemaker_pipelines.parameters import ParameterError
    from sagemaker_pipelines.remote import start_execution

    settings = state(ctx).settings()
    name = pipeline_name or settings.names.pipeline
    sagemaker = aws_target(ctx, local=False).client("sagemaker")
    try:
        arn = start_execution(sagemaker, name, parse_params(param))
    except ParameterError as error:
        raise UserError(str(error)) from None
    except sagemaker.exceptions.ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise UserError(
            f"cannot start pipeline {name} in {settings.region}: {message} "
            "(is it deployed? see `cdk deploy`)"
        ) from None
    typer.echo(arn)
    if wait:
        watch_and_report(sagemaker, arn, poll_seconds=poll_seconds)


def watch_and_report(sagemaker: Any, arn: str, *, poll_seconds: float) -> None:
    """Poll the execution, print each step change, exit 1 with the failing step's reason."""
    from rich.console import Console

    from sagemaker_pipelines.remote import StepStatus, watch_execution

    console = Console(stderr=True)
    printed: dict[str, str] = {}

    def show(status: str, steps: list[StepStatus]) -> None:
        for step in steps:
            if printed.get(step.name) != step.status:
                printed[step.name] = step.status
                seconds = f"{step.seconds:7.1f} s" if step.seconds is not None else ""
                console.print(f"{step.status:<10} {step.name:<22} {seconds}")
        console.print(f"[dim]execution {status}[/]")

    outcome = watch_execution(sagemaker, arn, poll_seconds=poll_seconds, on_update=show)
    if outcome.status != "Succeeded":
        where = f" at step {outcome.failed_step}" if outcome.failed_step else ""
        typer.echo(f"error: execution {outcome.status}{where}: {outcome.failure_reason}", err=True)
        raise typer.Exit(1)
    typer.echo("Succeeded")
