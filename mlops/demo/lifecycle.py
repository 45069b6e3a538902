"""The whole lifecycle on the embedded default, as a newcomer's first run.

data → the pipeline definition executed locally → approval in the registry → staging (a local
endpoint recorded in the registry like a real one) and its checks → promotion to production →
application traffic through boto3 ``invoke_endpoint`` (a clean window, then a drifted one) →
Model Monitor on each window's captured data → a second version (the pipeline again, on fresh
data) through staging to production → a rollback of production to the first →
``summary.json`` and ``report.html``.

The demo is the template's own example project, whatever the settings configure for a team's
dataset: the generated customer table with the target of the chosen problem type
(`mlops.dataset.example`), under the example's project name (``churn-mlops``, and
``churn-mlops-multiclass`` / ``-regression`` for the other problem types), so its model
versions never land in a team project's model package group.

Every stage uses the same code a team uses on its own: the CLI's pipeline runner, the
registry helpers, the local deployment (`mlops.local_runtime.deploy`), the stage lifecycle
(`promotion`, on `sagemaker_pipelines.lifecycle`), the application client and the monitoring
package (ground truth from `monitoring.ground_truth`). This module only sequences them and
keeps score; `traffic` makes the windows' rows, `application` sends them, `monitor` runs Model
Monitor on a window, `results` holds what the stages hand on and the ``summary.json`` they add
up to, `report` renders ``report.html``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from mlops.core.errors import UserError
from mlops.core.names import DATA_CAPTURE_PREFIX
from mlops.core.problem_types import ProblemType
from mlops.core.settings import (
    BiasFacet,
    BiasSettings,
    ClarifyValue,
    GateSettings,
    ProjectSettings,
)
from mlops.demo.results import (
    CLEAN,
    DRIFTED,
    DemoSummary,
    PromotionResult,
    TrafficResult,
    WindowResult,
)
from mlops.demo.traffic import clean_batch, drifted_batch, feature_order
from mlops.local_runtime.aws import DEFAULT_STATE_DIR, client, ensure_bucket, ensure_local_aws

if TYPE_CHECKING:
    from mlops.local_runtime.executor.run import LocalRun

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"


@dataclass(frozen=True)
class DemoOptions:
    """What a demo run does; the defaults finish in a few minutes on 2 cores."""

    rows: int = 20_000
    seed: int = 42
    problem_type: ProblemType = "binary"
    traffic_rows: int = 1_000
    rows_per_request: int = 20
    out_dir: Path = Path("build/demo")
    state_dir: Path = DEFAULT_STATE_DIR


class Stages:
    """Prints each stage as it starts and ends, and keeps the durations for the summary."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        self.console.print(f"[bold cyan]▶ {name}[/] {what}")
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 2)
        self.console.print(f"[green]✔ {name}[/] {self.seconds[name]:.1f} s")


# The example's bias monitoring, per problem type: seniors are the facet; the positive outcome
# is churn (binary: the positive label), high risk, or a lifetime value above 2,000.
EXAMPLE_POSITIVE_OUTCOMES: dict[ProblemType, tuple[ClarifyValue, ...] | None] = {
    "binary": None,
    "multiclass": ("high",),
    "regression": (2000.0,),
}


def demo_settings(settings: ProjectSettings, problem_type: ProblemType) -> ProjectSettings:
    """The example project of ``problem_type``, keeping the rest of ``settings`` (region,
    instances, monitoring schedule and thresholds, hyperparameters); its bias facet is the
    example's, whatever a team configured for its own data."""
    from mlops.dataset.example import EXAMPLE_PROJECT, example_schema
    from mlops.demo.traffic import SHIFTED_FACET

    name = EXAMPLE_PROJECT if problem_type == "binary" else f"{EXAMPLE_PROJECT}-{problem_type}"
    bias = BiasSettings(
        facets=(BiasFacet(name=SHIFTED_FACET, value_or_threshold=(1,)),),
        label_values_or_threshold=EXAMPLE_POSITIVE_OUTCOMES[problem_type],
        group_variable="region",
    )
    monitoring = settings.monitoring.model_copy(update={"bias": bias})
    return settings.model_copy(
        update={
            "project_name": name,
            "dataset": example_schema(problem_type),
            "gate": GateSettings(),
            "monitoring": monitoring,
        }
    )


