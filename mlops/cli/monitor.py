"""`mlops monitor`: see the README for the workflow this group serves."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Model Monitor baselines, drift analysis and reports in SageMaker formats.",
    no_args_is_help=True,
)
