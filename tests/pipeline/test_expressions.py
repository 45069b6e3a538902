"""The expression engine: every function and condition type the SDK emits, as SageMaker
evaluates them."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.local_runtime.executor.expressions import (
    EvaluationContext,
    ExpressionError,
    all_conditions_hold,
    condition_holds,
    resolve,
    split_path,
)
from sagemaker_pipelines.parameters import ParameterError, resolve_parameters


@pytest.fixture
def context() -> EvaluationContext:
    return EvaluationContext(
        parameters={"AucThreshold": 0.75, "MaxDepth": 5, "Status": "Approved", "Flag": True},
        execution={"PipelineExecutionId": "abc123", "PipelineName": "demo"},
        steps={
            "Preprocess": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
                    ]
                }
            },
            "Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"}},
        },
        property_files={
            ("Evaluate", "EvaluationReport"): {
                "binary_classification_metrics": {"auc": {"value": 0.82}},
                "curve": [0.1, 0.4],
            }
        },
        read_s3_json=lambda uri: {"uri": uri, "metrics": {"auc": 0.9}},
    )


AUC = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
        "Path": "binary_classification_metrics.auc.value",
    }
}


def test_get_reads_parameters_and_execution_variables(context: EvaluationContext) -> None:
    assert resolve({"Get": "Parameters.MaxDepth"}, context) == 5
    assert resolve({"Get": "Execution.PipelineExecutionId"}, context) == "abc123"


def test_get_selects_a_named_list_item_in_step_properties(context: EvaluationContext) -> None:
    reference = "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    assert resolve({"Get": reference}, context) == "s3://b/test"
    assert resolve({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, context) == (
        "s3://b/model.tar.gz"
    )


def test_property_paths_accept_quotes_and_numeric_indexes() -> None:
    assert split_path("A['x'].B[\"y\"][0].C") == ["A", "x", "B", "y", 0, "C"]


def test_get_of_a_step_that_has_not_run_names_the_step(context: EvaluationContext) -> None:
    with pytest.raises(ExpressionError, match="step 'Evaluate' has not run"):
        resolve({"Get": "Steps.Evaluate.ProcessingOutputConfig"}, context)


def test_get_of_an_unknown_parameter_is_an_error(context: EvaluationContext) -> None:
    with pytest.raises(ExpressionError, match="unknown pipeline parameter 'Nope'"):
        resolve({"Get": "Parameters.Nope"}, context)


def test_join_renders_numbers_booleans_and_nested_expressions(context: EvaluationContext) -> None:
    expression = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                "bucket",
                {"Get": "Execution.PipelineExecutionId"},
                {"Get": "Parameters.MaxDepth"},
                {"Get": "Parameters.Flag"},
            ],
        }
    }
    assert resolve(expression, context) == "s3://bucket/abc123/5/true"


def test_json_get_reads_the_property_file(context: EvaluationContext) -> None:
    assert resolve(AUC, context) == 0.82
    curve = {
        "Std:JsonGet": {"PropertyFile": AUC["Std:JsonGet"]["PropertyFile"], "Path": "curve[1]"}
    }
    assert resolve(curve, context) == 0.4


def test_json_get_reads_an_s3_object(context: EvaluationContext) -> None:
    expression = {
        "Std:JsonGet": {
            "S3Uri": {"Std:Join": {"On": "/", "Values": ["s3://b", "e.json"]}},
            "Path": "metrics.auc",
        }
    }
    assert resolve(expression, context) == 0.9


def test_json_get_with_a_missing_path_is_an_error(context: EvaluationContext) -> None:
    missing = {
        "Std:JsonGet": {
            "PropertyFile": AUC["Std:JsonGet"]["PropertyFile"],
            "Path": "binary_classification_metrics.f1.value",
        }
    }
    with pytest.raises(ExpressionError, match="no field 'f1'"):
        resolve(missing, context)


def test_plain_json_passes_through_with_expressions_resolved_inside(
    context: EvaluationContext,
) -> None:
    value = {"A": [1, {"Get": "Parameters.Status"}], "B": {"C": None}}
    assert resolve(value, context) == {"A": [1, "Approved"], "B": {"C": None}}


def _compare(kind: str, left: Any, right: Any) -> dict[str, Any]:
    return {"Type": kind, "LeftValue": left, "RightValue": right}


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("Equals", {"Get": "Parameters.Status"}, "Approved", True),
        ("Equals", {"Get": "Parameters.MaxDepth"}, 6, False),
        ("GreaterThan", AUC, {"Get": "Parameters.AucThreshold"}, True),
        ("GreaterThan", 0.75, {"Get": "Parameters.AucThreshold"}, False),
        ("GreaterThanOrEqualTo", 0.75, {"Get": "Parameters.AucThreshold"}, True),
        ("GreaterThanOrEqualTo", 0.7, {"Get": "Parameters.AucThreshold"}, False),
        ("LessThan", AUC, 0.9, True),
        ("LessThan", AUC, 0.82, False),
        ("LessThanOrEqualTo", AUC, 0.82, True),
        ("LessThanOrEqualTo", AUC, 0.81, False),
    ],
)
def test_comparison_conditions(
    context: EvaluationContext, kind: str, left: Any, right: Any, expected: bool
) -> None:
    assert condition_holds(_compare(kind, left, right), context) is expected


def test_numbers_compare_numerically_when_one_side_is_text(context: EvaluationContext) -> None:
    assert condition_holds(_compare("GreaterThan", "10", 9), context) is True
    assert condition_holds(_compare("Equals", "0.5", 0.5), context) is True


def test_in_condition(context: EvaluationContext) -> None:
    condition = {
        "Type": "In",
        "QueryValue": {"Get": "Parameters.Status"},
        "Values": ["Rejected", "Approved"],
    }
    assert condition_holds(condition, context) is True
    condition["Values"] = ["Rejected"]
    assert condition_holds(condition, context) is False


def test_not_condition(context: EvaluationContext) -> None:
    inner = _compare("Equals", {"Get": "Parameters.Status"}, "Approved")
    assert condition_holds({"Type": "Not", "Condition": inner}, context) is False


def test_or_condition(context: EvaluationContext) -> None:
    false = _compare("Equals", 1, 2)
    true = _compare("Equals", 1, 1)
    assert condition_holds({"Type": "Or", "Conditions": [false, true]}, context) is True
    assert condition_holds({"Type": "Or", "Conditions": [false, false]}, context) is False


def test_a_condition_list_is_a_conjunction(context: EvaluationContext) -> None:
    assert (
        all_conditions_hold([_compare("Equals", 1, 1), _compare("Equals", 1, 2)], context) is False
    )
    assert all_conditions_hold([_compare("Equals", 1, 1)], context) is True


def test_comparing_incomparable_values_is_an_error(context: EvaluationContext) -> None:
    with pytest.raises(ExpressionError, match="cannot compare"):
        condition_holds(_compare("GreaterThan", "abc", 1), context)


DECLARED: list[dict[str, Any]] = [
    {"Name": "Url", "Type": "String", "DefaultValue": "s3://b/in/"},
    {"Name": "Depth", "Type": "Integer", "DefaultValue": 5},
    {"Name": "Eta", "Type": "Float", "DefaultValue": 0.1},
    {"Name": "Enabled", "Type": "Boolean", "DefaultValue": False},
]


def test_parameter_overrides_are_converted_to_the_declared_type() -> None:
    values = resolve_parameters(DECLARED, {"Depth": "7", "Eta": "0.3", "Enabled": "true"})
    assert values == {"Url": "s3://b/in/", "Depth": 7, "Eta": 0.3, "Enabled": True}
    assert isinstance(values["Eta"], float)


def test_unknown_parameter_override_lists_the_valid_names() -> None:
    with pytest.raises(
        ParameterError, match=r"unknown pipeline parameter 'Dept'.*Depth, Enabled, Eta, Url"
    ):
        resolve_parameters(DECLARED, {"Dept": "7"})


@pytest.mark.parametrize(("name", "value"), [("Depth", "7.5"), ("Eta", "fast"), ("Enabled", "yes")])
def test_override_of_the_wrong_type_is_rejected(name: str, value: str) -> None:
    with pytest.raises(ParameterError, match=f"{name} is"):
        resolve_parameters(DECLARED, {name: value})
