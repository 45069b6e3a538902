"""Model quality and bias drift monitoring of the endpoint (contracts §9, "On AWS").

Both join captured answers with uploaded ground truth (``s3://<data bucket>/ground-truth/
<endpoint>/yyyy/mm/dd/hh/…``, matched by ``inferenceId``, else ``eventId``) and analyse the
capture hour that ended ``monitoring.ground_truth_offset_hours`` before each run, so labels
have had that long to arrive. Each monitor is a job definition named per model package version
(replaced, never updated, when the baselines change), a schedule, and one alarm on the metric
the job publishes. The serving stack creates a monitor only when the deployed package has its
baseline (a ``CfnCondition`` on the parameters the approval Lambda sets).

The model-quality job runs the model-monitor analyzer image; the bias job runs the Clarify
image with the baseline's ``analysis_config.json``, which needs no predictor: post-training
bias is computed from the captured predicted labels, so it runs network-isolated.

Feature-attribution drift needs no ground truth but does call a model: Clarify computes Kernel
SHAP of the captured rows by standing up a shadow endpoint (``sm-clarify-*``) from the model
the config's ``predictor.model_name`` names, invoking it, and deleting it. The deploy Lambda
writes that config per stage and version (the baseline's plus the ``predictor``), so this job
alone runs without network isolation, and the monitor role may manage exactly those shadow
endpoints of the stage's served models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource, Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.network.placement import NetworkRefs
from infra.serving.monitor import model_package_version
from mlops.core.names import (
    BIAS_METRICS_NAMESPACE,
    EXPLAINABILITY_METRICS_NAMESPACE,
    MODEL_METRICS_NAMESPACE,
    ProjectNames,
    bias_metric,
    feature_attribution_metric,
)
from mlops.core.problem_types import ProblemType, problem_type_spec
from mlops.core.settings import Gate, ProjectSettings

ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"
# The endpoint's CSV answers (contracts §5): binary ``probability,label``, multiclass
# ``label,p1,…``, regression ``value``; columns are 0-based.
FIRST_COLUMN = "0"
BINARY_LABEL_COLUMN = "1"
# The multiclass JSON answer's class probabilities ({"label": …, "probabilities": {class: p}}),
# as a list in the classes' order (JMESPath object projection).
MULTICLASS_SCORES = "probabilities.*"
# The post-training bias metric the alarm watches: difference in positive proportions of
# predicted labels between the facet's sensitive group and the rest (0 = balanced).
BIAS_ALARM_METRIC = "DPPL"
# |DPPL| above this fires the bias alarm: ten points of difference in predicted positive rates.
BIAS_ALARM_THRESHOLD = 0.1
BIAS_STAGE = "Post-training"
# Clarify's shadow endpoints and their configs are named sm-clarify-<…> and
# sm-clarify-config-<…> (what the managed explainability job creates and deletes each run).
SHADOW_ENDPOINT_PREFIX = "sm-clarify-"
# The dimensions Clarify publishes a feature's global SHAP value with (besides Endpoint and
# MonitoringSchedule); monitoring.explainability publishes the same locally.
EXPLAINABILITY_METHOD = "KernelShap"
GLOBAL_SHAP_VALUES = "GlobalShapValues"
# Runs start hourly: each must finish within the hour.
MAX_RUNTIME_SECONDS = 1800
VOLUME_SIZE_GB = 20


def clarify_image(region: str) -> str:
    """The SageMaker Clarify processing image for ``region``, from the SDK's image config."""
    from sagemaker.core import image_uris

    return str(image_uris.retrieve("clarify", region))


def time_offsets(offset_hours: int) -> tuple[str, str]:
    """``(StartTimeOffset, EndTimeOffset)``: the capture hour that ended ``offset_hours`` ago."""
    return f"-PT{offset_hours + 1}H", f"-PT{offset_hours}H"


def model_quality_attributes(
    problem_type: ProblemType, prediction_threshold: float
) -> dict[str, Any]:
    """Where the model-quality job finds the prediction in a CSV answer (EndpointInput)."""
    if problem_type == "binary":
        return {
            "probability_attribute": FIRST_COLUMN,
            "probability_threshold_attribute": prediction_threshold,
        }
    return {"inference_attribute": FIRST_COLUMN}


def bias_attributes(problem_type: ProblemType) -> dict[str, Any]:
    """Where the bias job finds the predicted label in a CSV answer (EndpointInput)."""
    return {
        "inference_attribute": BINARY_LABEL_COLUMN if problem_type == "binary" else FIRST_COLUMN
    }


