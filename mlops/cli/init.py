"""`mlops init`: make the template a project of one's own dataset.

Reads the CSV, resolves its schema (problem type and positive label inferred when not given,
and printed with the reason), and writes the project name and the schema into the settings
file (``cdk.json``'s ``context.mlops``, or ``--config``). From then on every command reads that
schema, and every resource — pipeline, model package group, endpoint, alarms, stacks, buckets —
is named for the project (`mlops.core.names`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.schema import (
    DropColumnsOption,
    IdColumnOption,
    PositiveLabelOption,
    ProblemTypeOption,
)
from mlops.core.errors import UserError
from mlops.core.problem_types import ProblemType

# The template's own project: `init` replaces it without --force, as a new team's first step.
EXAMPLE_PROJECT = "churn-mlops"


def init(
    ctx: typer.Context,
    project_name: Annotated[
        str,
        typer.Option(
            "--project-name", help="Prefix of every resource name (lowercase, hyphens, ≤ 32)."
        ),
    ],
    data: Annotated[Path, typer.Option("--data", help="A CSV of the dataset, with a header.")],
    target: Annotated[str, typer.Option("--target", help="Label column.")],
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace another project's settings in the file.")
    ] = False,
) -> None:
    """Write the project name and dataset schema (inferred from DATA) into the settings file."""
    from mlops.cli.context import state
    from mlops.core.settings import SettingsError, config_file, load_settings
    from mlops.dataset.schema import resolve_csv

    cli = state(ctx)
    path = cli.config or config_file()
    flags = {
        "target": target,
        "problem_type": problem_type,
        "positive_label": positive_label,
        "id_column": id_column or None,
        "drop_columns": drop_columns or "",
    }
    given = load_settings(context={"dataset": flags}).dataset  # SettingsError names the flag
    resolved = resolve_csv(given, data)
    schema = resolved.explicit(given)
    document = _read(path)
    context = document.setdefault("context", {}).setdefault("mlops", {})
    current = context.get("project_name")
    if current not in (None, EXAMPLE_PROJECT, project_name) and not force:
        raise UserError(
            f"{path} already configures project {current!r}; pass --force to replace it with "
            f"{project_name!r} (its resources keep their names until you redeploy)"
        )
    context["project_name"] = project_name
    context["dataset"] = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in schema.model_dump().items()
        if value not in (None, ())
    }
    dropped_gate = _drop_unfitting_gate(context, schema.require_problem_type())
    dropped_bias = _drop_unfitting_bias(context, resolved.features)
    try:
        settings = load_settings(cli.overrides, context=context)
        settings.names.bucket("artifacts", account="0" * 12, region=settings.region)
    except (SettingsError, ValueError) as error:
        raise UserError(_first_line(error)) from None
    _write(path, document)

    names = settings.names
    typer.echo(f"wrote project {project_name!r} and its dataset schema to {path}")
    typer.echo(f"  target {schema.target} · {schema.problem_type}", nl=False)
    typer.echo(f" · positive {schema.positive_label!r}" if schema.positive_label else "")
    for note in resolved.inference_notes():
        typer.echo(f"  note: {note}")
    if dropped_gate:
        typer.echo(
            f"  note: removed gate.metric {dropped_gate!r}: not a {schema.problem_type} metric"
        )
    if dropped_bias:
        typer.echo(
            f"  note: removed monitoring.bias (facets {', '.join(dropped_bias)}): not features of "
            f"{data}; set monitoring.bias for this data to monitor bias"
        )
    gate = settings.resolved_gate()
    typer.echo(f"  gate: test {gate.metric} {gate.comparison} {gate.threshold:g} (MetricThreshold)")
    typer.echo(
        f"  names: pipeline {names.pipeline}, model group {names.model_package_group}, "
        f"endpoint {names.endpoint}, stacks {names.storage_stack} …"
    )
    typer.echo(f"next: .venv/bin/mlops pipeline run --local --data {data}")


def _drop_unfitting_bias(context: dict[str, Any], features: tuple[str, ...]) -> list[str]:
    """Remove bias settings whose facets are not features of the new dataset (the template's
    facets describe the example data); returns the facets removed."""
    monitoring = context.get("monitoring")
    if not isinstance(monitoring, dict) or not isinstance(monitoring.get("bias"), dict):
        return []
    bias = monitoring["bias"]
    facets = [str(f.get("name")) for f in bias.get("facets", []) if isinstance(f, dict)]
    absent = [name for name in facets if name not in features]
    group = bias.get("group_variable")
    if not absent and (group is None or group in features):
        return []
    monitoring.pop("bias")
    return absent or [str(group)]


def _drop_unfitting_gate(context: dict[str, Any], problem_type: ProblemType) -> str | None:
    """Remove a configured gate metric of another problem type (the default then applies)."""
    from mlops.core.problem_types import problem_type_spec

    gate = context.get("gate")
    if not isinstance(gate, dict) or gate.get("metric") is None:
        return None
    if gate["metric"] in problem_type_spec(problem_type).metric_names:
        return None
    metric = str(gate.pop("metric"))
    gate.pop("threshold", None)
    if not gate:
        context.pop("gate")
    return metric


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    if not isinstance(document, dict):
        raise UserError(f"{path} is not a JSON object")
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    """Atomically: the settings file is never left half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or ["invalid value"])[0]
