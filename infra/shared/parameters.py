"""Names the CLI needs after a deploy, published as SSM parameters and stack outputs.

SSM parameters have fixed names (``ProjectNames.parameter``: ``/<project>/<leaf>``), so the CLI
finds them without knowing stack names or output keys; the outputs show the same values after
``cdk deploy``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops.core.names import ProjectNames


class PublishedNames(Construct):
    """One ``String`` SSM parameter and one output per ``leaf → value``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        values: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        for leaf, value in values.items():
            logical = "".join(part.capitalize() for part in leaf.split("-"))
            parameter = names.parameter(leaf)
            ssm.StringParameter(
                self,
                f"{logical}Parameter",
                parameter_name=parameter,
                string_value=value,
                description=f"{names.project}: {leaf.replace('-', ' ')} (read by the mlops CLI)",
            )
            CfnOutput(self, logical, value=value, description=parameter)
