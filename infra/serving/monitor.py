"""Model Monitor for the endpoint: a data-quality job definition, its schedule, drift alarms.

The job compares captured traffic with the baseline statistics/constraints of the deployed
model version (serving-stack parameters set on approval) and publishes
``feature_baseline_drift_<feature>`` to ``aws/sagemaker/Endpoints/data-metrics`` (dimensions
``Endpoint`` and ``MonitoringSchedule``). One alarm per feature, and one composite alarm that
is in ALARM when any feature drifts: the thing people and automation watch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.network.placement import NetworkRefs
from mlops.core.names import DATA_METRICS_NAMESPACE, ProjectNames, feature_drift_metric


def model_monitor_image(region: str) -> str:
    """The managed model-monitor-analyzer image for ``region``, resolved offline by the SDK."""
    from sagemaker.core import image_uris

    return str(image_uris.retrieve("model-monitor", region))


def model_package_version(model_package_arn: str) -> str:
    """``…:model-package/<group>/<version>`` → ``<version>`` as a CloudFormation expression."""
    return Fn.select(2, Fn.split("/", model_package_arn))


@dataclass(frozen=True)
class Baseline:
    statistics_uri: str
    constraints_uri: str


@dataclass(frozen=True)
class DriftAlarmSpec:
    features: Sequence[str]
    threshold: float


class EndpointMonitor(Construct):
    """Hourly (or as configured) data-quality monitoring of one endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        endpoint: sagemaker.CfnEndpoint,
        model_package_arn: str,
        schedule_expression: str,
        baseline: Baseline,
        reports_uri: str,
        role: iam.IRole,
        key_arn: str,
        image_uri: str,
        instance_type: str,
        drift: DriftAlarmSpec,
        network: NetworkRefs | None = None,
    ) -> None:
        """``network``: the job runs in the VPC's subnets with the jobs' groups."""
        super().__init__(scope, construct_id)
        endpoint_name = names.endpoint
        schedule_name = names.monitoring_schedule
        # A job definition is replaced, never updated, when the baselines change; a name per
        # model version lets CloudFormation create the new one before deleting the old.
        job_definition_name = Fn.join(
            "", [names.data_quality_job_definition_prefix, model_package_version(model_package_arn)]
        )
        job = sagemaker.CfnDataQualityJobDefinition
        self.job_definition = job(
            self,
            "JobDefinition",
            job_definition_name=job_definition_name,
            data_quality_app_specification=job.DataQualityAppSpecificationProperty(
                image_uri=image_uri,
                environment={"publish_cloudwatch_metrics": "Enabled"},
            ),
            data_quality_baseline_config=job.DataQualityBaselineConfigProperty(
                constraints_resource=job.ConstraintsResourceProperty(
                    s3_uri=baseline.constraints_uri
                ),
                statistics_resource=job.StatisticsResourceProperty(s3_uri=baseline.statistics_uri),
            ),
            data_quality_job_input=job.DataQualityJobInputProperty(
                endpoint_input=job.EndpointInputProperty(
                    endpoint_name=endpoint_name,
                    local_path="/opt/ml/processing/input/endpoint",
                    s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                )
            ),
            data_quality_job_output_config=job.MonitoringOutputConfigProperty(
                kms_key_id=key_arn,
                monitoring_outputs=[
                    job.MonitoringOutputProperty(
                        s3_output=job.S3OutputProperty(
                            local_path="/opt/ml/processing/output",
                            s3_uri=reports_uri,
                            s3_upload_mode="EndOfJob",
                        )
                    )
                ],
            ),
            job_resources=job.MonitoringResourcesProperty(
                cluster_config=job.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=instance_type,
                    volume_size_in_gb=20,
                    volume_kms_key_id=key_arn,
                )
            ),
            role_arn=role.role_arn,
            # The analyzer needs no network: SageMaker stages the captures and baselines in,
            # uploads the reports, and publishes the metrics the container writes to
            # /opt/ml/output/metrics/cloudwatch.
            network_config=job.NetworkConfigProperty(
                enable_network_isolation=True,
                vpc_config=job.VpcConfigProperty(
                    security_group_ids=network.job_security_group_ids, subnets=network.subnet_ids
                )
                if network is not None
                else None,
            ),
            # A run must finish before the next hourly one starts.
            stopping_condition=job.StoppingConditionProperty(max_runtime_in_seconds=1800),
        )
        self.job_definition.add_resource_dependency(endpoint)

        self.schedule = sagemaker.CfnMonitoringSchedule(
            self,
            "Schedule",
            monitoring_schedule_name=schedule_name,
            endpoint_name=endpoint_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=job_definition_name,
                monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=schedule_expression
                ),
            ),
        )
        # The job definition has no name attribute to reference: order creation explicitly.
        self.schedule.add_resource_dependency(self.job_definition)

        self.feature_alarms = [
            cloudwatch.Alarm(
                self,
                f"Drift{index}",
                alarm_name=names.feature_drift_alarm(feature),
                alarm_description=f"Baseline drift of feature {feature!r} above the threshold",
                metric=cloudwatch.Metric(
                    namespace=DATA_METRICS_NAMESPACE,
                    metric_name=feature_drift_metric(feature),
                    dimensions_map={
                        "Endpoint": endpoint_name,
                        "MonitoringSchedule": schedule_name,
                    },
                    statistic="Maximum",
                    period=Duration.hours(1),
                ),
                threshold=drift.threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for index, feature in enumerate(drift.features)
        ]
        self.drift_alarm: cloudwatch.CompositeAlarm | None = None
        if self.feature_alarms:
            self.drift_alarm = cloudwatch.CompositeAlarm(
                self,
                "Drift",
                composite_alarm_name=names.drift_alarm,
                alarm_description="Any monitored feature drifted from the deployed baseline",
                alarm_rule=cloudwatch.AlarmRule.any_of(*self.feature_alarms),
            )
