"""Bias metrics against AWS's own open-source implementation, PyPI ``smclarify`` 0.5.

``training/clarify.py`` computes Clarify's pre- and post-training bias metrics itself (it runs
in the network-isolated XGBoost image, which ships no smclarify, and the local monitor imports
the same code so baselines and live checks agree). smclarify fails on the project's pandas 3,
so it runs in its own environment (``envs/smclarify``, the image's pandas 2.2.3) on the same
rows; every metric value, error and facet group must be the same.
"""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

import numpy as np
import pytest

from tests.fidelity.reference_env import (
    ENVS,
    REPO_ROOT,
    ReferenceEnv,
    ReferenceEnvError,
    ensure_env,
)
from training import clarify

RUNNER = ENVS / "smclarify" / "run_smclarify.py"
ROWS = 1500


def _cases() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(11)
    senior = (rng.random(ROWS) < 0.2).astype(int)
    tier = rng.choice(["north", "south", "east"], ROWS, p=[0.5, 0.3, 0.2])
    score = np.round(rng.random(ROWS), 6)
    churn = np.where(rng.random(ROWS) < 0.25 + 0.15 * senior, "Yes", "No")
    guess = np.where(rng.random(ROWS) < 0.2 + 0.25 * senior, "Yes", "No")
    value = np.round(rng.gamma(2.0, 50.0, ROWS), 3)
    predicted_value = np.round(value * rng.uniform(0.7, 1.3, ROWS), 3)
    risk = rng.choice(["low", "medium", "high"], ROWS, p=[0.4, 0.35, 0.25])
    risk_guess = np.where(rng.random(ROWS) < 0.7, risk, rng.choice(["low", "medium", "high"], ROWS))
    group = rng.integers(0, 4, ROWS)
    f1, f2 = np.round(rng.normal(size=ROWS), 6), np.round(rng.normal(size=ROWS), 6)
    # A tiny sensitive group whose labels are all positive and predictions all negative.
    rare = np.zeros(ROWS, dtype=int)
    rare[:6] = 1
    rare_label = np.where(rare == 1, "Yes", churn)
    rare_guess = np.where(rare == 1, "No", guess)
    columns = {
        "senior": senior.tolist(),
        "tier": tier.tolist(),
        "score": score.tolist(),
        "churn": churn.tolist(),
        "guess": guess.tolist(),
        "value": value.tolist(),
        "predicted_value": predicted_value.tolist(),
        "risk": risk.tolist(),
        "risk_guess": risk_guess.tolist(),
        "group": group.tolist(),
        "f1": f1.tolist(),
        "f2": f2.tolist(),
        "rare": rare.tolist(),
        "rare_label": rare_label.tolist(),
        "rare_guess": rare_guess.tolist(),
    }

    def case(facet: list[Any], label: list[Any], predicted: str, group_: str | None) -> dict:
        return {
            "columns": columns,
            "facet": facet,
            "label": label,
            "predicted": predicted,
            "group": group_,
            "features": ["f1", "f2"],
        }

    return {
        "binary facet value, group variable": case(
            ["senior", [1]], ["churn", ["Yes"]], "guess", "group"
        ),
        "categorical facet, one group per value": case(
            ["tier", None], ["churn", ["Yes"]], "guess", None
        ),
        "numeric facet threshold": case(["score", [0.7]], ["churn", ["Yes"]], "guess", None),
        "regression label threshold": case(
            ["senior", [1]], ["value", [120.0]], "predicted_value", None
        ),
        "multiclass positive classes": case(
            ["senior", [1]], ["risk", ["high", "medium"]], "risk_guess", "group"
        ),
        "tiny group, all positive, never predicted": case(
            ["rare", [1]], ["rare_label", ["Yes"]], "rare_guess", None
        ),
    }


def _ours(case: dict[str, Any]) -> dict[str, Any]:
    columns = case["columns"]
    facet_name, facet_values = case["facet"]
    label_name, label_values = case["label"]
    facet = clarify.Facet.from_config(
        {"name_or_index": facet_name, "value_or_threshold": facet_values}
    )
    rule = clarify.LabelRule.from_config(label_values)
    data = clarify.BiasData(
        facets={facet_name: np.asarray(columns[facet_name])},
        labels=np.asarray(columns[label_name]),
        predicted=np.asarray(columns[case["predicted"]]),
        group=np.asarray(columns[case["group"]]) if case["group"] else None,
        features=np.column_stack([columns[name] for name in case["features"]]),
    )
    return clarify.bias_analysis(data, label=label_name, facets=[facet], rule=rule)


@pytest.fixture(scope="module")
def smclarify_env() -> ReferenceEnv:
    try:
        return ensure_env("smclarify", "3.12")
    except ReferenceEnvError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def reference(smclarify_env: ReferenceEnv, tmp_path_factory: pytest.TempPathFactory) -> dict:
    cases = tmp_path_factory.mktemp("smclarify") / "cases.json"
    cases.write_text(json.dumps(_cases()))
    completed = subprocess.run(
        [str(smclarify_env.bin("python")), str(RUNNER), str(cases)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return dict(json.loads(completed.stdout))


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) and isinstance(got, float):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
    return bool(expected == got)


@pytest.mark.parametrize("name", list(_cases()))
def test_every_bias_metric_equals_smclarify(name: str, reference: dict) -> None:
    case = _cases()[name]
    ours = _ours(case)
    facet = case["facet"][0]
    for stage, section in (("pre", clarify.PRE_TRAINING), ("post", clarify.POST_TRAINING)):
        theirs = reference[name][stage]
        mine = ours[section]["facets"][facet]
        assert [g["value_or_threshold"] for g in mine] == [g["value_or_threshold"] for g in theirs]
        for their_group, my_group in zip(theirs, mine, strict=True):
            expected = {
                m["name"]: (m["value"], "error" in m)
                for m in their_group["metrics"]
                if m["name"] in clarify.DESCRIPTIONS  # Clarify's job leaves out GE and SD
            }
            got = {m["name"]: (m["value"], "error" in m) for m in my_group["metrics"]}
            assert list(got) == list(expected)
            wrong = {
                metric: (expected[metric], got[metric])
                for metric in expected
                if not (
                    _same(expected[metric][0], got[metric][0])
                    and expected[metric][1] == got[metric][1]
                )
            }
            assert not wrong, f"{stage}, {facet}={my_group['value_or_threshold']}: {wrong}"
            descriptions = {m["name"]: m["description"] for m in their_group["metrics"]}
            assert all(m["description"] == descriptions[m["name"]] for m in my_group["metrics"])
