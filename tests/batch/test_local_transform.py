"""The local Batch Transform against the serving tests' model, under the service's contract:
splitting and mini-batches, the DataProcessing filters and joins, ``.out`` objects, inference
ids, per-object failures and what is refused. Requests go to the model's own handlers through
the serving container (`ContainerWorkers`), as in a transform job; the invoke wrapper only
counts them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlops.local_runtime.batch import (
    COMPLETED,
    FAILED,
    TransformJobResult,
    TransformJobSpec,
    TransformRequestError,
    TransformSettings,
    run_transform_job,
)
from mlops.local_runtime.batch.workers import ContainerWorkers
from mlops.local_runtime.serving import unpack_model
from tests.batch.conftest import batch_rows, write_rows
from tests.serving.modelkit import BuiltModel

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
START = "2026-03-01T10:00:00Z"


@pytest.fixture(scope="module")
def model_dir(test_model: BuiltModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_model(test_model.archive, tmp_path_factory.mktemp("model"))


class CountingContainer:
    """The serving container of a job (in this process), counting the requests it answers."""

    def __init__(self, model_dir: Path, headers: dict[str, str]) -> None:
        self.container = ContainerWorkers(model_dir, headers=headers)
        self.bodies: list[bytes] = []

    def invoke(self, body: bytes) -> Any:
        self.bodies.append(body)
        return self.container.invoke(body)


def _request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformInput": {"ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"Accept": "text/csv", "AssembleWith": "Line"},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return request


def _run(
    model_dir: Path,
    source: Path,
    out: Path,
    request: dict[str, Any],
    *,
    capture: Path | None = None,
) -> tuple[TransformJobResult, CountingContainer]:
    settings = TransformSettings.from_request(request, inference_time=START)
    headers = {"content-type": settings.content_type or "", "accept": settings.accept or ""}
    container = CountingContainer(model_dir, {k: v for k, v in headers.items() if v})
    spec = TransformJobSpec("job", source, out / "output", settings, out / "work", capture=capture)
    return run_transform_job(spec, container.invoke), container


@pytest.fixture
def two_files(test_model: BuiltModel, tmp_path: Path) -> Path:
    source = tmp_path / "input"
    write_rows(source / "first.csv", batch_rows(test_model, 0, 30))
    write_rows(source / "day2" / "second.csv", batch_rows(test_model, 30, 50))
    return source


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_each_input_object_gets_one_out_object_at_its_relative_path(
    model_dir: Path, two_files: Path, tmp_path: Path
) -> None:
    result, _ = _run(model_dir, two_files, tmp_path, _request())

    assert result.status == COMPLETED
    outputs = sorted(
        p.relative_to(tmp_path / "output").as_posix()
        for p in (tmp_path / "output").rglob("*")
        if p.is_file()
    )
    assert outputs == ["day2/second.csv.out", "first.csv.out"]
    assert len(_lines(tmp_path / "output" / "first.csv.out")) == 30


def test_join_source_input_appends_the_answer_to_the_original_row(
    model_dir: Path, test_model: BuiltModel, two_files: Path, tmp_path: Path
) -> None:
    _run(model_dir, two_files, tmp_path, _request())

    row = _lines(tmp_path / "output" / "first.csv.out")[0]
    source = batch_rows(test_model, 0, 1)[0]
    assert row.startswith(source + ",")
    probability, label = row[len(source) + 1 :].split(",")
    assert 0.0 <= float(probability) <= 1.0
    assert label in {"Yes", "not Yes"}


def test_output_filter_keeps_the_id_and_the_answer_columns(
    model_dir: Path, two_files: Path, tmp_path: Path
) -> None:
    _run(model_dir, two_files, tmp_path, _request(DataProcessing={"OutputFilter": "$[0,-2,-1]"}))

    fields = _lines(tmp_path / "output" / "day2" / "second.csv.out")[0].split(",")
    assert fields[0] == "C00030"
    assert len(fields) == 3


def test_multi_record_batches_fill_the_payload_limit_and_single_record_sends_one_each(
    model_dir: Path, test_model: BuiltModel, tmp_path: Path
) -> None:
    rows = batch_rows(test_model, 0, 400)
    source = write_rows(tmp_path / "input" / "rows.csv", rows)
    multi, container = _run(model_dir, source, tmp_path / "multi", _request(MaxPayloadInMB=1))
    single, one_each = _run(
        model_dir, source, tmp_path / "single", _request(BatchStrategy="SingleRecord")
    )

    assert len(container.bodies) == 1  # 400 short rows fit in 1 MB
    assert len(one_each.bodies) == 400
    assert all(body.count(b"\n") == 1 for body in one_each.bodies)
    assert (tmp_path / "multi" / "output" / "rows.csv.out").read_text() == (
        tmp_path / "single" / "output" / "rows.csv.out"
    ).read_text()
    assert multi.records == single.records == 400


def _with_long_region(rows: list[str], width: int) -> list[str]:
    """Rows whose last feature (a category) is ``width`` characters: unseen, scored as missing."""
    return [row.rsplit(",", 1)[0] + "," + "r" * width for row in rows]


def test_requests_stay_within_max_payload_and_keep_record_order(
    model_dir: Path, test_model: BuiltModel, tmp_path: Path
) -> None:
    rows = _with_long_region(batch_rows(test_model, 0, 60), 40_000)  # 2.4 MB of records
    source = write_rows(tmp_path / "input" / "wide.csv", rows)

    result, container = _run(model_dir, source, tmp_path, _request(MaxPayloadInMB=1))

    assert result.status == COMPLETED
    assert len(container.bodies) == 3
    assert all(len(body) <= 1024 * 1024 for body in container.bodies)
    ids = [line.split(",", 1)[0] for line in _lines(tmp_path / "output" / "wide.csv.out")]
    assert ids == [f"C{i:05d}" for i in range(60)]


def test_a_record_larger_than_max_payload_fails_its_object(
    model_dir: Path, test_model: BuiltModel, tmp_path: Path
) -> None:
    rows = batch_rows(test_model, 0, 3)
    rows[1] = _with_long_region([rows[1]], 1_100_000)[0]
    source = write_rows(tmp_path / "input" / "huge.csv", rows)

    result, _ = _run(model_dir, source, tmp_path, _request(MaxPayloadInMB=1))

    assert result.status == FAILED
    assert result.objects[0].failure is not None
    assert result.objects[0].failure.startswith("Too much data for max payload size (record 2")
    assert "huge.csv: Too much data for max payload size" in result.data_log.read_text()


def test_split_type_none_sends_each_object_whole(
    model_dir: Path, two_files: Path, tmp_path: Path
) -> None:
    result, container = _run(
        model_dir, two_files, tmp_path, _request(TransformInput={"SplitType": "None"})
    )

    assert result.status == COMPLETED
    assert [body.count(b"\n") for body in container.bodies] == [20, 30]  # day2/ sorts first
    assert len(_lines(tmp_path / "output" / "first.csv.out")) == 30


def test_a_malformed_record_fails_its_object_by_record_number_and_the_others_complete(
    model_dir: Path, test_model: BuiltModel, two_files: Path, tmp_path: Path
) -> None:
    rows = batch_rows(test_model, 100, 110)
    fields = rows[6].split(",")
    fields[1] = "forty"  # age
    rows[6] = ",".join(fields)
    write_rows(two_files / "bad.csv", rows)

    result, _ = _run(model_dir, two_files, tmp_path, _request())

    assert result.status == FAILED
    assert result.failure_reason == "ClientError: See job logs for more information"
    failed = {item.source.rsplit("/", 1)[-1]: item for item in result.objects}
    assert failed["bad.csv"].output is None
    assert failed["bad.csv"].failure == (
        "record 7: row 1, column 'age': value 'forty' is not a number (ClientError 400)"
    )
    assert failed["first.csv"].failure is None
    assert failed["second.csv"].failure is None
    names = sorted(p.name for p in (tmp_path / "output").rglob("*") if p.is_file())
    assert names == ["first.csv.out", "second.csv.out"]  # nothing partial for bad.csv
    log = result.data_log.read_text()
    assert "bad.csv: ClientError: 400" in log
    assert "MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD" in log


def test_generated_inference_ids_follow_each_output_record(
    model_dir: Path, two_files: Path, tmp_path: Path
) -> None:
    request = _request(
        DataCaptureConfig={"DestinationS3Uri": "s3://b/c", "GenerateInferenceId": True}
    )
    _run(model_dir, two_files, tmp_path, request)

    rows = [line.split(",") for line in _lines(tmp_path / "output" / "first.csv.out")]
    assert all(UUID.fullmatch(row[-2]) and row[-1] == START for row in rows)
    assert len({row[-2] for row in rows}) == len(rows)


def test_json_lines_records_are_joined_under_sagemaker_output(
    model_dir: Path, test_model: BuiltModel, tmp_path: Path
) -> None:
    names = [f["name"] for f in test_model.spec["features"]]  # type: ignore[attr-defined]
    records = [
        {"id": f"C{i}", "features": dict(zip(names, row, strict=True))}
        for i, row in enumerate(test_model.raw.head(5).to_numpy().tolist())
    ]
    source = tmp_path / "input" / "rows.jsonl"
    source.parent.mkdir(parents=True)
    source.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    request = _request(
        TransformInput={"ContentType": "application/jsonlines"},
        TransformOutput={"Accept": "application/jsonlines"},
        DataProcessing={
            "InputFilter": "$.features",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    )

    result, _ = _run(model_dir, source.parent, tmp_path, request)

    assert result.status == COMPLETED
    outputs = [json.loads(line) for line in _lines(tmp_path / "output" / "rows.jsonl.out")]
    assert [sorted(item) for item in outputs] == [["SageMakerOutput", "id"]] * 5
    assert set(outputs[0]["SageMakerOutput"]) == {"probability", "label"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"BatchStrategy": None},
            "not supported locally: BatchStrategy unset",
            id="batch-strategy-unset",
        ),
        pytest.param(
            {"MaxPayloadInMB": 0},
            "not supported locally: MaxPayloadInMB=0",
            id="chunked-payload",
        ),
        pytest.param(
            {"MaxPayloadInMB": 60, "MaxConcurrentTransforms": 2},
            "ClientError: MaxPayloadInMB=60 with MaxConcurrentTransforms=2",
            id="payload-times-concurrency",
        ),
        pytest.param(
            {"DataProcessing": {"InputFilter": "$[1:4]"}},
            "not supported locally: the slice [1:4]",
            id="bounded-slice",
        ),
        pytest.param(
            {"DataProcessing": {"InputFilter": "$[0:2,5:]"}},
            "ClientError: Invalid JsonPath: $[0:2,5:]: only single range filters",
            id="two-ranges",
        ),
        pytest.param(
            {"DataProcessing": {"InputFilter": "$.features"}},
            "ClientError: InputFilter $.features: a CSV record is an array of fields, so only "
            "index-based paths apply",
            id="name-path-on-csv",
        ),
        pytest.param(
            {"TransformOutput": {"Accept": "application/json"}},
            "not supported locally: JoinSource, OutputFilter or inference ids with Accept "
            "application/json and BatchStrategy MultiRecord",
            id="json-document-join",
        ),
    ],
)
def test_a_request_the_local_transform_cannot_honour_is_refused_before_it_runs(
    changes: dict[str, Any], message: str
) -> None:
    request = _request(**changes)
    if request.get("BatchStrategy") is None:
        request.pop("BatchStrategy")

    with pytest.raises(TransformRequestError) as refused:
        TransformSettings.from_request(request)

    assert str(refused.value).startswith(message)


def test_concurrent_requests_in_worker_processes_give_the_same_output(
    model_dir: Path, test_model: BuiltModel, tmp_path: Path
) -> None:
    source = write_rows(tmp_path / "input" / "rows.csv", batch_rows(test_model, 0, 300))
    serial, _ = _run(model_dir, source, tmp_path / "serial", _request(BatchStrategy="SingleRecord"))
    settings = TransformSettings.from_request(
        _request(BatchStrategy="SingleRecord", MaxConcurrentTransforms=2)
    )
    spec = TransformJobSpec(
        "job", source, tmp_path / "parallel" / "output", settings, tmp_path / "w"
    )
    headers = {"content-type": "text/csv", "accept": "text/csv"}
    with ContainerWorkers(model_dir, headers=headers, workers=2) as workers:
        parallel = run_transform_job(spec, workers.invoke)

    assert serial.status == parallel.status == COMPLETED
    assert (tmp_path / "parallel" / "output" / "rows.csv.out").read_bytes() == (
        tmp_path / "serial" / "output" / "rows.csv.out"
    ).read_bytes()


def test_an_output_filter_index_past_the_joined_row_fails_the_object_at_its_first_record(
    model_dir: Path, two_files: Path, tmp_path: Path
) -> None:
    result, _ = _run(
        model_dir, two_files, tmp_path, _request(DataProcessing={"OutputFilter": "$[0,40]"})
    )

    assert result.status == FAILED
    assert {item.failure for item in result.objects} == {
        "record 1: $[0,40]: index 40 is outside a record of 17 element(s)"
    }
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").rglob("*.out"))
