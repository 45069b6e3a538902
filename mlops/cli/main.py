"""The `mlops` command: one entry point whose groups each live in their own module.

Group modules import the ML stack lazily inside their commands, so `mlops --help` and user
errors answer in well under a second even though sklearn/xgboost/sagemaker cost seconds here.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

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
    The process then ends through `_exit` rather than the interpreter's own teardown.
    """
    try:
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
    except SystemExit as done:
        _exit(done.code)
    _exit(0)


def _exit(code: object) -> NoReturn:
    """End the process as the interpreter would, without tearing its modules down.

    After `mlops pipeline run` the interpreter holds botocore's service models, pydantic's
    schemas and the SDK's modules; deallocating them one by one at exit took 0.25-0.3 s of a
    4 s run. Everything a normal exit does for us still happens, in its order: the ``atexit``
    handlers (logging's flush, ``weakref.finalize`` cleanups such as temporary directories),
    then stdout and stderr flushed; every file the CLI writes is closed where it is written.
    """
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what sys.exit("message") prints
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (mlops … | head): nothing left to say
            status = status or 120
    os._exit(status & 0xFF)


if __name__ == "__main__":
    main()
