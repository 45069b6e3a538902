"""`mlops pipeline`: see the README for the workflow this group serves."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Build the pipeline definition, run it locally, start and watch AWS executions.",
    no_args_is_help=True,
)
