"""Acknowledging a cdk-nag finding, called right where the resource it covers is created.

cdk-nag (rule packs in ``infra/nag.py``) reports each finding as ``<pack>::<rule>[<detail>]``
on a construct; an acknowledgement on that construct, or on one containing it, silences exactly
that finding, with the reason a security reviewer would accept. Anything unacknowledged fails
the synth. Components acknowledge by object reference next to the resource, so renaming or
moving a construct cannot leave its acknowledgement behind in another file.

IAM5 details spell the resource as cdk-nag renders it: pseudo parameters as ``<AWS::…>``,
the region and partition literal when the stack's region is concrete (it always is here).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Stack, Token, Validations
from constructs import IConstruct

ACCOUNT = "<AWS::AccountId>"
PARTITION = "<AWS::Partition>"

_INLINE_POLICY_REASON = (
    "Each role's policy is specific to that role (ARNs of this project only) and lives "
    "and dies with it; a managed policy would invite reuse by other principals."
)


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge ``finding`` (``<pack>::<rule>[<detail>]``) on ``scope`` and its children."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_nist(scope: IConstruct, rule: str, reason: str) -> None:
    """A NIST 800-53 rev 5 finding, e.g. ``rule="LambdaDLQ"``."""
    acknowledge(scope, f"NIST.800.53.R5::NIST.800.53.R5-{rule}", reason)


def acknowledge_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """AwsSolutions-IAM5 for one wildcard ``resource`` of a policy under ``scope``.

    cdk-nag renders this stack's account as ``<AWS::AccountId>`` when the stack's account is
    left to the credentials, and as the literal id when the settings pin it (``account``, a
    stage's ``account``): a ``resource`` spelt with ``ACCOUNT`` is acknowledged in both forms.
    """
    acknowledge(scope, f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason)
    account = Stack.of(scope).account
    if ACCOUNT in resource and not Token.is_unresolved(account):
        pinned = resource.replace(ACCOUNT, account)
        acknowledge(scope, f"AwsSolutions::AwsSolutions-IAM5[Resource::{pinned}]", reason)


def acknowledge_bucket_objects(scope: IConstruct, bucket: str, prefix: str, reason: str) -> None:
    """IAM5 for ``<bucket>/<prefix>*``, as ``StorageRefs.grant_read``/``grant_write`` grant it.

    ``bucket`` is the name the grant was given (it may hold the account pseudo parameter).
    """
    name = bucket.replace(Aws.ACCOUNT_ID, ACCOUNT)
    acknowledge_wildcard(scope, f"arn:{PARTITION}:s3:::{name}/{prefix}*", reason)


def acknowledge_sagemaker_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """IAM5 for a SageMaker ARN of this stack built by ``sagemaker_arn(scope, resource)``."""
    region = Stack.of(scope).region
    acknowledge_wildcard(scope, f"arn:aws:sagemaker:{region}:{ACCOUNT}:{resource}", reason)


def acknowledge_inline_policy(scope: IConstruct) -> None:
    """NIST IAMNoInlinePolicy for a role whose policy is written for it alone."""
    acknowledge_nist(scope, "IAMNoInlinePolicy", _INLINE_POLICY_REASON)
