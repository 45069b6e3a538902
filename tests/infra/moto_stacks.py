"""Create synthesized stacks in moto's CloudFormation, adapting for moto's known gaps.

moto 5.2.5 differs from CloudFormation in ways that are moto's, not the template's:
- it reads KMS key and SSM parameter ``Tags`` in API shape, so CloudFormation-shaped tags
  crash it: tags are dropped;
- ``UsePreviousValue`` on an SSM-typed parameter (CDK's ``BootstrapVersion``) raises
  ``KeyError``: the bootstrap-version parameter and its rule are dropped;
- it skips resource types it does not implement (ModelPackageGroup, Pipeline, monitoring,
  bucket policies) with a warning;
- it remembers only the parameters passed at creation, so a later ``UsePreviousValue`` of a
  parameter that took its default raises ``KeyError`` (CloudFormation records the default):
  every parameter with a default is passed explicitly, with that default.
Everything else is created from the template as synthesized.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MOTO_TAGLESS = ("AWS::KMS::Key", "AWS::SSM::Parameter")


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    adapted = copy.deepcopy(template)
    for resource in adapted["Resources"].values():
        if resource["Type"] in MOTO_TAGLESS:
            resource.get("Properties", {}).pop("Tags", None)
    adapted.get("Parameters", {}).pop("BootstrapVersion", None)
    adapted.get("Rules", {}).pop("CheckBootstrapVersion", None)
    return adapted


def create_stack(cloudformation: Any, name: str, template: dict[str, Any]) -> dict[str, Any]:
    adapted = for_moto(template)
    defaults = [
        {"ParameterKey": key, "ParameterValue": str(parameter["Default"])}
        for key, parameter in adapted.get("Parameters", {}).items()
        if "Default" in parameter
    ]
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(adapted),
        Parameters=defaults,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack: dict[str, Any] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return stack
