"""`mlops data`: the embedded default dataset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from mlops.core.errors import UserError

app = typer.Typer(help="Generate and inspect datasets.", no_args_is_help=True)


@app.command("generate")
def generate(
    rows: Annotated[int, typer.Option(help="Number of customer rows.", min=1)] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and rows, same bytes.")] = 42,
    out: Annotated[Path, typer.Option(help="CSV file to write.")] = Path("build/data/churn.csv"),
) -> None:
    """Write a deterministic synthetic customer-churn CSV (header, id, mixed types, blanks)."""
    from mlops.dataset.generator import write_csv

    if out.exists() and out.is_dir():
        raise UserError(f"--out {out} is a directory; give a file path such as {out / 'churn.csv'}")
    started = time.perf_counter()
    try:
        size = write_csv(out, rows=rows, seed=seed)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror or error}") from None
    typer.echo(
        f"wrote {rows:,} rows ({size / 1e6:.1f} MB) to {out} in {time.perf_counter() - started:.1f} s"
    )


@app.command("describe")
def describe(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
) -> None:
    """Show how the configured dataset schema applies to a CSV (roles, types, label balance)."""
    import pandas as pd

    from mlops.cli.context import state
    from mlops.dataset.schema import resolve_csv

    schema = state(ctx).settings().dataset
    resolved = resolve_csv(schema, data)
    labels = pd.read_csv(data, usecols=[schema.target], dtype=str)[schema.target].str.strip()
    positives = float((labels == schema.positive_label).mean())
    typer.echo(f"rows:        {len(labels):,}")
    typer.echo(
        f"target:      {resolved.target} (positive {resolved.positive_label!r}: {positives:.1%})"
    )
    typer.echo(f"dropped:     {', '.join(resolved.dropped) or '-'}")
    typer.echo(f"numeric:     {', '.join(resolved.numeric) or '-'}")
    typer.echo(f"categorical: {', '.join(resolved.categorical) or '-'}")
