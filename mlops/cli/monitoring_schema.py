"""What `mlops monitor` takes from the project's dataset schema, and `monitor ground-truth`.

Model Monitor compares what the endpoint receives: a raw table's id and target columns are
never sent, so ``monitor baseline --data`` and ``monitor run --data`` leave them out by the
schema instead of reporting them as extra columns. Model quality is measured for the schema's
problem type (or the one the model-quality baseline is about).

``monitor ground-truth`` turns a labelling process's CSV — an id (the dataset's id column, or
``inferenceId``) and a label per row, or whole rows with their labels — into the ground-truth
JSON lines Model Monitor merges with data capture (contracts §12).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.schema import (
    DropColumnsOption,
    IdColumnOption,
    PositiveLabelOption,
    ProblemTypeOption,
    SchemaFlags,
    TargetOption,
    schema_settings,
)
from mlops.core.errors import UserError
from mlops.core.problem_types import ProblemType, problem_type_spec
from mlops.core.settings import ProjectSettings
from mlops.local_runtime.jobs.staging import put_file

GROUND_TRUTH_FILE = "ground-truth.jsonl"


@dataclass(frozen=True)
class MonitorSchema:
    """What a monitoring command needs of the schema."""

    settings: ProjectSettings
    problem_type: ProblemType
    positive_label: str
    excluded: tuple[str, ...]  # the raw table's non-feature columns

    def headline(self, metrics: dict[str, float]) -> str:
        names = problem_type_spec(self.problem_type).metric_names[:3]
        return ", ".join(f"{name} {metrics[name]:.3f}" for name in names if name in metrics)


def monitor_schema(
    ctx: typer.Context, flags: SchemaFlags, model_quality_baseline: Path | None = None
) -> MonitorSchema:
    """The schema as monitoring uses it; the problem type falls back to the one the
    model-quality baseline is about, then to binary."""
    settings = schema_settings(ctx, flags)
    schema = settings.dataset
    problem_type = schema.problem_type or _baseline_problem_type(model_quality_baseline)
    return MonitorSchema(
        settings=settings,
        problem_type=problem_type or "binary",
        positive_label=schema.positive_label or "1",
        excluded=schema.non_feature_columns,
    )


def _baseline_problem_type(path: Path | None) -> ProblemType | None:
    if path is None:
        return None
    from monitoring.errors import MonitoringInputError
    from monitoring.model_quality import load_constraints, problem_type_of

    try:
        return problem_type_of(load_constraints(path))
    except MonitoringInputError:
        return None  # analyze reports the unreadable baseline itself


def ground_truth(
    ctx: typer.Context,
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            help="CSV with a header: an id column (inferenceId, or the dataset's id column) "
            "and the label (the target's name, or `label`); or whole rows and their labels.",
            dir_okay=False,
        ),
    ],
    capture: Annotated[
        str, typer.Option(help="The data capture the labels are for: a directory or s3:// prefix.")
    ],
    out: Annotated[
        str,
        typer.Option(
            help="Where to write the JSON lines: a file, or an s3:// prefix (the ground-truth "
            "location a model-quality schedule reads)."
        ),
    ],
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
    local: Annotated[bool, typer.Option("--local", help="Use the embedded local AWS.")] = False,
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint URL (e.g. a moto server).")
    ] = None,
) -> None:
    """Turn a CSV of known labels into Model Monitor's ground-truth records."""
    from mlops.cli.context import aws_target
    from monitoring.capture import read_capture
    from monitoring.errors import MonitoringInputError
    from monitoring.ground_truth import ground_truth_from_table, write_ground_truth

    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    schema = schema_settings(ctx, flags).dataset
    needs_aws = capture.startswith("s3://") or out.startswith("s3://")
    s3 = aws_target(ctx, local=local, endpoint_url=endpoint_url).client("s3") if needs_aws else None
    try:
        captures = read_capture(capture, s3_client=s3)
        table = ground_truth_from_table(
            captures,
            labels,
            label_column=schema.target,
            id_column=schema.id_column,
            excluded=schema.excluded_columns,
        )
    except MonitoringInputError as error:
        raise UserError(str(error)) from None
    if not table.truths:
        raise UserError(
            f"no captured inference in {capture} matches a row of {labels} (joined on "
            f"{table.joined_on}): were these rows sent to the endpoint, with the id as "
            "InferenceId (`mlops endpoint invoke --data … --header`)?"
        )
    if out.startswith("s3://"):
        destination = _upload(s3, table.truths, out)
    else:
        destination = str(write_ground_truth(table.truths, Path(out)))
    rows = sum(len(truth.labels) for truth in table.truths)
    typer.echo(
        f"wrote {len(table.truths)} ground-truth record(s) ({rows} labelled row(s), joined on "
        f"{table.joined_on}) to {destination}"
    )
    if table.unmatched:
        typer.echo(f"{table.unmatched} label(s) matched no captured inference", err=True)


def _upload(s3: Any, truths: list[Any], prefix: str) -> str:
    """``<prefix>/yyyy/mm/dd/hh/ground-truth.jsonl`` (the hour the labels were written)."""
    import tempfile
    from datetime import UTC, datetime

    from mlops.core.s3uri import split_s3_uri
    from monitoring.ground_truth import write_ground_truth

    bucket, key_prefix = split_s3_uri(prefix.rstrip("/") + "/")
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    key = f"{key_prefix}{hour}/{GROUND_TRUTH_FILE}"
    with tempfile.TemporaryDirectory() as work:
        path = write_ground_truth(truths, Path(work) / GROUND_TRUTH_FILE)
        put_file(s3, path, bucket, key)
    return f"s3://{bucket}/{key}"
