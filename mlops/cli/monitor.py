"""`mlops monitor`: Model Monitor baselines, drift analysis and reports in SageMaker formats.

`baseline` does locally what the pipeline's DataQualityBaseline step does; `run` does what
one execution of each requested monitoring schedule does (``--type data-quality``,
``model-quality``, ``bias``, ``explainability``: against a dataset or captured traffic, with
ground truth, the package's baselines and, for explanations, the model), prints the findings
and exits 0: violations are findings, not failures. Unusable input (no records, an unreadable
baseline or data, a missing input of a requested monitor) is a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


MONITOR_TYPES_HELP = (
    "Monitor type, repeatable: data-quality, model-quality, bias, explainability (default: "
    "data-quality, plus model-quality with --ground-truth)."
)


@app.command("run")
def run(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory for this execution's outputs.")],
    monitor_type: Annotated[
        list[str] | None, typer.Option("--type", help=MONITOR_TYPES_HELP)
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Data quality: the baseline statistics.json + constraints.json."),
    ] = None,
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
            help="Ground-truth records (directory, file or s3:// prefix): model quality, bias."
        ),
    ] = None,
    model_quality_baseline: Annotated[
        Path | None,
        typer.Option(
            help="Model-quality constraints.json, or evaluation/statistics JSON to derive them from."
        ),
    ] = None,
    bias_baseline: Annotated[
        Path | None,
        typer.Option(
            help="Bias: the ModelBiasBaseline output (constraints.json, analysis_config.json)."
        ),
    ] = None,
    explainability_baseline: Annotated[
        Path | None,
        typer.Option(
            help="Explainability: the ModelExplainabilityBaseline output (analysis.json)."
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="The deployed model.tar.gz: explainability (and the bias flip test)."),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html into --out.")
    ] = True,
    publish_metrics: Annotated[
        bool, typer.Option("--publish-metrics", help="Publish the monitors' CloudWatch metrics.")
    ] = False,
    endpoint: Annotated[
        str | None, typer.Option(help="Endpoint name: the metrics' Endpoint dimension.")
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            help="Data quality's MonitoringSchedule dimension (default: the project's schedule "
            "name; the other monitors publish under their own schedules)."
        ),
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
    """Run monitors on current data against their baselines: violations, metrics, report
    (exit 0 on findings).

    --data leaves out the schema's id and target columns; model quality is measured for the
    schema's problem type (or the one the model-quality baseline is about)."""
    from mlops.cli.context import aws_target
    from mlops.core.names import MONITOR_TYPES
    from monitoring.errors import MonitoringInputError

    types = _monitor_types(monitor_type, ground_truth)
    unknown = [name for name in types if name not in MONITOR_TYPES]
    if unknown:
        raise UserError(
            f"--type {unknown[0]!r} is not a monitor; one of {', '.join(MONITOR_TYPES)}"
        )
    _require_inputs(
        types, baseline, capture, data, ground_truth, bias_baseline, explainability_baseline, model
    )
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
        outcome = _run_monitors(
            types,
            schema,
            out,
            baseline=baseline,
            capture=capture,
            data=data,
            header=header,
            ground_truth=ground_truth,
            model_quality_baseline=model_quality_baseline,
            bias_baseline=bias_baseline,
            explainability_baseline=explainability_baseline,
            model=model,
            s3=s3,
        )
    except MonitoringInputError as error:
        raise UserError(str(error)) from None
    _print_outcome(outcome, schema)
    if report:
        typer.echo(f"report: {_write_report(outcome, out / 'report.html')}")
    if publish_metrics:
        from mlops.core.names import MONITOR_TYPES
        from monitoring.metrics import publish_by_monitor

        assert endpoint is not None
        assert aws is not None
        schedules = {name: settings.names.schedule(name) for name in MONITOR_TYPES}
        if schedule:
            schedules["data-quality"] = schedule
        sent = publish_by_monitor(
            aws.client("cloudwatch"), outcome.metrics, endpoint=endpoint, schedules=schedules
        )
        typer.echo(f"published {sent} CloudWatch metrics for endpoint {endpoint}")