def explainability_attributes(problem_type: ProblemType) -> dict[str, Any]:
    """Where Clarify finds the score to explain in the model's answer (EndpointInput): the
    probability (binary, CSV ``probability,label``) or value (regression) in column 0, the
    class probabilities of the JSON Lines answer (multiclass: the config's ``accept_type``)."""
    if problem_type == "multiclass":
        return {"inference_attribute": MULTICLASS_SCORES}
    return {"inference_attribute": FIRST_COLUMN}


@dataclass(frozen=True)
class MonitorJob:
    """What every monitoring job of the endpoint shares."""

    names: ProjectNames  # the stage's resource names
    model_package_arn: str  # CloudFormation expression: the deployed version
    role_arn: str
    key_arn: str
    instance_type: str
    schedule_expression: str
    reports_uri: str  # s3://<data bucket>/monitoring/reports
    ground_truth_uri: str  # s3://<data bucket>/ground-truth/<endpoint>
    ground_truth_offset_hours: int
    network: NetworkRefs | None = None  # the VPC the jobs run in (``network`` setting)

    def definition_name(self, prefix: str) -> str:
        return Fn.join("", [prefix, model_package_version(self.model_package_arn)])

    def common(self, job: Any, *, network_isolation: bool = True) -> dict[str, Any]:
        """Resources, role, encryption and isolation of a ``Cfn*JobDefinition`` class (only a
        job that calls a model, the explainability one, turns isolation off)."""
        return {
            "job_resources": job.MonitoringResourcesProperty(
                cluster_config=job.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=self.instance_type,
                    volume_size_in_gb=VOLUME_SIZE_GB,
                    volume_kms_key_id=self.key_arn,
                )
            ),
            "role_arn": self.role_arn,
            "network_config": job.NetworkConfigProperty(
                enable_network_isolation=network_isolation,
                vpc_config=job.VpcConfigProperty(
                    security_group_ids=self.network.job_security_group_ids,
                    subnets=self.network.subnet_ids,
                )
                if self.network is not None
                else None,
            ),
            "stopping_condition": job.StoppingConditionProperty(
                max_runtime_in_seconds=MAX_RUNTIME_SECONDS
            ),
        }

    def output(self, job: Any, monitor: str) -> Any:
        """The encrypted report output, under ``monitoring/reports/<monitor>``."""
        return job.MonitoringOutputConfigProperty(
            kms_key_id=self.key_arn,
            monitoring_outputs=[
                job.MonitoringOutputProperty(
                    s3_output=job.S3OutputProperty(
                        local_path=OUTPUT_PATH,
                        s3_uri=f"{self.reports_uri}/{monitor}",
                        s3_upload_mode="EndOfJob",
                    )
                )
            ],
        )

    def endpoint_input(
        self, job: Any, attributes: dict[str, Any], *, with_ground_truth: bool = True
    ) -> Any:
        """The captured hour to analyse: with ground truth, the one that ended
        ``ground_truth_offset_hours`` ago; without (explainability), the last one."""
        offsets: dict[str, str] = {}
        if with_ground_truth:
            start, end = time_offsets(self.ground_truth_offset_hours)
            offsets = {"start_time_offset": start, "end_time_offset": end}
        return job.EndpointInputProperty(
            endpoint_name=self.names.endpoint,
            local_path=ENDPOINT_INPUT_PATH,
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
            **offsets,
            **attributes,
        )

    def schedule(
        self,
        scope: Construct,
        name: str,
        monitoring_type: str,
        definition: CfnResource,
        definition_name: str,
    ) -> sagemaker.CfnMonitoringSchedule:
        config = sagemaker.CfnMonitoringSchedule
        schedule = config(
            scope,
            "Schedule",
            monitoring_schedule_name=name,
            endpoint_name=self.names.endpoint,
            monitoring_schedule_config=config.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=definition_name,
                monitoring_type=monitoring_type,
                schedule_config=config.ScheduleConfigProperty(
                    schedule_expression=self.schedule_expression
                ),
            ),
        )
        # The job definition has no name attribute to reference: order creation explicitly.
        schedule.add_resource_dependency(definition)
        return schedule


