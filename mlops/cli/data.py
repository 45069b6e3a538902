"""`mlops data`: the embedded example dataset, and a CSV seen through the project's schema."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

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

app = typer.Typer(help="Generate and inspect datasets.", no_args_is_help=True)

_MAX_LISTED_CLASSES = 12


@app.command("generate")
def generate(
    rows: Annotated[int, typer.Option(help="Number of customer rows (1 to 10,000,000).")] = 10_000,
    seed: Annotated[
        int, typer.Option(help="Random seed (0 to 4294967295): same seed and rows, same bytes.")
    ] = 42,
    problem_type: Annotated[
        str,
        typer.Option(
            "--problem-type",
            help="Which target to write: binary (churn), multiclass (churn_risk) or "
            "regression (lifetime_value).",
        ),
    ] = "binary",
    out: Annotated[Path, typer.Option(help="CSV file to write.")] = Path("build/data/churn.csv"),
) -> None:
    """Write a deterministic synthetic customer CSV (header, id, mixed types, blanks)."""
    from mlops.cli.signals import sigterm_as_interrupt
    from mlops.core.problem_types import PROBLEM_TYPES
    from mlops.dataset.generator import MAX_ROWS, MAX_SEED, check_destination, write_csv

    kind = next((name for name in PROBLEM_TYPES if name == problem_type), None)
    if kind is None:
        raise UserError(
            f"--problem-type {problem_type!r}: choose one of {', '.join(PROBLEM_TYPES)}"
        )
    if not 1 <= rows <= MAX_ROWS:
        raise UserError(f"--rows {rows:,}: must be between 1 and {MAX_ROWS:,}")
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed {seed}: must be between 0 and {MAX_SEED}")
    try:
        check_destination(out)
    except OSError as error:
        raise UserError(f"--out {error}") from None
    started = time.perf_counter()
    try:
        with sigterm_as_interrupt():
            size = write_csv(out, rows=rows, seed=seed, problem_type=kind)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror or error}") from None
    typer.echo(
        f"wrote {rows:,} rows ({size / 1e6:.1f} MB) to {out} in {time.perf_counter() - started:.1f} s"
    )


@app.command("describe")
def describe(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Show how the project's schema applies to a CSV: problem type, labels, column roles."""
    from mlops.dataset.schema import resolve_csv

    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    schema = schema_settings(ctx, flags).dataset
    resolved = resolve_csv(schema, data)
    profile = resolved.profile
    typer.echo(f"rows:          {profile.rows:,}")
    typer.echo(f"target:        {resolved.target}")
    typer.echo(f"problem type:  {profile.problem_type}")
    if profile.classes:
        shown = ", ".join(
            f"{label!r} {count / profile.rows:.1%}"
            for label, count in profile.classes[:_MAX_LISTED_CLASSES]
        )
        more = len(profile.classes) - _MAX_LISTED_CLASSES
        typer.echo(
            f"classes ({len(profile.classes)}):   {shown}{f', … {more} more' if more > 0 else ''}"
        )
    if profile.positive_label is not None:
        typer.echo(f"positive:      {profile.positive_label!r}")
    typer.echo(f"id column:     {resolved.id_column or '-'}")
    typer.echo(f"dropped:       {', '.join(resolved.dropped) or '-'}")
    typer.echo(f"numeric:       {', '.join(resolved.numeric) or '-'}")
    typer.echo(f"categorical:   {', '.join(resolved.categorical) or '-'}")
    for note in resolved.inference_notes():
        typer.echo(f"note: {note}")
    for column in resolved.blank_features:
        typer.echo(
            f"warning: feature {column!r} is blank in every row read: it carries no signal "
            "(drop it with --drop-columns or fill it)"
        )
