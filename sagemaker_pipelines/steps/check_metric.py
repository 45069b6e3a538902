"""The gate between Evaluate and Register: CheckMetric → Register | CheckPredictions.

CheckMetric registers the model only when both hold: it gave at least two distinct answers on
the test split (a model that answers one class for every row, or one value for a regression,
is refused whatever its metric — an AUC of 1.0 with every probability under the threshold once
passed an AUC-only gate), and the gate metric chosen in the settings (``gate.metric``, default
per problem type) reaches the ``MetricThreshold`` parameter (≥, or ≤ for an error metric such
as rmse). When it refuses, CheckPredictions names the reason: ConstantPredictions (first: a
constant model is the more fundamental failure) or MetricBelowThreshold. Each fails the
execution visibly, with the numbers in its message, instead of succeeding without a new
package version, so ``start --wait`` and the console show why nothing was registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.evaluate import evaluated
from sagemaker_pipelines.steps.names import (
    CHECK_METRIC,
    CHECK_PREDICTIONS,
    CONSTANT_PREDICTIONS,
    DISTINCT_PREDICTIONS_PATH,
    FAIL,
    PREDICTION_CHECK_MESSAGE_PATH,
)

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.steps import ProcessingStep

THRESHOLD_PARAMETER = "MetricThreshold"


def build_fail(ctx: StepContext, evaluate: ProcessingStep) -> FailStep:
    """Fail with ``Test <metric> <value> is below the MetricThreshold parameter <threshold>``
    (``above`` for an error metric)."""
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.fail_step import FailStep

    gate = ctx.settings.resolved_gate()
    side = "below" if gate.higher_is_better else "above"
    return FailStep(
        name=FAIL,
        error_message=Join(
            on=" ",
            values=[
                f"Test {gate.metric}",
                evaluated(evaluate, gate.path),
                f"is {side} the {THRESHOLD_PARAMETER} parameter",
                ctx.parameters[THRESHOLD_PARAMETER],
                f"(gate.metric {gate.metric}: choose another in the settings, or pass "
                f"--param {THRESHOLD_PARAMETER}=VALUE)",
            ],
        ),
    )


def build_check_metric(
    ctx: StepContext, evaluate: ProcessingStep, *, passed: ModelStep, refused: ConditionStep
) -> ConditionStep:
    """Run ``passed`` when the predictions vary and the gate metric is on the right side of
    ``MetricThreshold``; else ``refused`` (which names why)."""
    from sagemaker.core.workflow.conditions import (
        ConditionGreaterThanOrEqualTo,
        ConditionLessThanOrEqualTo,
    )
    from sagemaker.mlops.workflow.condition_step import ConditionStep

    gate = ctx.settings.resolved_gate()
    compare = ConditionGreaterThanOrEqualTo if gate.higher_is_better else ConditionLessThanOrEqualTo
    return ConditionStep(
        name=CHECK_METRIC,
        conditions=[
            _varied_predictions(evaluate),
            compare(left=evaluated(evaluate, gate.path), right=ctx.parameters[THRESHOLD_PARAMETER]),
        ],
        if_steps=[passed],
        else_steps=[refused],
    )


def _varied_predictions(evaluate: ProcessingStep) -> Any:
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo

    return ConditionGreaterThanOrEqualTo(
        left=evaluated(evaluate, DISTINCT_PREDICTIONS_PATH), right=2
    )


def build_constant_fail(evaluate: ProcessingStep) -> FailStep:
    """Fail with evaluate.py's description of the constant model."""
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.fail_step import FailStep

    return FailStep(
        name=CONSTANT_PREDICTIONS,
        error_message=Join(
            on=" ",
            values=[
                "Constant predictions:",
                evaluated(evaluate, PREDICTION_CHECK_MESSAGE_PATH),
            ],
        ),
    )


def build_check_predictions(
    evaluate: ProcessingStep, *, below_threshold: FailStep, constant: FailStep
) -> ConditionStep:
    """Why CheckMetric refused: ``constant`` when the model gave one answer for every test
    row, else ``below_threshold``."""
    from sagemaker.mlops.workflow.condition_step import ConditionStep

    return ConditionStep(
        name=CHECK_PREDICTIONS,
        conditions=[_varied_predictions(evaluate)],
        if_steps=[below_threshold],
        else_steps=[constant],
    )
