"""Attach one CloudFormation condition to every resource below a construct."""

from __future__ import annotations

from aws_cdk import CfnCondition, CfnResource
from constructs import IConstruct


def apply_condition(scope: IConstruct, condition: CfnCondition) -> int:
    """Set ``Condition`` on each ``CfnResource`` under ``scope``; return how many.

    The serving stack must deploy with no model yet: every endpoint resource is created only
    when a model package ARN is given, and nothing unconditioned may refer to them.
    """
    count = 0
    for node in scope.node.find_all():
        if isinstance(node, CfnResource):
            node.cfn_options.condition = condition
            count += 1
    return count
