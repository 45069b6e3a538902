"""The local endpoint answers like the XGBoost 3.2-0 image's real serving stack, request by request.

The same ``model.tar.gz`` (the repository's ``inference.py`` inside) is served by the real
toolkit (``conftest.reference_container``) and by the local endpoint; every request of the
table goes to both, and their status, Content-Type (charset included) and kind of body must
be equal. The same request on the local runtime route must be what sagemaker-runtime makes of
the real container's answer. A multiclass and a regression model then answer a few requests on
both stacks, byte for byte the same bodies (class probabilities; values). The table is
``docs/contracts.md`` §5: with ``UPDATE_CONTRACTS=1`` the test writes it there, otherwise the
documented table must equal the measured one, so the doc cannot go stale. (Not an ``MLOPS_``
variable: tests/conftest.py clears those so that a developer's settings cannot leak into tests.)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fidelity.conftest import serve_for_real
from tests.fidelity.reference_env import REPO_ROOT, ReferenceEnv
from tests.fidelity.serving_contract import (
    Probe,
    Signature,
    answer_probes,
    documented_table,
    expected_runtime,
    observe,
    observe_runtime,
    probes,
    render,
    update_doc,
)
from tests.serving.conftest import ENDPOINT_NAME, http_request
from tests.serving.modelkit import BuiltModel, build_model

CONTRACTS = REPO_ROOT / "docs" / "contracts.md"
UPDATE = os.environ.get("UPDATE_CONTRACTS") == "1"
OTHER_PROBLEM_TYPES = ("multiclass", "regression")


@dataclass(frozen=True)
class Served:
    """One model on both stacks."""

    kind: str
    real: str
    local: Any
    rows: list[list[str]]


@pytest.fixture(scope="module")
def other_models(
    serving_env: ReferenceEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Served]]:
    from contextlib import ExitStack

    from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint

    with ExitStack() as stack:
        served = []
        for kind in OTHER_PROBLEM_TYPES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model = build_model(tmp_path_factory.mktemp(kind), problem_type=kind)  # type: ignore[arg-type]
            real = stack.enter_context(
                serve_for_real(serving_env, model.archive, tmp_path_factory.mktemp(f"{kind}-ml"))
            )
            local = stack.enter_context(
                LocalEndpoint(model.archive, EndpointOptions(endpoint_name=ENDPOINT_NAME))
            )
            rows = [list(map(str, row)) for row in model.raw.head(5).to_numpy().tolist()]
            served.append(Served(kind, real, local, rows))
        yield served


def _measure(
    real_url: str, local: Any, table: list[Probe], differences: list[str]
) -> list[tuple[Probe, Signature, Signature, str | None]]:
    measured = []
    for probe in table:
        real = observe(real_url, probe)
        local_answer = observe(local.url, probe)
        runtime = None
        if probe.path == "/invocations" and probe.method == "POST":
            runtime = observe_runtime(local.url, ENDPOINT_NAME, probe)
            if runtime != expected_runtime(real):
                differences.append(
                    f"{probe.name}: runtime route {runtime}, expected {expected_runtime(real)}"
                )
        if real != local_answer:
            differences.append(f"{probe.name}: real {real.cell()}, local {local_answer.cell()}")
        measured.append((probe, real, local_answer, runtime))
    return measured


def test_local_endpoint_answers_every_request_like_the_real_serving_stack(
    reference_container: str, endpoint: Any, test_model: BuiltModel, other_models: list[Served]
) -> None:
    rows = [list(map(str, row)) for row in test_model.raw.head(20).to_numpy().tolist()]
    table = probes(rows)
    differences: list[str] = []
    measured = _measure(reference_container, endpoint, table, differences)
    for served in other_models:
        measured += _measure(
            served.real, served.local, answer_probes(served.kind, served.rows), differences
        )
    rendered = render(measured)
    if UPDATE:
        update_doc(CONTRACTS, rendered)

    assert len(table) >= 30
    assert differences == []
    assert documented_table(CONTRACTS) == rendered, (
        "docs/contracts.md §5 differs from what was measured: "
        "run `UPDATE_CONTRACTS=1 .venv/bin/pytest tests/fidelity/test_serving_contract.py`"
    )


@pytest.mark.parametrize("kind", OTHER_PROBLEM_TYPES)
def test_multiclass_and_regression_answers_are_the_real_stacks_byte_for_byte(
    other_models: list[Served], kind: str
) -> None:
    served = next(item for item in other_models if item.kind == kind)
    for probe in answer_probes(kind, served.rows):
        real = http_request(served.real, "POST", probe.path, probe.body, probe.headers())
        local = http_request(served.local.url, "POST", probe.path, probe.body, probe.headers())
        assert (local.status, local.body) == (real.status, real.body), probe.name
