"""What a multiclass and a regression model answer (contracts §5), and what `endpoint invoke`
sends of a team's rows (their id and target columns left out, the id as InferenceId)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

import inference.inference as handlers
from mlops.cli.invoke_rows import read_rows
from mlops.core.errors import UserError
from mlops.core.settings import DatasetSchema
from tests.serving.modelkit import BuiltModel, build_model


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory) -> BuiltModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_model(tmp_path_factory.mktemp("mc"), problem_type="multiclass")


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> BuiltModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_model(tmp_path_factory.mktemp("reg"), problem_type="regression")


def _answer(model: BuiltModel, accept: str, rows: int = 3) -> tuple[bytes, np.ndarray]:
    loaded = handlers.build_model(model.booster, dict(model.spec))
    frame = model.raw.head(rows)
    body = "\n".join(",".join(map(str, row)) for row in frame.to_numpy().tolist())
    response = handlers.transform_fn(loaded, body, "text/csv", accept)
    assert response.status_code == 200, response.get_data()
    expected = model.booster.predict(
        xgb.DMatrix(model.encode(frame), feature_names=model.booster.feature_names)
    )
    return response.get_data(), np.asarray(expected, dtype=np.float32)


def test_multiclass_answers_the_likeliest_class_and_each_class_probability(
    multiclass: BuiltModel,
) -> None:
    body, expected = _answer(multiclass, "application/json")
    classes = list(multiclass.spec["classes"])  # type: ignore[call-overload]
    for answer, scores in zip(json.loads(body)["predictions"], expected, strict=True):
        assert list(answer["probabilities"]) == classes
        assert np.allclose(list(answer["probabilities"].values()), scores)
        assert answer["label"] == classes[int(np.argmax(scores))]


def test_multiclass_csv_rows_are_the_label_then_the_probabilities_in_class_order(
    multiclass: BuiltModel,
) -> None:
    body, expected = _answer(multiclass, "text/csv")
    for line, scores in zip(body.decode().splitlines(), expected, strict=True):
        label, *probabilities = line.split(",")
        assert np.array_equal(np.asarray(probabilities, dtype=np.float32), scores)
        assert label == list(multiclass.spec["classes"])[int(np.argmax(scores))]  # type: ignore[call-overload]


@pytest.mark.parametrize("accept", ["application/json", "application/jsonlines", "text/csv"])
def test_regression_answers_the_value_exactly(regression: BuiltModel, accept: str) -> None:
    body, expected = _answer(regression, accept)
    text = body.decode()
    if accept == "text/csv":
        values = [float(line) for line in text.splitlines()]
    elif accept == "application/jsonlines":
        values = [json.loads(line)["value"] for line in text.splitlines()]
    else:
        values = [item["value"] for item in json.loads(text)["predictions"]]
    assert np.array_equal(np.asarray(values, dtype=np.float32), expected)


SCHEMA = DatasetSchema(target="churn", problem_type="binary", id_column="customer_id")


def test_invoke_drops_id_and_target_and_sends_the_id_as_inference_id(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text('customer_id,age,churn,region\nC1,30,Yes,north\nC2,41,No,"so,uth"\n')
    rows = read_rows(data, "text/csv", header=True, schema=SCHEMA)
    assert rows.csv_lines == ["30,north", '41,"so,uth"']
    assert rows.inference_ids == ["C1", "C2"]
    assert rows.dropped == ("customer_id", "churn")


def test_a_header_naming_the_schemas_columns_is_recognised_without_the_flag(
    tmp_path: Path,
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("age,churn\n30,Yes\n")
    rows = read_rows(data, "text/csv", header=False, schema=SCHEMA)
    assert (rows.csv_lines, rows.inference_ids) == (["30"], None)


def test_rows_without_a_header_are_sent_as_they_are(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("30,north\n41,south\n")
    rows = read_rows(data, "text/csv", header=False, schema=SCHEMA)
    assert (rows.csv_lines, rows.inference_ids, rows.dropped) == (
        ["30,north", "41,south"],
        None,
        (),
    )


def test_json_records_lose_the_schemas_columns_and_keep_their_ids(tmp_path: Path) -> None:
    data = tmp_path / "rows.json"
    data.write_text(json.dumps({"instances": [{"customer_id": "C7", "age": 30, "churn": "No"}]}))
    rows = read_rows(data, "application/json", header=False, schema=SCHEMA)
    assert (rows.records, rows.inference_ids) == ([{"age": 30}], ["C7"])


def test_an_id_that_cannot_be_an_inference_id_is_a_user_error(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("customer_id,age\n" + "x" * 65 + ",30\n")
    with pytest.raises(UserError, match=r"row 1: id .* cannot be an InferenceId"):
        read_rows(data, "text/csv", header=True, schema=SCHEMA)
