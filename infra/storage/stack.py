"""Stack 1: the KMS key and the buckets every other stack uses."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.shared.parameters import PublishedNames
from infra.storage.buckets import Storage
from mlops.core.names import ProjectNames


class StorageStack(Stack):
    """Long-lived state: retained on deletion, shared by pipeline and serving."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        account: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.storage = Storage(self, "Storage", names=names, region=self.region, account=account)
        PublishedNames(
            self,
            "Names",
            names=names,
            values={
                "data-bucket": self.storage.refs.data_bucket,
                "artifact-bucket": self.storage.refs.artifact_bucket,
                "kms-key-arn": self.storage.key.key_arn,
            },
        )
