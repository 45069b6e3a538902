"""`mlops demo`: see the README for the workflow this group serves."""

from __future__ import annotations

import typer

app = typer.Typer(help="The whole lifecycle locally on the embedded default.", no_args_is_help=True)
