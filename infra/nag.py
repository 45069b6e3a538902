"""cdk-nag: the rule packs every stack of the app is checked against.

Acknowledgements are not here: each component acknowledges the findings on its own resources
where it creates them (``infra.shared.acknowledgements``), with the reason a security reviewer
would accept. Anything unacknowledged fails the synth (``ValidationFailed``).
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks


def add_compliance_checks(app: cdk.App, *, nist: bool = True) -> None:
    """AwsSolutions always; NIST 800-53 rev 5 too (it checks endpoint-config KMS and more)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if nist:
        cdk.Validations.of(app).add_plugins(NIST80053R5Checks(app))
