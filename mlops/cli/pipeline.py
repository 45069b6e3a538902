"""`mlops pipeline`: print the definition, run it locally, start and watch it on AWS.

Heavy imports (the SageMaker SDK for the definition, the ML stack for local jobs) happen inside
the commands, so ``--help`` and flag errors answer at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.context import aws_target
from mlops.cli.schema import (
    DropColumnsOption,
    IdColumnOption,
    PositiveLabelOption,
    ProblemTypeOption,
    SchemaFlags,
    TargetOption,
    schema_settings,
    with_dataset,
)
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
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Print the pipeline definition JSON that the CDK stack deploys (offline, deterministic)."""
    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    settings = schema_settings(ctx, flags)
    settings.dataset.require_target()
    settings.resolved_gate()  # a problem type is needed before the 10-second SDK import

    from sagemaker_pipelines.definition import CodeLocations, build_definition

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
            clarify=f"s3://{bucket}/code/clarify.py",
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
            "Default: generate the example dataset of the configured problem type."
        ),
    ] = None,
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
    param: ParamOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="This run's folder (default: a new build/pipeline/<time>-<execution id>/, "
            "linked as build/pipeline/latest)."
        ),
    ] = None,
    rows: Annotated[
        int, typer.Option(help="Rows of the generated dataset when --data is absent.", min=100)
    ] = 10_000,
) -> None:
    """Execute the pipeline definition locally; writes summary.json and report.html into the
    run's folder, exits 1 if it failed (130 when stopped by Ctrl-C or SIGTERM)."""
    if not local:
        raise UserError("pipeline run needs --local; use `mlops pipeline start` to run on AWS")
    # Everything a run needs is checked here, before the local AWS, the SDK or any job starts.
    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    settings = schema_settings(ctx, flags)
    params = parse_params(param)
    source, generate = _input_source(settings, data)
    if generate is None:
        settings = _resolved_settings(ctx, settings, source)
    checked = _check_params(settings, params)

    from rich.console import Console

    from mlops.cli.signals import sigterm_as_interrupt
    from mlops.local_runtime.executor.engine import ExecutionInterrupted
    from mlops.local_runtime.executor.history import (
        DEFAULT_ROOT,
        RunFolderError,
        new_run_dir,
        point_latest,
        prepare_out_dir,
    )
    from mlops.local_runtime.executor.progress import RichProgress
    from mlops.local_runtime.executor.run import new_execution_id, run_local_pipeline

    console = Console(stderr=True)
    execution_id = new_execution_id()
    try:
        run_dir = (
            prepare_out_dir(out) if out is not None else new_run_dir(DEFAULT_ROOT, execution_id)
        )
    except (RunFolderError, OSError) as error:
        raise UserError(str(error)) from None
    if generate is not None:
        from mlops.dataset.generator import write_csv

        source = run_dir / "data" / f"{settings.dataset.require_target()}.csv"
        write_csv(source, rows=rows, seed=42, problem_type=generate)
        console.print(f"generated {rows:,} rows of the {generate} example dataset at {source}")
    gate = settings.resolved_gate()
    threshold = checked.get("MetricThreshold", gate.threshold)
    console.print(
        f"{settings.dataset.problem_type} on target {settings.dataset.target!r}; gate: test "
        f"{gate.metric} {gate.comparison} {threshold:g}; run folder {run_dir}"
    )
    progress = RichProgress(console)
    try:
        with sigterm_as_interrupt():
            outcome = run_local_pipeline(
                settings,
                data=source,
                out_dir=run_dir,
                overrides=params,
                observer=progress,
                on_line=progress.on_line,
                execution_id=execution_id,
            )
    except ExecutionInterrupted as interrupted:
        console.print(
            f"[yellow]Stopped[/] at {interrupted.result.failed_step}; "
            f"summary: {run_dir / 'summary.json'}"
        )
        raise
    except FileNotFoundError as error:
        raise UserError(str(error)) from None
    finally:
        if out is None and (run_dir / "summary.json").exists():
            point_latest(DEFAULT_ROOT, run_dir)
    _print_outcome(console, outcome.summary, outcome.summary_path)
    if not outcome.summary.succeeded:
        raise typer.Exit(1)


def _input_source(settings: Any, data: str | None) -> tuple[str | Path, Any]:
    """(where the data is, the example problem type to generate when there is no --data)."""
    from mlops.dataset.example import is_example

    if data is None:
        schema = settings.dataset
        if not is_example(schema) or schema.problem_type is None:
            raise UserError(
                f"no --data: the generated example dataset fits only the example schema, and "
                f"project {settings.project_name} trains target {schema.target!r}; pass --data FILE"
            )
        return Path(), schema.problem_type
    if data.startswith("s3://"):
        if settings.dataset.problem_type is None:
            raise UserError(
                f"--data {data}: an S3 input is not read before the run, so the problem type "
                "cannot be inferred; pass --problem-type (or set dataset.problem_type)"
            )
        return data, None
    path = Path(data)
    if not path.is_file():
        raise UserError(f"--data {data}: no such file")
    return path, None


