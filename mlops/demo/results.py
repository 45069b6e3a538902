"""What each demo stage hands to the next, and the ``summary.json`` they add up to.

``summary.json`` is a documented interface (README "What make demo does", docs/contracts.md
§12, asserted by tests/demo): `DemoSummary.to_json` writes exactly its keys, and the stages
pass these typed results instead of building the document piece by piece.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops.demo.promotion import StageMove
    from mlops.local_runtime.executor.run import RunSummary

CLEAN = "clean"
DRIFTED = "drifted"


@dataclass(frozen=True)
class TrafficResult:
    """One traffic window as the endpoint saw it."""

    capture_uri: str  # where this window's data capture landed
    invocations: int  # invoke_endpoint calls the endpoint answered
    captured_records: int  # capture records written (one per sampled invocation)
    predictions: int  # predictions the application received


@dataclass(frozen=True)
class Finding:
    """One data-quality violation (a ``constraint_violations.json`` entry)."""

    feature: str
    check: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {"feature": self.feature, "check": self.check, "description": self.description}


@dataclass(frozen=True)
class QualityViolation:
    """One model-quality violation: a metric that crossed its baseline threshold."""

    metric: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {"metric": self.metric, "description": self.description}


@dataclass(frozen=True)
class BiasFinding:
    """One bias drift violation: a metric of a facet group beyond its baseline constraint."""

    facet: str
    facet_value: str
    metric: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {
            "facet": self.facet,
            "facet_value": self.facet_value,
            "metric": self.metric,
            "description": self.description,
        }


@dataclass(frozen=True)
class MonitoringResult:
    """Model Monitor on one window's captured data."""

    records: int  # rows analysed
    findings: tuple[Finding, ...]
    model_quality: Mapping[str, float] | None  # rounded metrics; None without ground truth
    model_quality_violations: tuple[QualityViolation, ...]
    drift: Mapping[str, float]  # baseline drift distance per feature, rounded
    metrics_published: int  # CloudWatch data points
    violations_file: Path
    report: Path
    bias_violations: tuple[BiasFinding, ...] = ()
    attribution: Mapping[str, float] | None = None  # NDCG per explained output; None: not run
    attribution_violations: tuple[str, ...] = ()  # descriptions, one per drifted output

    @property
    def violations(self) -> int:
        return len(self.findings)


@dataclass(frozen=True)
class WindowResult:
    """A traffic window and what Model Monitor found in it."""

    traffic: TrafficResult
    monitoring: MonitoringResult

    def to_json(self) -> dict[str, Any]:
        traffic, monitoring = self.traffic, self.monitoring
        return {
            "capture": traffic.capture_uri,
            "invocations": traffic.invocations,
            "captured_records": traffic.captured_records,
            "records": monitoring.records,
            "violations": monitoring.violations,
            "model_quality": (
                dict(monitoring.model_quality) if monitoring.model_quality is not None else None
            ),
            "model_quality_violations": [v.to_json() for v in monitoring.model_quality_violations],
            "drift": dict(monitoring.drift),
            "metrics_published": monitoring.metrics_published,
            "violations_file": str(monitoring.violations_file),
            "report": str(monitoring.report),
            "bias_violations": [v.to_json() for v in monitoring.bias_violations],
            "attribution": (
                dict(monitoring.attribution) if monitoring.attribution is not None else None
            ),
            "attribution_violations": list(monitoring.attribution_violations),
        }


@dataclass(frozen=True)
class PromotionResult:
    """The versions' path through the stages: every recorded move, who serves what at the end."""

    moves: tuple[StageMove, ...]
    serving: Mapping[str, str | None]  # stage → the version its endpoint's records serve
    rolled_back: str  # the version production was rolled back from

    def to_json(self) -> dict[str, Any]:
        return {
            "moves": [move.to_json() for move in self.moves],
            "serving": dict(self.serving),
            "rolled_back": self.rolled_back,
        }


@dataclass(frozen=True)
class DemoSummary:
    """The whole run: the pipeline, the deployment, both windows and the time each stage took."""

    rows: int
    problem_type: str
    run: RunSummary
    run_summary_path: Path
    model_package_arn: str
    approval_status: str
    endpoint: str
    clean: WindowResult
    drifted: WindowResult
    promotion: PromotionResult
    stage_seconds: Mapping[str, float]
    wall_seconds: float

    @property
    def windows(self) -> dict[str, WindowResult]:
        return {CLEAN: self.clean, DRIFTED: self.drifted}

    @property
    def auc(self) -> float | None:
        return self.run.metrics.get("auc")

    @property
    def invocations(self) -> int:
        return sum(window.traffic.invocations for window in self.windows.values())

    @property
    def captured_records(self) -> int:
        return sum(window.traffic.captured_records for window in self.windows.values())

    @property
    def predictions(self) -> int:
        return sum(window.traffic.predictions for window in self.windows.values())

    def to_json(self) -> dict[str, Any]:
        """The ``summary.json`` document."""
        run = self.run.to_json()
        return {
            "rows": self.rows,
            "problem_type": self.problem_type,
            "auc": self.auc,
            "metrics": dict(self.run.metrics),
            "model_package_arn": self.model_package_arn,
            "approval_status": self.approval_status,
            "endpoint": self.endpoint,
            "invocations": self.invocations,
            "captured_records": self.captured_records,
            "predictions": self.predictions,
            "violations_clean": self.clean.monitoring.violations,
            "violations_drifted": self.drifted.monitoring.violations,
            "drifted_findings": [f.to_json() for f in self.drifted.monitoring.findings],
            "model_quality_violations_clean": len(self.clean.monitoring.model_quality_violations),
            "model_quality_violations_drifted": len(
                self.drifted.monitoring.model_quality_violations
            ),
            "windows": {name: window.to_json() for name, window in self.windows.items()},
            "pipeline": {
                "steps": run["steps"],
                "summary": str(self.run_summary_path),
                "model_data": run["model_data"],
                "evaluation": run["evaluation"],
                "baseline_statistics": run["baseline_statistics"],
                "baseline_constraints": run["baseline_constraints"],
                "plots": run["plots"],
            },
            "stage_seconds": dict(self.stage_seconds),
            "wall_seconds": self.wall_seconds,
            "bias_violations_clean": len(self.clean.monitoring.bias_violations),
            "bias_violations_drifted": len(self.drifted.monitoring.bias_violations),
            "attribution_violations_clean": len(self.clean.monitoring.attribution_violations),
            "attribution_violations_drifted": len(self.drifted.monitoring.attribution_violations),
            "promotion": self.promotion.to_json(),
        }

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path