class ModelQualityMonitor(Construct):
    """The gate metric of live traffic (captured answers + ground truth) against the baseline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: MonitorJob,
        image_uri: str,
        constraints_uri: str,
        problem_type: ProblemType,
        prediction_threshold: float,
        gate: Gate,
    ) -> None:
        super().__init__(scope, construct_id)
        names = job.names
        kind = sagemaker.CfnModelQualityJobDefinition
        definition_name = job.definition_name(names.model_quality_job_definition_prefix)
        self.job_definition = kind(
            self,
            "JobDefinition",
            job_definition_name=definition_name,
            model_quality_app_specification=kind.ModelQualityAppSpecificationProperty(
                image_uri=image_uri,
                problem_type=problem_type_spec(problem_type).monitor_problem_type,
                environment={"publish_cloudwatch_metrics": "Enabled"},
            ),
            model_quality_baseline_config=kind.ModelQualityBaselineConfigProperty(
                constraints_resource=kind.ConstraintsResourceProperty(s3_uri=constraints_uri)
            ),
            model_quality_job_input=kind.ModelQualityJobInputProperty(
                endpoint_input=job.endpoint_input(
                    kind, model_quality_attributes(problem_type, prediction_threshold)
                ),
                ground_truth_s3_input=kind.MonitoringGroundTruthS3InputProperty(
                    s3_uri=job.ground_truth_uri
                ),
            ),
            model_quality_job_output_config=job.output(kind, "model-quality"),
            **job.common(kind),
        )
        self.schedule = job.schedule(
            self, names.model_quality_schedule, "ModelQuality", self.job_definition, definition_name
        )
        # Below the gate (above it, for an error metric) is what registration refused.
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=names.model_quality_alarm,
            alarm_description=(
                f"Live {gate.metric} (captured answers joined with ground truth) no longer "
                f"passes the registration gate ({gate.comparison} {gate.threshold:g})"
            ),
            metric=cloudwatch.Metric(
                namespace=MODEL_METRICS_NAMESPACE,
                metric_name=gate.metric,
                dimensions_map={
                    "Endpoint": names.endpoint,
                    "MonitoringSchedule": names.model_quality_schedule,
                },
                statistic="Average",
                period=Duration.hours(1),
            ),
            threshold=gate.threshold,
            evaluation_periods=1,
            comparison_operator=(
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                if gate.higher_is_better
                else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
            ),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


@dataclass(frozen=True)
class BiasAlarmSpec:
    """The dimensions of the first facet's post-training metrics, as the job publishes them."""

    label: str  # the target column
    label_value: str  # label_value_or_threshold as Clarify writes it
    facet: str
    facet_value: str


def bias_alarm_spec(settings: ProjectSettings) -> BiasAlarmSpec | None:
    """The first facet's dimensions; None when the project monitors no bias (no facet, or no
    positive outcome) or the facet names no group (one metric per value seen: no fixed one).

    Values are written as Clarify writes categorical groups (``1``, ``Yes``); a numeric facet
    or label that Clarify treats as continuous is published as an interval ``(t, max]``
    whose upper end depends on the data, which an alarm cannot name in advance.
    """
    from training.clarify import canonical

    labels = settings.resolved_bias_labels()
    facets = settings.monitoring.bias.facets
    if labels is None or not facets or not facets[0].value_or_threshold:
        return None
    facet = facets[0]
    assert facet.value_or_threshold is not None
    return BiasAlarmSpec(
        label=settings.dataset.require_target(),
        label_value=",".join(canonical(value) for value in labels),
        facet=facet.name,
        facet_value=",".join(canonical(value) for value in facet.value_or_threshold),
    )


