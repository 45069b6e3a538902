"""The handlers in-process: encoding per contracts §3, the responses and errors of §5."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from inference import inference
from tests.serving.modelkit import FEATURES, BuiltModel

FEATURES_ROW = ["45", "12", "70.5", "840.2", "2", "3", "10.25", "5", "0", "One year", "DSL", "Mailed check", "No", "north"]  # fmt: skip


@pytest.fixture(scope="module")
def model(test_model: BuiltModel, tmp_path_factory: pytest.TempPathFactory) -> inference.Model:
    directory = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(test_model.archive) as tar:
        tar.extractall(directory, filter="data")
    return inference.model_fn(str(directory))


def _csv(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(row) for row in rows) + "\n").encode()


def _predict(model: inference.Model, body: bytes | str, content_type: str) -> np.ndarray:
    return inference.predict(inference.read_input(body, content_type), model).probabilities


def test_encoding_matches_the_contract_encoder_including_blanks(
    model: inference.Model, test_model: BuiltModel
) -> None:
    frame = test_model.raw.head(300)
    assert (frame == "").to_numpy().any(), "the sample must contain missing values"
    request = inference.read_input(_csv(frame.to_numpy().tolist()), "text/csv")

    encoded = inference.encode(request, model)

    np.testing.assert_array_equal(encoded, test_model.encode(frame))


def test_csv_probabilities_equal_bare_inplace_predict(
    model: inference.Model, test_model: BuiltModel
) -> None:
    frame = test_model.raw.head(200)
    expected = test_model.booster.inplace_predict(test_model.encode(frame))

    got = _predict(model, _csv(frame.to_numpy().tolist()), "text/csv")

    np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_json_objects_arrays_jsonlines_and_csv_give_the_same_probabilities(
    model: inference.Model, test_model: BuiltModel
) -> None:
    frame = test_model.raw.head(20)
    rows = frame.to_numpy().tolist()
    records = [
        {name: (None if value == "" else value) for name, value in zip(FEATURES, row, strict=True)}
        for row in rows
    ]
    from_csv = _predict(model, _csv(rows), "text/csv")
    from_objects = _predict(model, json.dumps({"instances": records}), "application/json")
    from_arrays = _predict(model, json.dumps({"instances": rows}), "application/json")
    from_bare_list = _predict(model, json.dumps(records), "application/json")
    from_lines = _predict(
        model, "\n".join(json.dumps(record) for record in records), "application/jsonlines"
    )

    for other in (from_objects, from_arrays, from_bare_list, from_lines):
        np.testing.assert_array_equal(other, from_csv)


def test_json_numbers_encode_like_their_csv_text(model: inference.Model) -> None:
    row = ["45", "12", "70.5", "", "2", "3", "10.25", "5", "0", "One year", "DSL", "Mailed check", "No", "north"]  # fmt: skip
    typed: dict[str, object] = dict(zip(FEATURES, row, strict=True))
    typed.update(
        age=45, tenure_months=12, monthly_charges=70.5, total_charges=None, senior_citizen=0
    )

    assert (
        _predict(model, json.dumps([typed]), "application/json")[0]
        == _predict(model, _csv([row]), "text/csv")[0]
    )


def test_quoted_csv_fields_and_surrounding_spaces_are_accepted(
    model: inference.Model, test_model: BuiltModel
) -> None:
    row = test_model.raw.iloc[0].tolist()
    quoted = ",".join(f'" {value} "' for value in row)

    assert _predict(model, quoted, "text/csv")[0] == _predict(model, _csv([row]), "text/csv")[0]


def test_content_type_parameters_and_crlf_line_endings_are_accepted(
    model: inference.Model, test_model: BuiltModel
) -> None:
    rows = test_model.raw.head(3).to_numpy().tolist()
    body = "\r\n".join(",".join(row) for row in rows) + "\r\n"

    got = _predict(model, body.encode(), "text/csv; charset=utf-8")

    assert len(got) == 3


def test_json_response_shape_is_pinned() -> None:
    prediction = inference.Prediction(
        probabilities=np.array([0.75, 0.25], dtype=np.float32),
        positive_label="Yes",
        negative_label="not Yes",
        threshold=0.5,
    )

    body, content_type = inference.write_output(prediction, "application/json")

    assert content_type == "application/json"
    assert json.loads(body) == {
        "predictions": [
            {"probability": 0.75, "label": "Yes"},
            {"probability": 0.25, "label": "not Yes"},
        ]
    }


def test_csv_response_is_probability_then_label_per_row() -> None:
    prediction = inference.Prediction(
        probabilities=np.array([0.75, 0.5, 0.1], dtype=np.float32),
        positive_label="Yes",
        negative_label="No",
        threshold=0.5,
    )

    body, content_type = inference.write_output(prediction, "text/csv")

    assert content_type == "text/csv"
    assert body == b"0.75,Yes\n0.5,Yes\n0.100000001,No\n"


def test_jsonlines_response_is_one_object_per_row() -> None:
    prediction = inference.Prediction(np.array([0.9], dtype=np.float32), "Yes", "not Yes", 0.5)

    body, content_type = inference.write_output(prediction, "application/jsonlines")

    assert content_type == "application/jsonlines"
    assert [json.loads(line) for line in body.splitlines()] == [
        {"probability": pytest.approx(0.9), "label": "Yes"}
    ]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/xml, text/csv;q=0.5", "text/csv"),
        ("text/*", "text/csv"),
    ],
)
def test_accept_negotiation(accept: str | None, expected: str) -> None:
    prediction = inference.Prediction(np.array([0.9], dtype=np.float32), "Yes", "not Yes", 0.5)

    assert inference.write_output(prediction, accept)[1] == expected


def test_csv_probabilities_round_trip_to_the_exact_float32() -> None:
    values = np.random.default_rng(0).random(1000).astype(np.float32)
    prediction = inference.Prediction(values, "Yes", "not Yes", 0.5)

    body, _ = inference.write_output(prediction, "text/csv")
    parsed = np.array([float(line.split(",")[0]) for line in body.decode().splitlines()])

    np.testing.assert_array_equal(parsed.astype(np.float32), values)


def test_label_uses_the_spec_threshold_and_negative_label(
    test_model: BuiltModel, tmp_path: Path
) -> None:
    spec = dict(test_model.spec, prediction_threshold=0.99, negative_label="No")
    model = inference.build_model(test_model.booster, spec)
    body = _csv(test_model.raw.head(5).to_numpy().tolist())

    output, _ = inference.write_output(
        inference.predict(inference.read_input(body, "text/csv"), model), "application/json"
    )

    assert {item["label"] for item in json.loads(output)["predictions"]} == {"No"}


def test_client_errors_are_value_errors_carrying_status_and_message() -> None:
    with pytest.raises(ValueError, match="unsupported content type") as caught:
        inference.read_input(b"1,2", "text/plain")

    assert isinstance(caught.value, inference.InferenceError)
    assert caught.value.status_code == 415
    assert "text/plain" in caught.value.message


def test_spec_that_disagrees_with_the_booster_is_refused(test_model: BuiltModel) -> None:
    spec = json.loads(json.dumps(test_model.spec))
    spec["features"][-1]["categories"].append("atlantis")
    spec["encoded_columns"].append("region=atlantis")

    with pytest.raises(ValueError, match="differ from the spec"):
        inference.build_model(test_model.booster, spec)


def test_handlers_import_nothing_from_the_repository() -> None:
    source = Path(inference.__file__).read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }

    assert imports <= {
        "__future__",
        "collections",
        "contextvars",
        "csv",
        "dataclasses",
        "io",
        "json",
        "logging",
        "math",
        "os",
        "sys",
        "typing",
        "warnings",
        "numpy",
        "xgboost",
    }


def test_the_module_offers_transform_fn_only_so_the_image_calls_it() -> None:
    # The image's serving module refuses transform_fn next to input_fn/predict_fn/output_fn,
    # and only transform_fn can answer a client mistake with a 4xx there.
    assert callable(inference.transform_fn)
    assert not any(hasattr(inference, name) for name in ("input_fn", "predict_fn", "output_fn"))


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "error", "message"),
    [
        (b"forty,1", "text/csv", "application/json", 400, "BadRequestError", "expected 14 values"),
        (
            b"1,2",
            "text/plain",
            "application/json",
            415,
            "UnsupportedContentTypeError",
            "text/plain",
        ),
        (b"1,2", "text/csv", "image/png", 406, "UnsupportedAcceptError", "image/png"),
    ],
)
def test_client_mistakes_become_responses_with_their_status_and_a_json_message(
    model: inference.Model,
    body: bytes,
    content_type: str,
    accept: str,
    status: int,
    error: str,
    message: str,
) -> None:
    if accept == "image/png":  # a good body, so that only the Accept is wrong
        body = ",".join(FEATURES_ROW).encode()

    response = inference.transform_fn(model, body, content_type, accept)

    assert (response.status_code, response.mimetype) == (status, "application/json")
    document = json.loads(response.get_data())
    assert document["error"] == error
    assert message in document["error-message"]


def test_a_prediction_is_a_200_in_the_negotiated_type(model: inference.Model) -> None:
    response = inference.transform_fn(
        model, ",".join(FEATURES_ROW).encode(), "text/csv", "text/csv"
    )

    assert (response.status_code, response.mimetype) == (200, "text/csv")
    assert response.get_data().decode().count("\n") == 1
    assert response.headers[inference.UNSEEN_CATEGORIES_HEADER] == "0"


def test_the_callers_custom_attributes_are_echoed(model: inference.Model) -> None:
    token = inference.REQUEST_HEADERS.set({"x-amzn-sagemaker-custom-attributes": "trace=abc"})
    try:
        ok = inference.transform_fn(model, ",".join(FEATURES_ROW), "text/csv", "application/json")
        refused = inference.transform_fn(model, "1", "text/csv", "application/json")
    finally:
        inference.REQUEST_HEADERS.reset(token)

    assert ok.headers[inference.CUSTOM_ATTRIBUTES_HEADER] == "trace=abc"
    assert refused.headers[inference.CUSTOM_ATTRIBUTES_HEADER] == "trace=abc"


def test_an_unseen_category_is_scored_like_a_missing_value_and_counted(
    model: inference.Model,
) -> None:
    row = dict(zip(FEATURES, FEATURES_ROW, strict=True))
    unseen = inference.predict(
        inference.read_input(_csv([list(dict(row, contract="Three year").values())]), "text/csv"),
        model,
    )
    blank = inference.predict(
        inference.read_input(_csv([list(dict(row, contract="").values())]), "text/csv"), model
    )

    assert unseen.probabilities[0] == blank.probabilities[0]
    assert unseen.unseen == {"contract": {"Three year": 1}}
    assert unseen.unseen_count == 1
    assert blank.unseen_count == 0


def test_a_model_failure_is_not_turned_into_a_client_error(model: inference.Model) -> None:
    broken = inference.Model(
        booster=model.booster,
        features=model.features,
        encoded_width=model.encoded_width + 1,  # a matrix the booster refuses
        positive_label=model.positive_label,
        negative_label=model.negative_label,
        threshold=model.threshold,
    )

    with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever xgboost raises
        inference.transform_fn(broken, ",".join(FEATURES_ROW), "text/csv", "application/json")

    assert not isinstance(caught.value, inference.InferenceError)