@dataclass
class _Outcome:
    """What the requested monitors produced."""

    analysis: Any = None  # analysis.AnalysisResult (data quality, with model quality)
    model_quality: Any = None  # ModelQualityResult when run alone
    bias: Any = None
    explainability: Any = None
    skipped: list[Any] = field(default_factory=list)

    @property
    def metrics(self) -> list[Any]:
        from monitoring.metrics import model_quality_metrics

        found = list(self.analysis.metrics) if self.analysis is not None else []
        if self.model_quality is not None:
            values = {k: v for k, v in self.model_quality.metrics.items() if v == v}
            found += model_quality_metrics(values)
        for result in (self.bias, self.explainability):
            if result is not None:
                found += result.metrics
        return found


def _monitor_types(given: list[str] | None, ground_truth: str | None) -> list[str]:
    if given:
        return list(dict.fromkeys(given))
    return ["data-quality", *(["model-quality"] if ground_truth else [])]


def _require_inputs(
    types: list[str],
    baseline: Path | None,
    capture: str | None,
    data: Path | None,
    ground_truth: str | None,
    bias_baseline: Path | None,
    explainability_baseline: Path | None,
    model: Path | None,
) -> None:
    """One line naming the missing option of the first monitor that cannot run."""
    if "data-quality" in types:
        if (capture is None) == (data is None):
            raise UserError("give exactly one of --capture DIR|s3://… or --data FILE")
        if baseline is None:
            raise UserError("data-quality needs --baseline DIR (statistics.json, constraints.json)")
    elif data is not None:
        raise UserError("--data is for data quality; the other monitors read --capture")
    needs = {
        "model-quality": (("--capture", capture), ("--ground-truth", ground_truth)),
        "bias": (
            ("--capture", capture),
            ("--ground-truth", ground_truth),
            ("--bias-baseline", bias_baseline),
        ),
        "explainability": (
            ("--capture", capture),
            ("--model", model),
            ("--explainability-baseline", explainability_baseline),
        ),
    }
    for monitor in types:
        for option, value in needs.get(monitor, ()):
            if value is None:
                raise UserError(f"the {monitor} monitor needs {option}")


def _run_monitors(
    types: list[str],
    schema: Any,
    out: Path,
    *,
    baseline: Path | None,
    capture: str | None,
    data: Path | None,
    header: bool,
    ground_truth: str | None,
    model_quality_baseline: Path | None,
    bias_baseline: Path | None,
    explainability_baseline: Path | None,
    model: Path | None,
    s3: Any,
) -> _Outcome:
    from monitoring.analysis import analyze
    from monitoring.monitors import load_model, run_bias, run_explainability, run_model_quality

    settings = schema.settings
    outcome = _Outcome()
    quality_too = "model-quality" in types
    if "data-quality" in types:
        assert baseline is not None
        outcome.analysis = analyze(
            baseline,
            out,
            data=data,
            capture=capture,
            header=header,
            s3_client=s3,
            ground_truth=ground_truth if quality_too else None,
            model_quality_baseline=model_quality_baseline,
            positive_label=schema.positive_label,
            prediction_threshold=settings.prediction_threshold,
            problem_type=schema.problem_type,
            exclude_columns=schema.excluded if header else (),
        )
        outcome.skipped = outcome.analysis.skipped
    elif quality_too:
        assert capture is not None
        assert ground_truth is not None
        outcome.model_quality = run_model_quality(
            capture,
            ground_truth,
            out,
            baseline=model_quality_baseline,
            problem_type=schema.problem_type,
            positive_label=schema.positive_label,
            prediction_threshold=settings.prediction_threshold,
            s3_client=s3,
            skipped=outcome.skipped,
        )
    encoded = load_model(model) if model is not None else None
    if "bias" in types:
        assert capture is not None
        assert ground_truth is not None
        assert bias_baseline is not None
        spec = encoded.spec if encoded is not None else {}
        positive = str(spec.get("positive_label") or schema.positive_label)
        outcome.bias = run_bias(
            capture,
            ground_truth,
            out,
            baseline=bias_baseline,
            problem_type=schema.problem_type,
            positive_label=positive,
            negative_label=str(spec.get("negative_label") or f"not {positive}"),
            prediction_threshold=settings.prediction_threshold,
            model=encoded,
            s3_client=s3,
            skipped=outcome.skipped,
        )
    if "explainability" in types:
        assert capture is not None
        assert encoded is not None
        assert explainability_baseline is not None
        outcome.explainability = run_explainability(
            capture,
            out,
            baseline=explainability_baseline,
            model=encoded,
            s3_client=s3,
            skipped=outcome.skipped,
        )
    return outcome


