"""`mlops stages`: the deployment stages of the settings, and what `cdk deploy` deploys for each."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli.context import state
from mlops.core.errors import UserError

app = typer.Typer(
    help="Deployment stages (staging → production): list them, and the stacks of each.",
    no_args_is_help=True,
)

# The stacks the tooling account holds (construct ids of infra.app): the first stage's job
# deploys them with its own stage (the CI/CD stack is deployed once by an administrator).
TOOLING_STACKS = ("Storage", "Pipeline", "Batch", "Deploy")


@app.command("list")
def list_stages(ctx: typer.Context) -> None:
    """Each stage in order (the last is production): account, region, endpoint, instances."""
    settings = state(ctx).settings()
    for stage in settings.deployment_stages:
        role = "production" if stage.production else ("approval" if stage.first else "promotion")
        typer.echo(
            f"{stage.name}\t{role}\t{stage.account or 'deploying account'}\t{stage.region}\t"
            f"{stage.names.endpoint}\t{stage.instance_type} x{stage.initial_count}-"
            f"{stage.max_count}\tbake {stage.bake_seconds} s"
        )


@app.command("stacks")
def stacks(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help="A stage name (e.g. staging, prod).")],
) -> None:
    """The CDK stack ids a deployment of ``stage`` covers, for `npx cdk deploy --exclusively`:
    the first stage's include the tooling stacks."""
    from infra.deploy.stack import stage_construct_id, stage_stack_id

    settings = state(ctx).settings()
    stages = {item.name: item for item in settings.deployment_stages}
    if stage not in stages:
        raise UserError(f"no stage {stage!r}; the stages are {', '.join(stages)}")
    target = stages[stage]
    ids = list(TOOLING_STACKS) if target.first else []
    if target.cross_account:
        ids.append(stage_stack_id(target))
    ids.append(stage_construct_id(target, "Serving"))
    typer.echo(" ".join(ids))
