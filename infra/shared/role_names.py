"""The names of the project's IAM roles, fixed at synth.

The storage stack is deployed first, yet its key policy must name the roles that later stacks
create (the pipeline's, the endpoint's, the monitor's, the serving stack's CloudFormation
role). A key policy cannot name a principal that does not exist yet, but a condition on
``aws:PrincipalArn`` can name a role by ARN; that needs the ARN before the role exists, so
every role a key-policy statement or a ``iam:PassRole`` statement names has a fixed name.

The names themselves come from ``ProjectNames.role`` (``<project>-<purpose>-<region>``); this
binds them to a region and names each role's purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws

from mlops.core.names import TOOLING_ACCESS_ROLE, ProjectNames


@dataclass(frozen=True)
class RoleNames:
    """One project's role names in one region."""

    names: ProjectNames
    region: str

    def _name(self, purpose: str) -> str:
        return self.names.role(purpose, region=self.region)

    @property
    def pipeline(self) -> str:
        """The pipeline's execution role (the pipeline and every job it starts)."""
        return self._name("pipeline")

    @property
    def model(self) -> str:
        """The hosted model's execution role (reads its artifact, writes data capture)."""
        return self._name("model")

    @property
    def monitor(self) -> str:
        """The data-quality monitoring jobs' role."""
        return self._name("monitor")

    @property
    def batch(self) -> str:
        """The batch pipeline's role: its transform jobs and their data-quality monitoring."""
        return self._name("batch")

    @property
    def retrain(self) -> str:
        """EventBridge's role that starts the pipeline when the drift alarm fires."""
        return self._name("retrain")

    @property
    def serving_cloudformation(self) -> str:
        """The role CloudFormation runs as when the approval Lambda updates the serving stack."""
        return self._name("cfn-serving")

    @property
    def deployer(self) -> str:
        """The approval Lambda's execution role."""
        return self._name("deployer")

    @property
    def tooling_access(self) -> str:
        """A stage in another account: the role the tooling account's deployer and CI assume."""
        return self._name(TOOLING_ACCESS_ROLE)

    @staticmethod
    def arn(name: str) -> str:
        """The ARN of a role of this account (as a CloudFormation expression)."""
        return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{name}"