def _print_outcome(outcome: _Outcome, schema: Any) -> None:
    analysis = outcome.analysis
    if analysis is not None:
        typer.echo(f"data quality: analysed {analysis.record_count:,} records")
    if outcome.skipped:
        from monitoring.capture import summarize_skipped

        typer.echo(
            f"skipped {len(outcome.skipped)} capture/ground-truth lines that could not be read "
            "(not counted in the statistics):"
        )
        for line in summarize_skipped(outcome.skipped):
            typer.echo(f"  {line}")
    quality = analysis.model_quality if analysis is not None else outcome.model_quality
    if quality is not None:
        values = schema.headline(quality.metrics)
        typer.echo(f"model quality on {quality.matched:,} labelled predictions: {values}")
    if outcome.bias is not None:
        typer.echo(f"bias drift on {outcome.bias.records:,} labelled predictions")
    if outcome.explainability is not None:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in outcome.explainability.ndcg.items())
        typer.echo(f"feature attribution on {outcome.explainability.records:,} rows: NDCG {scores}")
    _print_violations(outcome, quality)
    written = [
        str(path)
        for path in (
            analysis.statistics if analysis is not None else None,
            analysis.violations_file if analysis is not None else None,
            quality.violations_file if quality is not None else None,
            outcome.bias.violations_file if outcome.bias is not None else None,
            outcome.explainability.violations_file if outcome.explainability is not None else None,
        )
        if path is not None
    ]
    typer.echo(f"wrote {', '.join(written)}")


def _write_report(outcome: _Outcome, path: Path) -> Path:
    from monitoring.report import write_analysis_report, write_report

    if outcome.analysis is not None:
        return write_analysis_report(
            outcome.analysis, path, bias=outcome.bias, explainability=outcome.explainability
        )
    return write_report(
        path,
        baseline_statistics={},
        current_statistics={},
        violations=[],
        model_quality=outcome.model_quality,
        bias=outcome.bias,
        explainability=outcome.explainability,
    )


def _print_violations(outcome: _Outcome, quality: Any) -> None:
    analysis = outcome.analysis
    rows = [
        (v.feature_name, v.constraint_check_type, v.description)
        for v in (analysis.violations if analysis is not None else [])
    ]
    if quality is not None:
        rows += [
            (v.metric_name, v.constraint_check_type, v.description) for v in quality.violations
        ]
    if outcome.bias is not None:
        rows += [
            (f"{v.facet}={v.facet_value} {v.metric_name}", v.constraint_check_type, v.description)
            for v in outcome.bias.violations
        ]
    if outcome.explainability is not None:
        rows += [
            (v.label, v.constraint_check_type, v.description)
            for v in outcome.explainability.violations
        ]
    if not rows:
        typer.echo("no violations")
        return
    typer.echo(f"{len(rows)} violation(s):")
    width = max(len(r[0]) for r in rows)
    check_width = max(len(r[1]) for r in rows)
    for feature, check, description in rows:
        typer.echo(f"  {feature:<{width}}  {check:<{check_width}}  {description}")
