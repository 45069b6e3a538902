"""Storage stack: what a security reviewer checks on the key and the buckets."""

from __future__ import annotations

import pytest

from mlops.core.names import ProjectNames
from tests.infra.conftest import Synthesized


def test_key_rotates_and_survives_stack_deletion(synthesized: Synthesized) -> None:
    key = synthesized.one("Storage", "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_project_buckets_are_encrypted_with_the_project_key(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("Storage", "AWS::S3::Bucket")
    key_id = next(iter(synthesized.resources("Storage", "AWS::KMS::Key")))
    by_kms = {
        logical: bucket
        for logical, bucket in buckets.items()
        if "Data" in logical or "Artifacts" in logical
    }
    assert len(by_kms) == 2
    for bucket in by_kms.values():
        rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        default = rule["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms"
        assert default["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # The access-log bucket must be SSE-S3: S3 server access logging cannot write SSE-KMS.
    logs = next(b for logical, b in buckets.items() if "AccessLogs" in logical)
    rule = logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_every_bucket_is_versioned_private_and_retained(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("Storage", "AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"


def test_every_bucket_policy_denies_requests_without_tls(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("Storage", "AWS::S3::Bucket")
    policies = synthesized.resources("Storage", "AWS::S3::BucketPolicy")
    covered = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        deny = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and s["Action"] == "s3:*"
        ]
        assert deny, "bucket policy without an SSL-only deny"
        covered.add(policy["Properties"]["Bucket"]["Ref"])
    assert covered == set(buckets)


def test_project_buckets_send_access_logs_to_the_log_bucket(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("Storage", "AWS::S3::Bucket")
    logs_id = next(logical for logical in buckets if "AccessLogs" in logical)
    for logical, bucket in buckets.items():
        if logical == logs_id:
            continue
        logging = bucket["Properties"]["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == {"Ref": logs_id}
        assert logging["LogFilePrefix"]


def test_bucket_names_are_fixed_by_project_account_and_region() -> None:
    assert (
        ProjectNames("churn-mlops").bucket("data", region="eu-west-1", account="123456789012")
        == "churn-mlops-data-123456789012-eu-west-1"
    )


def test_a_project_name_too_long_for_bucket_names_is_refused() -> None:
    with pytest.raises(ValueError, match="too long for the S3 bucket names"):
        ProjectNames("a" * 32).bucket("access-logs", region="ap-southeast-2", account="0" * 12)
