"""Approval and promotion → deployment, under moto: the rule, the Lambda and the stages'
serving stacks together.

The serving stacks are the synthesized ones (no package yet) created in moto's CloudFormation;
events are built from ``describe_model_package`` in the shape SageMaker sends to EventBridge.
Approval deploys to the first stage (staging); a promotion recorded in the registry's
lifecycle deploys to production.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from infra.deploy.approval import approval_event_pattern
from infra.deploy.runtime import handler as deployer
from infra.serving import stack as serving
from mlops.local_runtime.moto_registry import install
from tests.infra.conftest import Synthesized
from tests.infra.moto_stacks import create_stack
from tests.infra.test_model_monitors import resolve

REGION = "us-east-1"
GROUP = "churn-mlops-models"
STACK = "churn-mlops-staging-serving"
PROD_STACK = "churn-mlops-serving"
ARTIFACTS = "churn-mlops-artifacts-123456789012-us-east-1"
CFN_ROLE = "arn:aws:iam::123456789012:role/churn-mlops-staging-cfn-serving-us-east-1"
PROD_CFN_ROLE = "arn:aws:iam::123456789012:role/churn-mlops-cfn-serving-us-east-1"
# The serving stack's parameters of the optional monitors (infra.serving.stack).
MONITOR_PARAMETERS = (
    serving.MODEL_QUALITY_CONSTRAINTS_URI,
    serving.BIAS_CONFIG_URI,
    serving.BIAS_CONSTRAINTS_URI,
    serving.EXPLAINABILITY_CONFIG_URI,
    serving.EXPLAINABILITY_CONSTRAINTS_URI,
    serving.EXPLAINABILITY_MODEL_PREFIX,
)
# As the deploy stack configures the Lambda (the monitoring instance type for Clarify).
STAGES = (
    deployer.StageTarget(
        "staging", STACK, CFN_ROLE, region=REGION, explainer_instance_type="ml.m5.large"
    ),
    deployer.StageTarget(
        "prod", PROD_STACK, PROD_CFN_ROLE, region=REGION, explainer_instance_type="ml.m5.large"
    ),
)
MONITOR_CONFIGS = f"s3://{ARTIFACTS}/churn-mlops-pipeline/monitor-configs"
CLARIFY_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clarify"


@dataclass
class Registry:
    sagemaker: Any
    s3: Any
    cloudformation: Any
    version: int = 0

    def register(self, *, baselines: bool = True, every_monitor: bool = False) -> str:
        """A pending model version whose baselines exist in the artifact bucket: data quality,
        and with ``every_monitor`` model quality and bias as register.py records them."""
        self.version += 1
        kwargs: dict[str, Any] = {}
        if baselines:
            drift = {
                "ModelDataQuality": {
                    "Statistics": self.baseline("data-quality/statistics.json"),
                    "Constraints": self.baseline("data-quality/constraints.json"),
                }
            }
            if every_monitor:
                bias = self.baseline("bias/constraints.json")
                drift |= {
                    "ModelQuality": {
                        "Statistics": self.baseline("model-quality/statistics.json"),
                        "Constraints": self.baseline("model-quality/constraints.json"),
                    },
                    "Bias": {
                        "ConfigFile": self.baseline("bias/analysis_config.json"),
                        "PreTrainingConstraints": bias,
                        "PostTrainingConstraints": bias,
                    },
                    "Explainability": {
                        "ConfigFile": self.baseline("explainability/analysis_config.json"),
                        "Constraints": self.baseline("explainability/analysis.json"),
                    },
                }
            kwargs["DriftCheckBaselines"] = drift
        response = self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
                        "ModelDataUrl": f"s3://{ARTIFACTS}/churn-mlops-pipeline/exec-{self.version}/train/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json", "text/csv"],
            },
            **kwargs,
        )
        return str(response["ModelPackageArn"])

    def baseline_uri(self, path: str) -> str:
        return f"s3://{ARTIFACTS}/churn-mlops-pipeline/exec-{self.version}/{path}"

    def baseline(self, path: str) -> dict[str, str]:
        """A baseline object of the current version, written to the artifact bucket."""
        key = f"churn-mlops-pipeline/exec-{self.version}/{path}"
        self.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=b"{}")
        return {"ContentType": "application/json", "S3Uri": f"s3://{ARTIFACTS}/{key}"}

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def event(self, arn: str) -> dict[str, Any]:
        """The "SageMaker Model Package State Change" event for the package as it is now."""
        package = self.sagemaker.describe_model_package(ModelPackageName=arn)
        package.pop("ResponseMetadata", None)
        detail = json.loads(json.dumps(package, default=_epoch_millis))
        return {
            "version": "0",
            "id": f"event-{arn.rsplit('/', 1)[-1]}-{detail['ModelApprovalStatus']}",
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": "123456789012",
            "time": "2026-11-26T12:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": detail,
        }

    def stack_parameters(self, stack_name: str = STACK) -> dict[str, str]:
        stack = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

    def served_model_prefix(self, stack_name: str = STACK) -> str:
        """The serving stack's ``ServedModelPrefix`` output, as the Lambda reads it."""
        stack = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        return outputs["ServedModelPrefix"]


