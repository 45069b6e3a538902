"""A CSV body of many rows is parsed and encoded with array operations over its bytes
(``inference.CsvRows``); a few rows go cell by cell. Whichever path a body takes, the caller
gets the same matrix, the same unseen-category counts and the same error, word for word."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference import inference
from tests.serving.conftest import csv_body
from tests.serving.modelkit import FEATURES, NUMERIC, BuiltModel

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NUMBERS = st.one_of(
    st.from_regex(r"[+-]?[0-9]{0,9}(\.[0-9]{0,9})?", fullmatch=True),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**18), 10**18).map(str),
)
ODD_CELLS = st.one_of(
    NUMBERS,
    st.sampled_from(["", " ", " 7 ", "1e3", "nan", "inf", "-", ".", "1.2.3", "forty", "DSL "]),
    st.text(alphabet=" -+.,0123456789eEaxé\t", max_size=8),
)


@pytest.fixture(scope="module")
def model(test_model: BuiltModel, tmp_path_factory: pytest.TempPathFactory) -> inference.Model:
    directory = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(test_model.archive) as tar:
        tar.extractall(directory, filter="data")
    return inference.model_fn(str(directory))


@pytest.fixture(scope="module")
def rows(test_model: BuiltModel) -> list[list[str]]:
    return [list(map(str, row)) for row in test_model.raw.head(300).to_numpy().tolist()]


def _outcome(request: inference.Request, model: inference.Model) -> tuple[object, ...]:
    """What a caller can observe of ``encode``: the matrix and counts, or the error."""
    unseen: dict[str, dict[str, int]] = {}
    try:
        matrix = inference.encode(request, model, unseen=unseen)
    except inference.InferenceError as error:
        return ("error", type(error).__name__, error.message)
    counts = [(column, list(values.items())) for column, values in unseen.items()]
    return ("matrix", matrix.shape, matrix.tobytes(), counts)


def _cell_by_cell(body: str) -> inference.Request:
    """The same body through the per-cell path (what small bodies and quoted CSV take)."""
    return inference.Request(inference._parse_csv(body), "text/csv")


def _bodies(rows: list[list[str]]) -> st.SearchStrategy[str]:
    damaged_row = st.tuples(
        st.sampled_from(rows), st.dictionaries(st.integers(0, len(FEATURES)), ODD_CELLS, max_size=3)
    ).map(
        lambda pair: ",".join(
            [pair[1].get(index, cell) for index, cell in enumerate(pair[0])]
            + ([pair[1][len(FEATURES)]] if len(FEATURES) in pair[1] else [])
        )
    )
    return st.tuples(
        st.lists(damaged_row, min_size=15, max_size=60),
        st.sampled_from(["\n", "\r\n"]),
        st.sampled_from(["", "\n", "\r\n", "\n\n"]),
    ).map(lambda parts: parts[1].join(parts[0]) + parts[2])


def test_a_plain_1000_row_body_takes_the_array_path(rows: list[list[str]]) -> None:
    body = csv_body((rows * 4)[:1000])

    assert isinstance(inference.read_input(body, "text/csv").items, inference.CsvRows)
    assert isinstance(inference.read_input(body.decode(), "text/csv").items, inference.CsvRows)


def test_big_bodies_encode_exactly_as_cell_by_cell(
    model: inference.Model, rows: list[list[str]]
) -> None:
    @EXAMPLES
    @given(body=_bodies(rows))
    def check(body: str) -> None:
        for given_as in (body, body.encode()):
            request = inference.read_input(given_as, "text/csv")
            assert _outcome(request, model) == _outcome(_cell_by_cell(body), model)

    check()


def _plain_decimal(sign: str, digits: str, point: int | None) -> str:
    return sign + (digits if point is None else f"{digits[:point]}.{digits[point:]}")


PLAIN_DECIMALS = st.integers(1, 15).flatmap(
    lambda count: st.builds(
        _plain_decimal,
        st.sampled_from(["", "-", "+"]),
        st.integers(0, 10**count - 1).map(lambda value: str(value).zfill(count)),
        st.none() | st.integers(0, count),
    )
)


@settings(EXAMPLES, max_examples=60)
@given(table=st.lists(st.lists(PLAIN_DECIMALS, min_size=8, max_size=8), min_size=30, max_size=40))
def test_plain_decimals_are_read_exactly_as_float_reads_them(table: list[list[str]]) -> None:
    table = table * 3  # at least 90 rows of 8 cells: past the array path's minimum body size
    request = inference.read_input("\n".join(",".join(row) for row in table), "text/csv")
    assert isinstance(request.items, inference.CsvRows)

    values, exact = inference._decimals(request.items, list(range(8)))

    expected = np.array([[float(cell) for cell in row] for row in table]).T
    assert exact.all()  # none of them needs float()
    assert values.view(np.int64).tolist() == expected.view(np.int64).tolist()  # -0.0 included


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (777, "age", "forty", "row 777, column 'age': value 'forty' is not a number"),
        (
            5,
            "tenure_months",
            "inf",
            "row 5, column 'tenure_months': value 'inf' is not a finite number "
            "(leave it blank for a missing value)",
        ),
        (1000, "monthly_charges", "1,5", "row 1000: expected 14 values"),
    ],
)
def test_a_bad_cell_deep_in_a_big_body_is_named(
    model: inference.Model,
    rows: list[list[str]],
    row: int,
    column: str,
    value: str,
    message: str,
) -> None:
    table = (rows * 4)[:1000]
    table[row - 1] = [
        value if name == column else cell
        for name, cell in zip(FEATURES, table[row - 1], strict=True)
    ]
    body = csv_body(table)

    with pytest.raises(inference.BadRequestError) as raised:
        inference.encode(inference.read_input(body, "text/csv"), model)

    assert raised.value.message.startswith(message)


def test_numeric_columns_with_spaces_or_exponents_still_encode_like_the_contract(
    model: inference.Model, test_model: BuiltModel
) -> None:
    frame = test_model.raw.head(200).copy()
    frame.iloc[3, FEATURES.index(NUMERIC[0])] = " 45 "
    frame.iloc[9, FEATURES.index(NUMERIC[2])] = "7.05e1"
    body = csv_body([list(map(str, cells)) for cells in frame.to_numpy().tolist()])

    encoded = inference.encode(inference.read_input(body, "text/csv"), model)

    np.testing.assert_array_equal(encoded, test_model.encode(frame))
