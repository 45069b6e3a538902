"""Settings: each validation rule rejects one bad value with an error naming key, value, rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.core.settings import ProjectSettings, SettingsError, load_settings


def test_defaults_come_from_cdk_json() -> None:
    settings = load_settings()
    assert settings.project_name == "churn-mlops"
    assert settings.dataset.target == "churn"
    assert settings.dataset.problem_type == "binary"
    assert settings.dataset.id_column == "customer_id"
    assert settings.names.model_package_group == "churn-mlops-models"


def test_without_a_settings_file_nothing_defaults_to_the_example() -> None:
    settings = load_settings(context={})
    assert settings.dataset.target is None
    assert settings.dataset.problem_type is None
    assert settings.dataset.excluded_columns == ()
    with pytest.raises(SettingsError, match=r"dataset\.target = None: no target column"):
        settings.dataset.require_target()


def test_config_file_variable_selects_another_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "project.json"
    config.write_text(json.dumps({"context": {"mlops": {"project_name": "wine"}}}))
    monkeypatch.setenv("MLOPS_CONFIG_FILE", str(config))
    assert load_settings().names.model_package_group == "wine-models"


def test_environment_overrides_cdk_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_DATASET__TARGET", "label")
    monkeypatch.setenv("MLOPS_GATE__THRESHOLD", "0.8")
    settings = load_settings()
    assert settings.dataset.target == "label"
    assert settings.gate.threshold == 0.8
    assert settings.dataset.positive_label == "Yes"  # untouched nested keys survive


@pytest.mark.parametrize(
    ("problem_type", "metric", "threshold", "comparison"),
    [
        ("binary", "auc", 0.75, ">="),
        ("multiclass", "weighted_f1", 0.7, ">="),
        ("regression", "r2", 0.2, ">="),
    ],
)
def test_the_gate_defaults_per_problem_type(
    problem_type: str, metric: str, threshold: float, comparison: str
) -> None:
    dataset = {"problem_type": problem_type, "positive_label": None}
    gate = load_settings({"dataset": dataset}).resolved_gate()
    assert (gate.metric, gate.threshold, gate.comparison) == (metric, threshold, comparison)


def test_an_error_metric_gates_from_above() -> None:
    dataset = {"problem_type": "regression", "positive_label": None}
    gate = load_settings({"dataset": dataset, "gate": {"metric": "rmse", "threshold": 40}})
    assert gate.resolved_gate().comparison == "<="
    assert gate.resolved_gate().path == "regression_metrics.rmse.value"


def test_cli_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_DATASET__TARGET", "label")
    assert load_settings({"dataset": {"target": "y"}}).dataset.target == "y"


def test_context_dict_replaces_cdk_json() -> None:
    settings = load_settings(context={"project_name": "other-team", "dataset": {"target": "t"}})
    assert settings.project_name == "other-team"
    assert settings.dataset.target == "t"


def test_comma_separated_column_lists_are_split() -> None:
    settings = load_settings({"dataset": {"drop_columns": "id, account_id"}})
    assert settings.dataset.drop_columns == ("id", "account_id")


@pytest.mark.parametrize(
    ("overrides", "key", "value", "rule"),
    [
        ({"project_name": "My_Project"}, "project_name", "My_Project", "lowercase"),
        ({"project_name": "a" * 33}, "project_name", "a" * 33, "at most 32"),
        ({"project_name": "ends-with-"}, "project_name", "ends-with-", "start and end"),
        ({"account": "12345"}, "account", "12345", "12-digit"),
        ({"region": "mars-1"}, "region", "mars-1", "region"),
        (
            {"instances": {"training_type": "m5.large"}},
            "instances.training_type",
            "m5.large",
            "instance type",
        ),
        (
            {"instances": {"endpoint_initial_count": 0}},
            "instances.endpoint_initial_count",
            "0",
            "greater than or equal to 1",
        ),
        (
            {"instances": {"endpoint_initial_count": 3, "endpoint_max_count": 2}},
            "instances",
            "3",
            "endpoint_max_count (2) must be >=",
        ),
        (
            {"hyperparameters": {"max_depth": 0}},
            "hyperparameters.max_depth",
            "0",
            "greater than or equal to 1",
        ),
        (
            {"hyperparameters": {"eta": 1.5}},
            "hyperparameters.eta",
            "1.5",
            "less than or equal to 1",
        ),
        ({"metric_threshold": 0.8}, "metric_threshold", "0.8", "unknown setting"),
        ({"gate": {"metric": "rmse"}}, "gate.metric", "rmse", "not a binary metric"),
        ({"gate": {"threshold": 1.2}}, "gate.threshold", "1.2", "auc lies in [0, 1]"),
        (
            {"dataset": {"problem_type": "regression"}},
            "dataset.positive_label",
            "Yes",
            "only a binary problem has a positive label",
        ),
        ({"dataset": {"problem_type": "ordinal"}}, "dataset.problem_type", "ordinal", "binary"),
        ({"prediction_threshold": 0}, "prediction_threshold", "0", "greater than 0"),
        (
            {"monitoring": {"capture_sampling_percentage": 101}},
            "monitoring.capture_sampling_percentage",
            "101",
            "less than or equal to 100",
        ),
        (
            {"monitoring": {"schedule": "every hour"}},
            "monitoring.schedule",
            "every hour",
            "cron expression",
        ),
        ({"approval_status": "Maybe"}, "approval_status", "Maybe", "PendingManualApproval"),
        ({"dataset": {"target": ""}}, "dataset.target", "''", "at least 1 character"),
        (
            {"dataset": {"target": "id", "drop_columns": ["id"]}},
            "dataset",
            "id",
            "cannot also be listed in drop_columns",
        ),
        (
            {"dataset": {"categorical": ["a"], "numeric": ["a"]}},
            "dataset",
            "a",
            "both categorical and numeric",
        ),
        ({"instancez": {}}, "instancez", "{}", "unknown setting"),
    ],
)
def test_bad_value_fails_with_key_value_and_rule(
    overrides: dict[str, object], key: str, value: str, rule: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(overrides)
    message = str(raised.value)
    assert message.startswith(f"setting {key} = ")
    assert value in message
    assert rule in message


def test_bad_value_in_cdk_json_names_the_key(tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(
        json.dumps({"context": {"mlops": {"monitoring": {"capture_sampling_percentage": -5}}}})
    )
    with pytest.raises(SettingsError, match=r"monitoring\.capture_sampling_percentage = -5"):
        load_settings(cdk_json=cdk_json)


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.project_name = "changed"  # type: ignore[misc]
    assert isinstance(settings, ProjectSettings)
