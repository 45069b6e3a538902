"""Stack 5: batch inference — the batch pipeline, what starts it, and the batches' monitoring.

Parameters, not context, switch the optional parts, so a team turns them on with
``cdk deploy <project>-batch --parameters …`` without a code change:

- ``ScheduleExpression`` (EventBridge Scheduler, e.g. ``cron(0 2 * * ? *)``; empty = none):
  score ``s3://<data bucket>/batch/input/`` on that schedule;
- ``TriggerOnNewData`` (``true``/``false``): score each object as it lands under
  ``batch/input/`` (the data bucket sends its object events to EventBridge);
- ``BaselineStatisticsUri`` + ``BaselineConstraintsUri`` (empty = no monitoring): the
  drift-check baseline of the version being scored; with them, an hourly data-quality schedule
  checks the batches' capture.

Every execution runs as the batch role, encrypts with the project key, and its model runs
network-isolated (``EnableNetworkIsolation`` in the definition's CreateModel step). With the
``network`` setting the model, the monitoring jobs and the starter attach to the VPC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnCondition, CfnParameter, Fn, Stack
from constructs import Construct

from infra.batch.definition import BatchPipeline
from infra.batch.monitor import BatchMonitor, BatchMonitorSpec
from infra.batch.role import batch_role
from infra.batch.starter import BatchStarter, StartTarget
from infra.network.permissions import grant_sagemaker_network_interfaces
from infra.shared.acknowledgements import acknowledge_bucket_objects
from infra.shared.conditions import apply_condition
from infra.shared.parameters import PublishedNames
from infra.shared.role_names import RoleNames
from infra.storage.buckets import StorageRefs
from mlops.core.names import (
    BATCH_CAPTURE_PREFIX,
    BATCH_INPUT_PREFIX,
    BATCH_MONITORING_REPORTS_PREFIX,
    BATCH_OUTPUT_PREFIX,
)
from mlops.core.settings import ProjectSettings
from sagemaker_pipelines.batch.parameters import excluded_feature_indexes

SCHEDULE_EXPRESSION = "ScheduleExpression"
TRIGGER_ON_NEW_DATA = "TriggerOnNewData"
BASELINE_STATISTICS_URI = "BaselineStatisticsUri"
BASELINE_CONSTRAINTS_URI = "BaselineConstraintsUri"


class BatchStack(Stack):
    """Batch inference on AWS; deployable before any model is approved."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ProjectSettings,
        storage: StorageRefs,
        definition: str,
        images: Sequence[str],
        monitor_image_uri: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = settings.names
        schedule = CfnParameter(
            self,
            SCHEDULE_EXPRESSION,
            type="String",
            default="",
            description="EventBridge Scheduler expression that starts a batch; empty = none",
            allowed_pattern=r"^$|^(cron|rate|at)\(.+\)$",
        ).value_as_string
        trigger = CfnParameter(
            self,
            TRIGGER_ON_NEW_DATA,
            type="String",
            default="false",
            allowed_values=["true", "false"],
            description=f"Start a batch for each object created under {BATCH_INPUT_PREFIX}/",
        ).value_as_string
        statistics_uri, constraints_uri = (
            CfnParameter(
                self,
                name,
                type="String",
                default="",
                description=f"{leaf} of the scored version's data-quality baseline; empty = "
                "no batch monitoring",
                allowed_pattern=r"^$|^s3://[^/]+/.+$",
            ).value_as_string
            for name, leaf in (
                (BASELINE_STATISTICS_URI, "statistics.json"),
                (BASELINE_CONSTRAINTS_URI, "constraints.json"),
            )
        )
        scheduled = CfnCondition(
            self, "Scheduled", expression=Fn.condition_not(Fn.condition_equals(schedule, ""))
        )
        on_new_data = CfnCondition(
            self, "OnNewData", expression=Fn.condition_equals(trigger, "true")
        )
        monitored = CfnCondition(
            self,
            "Monitored",
            expression=Fn.condition_and(
                Fn.condition_not(Fn.condition_equals(statistics_uri, "")),
                Fn.condition_not(Fn.condition_equals(constraints_uri, "")),
            ),
        )

        role = batch_role(
            self,
            "Role",
            names=names,
            role_name=RoleNames(names, self.region).batch,
            images=[*images, monitor_image_uri],
        )
        self._grant(role, storage, names.pipeline)
        # With the `network` setting: the batch models (and so their transform jobs) and the
        # monitoring jobs attach to the VPC; SageMaker creates their interfaces as this role.
        network = storage.network
        network_policy = (
            grant_sagemaker_network_interfaces(
                role,
                role.role,
                network,
                [*network.model_security_group_ids, *network.job_security_group_ids],
            )
            if network is not None
            else None
        )

        self.pipeline = BatchPipeline(
            self,
            "Pipeline",
            pipeline_name=names.batch_pipeline,
            definition=definition,
            role_arn=role.role.role_arn,
            data_bucket=storage.data_bucket,
            key_arn=storage.key_arn,
            model_security_group_ids=network.model_security_group_ids if network else None,
        )
        self.pipeline.node.add_dependency(role.policy)
        self.role = role.role

        data = f"s3://{storage.data_bucket}"
        self.starter = BatchStarter(
            self,
            "Starter",
            target=StartTarget(
                pipeline_name=names.batch_pipeline,
                model_package_group=names.model_package_group,
                data_bucket=storage.data_bucket,
                input_prefix=f"{BATCH_INPUT_PREFIX}/",
                default_input_uri=f"{data}/{BATCH_INPUT_PREFIX}/",
            ),
            function_name=names.batch_starter_function,
            schedule_name=names.batch_schedule,
            rule_name=names.batch_new_data_rule,
            schedule_expression=schedule,
            scheduled=scheduled,
            on_new_data=on_new_data,
            network=network,
        )

        self.monitor = BatchMonitor(
            self,
            "Monitor",
            names=names,
            spec=BatchMonitorSpec(
                capture_uri=f"{data}/{BATCH_CAPTURE_PREFIX}",
                reports_uri=f"{data}/{BATCH_MONITORING_REPORTS_PREFIX}",
                statistics_uri=statistics_uri,
                constraints_uri=constraints_uri,
                excluded_features=excluded_feature_indexes(settings.dataset),
                schedule_expression=settings.monitoring.schedule,
                image_uri=monitor_image_uri,
                instance_type=settings.instances.monitoring_type,
            ),
            role_arn=role.role.role_arn,
            key_arn=storage.key_arn,
            network=network,
        )
        self.monitor.node.add_dependency(role.policy)
        if network_policy is not None:
            self.monitor.node.add_dependency(network_policy)
        apply_condition(self.monitor, monitored)

        PublishedNames(
            self,
            "Names",
            names=names,
            values={"batch-pipeline-name": names.batch_pipeline},
        )

    def _grant(self, role: Any, storage: StorageRefs, training_pipeline: str) -> None:
        """Read what is scored and the models; write predictions, capture and reports."""
        data = storage.data_bucket
        reads = {
            (data, f"{BATCH_INPUT_PREFIX}/"): "Transform jobs read the objects to score and "
            "monitoring jobs re-read them (named by the capture manifests), under the batch "
            "input prefix only.",
            (data, f"{BATCH_CAPTURE_PREFIX}/"): "Monitoring jobs read the capture manifests the "
            "transform jobs wrote, filed by hour under the capture prefix.",
            (storage.artifact_bucket, f"{training_pipeline}/"): "The model a batch scores with "
            "is a training execution's model.tar.gz (and its baseline), under that pipeline's "
            "prefix of executions; read-only.",
        }
        writes = {
            (data, f"{BATCH_OUTPUT_PREFIX}/"): "Predictions: one prefix per execution (its id "
            "is created at run time) under the batch output prefix.",
            (data, f"{BATCH_CAPTURE_PREFIX}/"): "Capture manifests, filed by hour and job name "
            "at run time, under the capture prefix.",
            (data, f"{BATCH_MONITORING_REPORTS_PREFIX}/"): "Monitoring reports, one folder per "
            "monitoring execution, under the reports prefix.",
        }
        for (bucket, prefix), reason in reads.items():
            storage.grant_read(role.role, bucket, prefix)
            acknowledge_bucket_objects(role, bucket, prefix, reason)
        for (bucket, prefix), reason in writes.items():
            storage.grant_write(role.role, bucket, prefix)
            if (bucket, prefix) not in reads:
                acknowledge_bucket_objects(role, bucket, prefix, reason)
        storage.grant_volume_encryption(role.role)
