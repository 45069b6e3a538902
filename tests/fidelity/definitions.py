"""The two pipeline definitions the contract checks read: the one CloudFormation deploys (from
the session's synthesized templates) and the one the local executor runs.

The deployed body is an ``Fn::Sub`` over the definition JSON; its variables (buckets, role,
KMS key, asset keys) are CloudFormation intrinsics resolved here with plausible values of the
right shape (ARNs of the right service, bucket names), the way CloudFormation would resolve
them at deploy time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "plausible-stack",
}
_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def deployed_definition(
    templates: Mapping[str, dict[str, Any]], pipeline_name: str | None = None
) -> dict[str, Any]:
    """The definition body of the synthesized app's ``AWS::SageMaker::Pipeline`` named
    ``pipeline_name`` (default: the training pipeline of cdk.json's project), resolved."""
    if pipeline_name is None:
        from mlops.core.settings import load_settings

        pipeline_name = load_settings().names.pipeline
    for template in templates.values():
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::SageMaker::Pipeline":
                continue
            if resource["Properties"].get("PipelineName") != pipeline_name:
                continue
            definition = resource["Properties"]["PipelineDefinition"]
            body = definition.get("PipelineDefinitionBody", definition.get("DefinitionString"))
            return dict(json.loads(_resolve(body, template, templates)))
    raise LookupError(f"no AWS::SageMaker::Pipeline {pipeline_name} in the synthesized templates")


def local_definition() -> dict[str, Any]:
    """The definition ``mlops pipeline run --local`` executes (run.py's arguments)."""
    from mlops.core.settings import load_settings
    from sagemaker_pipelines.definition import CodeLocations, build_definition

    settings = load_settings()
    bucket = settings.names.local_artifact_bucket
    code = f"s3://{bucket}/code/0123456789abcdef"
    return dict(
        json.loads(
            build_definition(
                settings,
                role_arn=settings.names.local_pipeline_role_arn,
                artifact_bucket=bucket,
                default_input_uri=f"s3://{bucket}/input/a1b2c3d4e5f6/",
                code=CodeLocations(
                    preprocess=f"{code}/preprocess.py",
                    evaluate=f"{code}/evaluate.py",
                    training_source=f"{code}/sourcedir.tar.gz",
                    clarify=f"{code}/clarify.py",
                ),
            )
        )
    )


def _resolve(value: Any, template: dict[str, Any], templates: Mapping[str, dict[str, Any]]) -> Any:
    if isinstance(value, list):
        return [_resolve(item, template, templates) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {key: _resolve(item, template, templates) for key, item in value.items()}
    (function, argument), *_ = value.items()
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: _resolve(item, template, templates) for name, item in variables.items()}
        return _VARIABLE.sub(
            lambda match: str(
                values.get(match.group(1)) or _reference(match.group(1), template, templates)
            ),
            text,
        )
    if function == "Fn::Join":
        separator, items = argument
        return str(separator).join(str(_resolve(item, template, templates)) for item in items)
    if function == "Ref":
        return _reference(str(argument), template, templates)
    if function == "Fn::GetAtt":
        logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return _attribute(logical, attribute, template)
    if function == "Fn::ImportValue":
        return _import(str(_resolve(argument, template, templates)), templates)
    return {key: _resolve(item, template, templates) for key, item in value.items()}


def _reference(name: str, template: dict[str, Any], templates: Mapping[str, Any]) -> str:
    if name in _PSEUDO:
        return _PSEUDO[name]
    if "." in name:
        logical, attribute = name.split(".", 1)
        return _attribute(logical, attribute, template)
    parameter = template.get("Parameters", {}).get(name)
    if parameter is not None:
        return str(parameter.get("Default", f"plausible-{name.lower()}"))
    return f"plausible-{name.lower()}"


def _attribute(logical: str, attribute: str, template: dict[str, Any]) -> str:
    kind = template.get("Resources", {}).get(logical, {}).get("Type", "")
    name = f"plausible-{logical.lower()}"[:63]
    if attribute != "Arn":
        return name
    arns = {
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
    }
    return arns.get(
        kind,
        f"arn:aws:{kind.split('::')[1].lower() if '::' in kind else 'x'}:{REGION}:{ACCOUNT}:{name}",
    )


def _import(export: str, templates: Mapping[str, dict[str, Any]]) -> Any:
    for template in templates.values():
        for output in template.get("Outputs", {}).values():
            name = output.get("Export", {}).get("Name")
            if name is not None and _resolve(name, template, templates) == export:
                return _resolve(output["Value"], template, templates)
    raise LookupError(f"no stack exports {export}")
