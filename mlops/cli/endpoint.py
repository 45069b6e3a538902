"""`mlops endpoint`: see the README for the workflow this group serves."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Serve a model locally behind the sagemaker-runtime API and invoke endpoints.",
    no_args_is_help=True,
)