def positive_outcome(settings: ProjectSettings) -> str:
    """An outcome the bias monitor counts as positive (what the drifted window's seniors get)."""
    labels = settings.resolved_bias_labels()
    if labels is None:
        raise UserError("the demo needs a bias facet and a positive outcome")
    if settings.dataset.problem_type == "regression":
        return f"{float(labels[0]) * 1.5:.2f}"
    return str(labels[0])


def run_demo(settings: ProjectSettings, options: DemoOptions, console: Console) -> DemoSummary:
    """Run every stage; return the summary (also written to ``out_dir/summary.json``)."""
    from mlops.dataset.generator import write_csv
    from mlops.demo.application import send_window
    from mlops.demo.baselines import fetch_baselines
    from mlops.demo.monitor import monitor_window
    from mlops.demo.promotion import StagePath
    from mlops.demo.report import write_demo_report

    started = time.perf_counter()
    settings = demo_settings(settings, options.problem_type)
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(console)

    with stages.stage("local-aws", "starting (or reusing) the embedded AWS on 127.0.0.1"):
        endpoint_url = ensure_local_aws(options.state_dir)
        s3 = client("s3", endpoint_url=endpoint_url, region=settings.region)
        sagemaker = client("sagemaker", endpoint_url=endpoint_url, region=settings.region)
        console.print(f"  embedded AWS at {endpoint_url}")

    target = settings.dataset.require_target()
    data = out / "data" / f"{target}.csv"
    what = (
        f"{options.rows:,} customers, {options.problem_type} target {target} (seed {options.seed})"
    )
    with stages.stage("data", f"generating {what}"):
        write_csv(data, rows=options.rows, seed=options.seed, problem_type=options.problem_type)

    with stages.stage("pipeline", "executing the pipeline definition locally"):
        local = _run_pipeline(settings, data, out / "pipeline", options.state_dir, console)
    run = local.summary
    artifacts = run.artifacts
    if (
        run.model_package_arn is None
        or artifacts.model_data is None
        or artifacts.evaluation is None
        or artifacts.baseline_statistics is None
    ):
        raise UserError(
            "the pipeline succeeded without registering a model package with its model, "
            f"evaluation and baseline (details in {local.summary_path})"
        )
    package_arn = run.model_package_arn

    with stages.stage("approve", f"approving {package_arn}"):
        approval_status = _approve(sagemaker, package_arn)

    cloudwatch = client("cloudwatch", endpoint_url=endpoint_url, region=settings.region)
    path = StagePath(
        settings, sagemaker=sagemaker, s3=s3, cloudwatch=cloudwatch, work_dir=out / "stages"
    )
    first, production = path.first.name, path.production.name
    with stages.stage("staging", f"{first}: deployed on approval, then its checks"):
        console.print(f"  {path.check(path.deploy_first(package_arn))}")
    with stages.stage("promote", f"{first} → {production}: the same package"):
        deployment = path.promote(package_arn, f"{first} checks passed (local demo)")
        console.print(f"  {production} serves {package_arn} as {deployment.endpoint_name}")
    features = feature_order(artifacts.model_data)

    scratch = out / "traffic"
    scratch.mkdir(parents=True, exist_ok=True)
    bucket = settings.names.local_data_bucket
    ensure_bucket(s3, bucket)
    capture_root = f"s3://{bucket}/{DATA_CAPTURE_PREFIX}"
    kind = options.problem_type
    rows = options.traffic_rows
    batches = {
        CLEAN: clean_batch(features, target, rows, options.seed + 1, scratch, kind),
        DRIFTED: drifted_batch(
            features,
            target,
            rows,
            options.seed + 2,
            scratch,
            kind,
            positive_outcome=positive_outcome(settings),
        ),
    }
    traffic: dict[str, TrafficResult] = {}
    for name, batch in batches.items():
        with stages.stage(
            f"traffic-{name}", f"{options.traffic_rows:,} rows via boto3 invoke_endpoint"
        ):
            traffic[name] = sent = send_window(
                batch,
                deployment,
                capture_uri=f"{capture_root}/{name}",
                s3=s3,
                region=settings.region,
                rows_per_request=options.rows_per_request,
                work_dir=scratch / batch.name,
            )
            console.print(
                f"  {sent.invocations} invocations, {sent.captured_records} captured records"
            )

    baselines = fetch_baselines(sagemaker, s3, package_arn, out / "baselines")
    windows: dict[str, WindowResult] = {}
    for name, batch in batches.items():
        with stages.stage(f"monitor-{name}", f"Model Monitor on {traffic[name].capture_uri}"):
            monitoring = monitor_window(
                settings,
                batch,
                traffic[name],
                baselines=baselines,
                model_archive=artifacts.model_data,
                out_dir=out / "monitoring" / name,
                s3=s3,
                cloudwatch=cloudwatch,
            )
            windows[name] = WindowResult(traffic[name], monitoring)
            attribution = ", ".join(
                f"{label} {score:.3f}" for label, score in (monitoring.attribution or {}).items()
            )
            console.print(
                f"  data quality {monitoring.violations}, model quality "
                f"{len(monitoring.model_quality_violations)}, bias drift "
                f"{len(monitoring.bias_violations)}, attribution drift "
                f"{len(monitoring.attribution_violations)} violation(s)"
                + (f"; attribution NDCG {attribution}" if attribution else "")
            )

    with stages.stage("retrain", "a second version: the pipeline again, on fresh data"):
        fresh = out / "data" / f"{target}-v2.csv"
        write_csv(fresh, rows=options.rows, seed=options.seed + 3, problem_type=kind)
        second = _run_pipeline(settings, fresh, out / "pipeline-v2", options.state_dir, console)
        second_arn = second.summary.model_package_arn
        if second_arn is None:
            raise UserError(
                f"the second pipeline run registered no version ({second.summary_path})"
            )
        _approve(sagemaker, second_arn)
    with stages.stage("promote-v2", f"{first} checks, then {production}"):
        path.check(path.deploy_first(second_arn))
        path.promote(second_arn, f"{first} checks passed (local demo, second version)")
    with stages.stage("rollback", f"{production} back to the version it served before"):
        rolled_back, restored = path.rollback("local demo: return to the first version")
        console.print(
            f"  {production} serves {restored.package_arn} again ({rolled_back} rolled back)"
        )

    summary = DemoSummary(
        rows=options.rows,
        problem_type=options.problem_type,
        run=run,
        run_summary_path=local.summary_path,
        model_package_arn=package_arn,
        approval_status=approval_status,
        endpoint=deployment.endpoint_name,
        clean=windows[CLEAN],
        drifted=windows[DRIFTED],
        promotion=PromotionResult(
            moves=tuple(path.moves),
            serving=dict(path.serving),
            rolled_back=rolled_back,
        ),
        stage_seconds=dict(stages.seconds),
        wall_seconds=round(time.perf_counter() - started, 1),
    )
    summary.write(out / SUMMARY_FILE)
    write_demo_report(out / REPORT_FILE, summary)
    return summary


def _run_pipeline(
    settings: ProjectSettings, data: Path, out_dir: Path, state_dir: Path, console: Console
) -> LocalRun:
    from mlops.local_runtime.executor.progress import RichProgress
    from mlops.local_runtime.executor.run import run_local_pipeline

    progress = RichProgress(console)
    local = run_local_pipeline(
        settings,
        data=data,
        out_dir=out_dir,
        state_dir=state_dir,
        observer=progress,
        on_line=progress.on_line,
    )
    if not local.summary.succeeded:
        raise UserError(
            f"the pipeline failed at step {local.summary.failed_step}: "
            f"{local.summary.failure_reason} (details in {local.summary_path})"
        )
    return local


def _approve(sagemaker: Any, package_arn: str) -> str:
    from sagemaker_pipelines.registry import set_approval

    after = set_approval(sagemaker, package_arn, "Approved", "approved by the local demo")
    return str(after.get("ModelApprovalStatus"))
