"""The SDK-built definition: offline, deterministic, placeholder-safe, and the designed shape."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlops.core.settings import ProjectSettings, load_settings
from tests.pipeline.conftest import (
    PLACEHOLDERS,
    OfflineBuilds,
    all_steps,
    build_with_placeholders,
)

# `mlops pipeline definition` with the repository's cdk.json settings, as reviewed.
GOLDEN_DEFINITION = Path(__file__).parent / "golden" / "definition-default.json"


def test_build_makes_no_network_attempt_and_needs_no_credentials(
    offline_builds: OfflineBuilds,
) -> None:
    assert offline_builds.network.attempts == []
    assert all(value is None for value in offline_builds.credentials_seen.values())
    assert json.loads(offline_builds.first)["Version"] == "2020-12-01"


def test_two_builds_are_byte_identical(offline_builds: OfflineBuilds) -> None:
    assert offline_builds.first == offline_builds.second


def test_placeholder_strings_appear_verbatim(offline_builds: OfflineBuilds) -> None:
    for name, placeholder in PLACEHOLDERS.items():
        assert json.dumps(placeholder)[1:-1] in offline_builds.first, name


def test_steps_have_the_designed_names_and_types(definition: dict[str, Any]) -> None:
    steps = {name: step["Type"] for name, step in all_steps(definition).items()}
    assert steps == {
        "Preprocess": "Processing",
        "DataQualityBaseline": "QualityCheck",
        "Train": "Training",
        "Evaluate": "Processing",
        "ModelQualityBaseline": "QualityCheck",
        "ModelBiasBaseline": "Processing",
        "ModelExplainabilityBaseline": "Processing",
        "CheckPredictions": "Condition",
        "ConstantPredictions": "Fail",
        "CheckMetric": "Condition",
        "Register": "RegisterModel",
        "MetricBelowThreshold": "Fail",
    }


def test_model_quality_baselines_evaluates_predictions_with_the_analyzer(
    definition: dict[str, Any],
) -> None:
    step = all_steps(definition)["ModelQualityBaseline"]
    environment = step["Arguments"]["Environment"]
    assert step["CheckType"] == "MODEL_QUALITY"
    assert environment["analysis_type"] == "MODEL_QUALITY"
    assert environment["problem_type"] == "BinaryClassification"
    assert (environment["inference_attribute"], environment["ground_truth_attribute"]) == (
        "prediction",
        "label",
    )
    assert step["Arguments"]["NetworkConfig"] == {"EnableNetworkIsolation": True}
    dataset = step["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]["Std:Join"]["Values"]
    assert dataset[-1] == "predictions.csv"


def test_bias_and_explainability_baselines_run_clarify_py_with_the_settings(
    definition: dict[str, Any],
) -> None:
    steps = all_steps(definition)
    bias = steps["ModelBiasBaseline"]["Arguments"]["AppSpecification"]
    arguments = bias["ContainerArguments"]
    assert bias["ContainerEntrypoint"][-1].endswith(PLACEHOLDERS["clarify"].rsplit("/", 1)[-1])
    facets = json.loads(arguments[arguments.index("--facets") + 1])
    assert facets == [{"name_or_index": "senior_citizen", "value_or_threshold": [1]}]
    labels = arguments[arguments.index("--label-values-or-threshold") + 1]
    assert json.loads(labels) == ["Yes"]  # the binary problem's positive label
    explain = steps["ModelExplainabilityBaseline"]["Arguments"]["AppSpecification"]
    assert explain["ContainerArguments"][:2] == ["--analysis", "explainability"]


def test_register_carries_every_monitors_drift_baseline(definition: dict[str, Any]) -> None:
    request = all_steps(definition)["Register"]["Arguments"]
    baselines = request["DriftCheckBaselines"]
    assert set(baselines) == {"ModelDataQuality", "ModelQuality", "Bias", "Explainability"}
    assert set(baselines["Bias"]) == {
        "ConfigFile",
        "PreTrainingConstraints",
        "PostTrainingConstraints",
    }
    assert set(baselines["Explainability"]) == {"ConfigFile", "Constraints"}
    assert set(request["ModelMetrics"]) == {
        "ModelQuality",
        "ModelDataQuality",
        "Bias",
        "Explainability",
    }


def test_parameter_defaults_come_from_settings(
    definition: dict[str, Any], settings: ProjectSettings
) -> None:
    parameters = {
        item["Name"]: (item["Type"], item["DefaultValue"]) for item in definition["Parameters"]
    }
    hp = settings.hyperparameters
    assert parameters == {
        "InputDataUrl": ("String", PLACEHOLDERS["default_input_uri"]),
        "ProcessingInstanceType": ("String", settings.instances.processing_type),
        "TrainingInstanceType": ("String", settings.instances.training_type),
        "TrainingInstanceCount": ("Integer", settings.instances.training_count),
        "MaxDepth": ("Integer", hp.max_depth),
        "Eta": ("Float", hp.eta),
        "NumRound": ("Integer", hp.num_round),
        "Subsample": ("Float", hp.subsample),
        "ColsampleBytree": ("Float", hp.colsample_bytree),
        "MinChildWeight": ("Float", hp.min_child_weight),
        "EarlyStoppingRounds": ("Integer", hp.early_stopping_rounds),
        "MetricThreshold": ("Float", settings.resolved_gate().threshold),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
    }


def _joins(value: Any) -> list[list[Any]]:
    found: list[list[Any]] = []
    if isinstance(value, dict):
        if "Std:Join" in value:
            found.append(value["Std:Join"]["Values"])
        for item in value.values():
            found += _joins(item)
    elif isinstance(value, list):
        for item in value:
            found += _joins(item)
    return found


def test_every_step_output_is_under_the_execution_prefix(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    outputs = [
        output["S3Output"]["S3Uri"]
        for name in ("Preprocess", "DataQualityBaseline", "Evaluate")
        for output in steps[name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    ]
    outputs.append(steps["Train"]["Arguments"]["OutputDataConfig"]["S3OutputPath"])
    assert len(outputs) == 8
    for uri in outputs:
        (values,) = _joins(uri)
        assert values[:2] == ["s3:/", PLACEHOLDERS["artifact_bucket"]]
        assert {"Get": "Execution.PipelineExecutionId"} in values


def test_preprocess_receives_the_dataset_schema(definition: dict[str, Any]) -> None:
    settings = load_settings(
        {
            "dataset": {
                "target": "label",
                "problem_type": "binary",
                "positive_label": "1",
                "id_column": "id",
                "drop_columns": "ts",
                "categorical": "plan",
            }
        }
    )
    steps = all_steps(json.loads(build_with_placeholders(settings)))
    arguments = steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments == [
        "--target",
        "label",
        "--problem-type",
        "binary",
        "--positive-label",
        "1",
        "--drop-columns",
        "id,ts",
        "--categorical",
        "plan",
        "--parts",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingInstanceCount"}]}},
    ]


@pytest.mark.parametrize(
    ("problem_type", "gate", "comparison", "training_metrics"),
    [
        (
            "multiclass",
            "multiclass_classification_metrics.weighted_f1.value",
            "GreaterThanOrEqualTo",
            ["merror", "mlogloss"],
        ),
        ("regression", "regression_metrics.rmse.value", "LessThanOrEqualTo", ["mae", "rmse"]),
    ],
)
def test_the_problem_type_sets_the_gate_path_direction_and_training_metrics(
    problem_type: str, gate: str, comparison: str, training_metrics: list[str]
) -> None:
    overrides: dict[str, Any] = {
        "dataset": {"target": "y", "problem_type": problem_type, "positive_label": None}
    }
    if problem_type == "regression":
        overrides["gate"] = {"metric": "rmse", "threshold": 50}
    steps = all_steps(json.loads(build_with_placeholders(load_settings(overrides))))
    _, condition = steps["CheckMetric"]["Arguments"]["Conditions"]
    assert condition["Type"] == comparison
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == gate
    names = [
        m["Name"]
        for m in steps["Train"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    ]
    assert names == [f"{split}:{m}" for split in ("train", "validation") for m in training_metrics]
    message = steps["MetricBelowThreshold"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    side = "above" if comparison == "LessThanOrEqualTo" else "below"
    assert f"is {side} the MetricThreshold parameter" in message


def test_numeric_hyperparameters_reach_the_job_as_strings(definition: dict[str, Any]) -> None:
    # CreateTrainingJob takes a map of string to string: a Get of an Integer parameter would be
    # rejected by the service (botocore's model); Std:Join renders it as text at run time.
    hyperparameters = all_steps(definition)["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["max_depth"] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxDepth"}]}
    }
    assert all(
        isinstance(value, str) or set(value) == {"Std:Join"} for value in hyperparameters.values()
    )


def test_training_runs_the_sourcedir_in_script_mode(definition: dict[str, Any]) -> None:
    train = all_steps(definition)["Train"]["Arguments"]
    hyperparameters = train["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == "train.py"
    # Network-isolated script mode: the tarball arrives as the `code` channel.
    sourcedir_name = PLACEHOLDERS["training_source"].rsplit("/", 1)[-1]
    assert (
        hyperparameters["sagemaker_submit_directory"] == f"/opt/ml/input/data/code/{sourcedir_name}"
    )
    metric_names = [m["Name"] for m in train["AlgorithmSpecification"]["MetricDefinitions"]]
    # Binary: AUC reported, logloss (the early-stopping metric, listed last) too.
    assert metric_names == ["train:auc", "train:logloss", "validation:auc", "validation:logloss"]
    assert train["AlgorithmSpecification"]["TrainingImage"].endswith("sagemaker-xgboost:3.2-0")
    channels = {c["ChannelName"]: c for c in train["InputDataConfig"]}
    assert list(channels) == ["train", "validation", "spec", "code"]
    assert (
        channels["code"]["DataSource"]["S3DataSource"]["S3Uri"] == PLACEHOLDERS["training_source"]
    )


def test_condition_compares_the_gate_metric_with_the_threshold_parameter(
    definition: dict[str, Any],
) -> None:
    _, condition = all_steps(definition)["CheckMetric"]["Arguments"]["Conditions"]
    assert condition == {
        "Type": "GreaterThanOrEqualTo",
        "LeftValue": {
            "Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                "Path": "binary_classification_metrics.auc.value",
            }
        },
        "RightValue": {"Get": "Parameters.MetricThreshold"},
    }


def test_a_constant_model_is_refused_and_named_first(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    gate = steps["CheckMetric"]["Arguments"]
    varied, _ = gate["Conditions"]
    assert varied["LeftValue"]["Std:JsonGet"]["Path"] == "prediction_check.distinct_predictions"
    assert (varied["Type"], varied["RightValue"]) == ("GreaterThanOrEqualTo", 2)
    assert [step["Name"] for step in gate["IfSteps"]] == ["Register"]
    assert [step["Name"] for step in gate["ElseSteps"]] == ["CheckPredictions"]
    why = steps["CheckPredictions"]["Arguments"]
    assert why["Conditions"] == [varied]
    assert [step["Name"] for step in why["IfSteps"]] == ["MetricBelowThreshold"]
    assert [step["Name"] for step in why["ElseSteps"]] == ["ConstantPredictions"]
    message = steps["ConstantPredictions"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[1]["Std:JsonGet"]["Path"] == "prediction_check.message"


def test_register_records_metrics_baselines_and_the_approval_parameter(
    definition: dict[str, Any],
) -> None:
    register = all_steps(definition)["Register"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["ModelPackageGroupName"] == load_settings().names.model_package_group
    drift = register["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"] == {
        "Get": "Steps.DataQualityBaseline.CalculatedBaselineStatistics"
    }
    assert drift["Constraints"]["S3Uri"] == {
        "Get": "Steps.DataQualityBaseline.CalculatedBaselineConstraints"
    }
    quality = register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert quality["Std:Join"]["Values"][-1] == "evaluation.json"
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    metadata = register["CustomerMetadataProperties"]
    assert (metadata["problem-type"], metadata["target"], metadata["gate-metric"]) == (
        "binary",
        "churn",
        "auc",
    )
    assert metadata["input-data"] == {"Get": "Parameters.InputDataUrl"}
    assert metadata["gate-value"]["Std:Join"]["Values"][0]["Std:JsonGet"]["Path"] == (
        "binary_classification_metrics.auc.value"
    )


def test_fail_message_states_metric_and_threshold(definition: dict[str, Any]) -> None:
    message = all_steps(definition)["MetricBelowThreshold"]["Arguments"]["ErrorMessage"]
    values = message["Std:Join"]["Values"]
    assert {"Get": "Parameters.MetricThreshold"} in values
    assert any("Std:JsonGet" in value for value in values if isinstance(value, dict))


def test_processing_entry_point_is_the_code_uris_last_segment(definition: dict[str, Any]) -> None:
    steps = all_steps(definition)
    for name, uri in (
        ("Preprocess", PLACEHOLDERS["preprocess"]),
        ("Evaluate", PLACEHOLDERS["evaluate"]),
    ):
        arguments = steps[name]["Arguments"]
        entry = arguments["AppSpecification"]["ContainerEntrypoint"]
        assert entry == ["python3", "/opt/ml/processing/input/code/" + uri.rsplit("/", 1)[-1]]
        code = [i for i in arguments["ProcessingInputs"] if i["InputName"] == "code"]
        assert code[0]["S3Input"]["S3Uri"] == uri


def test_cli_definition_prints_the_json_with_the_given_role_and_bucket() -> None:
    from typer.testing import CliRunner

    from mlops.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "pipeline",
            "definition",
            "--pretty",
            "--role-arn",
            "arn:aws:iam::210987654321:role/x",
            "--bucket",
            "team-artifacts",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (
        all_steps(document)["Train"]["Arguments"]["RoleArn"] == "arn:aws:iam::210987654321:role/x"
    )
    assert "team-artifacts" in result.stdout
    assert result.stdout.startswith("{\n")


def test_default_definition_is_byte_identical_to_the_golden_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from mlops.cli.main import app

    for name in [name for name in os.environ if name.startswith("MLOPS_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["pipeline", "definition"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == GOLDEN_DEFINITION.read_bytes(), (
        "the pipeline definition changed; if intended, regenerate with `.venv/bin/mlops "
        "pipeline definition > tests/pipeline/golden/definition-default.json` and review the diff"
    )
