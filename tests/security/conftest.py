"""The synthesized CDK templates for the security checks.

Synthesis is the infra tests' own helper (``tests.infra.conftest.synthesize``), called once
per session here. pytest scopes a conftest fixture to its directory, so this session cannot
reuse the instance tests/infra builds; moving ``synthesized`` to tests/conftest.py would let
both directories share one synth (~15 s saved per full run).
"""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("security-cdk.out"))
