"""`mlops data`: the embedded default dataset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from mlops.errors import UserError

app = typer.Typer(help="Generate and inspect datasets.", no_args_is_help=True)


@app.command("generate")
def generate(
    rows: Annotated[int, typer.Option(help="Number of customer rows.", min=1)] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and rows, same bytes.")] = 42,
    out: Annotated[Path, typer.Option(help="CSV file to write.")] = Path("build/data/churn.csv"),
) -> None:
    """Write a deterministic synthetic customer-churn CSV (header, id, mixed types, blanks)."""
    from mlops.datagen import write_csv

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
