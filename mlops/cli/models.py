"""`mlops models`: see the README for the workflow this group serves."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The model registry (local or AWS): list, describe, approve, reject.", no_args_is_help=True
)
