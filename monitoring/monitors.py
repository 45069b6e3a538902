"""One execution of the model-quality, bias or explainability monitor, from its inputs on disk
or S3: capture, ground truth, the registered baseline's files and (explainability, and the bias
flip test) the model. `analysis.analyze` runs the data-quality monitor.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlops.core.problem_types import ProblemType
from monitoring.bias import BiasResult, evaluate_bias
from monitoring.capture import SkippedLine, read_capture, read_ground_truth
from monitoring.errors import MonitoringInputError
from monitoring.explainability import ExplainabilityResult, evaluate_explainability
from monitoring.jsonio import read_json
from monitoring.model_quality import ModelQualityResult, evaluate_model_quality, load_constraints
from training import clarify

BIAS_DIR = "bias"
EXPLAINABILITY_DIR = "explainability"
MODEL_QUALITY_DIR = "model_quality"


def load_model(archive: Path) -> clarify.EncodedModel:
    """The booster and feature spec of a ``model.tar.gz`` (contracts §4)."""
    archive = Path(archive)
    if not archive.is_file():
        raise MonitoringInputError(f"model archive not found: {archive}")
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / "in"
        staged.mkdir()
        (staged / clarify.MODEL_ARCHIVE).symlink_to(archive.resolve())
        unpacked = Path(scratch) / "model"
        unpacked.mkdir()
        try:
            return clarify.load_encoded_model(staged, unpacked)
        except clarify.ClarifyError as error:
            raise MonitoringInputError(f"{archive}: {error}") from None


def run_model_quality(
    capture: Path | str,
    ground_truth: Path | str,
    out_dir: Path,
    *,
    baseline: Path | None,
    problem_type: ProblemType,
    positive_label: str,
    prediction_threshold: float,
    s3_client: Any = None,
    skipped: list[SkippedLine] | None = None,
) -> ModelQualityResult:
    """Captured predictions joined with ground truth, against a model-quality baseline."""
    skipped = skipped if skipped is not None else []
    records = read_capture(capture, s3_client=s3_client, skipped=skipped)
    labels = _ground_truth(ground_truth, s3_client, skipped)
    return evaluate_model_quality(
        records,
        labels,
        Path(out_dir) / MODEL_QUALITY_DIR,
        constraints=load_constraints(baseline) if baseline else None,
        positive_label=positive_label,
        threshold=prediction_threshold,
        problem_type=problem_type,
    )


def run_bias(
    capture: Path | str,
    ground_truth: Path | str,
    out_dir: Path,
    *,
    baseline: Path,
    problem_type: ProblemType,
    positive_label: str,
    negative_label: str,
    prediction_threshold: float,
    model: clarify.EncodedModel | None = None,
    s3_client: Any = None,
    skipped: list[SkippedLine] | None = None,
) -> BiasResult:
    """Bias drift of the labelled traffic; ``baseline`` is the ModelBiasBaseline output
    (``constraints.json`` + ``analysis_config.json``)."""
    baseline = Path(baseline)
    config = read_json(baseline / clarify.CONFIG_FILE, what="bias analysis configuration")
    constraints = read_json(baseline / clarify.CONSTRAINTS_FILE, what="bias constraints")
    skipped = skipped if skipped is not None else []
    records = read_capture(capture, s3_client=s3_client, skipped=skipped)
    labels = _ground_truth(ground_truth, s3_client, skipped)
    return evaluate_bias(
        records,
        labels,
        Path(out_dir) / BIAS_DIR,
        config=config,
        constraints=constraints,
        problem_type=problem_type,
        positive_label=positive_label,
        negative_label=negative_label,
        prediction_threshold=prediction_threshold,
        model=model,
    )


def run_explainability(
    capture: Path | str,
    out_dir: Path,
    *,
    baseline: Path,
    model: clarify.EncodedModel,
    s3_client: Any = None,
    skipped: list[SkippedLine] | None = None,
) -> ExplainabilityResult:
    """Feature attribution drift of the captured rows; ``baseline`` is the
    ModelExplainabilityBaseline output (``analysis.json`` + ``analysis_config.json``)."""
    baseline = Path(baseline)
    reference = read_json(baseline / clarify.ANALYSIS_FILE, what="explainability baseline")
    config_file = baseline / clarify.CONFIG_FILE
    method = "mean_abs"
    if config_file.is_file():
        config = read_json(config_file, what="explainability analysis configuration")
        method = str(((config.get("methods") or {}).get("shap") or {}).get("agg_method", method))
    skipped = skipped if skipped is not None else []
    records = read_capture(capture, s3_client=s3_client, skipped=skipped)
    return evaluate_explainability(
        records,
        Path(out_dir) / EXPLAINABILITY_DIR,
        model=model,
        baseline=reference,
        method=method,
        skipped=skipped,
    )


def _ground_truth(source: Path | str, s3_client: Any, skipped: list[SkippedLine]) -> list[Any]:
    labels = read_ground_truth(source, s3_client=s3_client, skipped=skipped)
    if not labels:
        raise MonitoringInputError(f"no ground-truth records in {source}")
    return labels
