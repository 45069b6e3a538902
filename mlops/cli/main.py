"""The `mlops` command: one entry point whose groups each live in their own module.

Group modules import the ML stack lazily inside their commands, so `mlops --help` and user
errors answer in well under a second even though sklearn/xgboost/sagemaker cost seconds here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import batch, data, demo, endpoint, init, models, monitor, pipeline, stages
from mlops.cli.context import CliState, parse_assignments
from mlops.core.errors import UserError
from mlops.core.settings import SettingsError

app = typer.Typer(
    name="mlops",
    help="Local lifecycle and AWS operations for the SageMaker MLOps template.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(init.init)
app.add_typer(data.app, name="data")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(models.app, name="models")
app.add_typer(endpoint.app, name="endpoint")
app.add_typer(monitor.app, name="monitor")
app.add_typer(batch.app, name="batch")
app.add_typer(demo.app, name="demo")
app.add_typer(stages.app, name="stages")


@app.callback()
def _root(
    ctx: typer.Context,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a setting for this command: dotted key=value, e.g. "
            "--set dataset.target=label (repeatable; wins over env and cdk.json).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="MLOPS_CONFIG_FILE",
            help="Settings file in cdk.json's shape (default: the clone's cdk.json; "
            "$MLOPS_CONFIG_FILE). `mlops init` writes the project's schema there.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    state = CliState(overrides=parse_assignments(setting or [], option="--set"), config=config)
    state.settings()  # fail fast on a bad cdk.json, MLOPS_* variable or --set value
    ctx.obj = state


def main() -> None:
    """Console-script entry: user errors become one line on stderr and a non-zero exit.

    Usage errors (bad flags, out-of-range values) are reported by click itself, also without
    a traceback; ``UserError`` and ``SettingsError`` raised by a command are reported here.
    """
    try:
        app()
    except (UserError, SettingsError) as error:
        first, *rest = str(error).splitlines() or ["unknown error"]
        typer.echo(f"error: {first}", err=True)
        for line in rest:
            typer.echo(f"       {line}", err=True)
        sys.exit(getattr(error, "exit_code", 2))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
