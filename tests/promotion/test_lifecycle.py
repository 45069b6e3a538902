"""Promotion and rollback recorded in the registry's ModelLifeCycle (moto, in-process)."""

from __future__ import annotations

import time

import pytest

from sagemaker_pipelines.lifecycle import (
    CHECKS_FAILED,
    PromotionRefusedError,
    StageRecord,
    lifecycle_of,
    promote,
    record_check,
    record_in_service,
    rollback,
)
from sagemaker_pipelines.registry import describe_package
from tests.promotion.conftest import GROUP, STAGES, Registry


def _lifecycle(registry: Registry, arn: str) -> StageRecord | None:
    return lifecycle_of(describe_package(registry.sagemaker, arn))


def _in_prod(registry: Registry, arn: str) -> None:
    """``arn`` passed staging and was promoted to prod, as the CLI does it."""
    record_check(registry.sagemaker, arn, stage="staging", passed=True, description="smoke ok")
    promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="prod", reason="ship it")
    record_in_service(registry.sagemaker, arn, stage="prod", description="stack updated")
    time.sleep(0.01)  # LastModifiedTime orders what was superseded when


def test_recording_a_stage_keeps_the_approval_and_the_metadata(registry: Registry) -> None:
    arn = registry.register(metadata={"problem-type": "binary", "gate-value": "0.91"})
    record_check(registry.sagemaker, arn, stage="staging", passed=True, description="ok")
    package = describe_package(registry.sagemaker, arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["CustomerMetadataProperties"] == {"problem-type": "binary", "gate-value": "0.91"}
    assert package["ModelLifeCycle"] == {
        "Stage": "staging",
        "StageStatus": "ChecksPassed",
        "StageDescription": "ok",
    }


def test_promotion_before_the_staging_checks_pass_is_refused(registry: Registry) -> None:
    arn = registry.register()
    with pytest.raises(PromotionRefusedError, match="has not passed the staging checks"):
        promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="prod", reason="r")
    record_check(registry.sagemaker, arn, stage="staging", passed=False, description="5xx")
    with pytest.raises(PromotionRefusedError, match=f"staging/{CHECKS_FAILED}"):
        promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="prod", reason="r")
    assert _lifecycle(registry, arn) == StageRecord("staging", CHECKS_FAILED, "5xx")


def test_promotion_records_the_reason_and_supersedes_the_production_version(
    registry: Registry,
) -> None:
    first, second = registry.register(), registry.register()
    _in_prod(registry, first)
    record_check(registry.sagemaker, second, stage="staging", passed=True, description="ok")
    promotion = promote(
        registry.sagemaker, GROUP, second, stages=STAGES, to="prod", reason="AUC 0.91, CAB-17"
    )
    assert promotion.superseded == first
    assert _lifecycle(registry, second) == StageRecord("prod", "Deploying", "AUC 0.91, CAB-17")
    superseded = _lifecycle(registry, first)
    assert superseded is not None
    assert (superseded.stage, superseded.status) == ("prod", "Superseded")
    assert "version 2" in superseded.description


def test_only_approved_versions_are_promoted(registry: Registry) -> None:
    arn = registry.register(approved=False)
    with pytest.raises(PromotionRefusedError, match="not Approved"):
        promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="prod", reason="r")


def test_the_first_stage_is_reached_by_approval_not_promotion(registry: Registry) -> None:
    arn = registry.register()
    with pytest.raises(PromotionRefusedError, match="by approval"):
        promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="staging", reason="r")
    with pytest.raises(PromotionRefusedError, match="no stage 'production'"):
        promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="production", reason="r")


def test_a_promotion_without_a_reason_is_refused(registry: Registry) -> None:
    arn = registry.register()
    record_check(registry.sagemaker, arn, stage="staging", passed=True, description="ok")
    with pytest.raises(PromotionRefusedError, match="needs a reason"):
        promote(registry.sagemaker, GROUP, arn, stages=STAGES, to="prod", reason="  ")


def test_rollback_returns_production_to_the_version_it_served_before(
    registry: Registry,
) -> None:
    first, second = registry.register(), registry.register()
    _in_prod(registry, first)
    _in_prod(registry, second)
    done = rollback(registry.sagemaker, GROUP, stage="prod", reason="latency up")
    assert (done.from_arn, done.to_arn) == (second, first)
    rolled_back = _lifecycle(registry, second)
    assert rolled_back is not None
    assert (rolled_back.stage, rolled_back.status) == ("prod", "RolledBack")
    restored = _lifecycle(registry, first)
    assert restored is not None
    assert (restored.stage, restored.status) == ("prod", "Deploying")
    assert "latency up" in restored.description


def test_rollback_goes_to_the_last_superseded_version_not_the_highest_number(
    registry: Registry,
) -> None:
    v1, v2, v3 = registry.register(), registry.register(), registry.register()
    _in_prod(registry, v3)
    _in_prod(registry, v2)  # an older version promoted later
    _in_prod(registry, v1)
    assert rollback(registry.sagemaker, GROUP, stage="prod", reason="r").to_arn == v2


def test_rollback_without_an_earlier_production_version_is_refused(registry: Registry) -> None:
    with pytest.raises(PromotionRefusedError, match="no version"):
        rollback(registry.sagemaker, GROUP, stage="prod", reason="r")
    _in_prod(registry, registry.register())
    with pytest.raises(PromotionRefusedError, match="served no version before"):
        rollback(registry.sagemaker, GROUP, stage="prod", reason="r")


def test_rollback_to_a_version_rejected_since_is_refused(registry: Registry) -> None:
    first, second = registry.register(), registry.register()
    _in_prod(registry, first)
    _in_prod(registry, second)
    registry.sagemaker.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Rejected")
    with pytest.raises(PromotionRefusedError, match="Rejected now"):
        rollback(registry.sagemaker, GROUP, stage="prod", reason="r")
