"""CheckMetric → Register | AucBelowThreshold: only a model good enough on test data is registered.

The execution fails visibly (a Fail step with the numbers) instead of succeeding without a new
package version, so ``start --wait`` and the console show why nothing was registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.evaluate import evaluated_auc
from sagemaker_pipelines.steps.names import CHECK_METRIC, FAIL

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.steps import ProcessingStep


def build_fail(ctx: StepContext, evaluate: ProcessingStep) -> FailStep:
    """Fail with ``Test AUC <auc> is below the AucThreshold parameter <threshold>``."""
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.fail_step import FailStep

    return FailStep(
        name=FAIL,
        error_message=Join(
            on=" ",
            values=[
                "Test AUC",
                evaluated_auc(evaluate),
                "is below the AucThreshold parameter",
                ctx.parameters["AucThreshold"],
            ],
        ),
    )


def build_check_metric(
    ctx: StepContext, evaluate: ProcessingStep, *, passed: ModelStep, failed: FailStep
) -> ConditionStep:
    """Run ``passed`` when the test AUC ≥ ``AucThreshold``, else ``failed``."""
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.mlops.workflow.condition_step import ConditionStep

    return ConditionStep(
        name=CHECK_METRIC,
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=evaluated_auc(evaluate), right=ctx.parameters["AucThreshold"]
            )
        ],
        if_steps=[passed],
        else_steps=[failed],
    )
