"""Property tests of the serving handlers: hostile bodies, content types and accepts.

Whatever arrives, ``read_input`` → ``predict`` → ``write_output`` either answers (one prediction
per row) or raises ``InferenceError`` with a 4xx status and a message saying what is wrong.
Any other exception is a bug: inside the SageMaker XGBoost container it becomes a bare 5xx
with no message (contracts §5), and in the local server a 500.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference import inference as handlers
from tests.serving.modelkit import FEATURES

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "text/csv",
            "text/csv; charset=utf-8",
            "TEXT/CSV",
            "application/json",
            "application/json; charset=latin-1",
            "application/jsonlines",
            "application/x-jsonlines",
            "application/x-recordio-protobuf",
            "text/libsvm",
            "",
            ";",
            "text/csv;;;",
        ]
    ),
    st.none(),
    st.text(max_size=40),
)
ACCEPTS = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "application/jsonlines",
            "*/*",
            "text/*",
            "application/*",
            "image/png",
            "image/png, text/csv",
            "text/html;q=0.9, */*;q=0.1",
            ",,,",
            "",
        ]
    ),
    st.none(),
    st.text(max_size=40),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
CELL = st.one_of(
    st.sampled_from(["", " ", "1", "-3.5", "1e308", "1e999", "nan", "inf", "NaN", "Yes", "\u00e9"]),
    st.text(alphabet=string.printable, max_size=12),
)


@pytest.fixture(scope="module")
def model(model_dir: Path) -> Any:
    return handlers.model_fn(str(model_dir))


def _instances(rows: list[list[str]]) -> st.SearchStrategy[Any]:
    """JSON instances near the valid shape: objects by feature name or arrays, with damage."""
    row = st.sampled_from(rows)
    as_object = row.map(lambda r: dict(zip(FEATURES, r, strict=True)))
    damaged_object = st.tuples(
        as_object, st.dictionaries(st.sampled_from(FEATURES), JSON_VALUES, max_size=3)
    ).map(lambda pair: {**pair[0], **pair[1]})
    dropped = st.tuples(as_object, st.sampled_from(FEATURES)).map(
        lambda pair: {k: v for k, v in pair[0].items() if k != pair[1]}
    )
    array = st.tuples(row, st.lists(JSON_VALUES, max_size=3)).map(
        lambda pair: [*pair[0][: len(pair[0]) - len(pair[1])], *pair[1]]
    )
    return st.one_of(as_object, damaged_object, dropped, array, JSON_VALUES)


def request_bodies(rows: list[list[str]]) -> st.SearchStrategy[bytes | str]:
    csv_rows = st.lists(
        st.tuples(st.sampled_from(rows), st.dictionaries(st.integers(0, 20), CELL, max_size=3)).map(
            lambda pair: (
                ",".join(pair[1].get(index, cell) for index, cell in enumerate(pair[0]))
                + ("," + pair[1][20] if 20 in pair[1] else "")
            )
        ),
        min_size=1,
        max_size=5,
    ).map(lambda lines: "\n".join(lines))
    documents = st.one_of(
        st.lists(_instances(rows), max_size=5).map(lambda items: {"instances": items}),
        st.lists(_instances(rows), max_size=5),
        JSON_VALUES,
    ).map(lambda document: json.dumps(document, allow_nan=True))
    json_lines = st.lists(_instances(rows).map(json.dumps), max_size=5).map("\n".join)
    text = st.one_of(csv_rows, documents, json_lines, st.text(max_size=200))
    encoded = text.flatmap(
        lambda body: st.sampled_from(
            [body.encode("utf-8"), body, body.encode("utf-16"), body.encode("utf-8") + b"\xff"]
        )
    )
    return st.one_of(encoded, st.binary(max_size=200))


def _answer_or_client_error(model: Any, body: bytes | str, content_type: Any, accept: Any) -> None:
    """The property: a well-formed answer, or an InferenceError with a 4xx and a message."""
    refusal: handlers.InferenceError | None = None
    try:
        request = handlers.read_input(body, content_type)
        prediction = handlers.predict(request, model)
        payload, response_type = handlers.write_output(prediction, accept)
    except handlers.InferenceError as error:  # any other exception fails the property
        refusal = error
    if refusal is not None:
        assert 400 <= refusal.status_code < 500
        assert str(refusal.message).strip()
        assert str(refusal) == refusal.message
        return
    assert response_type in handlers.SUPPORTED_ACCEPTS
    assert len(prediction.probabilities) == len(request.items)
    assert np.all((prediction.probabilities >= 0) & (prediction.probabilities <= 1))
    assert payload


@pytest.fixture(scope="module")
def bodies(raw_rows: list[list[str]]) -> st.SearchStrategy[bytes | str]:
    return request_bodies(raw_rows[:200])


def test_random_requests_get_an_answer_or_a_4xx_with_a_message(
    model: Any, bodies: st.SearchStrategy[bytes | str]
) -> None:
    @FUZZ
    @given(body=bodies, content_type=CONTENT_TYPES, accept=ACCEPTS)
    def check(body: bytes | str, content_type: Any, accept: Any) -> None:
        _answer_or_client_error(model, body, content_type, accept)

    check()


def test_random_json_documents_get_an_answer_or_a_4xx_with_a_message(
    model: Any, bodies: st.SearchStrategy[bytes | str]
) -> None:
    @FUZZ
    @given(body=bodies, content_type=st.sampled_from(["application/json", "application/jsonlines"]))
    def check(body: bytes | str, content_type: str) -> None:
        _answer_or_client_error(model, body, content_type, "application/json")

    check()


@FUZZ
@given(
    probabilities=st.lists(st.floats(0, 1, width=32), min_size=1, max_size=20),
    threshold=st.floats(0, 1),
    positive=st.text(min_size=1, max_size=10),
    negative=st.text(min_size=1, max_size=10),
    accept=ACCEPTS,
)
def test_write_output_serialises_any_prediction_or_answers_406(
    probabilities: list[float], threshold: float, positive: str, negative: str, accept: Any
) -> None:
    prediction = handlers.Prediction(
        probabilities=np.asarray(probabilities, dtype=np.float32),
        positive_label=positive,
        negative_label=negative,
        threshold=threshold,
    )
    refusal: handlers.UnsupportedAcceptError | None = None
    try:
        payload, response_type = handlers.write_output(prediction, accept)
    except handlers.UnsupportedAcceptError as error:
        refusal = error
    if refusal is not None:
        assert refusal.status_code == 406
        assert "unsupported Accept" in refusal.message
        return
    if response_type == handlers.JSON:
        answers = json.loads(payload)["predictions"]
    elif response_type == handlers.JSONLINES:
        answers = [json.loads(line) for line in payload.decode().splitlines()]
    else:
        import csv
        import io

        answers = [
            {"probability": float(p), "label": label}
            for p, label in csv.reader(io.StringIO(payload.decode(), newline=""))
        ]
    # 9 significant digits round-trip a float32 exactly (contracts §5)
    assert [np.float32(a["probability"]) for a in answers] == [np.float32(p) for p in probabilities]
    assert [a["label"] for a in answers] == [
        positive if np.float32(p) >= threshold else negative for p in probabilities
    ]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[" * 100_000, "application/json"),
        (b'{"instances": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "application/json"),
        (b"[" * 100_000 + b"\n", "application/jsonlines"),
    ],
    ids=["json-array", "json-instances", "jsonlines"],
)
def test_deeply_nested_json_is_a_400_not_a_crash(
    model: Any, body: bytes, content_type: str
) -> None:
    with pytest.raises(handlers.BadRequestError) as caught:
        handlers.predict(handlers.read_input(body, content_type), model)
    assert caught.value.message


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"instances": [[' + b"7" * 5000 + b"]]}", "application/json"),
        (b"[" + b"7" * 5000 + b"]\n", "application/jsonlines"),
    ],
    ids=["json", "jsonlines"],
)
def test_an_integer_too_long_to_parse_is_a_400_not_a_crash(
    model: Any, body: bytes, content_type: str
) -> None:
    with pytest.raises(handlers.BadRequestError) as caught:
        handlers.predict(handlers.read_input(body, content_type), model)
    assert caught.value.message
