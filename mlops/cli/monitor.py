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

from mlops.core.errors import UserError

app = typer.Typer(
    help="Model Monitor baselines, drift analysis and reports in SageMaker formats.",
    no_args_is_help=True,
)


@app.command("baseline")
def baseline(
    data: Annotated[
        Path, typer.Option(help="Baseline dataset: CSV (header by default) or parquet.")
    ],
    out: Annotated[Path, typer.Option(help="Directory for statistics.json and constraints.json.")],
    header: Annotated[
        bool, typer.Option("--header/--no-header", help="Whether the CSV has a header row.")
    ] = True,
) -> None:
    """Write statistics.json + constraints.json for a dataset (the DataQualityBaseline step)."""
    from monitoring.baseline import write_baseline
    from monitoring.errors import MonitoringInputError

    try:
        result = write_baseline(data, out, header=header)
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
    positive_label: Annotated[
        str | None, typer.Option(help="Positive class (default: the dataset setting).")
    ] = None,
) -> None:
    """Check current data against a baseline: violations, metrics, report (exit 0 on findings)."""
    from mlops.cli.context import aws_target, state
    from monitoring.analysis import analyze
    from monitoring.errors import MonitoringInputError
    from monitoring.metrics import publish
    from monitoring.report import write_analysis_report

    if (capture is None) == (data is None):
        raise UserError("give exactly one of --capture DIR|s3://… or --data FILE")
    if publish_metrics and not endpoint:
        raise UserError("--publish-metrics needs --endpoint NAME (the metrics' Endpoint dimension)")
    settings = state(ctx).settings()
    label = positive_label or settings.dataset.positive_label
    needs_aws = publish_metrics or any(
        str(s).startswith("s3://") for s in (capture, ground_truth) if s
    )
    target = aws_target(ctx, local=local, endpoint_url=endpoint_url) if needs_aws else None
    s3 = target.client("s3") if target is not None else None
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
            positive_label=label,
        )
    except MonitoringInputError as error:
        raise UserError(str(error)) from None

    typer.echo(f"analysed {result.record_count:,} records against {baseline}")
    if result.skipped_records:
        typer.echo(f"skipped {result.skipped_records} capture records that could not be decoded")
    if result.model_quality is not None:
        quality = result.model_quality
        values = ", ".join(
            f"{k} {v:.3f}" for k, v in quality.metrics.items() if k in ("auc", "f1", "accuracy")
        )
        typer.echo(f"model quality on {quality.matched:,} labelled predictions: {values}")
    _print_violations(result)
    typer.echo(f"wrote {result.statistics} and {result.violations_file}")
    if report:
        path = write_analysis_report(result, out / "report.html")
        typer.echo(f"report: {path}")
    if publish_metrics:
        assert endpoint is not None
        assert target is not None
        sent = publish(
            target.client("cloudwatch"),
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
