"""The local endpoint answers like the XGBoost 3.2-0 image's real serving stack, request by request.

The same ``model.tar.gz`` (the repository's ``inference.py`` inside) is served by the real
toolkit (``conftest.reference_container``) and by the local endpoint; every request of the
table goes to both, and their status, Content-Type (charset included) and kind of body must
be equal. The same request on the local runtime route must be what sagemaker-runtime makes of
the real container's answer. The table is ``docs/contracts.md`` §5: with
``UPDATE_CONTRACTS=1`` the test writes it there, otherwise the documented table must equal
the measured one, so the doc cannot go stale. (Not an ``MLOPS_`` variable: tests/conftest.py
clears those so that a developer's settings cannot leak into tests.)
"""

from __future__ import annotations

import os
from typing import Any

from tests.fidelity.reference_env import REPO_ROOT
from tests.fidelity.serving_contract import (
    documented_table,
    expected_runtime,
    observe,
    observe_runtime,
    probes,
    render,
    update_doc,
)
from tests.serving.conftest import ENDPOINT_NAME
from tests.serving.modelkit import BuiltModel

CONTRACTS = REPO_ROOT / "docs" / "contracts.md"
UPDATE = os.environ.get("UPDATE_CONTRACTS") == "1"


def test_local_endpoint_answers_every_request_like_the_real_serving_stack(
    reference_container: str, endpoint: Any, test_model: BuiltModel
) -> None:
    rows = [list(map(str, row)) for row in test_model.raw.head(20).to_numpy().tolist()]
    table = probes(rows)
    measured = []
    differences = []
    for probe in table:
        real = observe(reference_container, probe)
        local = observe(endpoint.url, probe)
        runtime = None
        if probe.path == "/invocations" and probe.method == "POST":
            runtime = observe_runtime(endpoint.url, ENDPOINT_NAME, probe)
            if runtime != expected_runtime(real):
                differences.append(
                    f"{probe.name}: runtime route {runtime}, expected {expected_runtime(real)}"
                )
        if real != local:
            differences.append(f"{probe.name}: real {real.cell()}, local {local.cell()}")
        measured.append((probe, real, local, runtime))
    rendered = render(measured)
    if UPDATE:
        update_doc(CONTRACTS, rendered)

    assert len(table) >= 30
    assert differences == []
    assert documented_table(CONTRACTS) == rendered, (
        "docs/contracts.md §5 differs from what was measured: "
        "run `UPDATE_CONTRACTS=1 .venv/bin/pytest tests/fidelity/test_serving_contract.py`"
    )