def _resolved_settings(ctx: typer.Context, settings: Any, source: str | Path) -> Any:
    """The settings with the schema resolved against the local CSV (problem type and positive
    label inferred and printed when not given): a mismatch fails here, not in Preprocess. The
    resolution is remembered per file and schema, so a re-run on the same file skips pandas."""
    if not isinstance(source, Path):
        return settings
    from mlops.dataset.resolved_cache import CACHE_DIR, resolve_csv_cached
    from mlops.local_runtime.aws import DEFAULT_STATE_DIR

    resolved = resolve_csv_cached(settings.dataset, source, DEFAULT_STATE_DIR / CACHE_DIR)
    for note in resolved.inference_notes():
        typer.echo(f"note: {note}", err=True)
    for column in resolved.blank_features:
        typer.echo(f"warning: feature {column!r} is blank in every row read", err=True)
    return with_dataset(ctx, resolved.explicit(settings.dataset))


def _check_params(settings: Any, params: dict[str, str]) -> dict[str, Any]:
    from sagemaker_pipelines.parameters import ParameterError, check_overrides

    try:
        return check_overrides(settings, params)
    except ParameterError as error:
        raise UserError(str(error)) from None


def _print_outcome(console: Any, summary: Any, summary_path: Path) -> None:
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in summary.metrics.items())
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if summary.succeeded:
        console.print(f"[green]Succeeded[/] {metrics}")
        console.print(f"registered {summary.model_package_arn}")
    else:
        console.print(f"[red]Failed[/] at {summary.failed_step}: {summary.failure_reason}")
        if metrics:
            console.print(f"test metrics: {metrics}")
    console.print(f"summary: {summary_path}")
    if summary.report is not None:
        console.print(f"report:  {summary.report}")


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
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Start an execution of the deployed pipeline on AWS; --wait exits 1 if it fails.

    The deployed pipeline trains the schema it was deployed with: schema flags are checked
    against it (a different target or problem type needs a redeploy, or a local run).
    """
    from sagemaker_pipelines.parameters import ParameterError, parameter_specs
    from sagemaker_pipelines.remote import deployed_definition, start_execution

    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    settings = schema_settings(ctx, flags)
    params = parse_params(param)
    # Names this project's definition declares get their rules checked here; any other name is
    # checked against the deployed definition (which may be older) before starting.
    known = {spec.name for spec in parameter_specs(settings, default_input_uri="s3://x/")}
    _check_params(settings, {name: value for name, value in params.items() if name in known})
    name = pipeline_name or settings.names.pipeline
    sagemaker = aws_target(ctx, local=False).client("sagemaker")
    try:
        document = deployed_definition(sagemaker, name)
        if flags != SchemaFlags():
            _check_deployed_schema(settings, document, name)
        arn = start_execution(sagemaker, name, params, definition=document)
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


def _check_deployed_schema(settings: Any, document: dict[str, Any], name: str) -> None:
    """UserError when the flags ask for a schema the deployed pipeline does not train."""
    from sagemaker_pipelines.remote import preprocess_arguments
    from sagemaker_pipelines.steps.preprocess import schema_arguments

    wanted = schema_arguments(settings.dataset)
    deployed = preprocess_arguments(document)
    if deployed != wanted:
        raise UserError(
            f"pipeline {name} was deployed to run preprocess with {' '.join(deployed or [])!r}, "
            f"not {' '.join(wanted)!r}: an execution cannot change the dataset schema; change "
            "the settings and redeploy (cdk deploy), or run it locally (pipeline run --local)"
        )


@app.command("runs")
def runs(
    root: Annotated[
        Path, typer.Option(help="Where `pipeline run --local` keeps its run folders.")
    ] = Path("build/pipeline"),
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            help="Two runs (folder name, execution id or a unique prefix, `latest`) side by side.",
        ),
    ] = None,
) -> None:
    """Past local executions with their parameters, gate metric and status; or compare two."""
    from rich.console import Console
    from rich.table import Table

    from mlops.local_runtime.executor.history import (
        RunFolderError,
        find_run,
        list_runs,
    )
    from mlops.local_runtime.executor.history import compare as compare_runs

    console = Console(width=200)
    if compare is not None:
        try:
            first, second = find_run(root, compare[0]), find_run(root, compare[1])
        except RunFolderError as error:
            raise UserError(str(error)) from None
        table = Table("", "", first.name, second.name, "Δ", title="runs compared")
        for line in compare_runs(first, second):
            if line.section == "parameter" and not line.differs:
                continue
            delta = f"{line.delta:+.4g}" if line.delta is not None and line.differs else ""
            style = "bold" if line.differs else None
            table.add_row(
                line.section, line.name, _cell(line.first), _cell(line.second), delta, style=style
            )
        console.print(table)
        return
    past = list_runs(root)
    if not past:
        typer.echo(f"no runs under {root} (mlops pipeline run --local writes them)")
        return
    table = Table("run", "status", "dataset", "gate", "overrides", "version", title=str(root))
    for item in past:
        summary = item.summary
        gate = summary.get("gate") or {}
        dataset = summary.get("dataset") or {}
        value = gate.get("value")
        shown = f"{value:.4f}" if isinstance(value, int | float) else "–"
        passed = gate.get("passed")
        verdict = "✓" if passed is True else "✗" if passed is False else ""
        arn = summary.get("model_package_arn") or ""
        table.add_row(
            item.name,
            f"{summary.get('status')}"
            + (f" at {summary['failed_step']}" if summary.get("failed_step") else ""),
            f"{dataset.get('problem_type', '?')} {dataset.get('target', '?')}",
            f"{gate.get('metric', '?')} {shown} {gate.get('comparison', '')} "
            f"{gate.get('threshold', '')} {verdict}",
            " ".join(f"{k}={v}" for k, v in (summary.get("overrides") or {}).items()) or "-",
            arn.rsplit("/", 1)[-1] if arn else "-",
        )
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


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
