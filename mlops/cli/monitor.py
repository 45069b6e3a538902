"""`mlops monitor`: Model Monitor baselines, drift analysis and reports in SageMaker formats.

`baseline` does locally what the pipeline's DataQualityBaseline step does; `run` does what
one execution of a monitoring schedule does (against a dataset or captured traffic, with
optional ground truth), prints the findings and exits 0: violations are findings, not
failures. Unusable input (no records, an unreadable baseline or data) is a one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.monitoring_schema import ground_truth, monitor_schema
from mlops.cli.schema import (
    DropColumnsOption,
    IdColumnOption,
    PositiveLabelOption,
    ProblemTypeOption,
    SchemaFlags,
    TargetOption,
)
from mlops.core.errors import UserError

app = typer.Typer(
    help="Model Monitor baselines, drift analysis and reports in SageMaker formats.",
    no_args_is_help=True,
)
app.command("ground-truth")(ground_truth)


@app.command("baseline")
def baseline(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Option(help="Baseline dataset: CSV (header by default) or parquet.")
    ],
    out: Annotated[Path, typer.Option(help="Directory for statistics.json and constraints.json.")],
    header: Annotated[
        bool, typer.Option("--header/--no-header", help="Whether the CSV has a header row.")
    ] = True,
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Write statistics.json + constraints.json for a dataset (the DataQualityBaseline step);
    the schema's id and target columns are left out (the endpoint never receives them)."""
    from monitoring.baseline import write_baseline
    from monitoring.errors import MonitoringInputError

    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    excluded = monitor_schema(ctx, flags).excluded if header else ()
    try:
        result = write_baseline(data, out, header=header, exclude_columns=excluded)
    except MonitoringInputError as error:
        raise UserError(str(error)) from None
    typer.echo(
        f"baselined {result.item_count:,} records: {result.statistics}, {result.constraints}"
    )


@app.command("run")
def run(
    ctx: typer.Context,
    baseline: Annotated[
        Path, typer.Option(help="Directory with the baseline statistics.json + constraints.json.")
    ],
    out: Annotated[Path, typer.Option(help="Directory for this execution's outputs.")],
    capture: Annotated[
        str | None,
        typer.Option(help="Data capture: a directory or an s3:// prefix (hour partitions below)."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="A dataset file to check instead of capture.")
    ] = None,
    header: Annotated[
        bool, typer.Option("--header/--no-header", help="Whether --data has a header row.")
    ] = True,
    ground_truth: Annotated[
        str | None,
        typer.Option(
            help="Ground-truth records (directory, file or s3:// prefix) for model quality."
        ),
    ] = None,
    model_quality_baseline: Annotated[
        Path | None,
        typer.Option(
            help="Model-quality constraints.json, or evaluation/statistics JSON to derive them from."
        ),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html into --out.")
    ] = True,
    publish_metrics: Annotated[
        bool, typer.Option("--publish-metrics", help="Publish the monitor's CloudWatch metrics.")
    ] = False,
    endpoint: Annotated[
        str | None, typer.Option(help="Endpoint name: the metrics' Endpoint dimension.")
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help="MonitoringSchedule dimension (default: the project's schedule name)."),
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint URL (e.g. a moto server).")
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Use the embedded local AWS server.")
    ] = False,
    positive_label: PositiveLabelOption = None,
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Check current data against a baseline: violations, metrics, report (exit 0 on findings).

    --data leaves out the schema's id and target columns; model quality is measured for the
    schema's problem type (or the one the model-quality baseline is about)."""
    from mlops.cli.context import aws_target
    from monitoring.analysis import analyze
    from monitoring.errors import MonitoringInputError
    from monitoring.metrics import publish
    from monitoring.report import write_analysis_report

    if (capture is None) == (data is None):
        raise UserError("give exactly one of --capture DIR|s3://… or --data FILE")
    if publish_metrics and not endpoint:
        raise UserError("--publish-metrics needs --endpoint NAME (the metrics' Endpoint dimension)")
    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    schema = monitor_schema(ctx, flags, model_quality_baseline)
    settings = schema.settings
    needs_aws = publish_metrics or any(
        str(s).startswith("s3://") for s in (capture, ground_truth) if s
    )
    aws = aws_target(ctx, local=local, endpoint_url=endpoint_url) if needs_aws else None
    s3 = aws.client("s3") if aws is not None else None
    try:
        result = analyze(
            baseline,
            out,
            data=data,
            capture=capture,
            header=header,
            s3_client=s3,
            ground_truth=ground_truth,
            model_quality_baseline=model_quality_baseline,
            positive_label=schema.positive_label,
            prediction_threshold=settings.prediction_threshold,
            problem_type=schema.problem_type,
            exclude_columns=schema.excluded if header else (),
        )
    except MonitoringInputError as error:
        raise UserError(str(error)) from None

    typer.echo(f"analysed {result.record_count:,} records against {baseline}")
    if result.skipped_records:
        from monitoring.capture import summarize_skipped

        typer.echo(
            f"skipped {result.skipped_records} capture/ground-truth lines that could not be read "
            "(not counted in the statistics):"
        )
        for line in summarize_skipped(result.skipped):
            typer.echo(f"  {line}")
    if result.model_quality is not None:
        quality = result.model_quality
        values = schema.headline(quality.metrics)
        typer.echo(f"model quality on {quality.matched:,} labelled predictions: {values}")
    _print_violations(result)
    typer.echo(f"wrote {result.statistics} and {result.violations_file}")
    if report:
        path = write_analysis_report(result, out / "report.html")
        typer.echo(f"report: {path}")
    if publish_metrics:
        assert endpoint is not None
        assert aws is not None
        sent = publish(
            aws.client("cloudwatch"),
            result.metrics,
            endpoint=endpoint,
            schedule=schedule or settings.names.monitoring_schedule,
        )
        typer.echo(f"published {sent} CloudWatch metrics for endpoint {endpoint}")


def _print_violations(result: Any) -> None:
    rows = [(v.feature_name, v.constraint_check_type, v.description) for v in result.violations]
    if result.model_quality is not None:
        rows += [
            (v.metric_name, v.constraint_check_type, v.description)
            for v in result.model_quality.violations
        ]
    if not rows:
        typer.echo("no violations")
        return
    typer.echo(f"{len(rows)} violation(s):")
    width = max(len(r[0]) for r in rows)
    check_width = max(len(r[1]) for r in rows)
    for feature, check, description in rows:
        typer.echo(f"  {feature:<{width}}  {check:<{check_width}}  {description}")
