"""`mlops demo`: the whole lifecycle locally on the embedded default (README command 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The whole lifecycle locally on the embedded default.", no_args_is_help=True)


@app.command("run")
def run(
    ctx: typer.Context,
    rows: Annotated[
        int, typer.Option(help="Customers in the generated dataset.", min=500)
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 42,
    traffic_rows: Annotated[
        int, typer.Option(help="Rows sent to the endpoint per traffic window.", min=100)
    ] = 1_000,
    out: Annotated[
        Path, typer.Option(help="Where summary.json, report.html and artifacts go.")
    ] = Path("build/demo"),
    state_dir: Annotated[
        Path, typer.Option(help="Where the embedded AWS server's address is kept.")
    ] = Path(".mlops"),
) -> None:
    """Data → local pipeline → approval → local endpoint → boto3 traffic → Model Monitor."""
    from rich.console import Console

    from mlops.cli.context import state
    from mlops.demo.lifecycle import REPORT_FILE, SUMMARY_FILE, DemoOptions, run_demo

    settings = state(ctx).settings()
    console = Console(stderr=True)
    summary = run_demo(
        settings,
        DemoOptions(
            rows=rows, seed=seed, traffic_rows=traffic_rows, out_dir=out, state_dir=state_dir
        ),
        console,
    )
    auc = f"{summary.auc:.4f}" if summary.auc is not None else "–"
    typer.echo(
        "\n".join(
            [
                "",
                f"AUC (test)          {auc}",
                f"model package       {summary.model_package_arn} ({summary.approval_status})",
                f"endpoint            {summary.endpoint}",
                f"invocations         {summary.invocations} ({summary.captured_records} captured)",
                f"violations, clean   {summary.clean.monitoring.violations}",
                f"violations, drifted {summary.drifted.monitoring.violations}",
                f"wall time           {summary.wall_seconds} s",
                f"summary             {out / SUMMARY_FILE}",
                f"report              {out / REPORT_FILE}",
            ]
        )
    )


@app.command("stop")
def stop(
    state_dir: Annotated[
        Path, typer.Option(help="Where the embedded AWS server's address is kept.")
    ] = Path(".mlops"),
) -> None:
    """Stop the embedded AWS server (its registry and S3 state are in memory and end with it)."""
    from mlops.local_runtime.aws import stop_local_aws

    stopped = stop_local_aws(state_dir)
    typer.echo(
        "stopped the embedded AWS server" if stopped else "no embedded AWS server was running"
    )
