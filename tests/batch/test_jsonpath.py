"""The DataProcessing JSONPath subset, on CSV rows (arrays of fields) and JSON records, with
the Developer Guide's examples ("Associate Prediction Results with Input Records")."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.local_runtime.batch.jsonpath import (
    FilterApplicationError,
    JsonPathError,
    NotSupportedLocally,
    parse,
)

ROW = ["id7", "43", "11", "One year", "0.83", "Yes"]


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        pytest.param("$", ROW, id="root"),
        pytest.param("$[1:]", ROW[1:], id="drop-the-id"),
        pytest.param("$[0,-1]", ["id7", "Yes"], id="id-and-last"),
        pytest.param("$[0, -2, -1]", ["id7", "0.83", "Yes"], id="spaces"),
        pytest.param("$[0,4:]", ["id7", "0.83", "Yes"], id="index-then-open-range"),
        pytest.param("$[-2:]", ["0.83", "Yes"], id="negative-open-range"),
        pytest.param("$[3]", ["One year"], id="one-index"),
    ],
)
def test_index_paths_select_fields_of_a_csv_row(path: str, selected: list[str]) -> None:
    assert parse(path).apply_fields(ROW) == selected


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        pytest.param("$.features", [1, 2], id="child"),
        pytest.param("$.features[0]", 1, id="child-index"),
        pytest.param(
            "$['id','SageMakerOutput']", {"id": 5, "SageMakerOutput": {"p": 0.5}}, id="children"
        ),
        pytest.param("$.SageMakerOutput.['p']", 0.5, id="dot-bracket"),
        pytest.param("$.*", [5, [1, 2], {"p": 0.5}], id="wildcard"),
    ],
)
def test_name_paths_select_from_a_json_record(path: str, selected: Any) -> None:
    record = {"id": 5, "features": [1, 2], "SageMakerOutput": {"p": 0.5}}

    assert parse(path).apply(record) == selected


def test_an_index_past_the_record_is_an_error_naming_the_size() -> None:
    with pytest.raises(FilterApplicationError, match="index 9 is outside a record of 6"):
        parse("$[0,9]").apply_fields(ROW)


def test_a_name_path_does_not_apply_to_a_csv_row() -> None:
    with pytest.raises(FilterApplicationError, match="only index-based paths apply"):
        parse("$.id").apply_fields(ROW)


@pytest.mark.parametrize("path", ["$[1:4]", "$[:5]", "$[0,2:4]"])
def test_a_slice_with_an_end_is_not_supported_locally(path: str) -> None:
    """AWS documents a slice's end as both included and excluded: refused, not guessed."""
    with pytest.raises(NotSupportedLocally, match=r"not supported locally: the slice \["):
        parse(path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param(
            "$[0:2,246:]",
            "Invalid JsonPath: $[0:2,246:]: only single range filters of format (eg: [1:5]) "
            "are supported. Format [0:2,246:] is not supported",
            id="two-ranges (the service's own message)",
        ),
        pytest.param("features", "a path starts with $", id="no-root"),
        pytest.param("$.f.['a','b.c']", "nested children", id="nested-in-brackets"),
        pytest.param("$['a','b'].c", "only be selected at the end", id="children-mid-path"),
    ],
)
def test_a_path_the_service_refuses_is_an_error(path: str, message: str) -> None:
    with pytest.raises(JsonPathError) as refused:
        parse(path)

    assert message in str(refused.value)