def _epoch_millis(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    raise TypeError(value)


@pytest.fixture(scope="module")
def registry(synthesized: Synthesized) -> Iterator[Registry]:
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        create_stack(cloudformation, "churn-mlops-storage", synthesized.templates["Storage"])
        create_stack(cloudformation, STACK, synthesized.templates["StagingServing"])
        create_stack(cloudformation, PROD_STACK, synthesized.templates["Serving"])
        install()  # the registry's ModelLifeCycle, as the local AWS has it
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        yield Registry(sagemaker, boto3.client("s3", region_name=REGION), cloudformation)


@pytest.fixture
def deploy(registry: Registry) -> Any:
    config = deployer.Config(
        model_package_group=GROUP, stages=STAGES, monitor_configs=MONITOR_CONFIGS
    )

    def run(event: dict[str, Any]) -> deployer.Decision:
        return deployer.deploy(
            event,
            config=config,
            sagemaker=registry.sagemaker,
            s3=registry.s3,
            cloudformation_for=lambda target: registry.cloudformation,
        )

    return run


def _matches(event: dict[str, Any]) -> bool:
    pattern = EventPattern.load(json.dumps(approval_event_pattern(GROUP)))
    return bool(pattern.matches_event(event))  # type: ignore[arg-type]


def test_rule_matches_approved_packages_of_the_group_only(registry: Registry) -> None:
    arn = registry.register()
    assert not _matches(registry.event(arn))
    registry.set_status(arn, "Approved")
    approved = registry.event(arn)
    assert _matches(approved)
    other_group = {**approved, "detail": {**approved["detail"], "ModelPackageGroupName": "x"}}
    assert not _matches(other_group)


def test_rule_in_the_template_is_the_tested_pattern(synthesized: Synthesized) -> None:
    rule = synthesized.one("Deploy", "AWS::Events::Rule")["Properties"]
    assert rule["EventPattern"] == approval_event_pattern(GROUP)
    function = synthesized.one("Deploy", "AWS::Lambda::Function")["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["FunctionName"] == "churn-mlops-deployer"
    roles = synthesized.resources("Deploy", "AWS::IAM::Role")
    by_name = {role["Properties"]["RoleName"]: logical for logical, role in roles.items()}
    variables = function["Environment"]["Variables"]
    assert variables["MODEL_PACKAGE_GROUP"] == GROUP
    stages = json.dumps(variables["STAGES"])
    # In order: approval deploys to staging; each stage updated as its own role.
    assert stages.index(STACK) < stages.index(f'\\"{PROD_STACK}\\"')
    for name in ("churn-mlops-staging-cfn-serving-us-east-1", "churn-mlops-cfn-serving-us-east-1"):
        assert json.dumps({"Fn::GetAtt": [by_name[name], "Arn"]}) in stages


def test_approved_version_becomes_the_served_one(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    arn = registry.register()
    registry.set_status(arn, "Approved")
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", GROUP)
    monkeypatch.setenv(
        "STAGES", json.dumps([{**vars(stage), "region": REGION} for stage in STAGES])
    )
    with caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        result = deployer.handler(registry.event(arn), None)  # the Lambda entry point
    assert result["action"] == "deployed"
    parameters = registry.stack_parameters()
    assert parameters["ModelPackageArn"] == arn
    prefix = f"s3://{ARTIFACTS}/churn-mlops-pipeline/exec-{registry.version}/data-quality"
    assert parameters["BaselineStatisticsUri"] == f"{prefix}/statistics.json"
    assert parameters["BaselineConstraintsUri"] == f"{prefix}/constraints.json"
    # The update created the conditional endpoint resources (moto names the endpoint after
    # its logical id rather than EndpointName, so look it up through the stack).
    endpoint_id = registry.cloudformation.describe_stack_resources(StackName=STACK)[
        "StackResources"
    ]
    physical = next(
        r["PhysicalResourceId"]
        for r in endpoint_id
        if r.get("ResourceType") == "AWS::SageMaker::Endpoint"
    )
    endpoint = registry.sagemaker.describe_endpoint(EndpointName=physical.rsplit("/", 1)[-1])
    assert endpoint["EndpointStatus"] == "InService"
    messages = [r.getMessage() for r in caplog.records if r.name == "deploy_on_approval"]
    assert len(messages) == 1
    assert messages[0].startswith(f"decision=deployed model_package={arn} reason=updating {STACK}")


def test_a_version_with_every_baseline_sets_every_monitor_parameter(
    registry: Registry, deploy: Any
) -> None:
    arn = registry.register(every_monitor=True)
    registry.set_status(arn, "Approved")
    assert deploy(registry.event(arn)).action == "deployed"
    parameters = registry.stack_parameters()
    prefix = registry.served_model_prefix()
    model = f"{prefix}{registry.version}"
    assert {key: parameters[key] for key in MONITOR_PARAMETERS} == {
        "ModelQualityConstraintsUri": registry.baseline_uri("model-quality/constraints.json"),
        "BiasConfigUri": registry.baseline_uri("bias/analysis_config.json"),
        "BiasConstraintsUri": registry.baseline_uri("bias/constraints.json"),
        # The stage's config (the baseline's plus its predictor), not the baseline's own.
        "ExplainabilityConfigUri": f"{MONITOR_CONFIGS}/staging/{model}/analysis_config.json",
        "ExplainabilityConstraintsUri": registry.baseline_uri("explainability/analysis.json"),
        "ExplainabilityModelPrefix": prefix,
    }


def test_a_version_with_only_data_quality_clears_the_other_monitors(
    registry: Registry, deploy: Any
) -> None:
    earlier = registry.register(every_monitor=True)
    registry.set_status(earlier, "Approved")
    assert deploy(registry.event(earlier)).action == "deployed"
    arn = registry.register()
    registry.set_status(arn, "Approved")
    assert deploy(registry.event(arn)).action == "deployed"
    parameters = registry.stack_parameters()
    assert parameters["ModelPackageArn"] == arn
    # The earlier version's baselines must not be checked against this version's traffic.
    assert {key: parameters[key] for key in MONITOR_PARAMETERS} == dict.fromkeys(
        MONITOR_PARAMETERS, ""
    )
    assert parameters[serving.ATTRIBUTION_ALARM_FEATURE] == ""


def test_a_version_whose_bias_baseline_is_missing_is_refused(
    registry: Registry, deploy: Any
) -> None:
    arn = registry.register(every_monitor=True)
    registry.set_status(arn, "Approved")
    key = f"churn-mlops-pipeline/exec-{registry.version}/bias/analysis_config.json"
    registry.s3.delete_object(Bucket=ARTIFACTS, Key=key)
    before = registry.stack_parameters()
    decision = deploy(registry.event(arn))
    assert decision.action == "refused"
    assert "bias/analysis_config.json" in decision.reason
    assert registry.stack_parameters() == before


def test_repeated_event_for_the_served_version_changes_nothing(
    registry: Registry, deploy: Any
) -> None:
    arn = registry.register()
    registry.set_status(arn, "Approved")
    assert deploy(registry.event(arn)).action == "deployed"
    before = registry.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    decision = deploy(registry.event(arn))
    assert decision.action == "already-deployed"
    after = registry.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert after["Parameters"] == before["Parameters"]
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_pending_or_rejected_versions_are_not_deployed(
    registry: Registry, deploy: Any, status: str
) -> None:
    arn = registry.register()
    registry.set_status(arn, status)
    before = registry.stack_parameters()
    decision = deploy(registry.event(arn))
    assert (decision.action, decision.reason) == ("ignored", f"status is {status!r}, not Approved")
    assert registry.stack_parameters() == before


def test_version_rejected_after_its_approval_event_is_not_deployed(
    registry: Registry, deploy: Any
) -> None:
    arn = registry.register()
    registry.set_status(arn, "Approved")
    stale_event = registry.event(arn)
    registry.set_status(arn, "Rejected")
    before = registry.stack_parameters()
    decision = deploy(stale_event)
    assert decision.action == "ignored"
    assert "Rejected" in decision.reason
    assert registry.stack_parameters() == before


def test_version_without_baselines_is_refused(
    registry: Registry, deploy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    arn = registry.register(baselines=False)
    registry.set_status(arn, "Approved")
    before = registry.stack_parameters()
    with caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        decision = deploy(registry.event(arn))
    assert decision.action == "refused"
    assert registry.stack_parameters() == before
    assert caplog.records[-1].levelno == logging.ERROR


def test_the_update_runs_as_the_serving_stack_role_with_the_previous_template(
    registry: Registry, deploy: Any
) -> None:
    """What the Lambda sends: the stack's current template, the dedicated role, nothing else."""
    arn = registry.register()
    registry.set_status(arn, "Approved")
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        sent.append(dict(params))

    registry.cloudformation.meta.events.register("provide-client-params.*.UpdateStack", record)
    try:
        assert deploy(registry.event(arn)).action == "deployed"
    finally:
        registry.cloudformation.meta.events.unregister(
            "provide-client-params.*.UpdateStack", record
        )
    (request,) = sent
    assert request["UsePreviousTemplate"] is True
    assert not {"TemplateBody", "TemplateURL"} & set(request)
    assert request["RoleARN"] == CFN_ROLE
    stack = registry.cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["RoleARN"] == CFN_ROLE  # CloudFormation recorded the role it ran as


def _promote_in_registry(registry: Registry, arn: str, stage: str, status: str) -> None:
    """What `mlops models promote` records before it asks the Lambda to deploy."""
    registry.sagemaker.update_model_package(
        ModelPackageArn=arn, ModelLifeCycle={"Stage": stage, "StageStatus": status}
    )


def test_approval_deploys_to_the_first_stage_only(registry: Registry, deploy: Any) -> None:
    arn = registry.register()
    registry.set_status(arn, "Approved")
    production = registry.stack_parameters(PROD_STACK)
    assert deploy(registry.event(arn)).action == "deployed"
    assert registry.stack_parameters()["ModelPackageArn"] == arn
    assert registry.stack_parameters(PROD_STACK) == production


def test_a_promoted_version_is_deployed_to_production(registry: Registry, deploy: Any) -> None:
    arn = registry.register()
    registry.set_status(arn, "Approved")
    _promote_in_registry(registry, arn, "prod", "Deploying")
    decision = deploy({"deploy": {"stage": "prod", "model_package_arn": arn}})
    assert decision.action == "deployed"
    assert "stage prod" in decision.reason
    assert registry.stack_parameters(PROD_STACK)["ModelPackageArn"] == arn


@pytest.mark.parametrize(
    ("lifecycle", "refusal"),
    [(None, "records None/None"), (("staging", "ChecksPassed"), "staging/ChecksPassed")],
)
def test_a_version_the_registry_does_not_record_as_promoted_is_refused(
    registry: Registry, deploy: Any, lifecycle: tuple[str, str] | None, refusal: str
) -> None:
    arn = registry.register()
    registry.set_status(arn, "Approved")
    if lifecycle is not None:
        _promote_in_registry(registry, arn, *lifecycle)
    before = registry.stack_parameters(PROD_STACK)
    decision = deploy({"deploy": {"stage": "prod", "model_package_arn": arn}})
    assert decision.action == "refused"
    assert refusal in decision.reason
    assert registry.stack_parameters(PROD_STACK) == before


def test_a_stage_in_another_account_is_reached_through_its_access_role() -> None:
    access = "arn:aws:iam::222222222222:role/churn-mlops-access-us-east-1"
    target = deployer.StageTarget("prod", PROD_STACK, PROD_CFN_ROLE, access, REGION)
    with mock_aws():
        client = deployer.cloudformation_client(target)
        identity = boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=client._request_signer._credentials.access_key,
            aws_secret_access_key=client._request_signer._credentials.secret_key,
            aws_session_token=client._request_signer._credentials.token,
        ).get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"].endswith("assumed-role/churn-mlops-access-us-east-1/deploy-prod")


def test_the_lambda_sets_parameters_the_serving_stack_declares(synthesized: Synthesized) -> None:
    declared = synthesized.templates["Serving"]["Parameters"]
    sent = (
        deployer.MODEL_PACKAGE_ARN,
        deployer.BASELINE_STATISTICS_URI,
        deployer.BASELINE_CONSTRAINTS_URI,
        deployer.MODEL_QUALITY_CONSTRAINTS_URI,
        deployer.BIAS_CONFIG_URI,
        deployer.BIAS_CONSTRAINTS_URI,
        deployer.EXPLAINABILITY_CONFIG_URI,
        deployer.EXPLAINABILITY_CONSTRAINTS_URI,
        deployer.EXPLAINABILITY_MODEL_PREFIX,
        deployer.ATTRIBUTION_ALARM_FEATURE,
        deployer.ATTRIBUTION_ALARM_LABEL,
        deployer.ATTRIBUTION_ALARM_THRESHOLD,
    )
    assert set(MONITOR_PARAMETERS) < set(sent)
    # The served model's prefix is read from the stack's output of that name.
    assert deployer.SERVED_MODEL_PREFIX_OUTPUT == serving.SERVED_MODEL_PREFIX_OUTPUT
    assert deployer.SERVED_MODEL_PREFIX_OUTPUT in synthesized.templates["Serving"]["Outputs"]
    assert set(sent) <= set(declared)


# ------------------------------------------------------------ the explainability monitor config


def _put_json(registry: Registry, path: str, document: dict[str, Any]) -> None:
    key = f"churn-mlops-pipeline/exec-{registry.version}/{path}"
    registry.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps(document).encode())


def _read_json(registry: Registry, uri: str) -> dict[str, Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    document: dict[str, Any] = json.loads(
        registry.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    return document


def test_the_explainability_config_names_the_model_the_update_creates(
    registry: Registry, deploy: Any, synthesized: Synthesized
) -> None:
    arn = registry.register(every_monitor=True)
    # The baseline's config as the pipeline registers it, and a real Clarify analysis.
    baseline_config = json.loads(
        (CLARIFY_FIXTURES / "docs-explainability-monitor-analysis-config.json").read_text()
    )
    baseline_config["predictor"] = {"content_type": "text/csv", "accept_type": "text/csv"}
    _put_json(registry, "explainability/analysis_config.json", baseline_config)
    analysis = json.loads(
        (CLARIFY_FIXTURES / "examples-fraud-explainability-analysis.json").read_text()
    )
    _put_json(registry, "explainability/analysis.json", analysis)
    registry.set_status(arn, "Approved")
    assert deploy(registry.event(arn)).action == "deployed"

    parameters = registry.stack_parameters()
    written = _read_json(registry, parameters[serving.EXPLAINABILITY_CONFIG_URI])
    assert {k: v for k, v in written.items() if k != "predictor"} == {
        k: v for k, v in baseline_config.items() if k != "predictor"
    }
    assert written["predictor"] == {
        "content_type": "text/csv",
        "accept_type": "text/csv",
        "model_name": f"{registry.served_model_prefix()}{registry.version}",
        "instance_type": "ml.m5.large",
        "initial_instance_count": 1,
    }
    # The model Clarify will stand its shadow endpoint up from is the one the template names
    # with these parameters (moto names a created Model after its logical id instead).
    template = synthesized.templates["StagingServing"]["Resources"]
    (model,) = [r for r in template.values() if r["Type"] == "AWS::SageMaker::Model"]
    assert (
        resolve(model["Properties"]["ModelName"], parameters)
        == (written["predictor"]["model_name"])
    )

    shap = analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    top = max(shap, key=shap.get)
    assert parameters[serving.ATTRIBUTION_ALARM_FEATURE] == top
    assert parameters[serving.ATTRIBUTION_ALARM_LABEL] == "label0"
    assert float(parameters[serving.ATTRIBUTION_ALARM_THRESHOLD]) == pytest.approx(
        shap[top] / 2, abs=1e-8
    )


def test_an_explainability_baseline_that_is_not_json_is_refused(
    registry: Registry, deploy: Any
) -> None:
    arn = registry.register(every_monitor=True)
    key = f"churn-mlops-pipeline/exec-{registry.version}/explainability/analysis_config.json"
    registry.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=b"not json")
    registry.set_status(arn, "Approved")
    before = registry.stack_parameters()
    decision = deploy(registry.event(arn))
    assert decision.action == "refused"
    assert "explainability/analysis_config.json is not JSON" in decision.reason
    assert registry.stack_parameters() == before


def test_the_lambda_knows_each_stages_shadow_instance_and_where_to_write_configs(
    synthesized: Synthesized,
) -> None:
    function = synthesized.one("Deploy", "AWS::Lambda::Function")["Properties"]
    variables = function["Environment"]["Variables"]
    stages = json.dumps(variables["STAGES"])
    assert stages.count('\\"explainer_instance_type\\":\\"ml.m5.large\\"') == 2
    assert json.dumps(variables["MONITOR_CONFIGS"]).endswith(
        '/churn-mlops-pipeline/monitor-configs"]]}'
    )


def test_deploying_the_served_version_again_rewrites_a_config_naming_a_replaced_model(
    registry: Registry, deploy: Any
) -> None:
    """``cdk deploy`` renamed the model (its revision changed): the stack dropped the monitor
    whose config names the old one; invoking the Lambda for the version restores it."""
    arn = registry.register(every_monitor=True)
    registry.set_status(arn, "Approved")
    assert deploy(registry.event(arn)).action == "deployed"
    parameters = registry.stack_parameters()
    registry.cloudformation.update_stack(
        StackName=STACK,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": key, "ParameterValue": "churn-mlops-staging-m000000-v"}
            if key == serving.EXPLAINABILITY_MODEL_PREFIX
            else {"ParameterKey": key, "UsePreviousValue": True}
            for key in parameters
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    assert deploy(registry.event(arn)).action == "deployed"
    restored = registry.stack_parameters()
    assert restored[serving.EXPLAINABILITY_MODEL_PREFIX] == registry.served_model_prefix()
    assert deploy(registry.event(arn)).action == "already-deployed"