class BiasDriftMonitor(Construct):
    """Clarify's post-training bias metrics of live traffic against the baseline's constraints."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: MonitorJob,
        image_uri: str,
        config_uri: str,
        constraints_uri: str,
        problem_type: ProblemType,
        alarm: BiasAlarmSpec | None,
    ) -> None:
        super().__init__(scope, construct_id)
        names = job.names
        kind = sagemaker.CfnModelBiasJobDefinition
        definition_name = job.definition_name(names.bias_job_definition_prefix)
        self.job_definition = kind(
            self,
            "JobDefinition",
            job_definition_name=definition_name,
            model_bias_app_specification=kind.ModelBiasAppSpecificationProperty(
                image_uri=image_uri, config_uri=config_uri
            ),
            model_bias_baseline_config=kind.ModelBiasBaselineConfigProperty(
                constraints_resource=kind.ConstraintsResourceProperty(s3_uri=constraints_uri)
            ),
            model_bias_job_input=kind.ModelBiasJobInputProperty(
                endpoint_input=job.endpoint_input(kind, bias_attributes(problem_type)),
                ground_truth_s3_input=kind.MonitoringGroundTruthS3InputProperty(
                    s3_uri=job.ground_truth_uri
                ),
            ),
            model_bias_job_output_config=job.output(kind, "bias"),
            **job.common(kind),
        )
        self.schedule = job.schedule(
            self, names.bias_schedule, "ModelBias", self.job_definition, definition_name
        )
        self.alarm: cloudwatch.Alarm | None = None
        if alarm is not None:
            self.alarm = self._alarm(names, alarm)

    def _alarm(self, names: ProjectNames, alarm: BiasAlarmSpec) -> cloudwatch.Alarm:
        dppl = cloudwatch.Metric(
            namespace=BIAS_METRICS_NAMESPACE,
            metric_name=bias_metric(BIAS_ALARM_METRIC),
            dimensions_map={
                "Endpoint": names.endpoint,
                "MonitoringSchedule": names.bias_schedule,
                "BiasStage": BIAS_STAGE,
                "Label": alarm.label,
                "LabelValue": alarm.label_value,
                "Facet": alarm.facet,
                "FacetValue": alarm.facet_value,
            },
            statistic="Average",
            period=Duration.hours(1),
        )
        # DPPL is signed (either group may be favoured): alarm on its distance from balance.
        return cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=names.bias_drift_alarm,
            alarm_description=(
                f"|{BIAS_ALARM_METRIC}| of facet {alarm.facet}={alarm.facet_value} in live "
                f"predictions above {BIAS_ALARM_THRESHOLD:g}"
            ),
            metric=cloudwatch.MathExpression(
                expression="ABS(dppl)",
                using_metrics={"dppl": dppl},
                label=f"abs {bias_metric(BIAS_ALARM_METRIC)}",
                period=Duration.hours(1),
            ),
            threshold=BIAS_ALARM_THRESHOLD,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


@dataclass(frozen=True)
class AttributionAlarm:
    """The baseline's most important feature and the floor of its live global SHAP value: the
    serving stack's parameters, which the deploy Lambda sets from the baseline's analysis."""

    feature: str  # CloudFormation expression: the feature name
    label: str  # CloudFormation expression: the explained output (label0, or a class)
    threshold: float  # CloudFormation expression (a Number parameter's token)


class ExplainabilityMonitor(Construct):
    """Clarify's feature attribution (Kernel SHAP through a shadow endpoint of the served
    model) of live traffic against the baseline's, as NDCG of the ranking (violation < 0.9)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: MonitorJob,
        image_uri: str,
        config_uri: str,
        constraints_uri: str,
        problem_type: ProblemType,
        alarm: AttributionAlarm,
    ) -> None:
        super().__init__(scope, construct_id)
        names = job.names
        kind = sagemaker.CfnModelExplainabilityJobDefinition
        definition_name = job.definition_name(names.explainability_job_definition_prefix)
        self.job_definition = kind(
            self,
            "JobDefinition",
            job_definition_name=definition_name,
            model_explainability_app_specification=kind.ModelExplainabilityAppSpecificationProperty(
                image_uri=image_uri, config_uri=config_uri
            ),
            model_explainability_baseline_config=kind.ModelExplainabilityBaselineConfigProperty(
                constraints_resource=kind.ConstraintsResourceProperty(s3_uri=constraints_uri)
            ),
            model_explainability_job_input=kind.ModelExplainabilityJobInputProperty(
                endpoint_input=job.endpoint_input(
                    kind, explainability_attributes(problem_type), with_ground_truth=False
                )
            ),
            model_explainability_job_output_config=job.output(kind, "explainability"),
            # Not isolated: Clarify creates, invokes and deletes a shadow endpoint of the served
            # model (the config's predictor) to compute Kernel SHAP, which an isolated container
            # cannot call (Developer Guide, "Give SageMaker Clarify Jobs Access to Resources in
            # Your Amazon VPC"). The job reads only what the monitor role may read.
            **job.common(kind, network_isolation=False),
        )
        self.schedule = job.schedule(
            self,
            names.explainability_schedule,
            "ModelExplainability",
            self.job_definition,
            definition_name,
        )
        shap = cloudwatch.Metric(
            namespace=EXPLAINABILITY_METRICS_NAMESPACE,
            metric_name=Fn.join("", [feature_attribution_metric(""), alarm.feature]),
            dimensions_map={
                "Endpoint": names.endpoint,
                "MonitoringSchedule": names.explainability_schedule,
                "ExplainabilityMethod": EXPLAINABILITY_METHOD,
                "Label": alarm.label,
                "ValueType": GLOBAL_SHAP_VALUES,
            },
            statistic="Average",
            period=Duration.hours(1),
        )
        # Clarify's verdict (NDCG of the live ranking against the baseline's) is written to
        # constraint_violations.json, not published as a metric; what is published is each
        # feature's global SHAP value. The alarm watches the baseline's most important feature:
        # losing half its attribution is the shift that reorders the top of the ranking.
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=names.attribution_drift_alarm,
            alarm_description=(
                "The baseline's most important feature lost more than half its global SHAP "
                "value in live traffic (feature attribution drift; the run's "
                "constraint_violations.json has Clarify's NDCG verdict)"
            ),
            metric=shap,
            threshold=alarm.threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
