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
    problem_type: Annotated[
        str,
        typer.Option(
            "--problem-type",
            help="Which example to run: binary (churn), multiclass (churn_risk) or regression "
            "(lifetime_value); each is its own project (churn-mlops[-<type>]).",
        ),
    ] = "binary",
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
    from mlops.core.errors import UserError
    from mlops.core.problem_types import PROBLEM_TYPES
    from mlops.demo.lifecycle import REPORT_FILE, SUMMARY_FILE, DemoOptions, run_demo

    kind = next((name for name in PROBLEM_TYPES if name == problem_type), None)
    if kind is None:
        raise UserError(
            f"--problem-type {problem_type!r}: choose one of {', '.join(PROBLEM_TYPES)}"
        )
    settings = state(ctx).settings()
    console = Console(stderr=True)
    summary = run_demo(
        settings,
        DemoOptions(
            rows=rows,
            seed=seed,
            problem_type=kind,
            traffic_rows=traffic_rows,
            out_dir=out,
            state_dir=state_dir,
        ),
        console,
    )
    gate = summary.run.gate
    value = f"{gate.value:.4f}" if gate.value is not None else "–"
    typer.echo(
        "\n".join(
            [
                "",
                f"{gate.metric + ' (test)':<19} {value}",
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
        Path, typer.Option(help="Where the embedded AWS server's address and state are kept.")
    ] = Path(".mlops"),
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Also delete the saved registry and buckets: the next start is empty."
        ),
    ] = False,
) -> None:
    """Stop the embedded AWS server and the warm job runtime; the registry and buckets stay
    saved in the state directory and the next --local command restores them (--reset deletes
    them)."""
    from mlops.local_runtime.aws import saved_state, stop_local_aws
    from mlops.local_runtime.jobs.warm import stop_warm_runtimes

    requests, size = saved_state(state_dir)
    stopped = stop_local_aws(state_dir, reset=reset)
    what = "stopped the embedded AWS server" if stopped else "no embedded AWS server was running"
    amount = f"{requests} requests, {size / 1_000_000:.1f} MB"
    if not requests:
        kept = "nothing was saved"
    elif reset:
        kept = f"deleted the saved state ({amount})"
    else:
        kept = (
            f"the saved state stays in {state_dir / 'local-aws'} ({amount}) and is restored at "
            "the next --local command; --reset deletes it"
        )
    typer.echo(f"{what}; {kept}")
    warm = stop_warm_runtimes()
    if warm:
        typer.echo(
            f"stopped {warm} warm job runtime server(s) (they start again with the next job)"
        )
