"""Processing jobs against what SageMaker (and its SDK, maintained by AWS) say a container gets.

The config files are compared with the SageMaker Python SDK's local mode, which writes them as
the service does (``sagemaker.core.local.image``); the failure fields with DescribeProcessingJob
as AWS's own Spark-processing integration test asserts it (``FailureReason`` ==
``AlgorithmError: See job logs for more information``, ``ExitMessage`` = the first 1 KB of
``/opt/ml/output/message``); the entry point with what the container runs: exactly
``ContainerEntrypoint`` + ``ContainerArguments``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mlops.core.settings import load_settings
from mlops.local_runtime import JobFailed, ProcessingJobSpec, run_processing_job
from mlops.local_runtime.aws import client, ensure_bucket
from mlops.local_runtime.executor.contract import plausible_requests
from mlops.local_runtime.executor.engine import FAILED, StepFailed, StepInvocation, execute
from mlops.local_runtime.executor.handlers import LocalServices, default_handlers, run_quality_check
from mlops.local_runtime.executor.run import read_s3_json, upload_code, upload_input
from tests.fidelity.definitions import local_definition

ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
SCRIPT = """
import os, sys
from pathlib import Path
message = Path(os.environ["SM_PROCESSING_ROOT"]).parent / "output" / "message"
message.write_bytes(bytes.fromhex(sys.argv[1]) * int(sys.argv[2]))
sys.exit(int(sys.argv[3]))
"""


def _job(tmp_path: Path, *arguments: str) -> ProcessingJobSpec:
    script = tmp_path / "code" / "message.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(SCRIPT)
    return ProcessingJobSpec(
        name="message",
        work_dir=tmp_path / "work",
        code=script,
        arguments=list(arguments),
        instance_type="ml.m5.large",
        environment={"MODE": "check"},
        outputs={"out": ("/opt/ml/processing/out", tmp_path / "out")},
    )


def test_config_files_have_what_the_sdk_local_mode_writes(tmp_path: Path) -> None:
    from sagemaker.core.local.image import _SageMakerContainer

    spec = _job(tmp_path, "78", "1", "0")
    run_processing_job(spec)
    ours = tmp_path / "work" / "message" / "config"
    job = json.loads((ours / "processingjobconfig.json").read_text())

    sdk = object.__new__(_SageMakerContainer)  # the file writer only; no Docker involved
    sdk.container_root = str(tmp_path / "sdk")
    sdk.hosts = ["algo-1"]
    sdk.image = job["AppSpecification"]["ImageUri"]
    sdk.container_entrypoint = job["AppSpecification"]["ContainerEntrypoint"]
    sdk.container_arguments = job["AppSpecification"]["ContainerArguments"]
    sdk.instance_count = 1
    sdk.instance_type = "ml.m5.large"
    (tmp_path / "sdk" / "algo-1" / "config").mkdir(parents=True)  # local mode makes it first
    sdk.write_processing_config_files(
        "algo-1",
        job["Environment"],
        job["ProcessingInputs"],
        job["ProcessingOutputConfig"],
        "message",
    )
    reference = tmp_path / "sdk" / "algo-1" / "config"
    expected_job = json.loads((reference / "processingjobconfig.json").read_text())
    assert set(expected_job) <= set(job)
    for key in (
        "ProcessingJobName",
        "AppSpecification",
        "Environment",
        "ProcessingInputs",
        "ProcessingOutputConfig",
    ):
        assert job[key] == expected_job[key], key
    assert job["ProcessingJobArn"].endswith(":processing-job/message")
    expected_resources = json.loads((reference / "resourceconfig.json").read_text())
    resources = json.loads((ours / "resourceconfig.json").read_text())
    assert {key: resources[key] for key in expected_resources} == expected_resources


def test_a_failure_has_the_services_reason_and_the_first_kilobyte_as_exit_message(
    tmp_path: Path,
) -> None:
    with pytest.raises(JobFailed) as failure:
        run_processing_job(_job(tmp_path, "c3a9", "700", "1"))  # "é" x 700: 1400 bytes
    assert failure.value.reason == ALGORITHM_ERROR
    assert failure.value.exit_message == "é" * 512


def test_a_message_that_is_not_utf8_fails_the_job_with_a_client_error(tmp_path: Path) -> None:
    with pytest.raises(JobFailed) as failure:
        run_processing_job(_job(tmp_path, "ff", "4", "0"))
    assert failure.value.reason.startswith("ClientError: message is not UTF-8")


def test_a_completed_job_has_its_exit_message_too(tmp_path: Path) -> None:
    result = run_processing_job(_job(tmp_path, "646f6e65", "1", "0"))  # "done"
    assert result.exit_message == "done"


@pytest.fixture(scope="module")
def local_aws(moto_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> LocalServices:
    s3 = client("s3", endpoint_url=moto_server_url, region="us-east-1")
    sagemaker = client("sagemaker", endpoint_url=moto_server_url, region="us-east-1")
    ensure_bucket(s3, load_settings().names.local_artifact_bucket)
    return LocalServices(s3=s3, sagemaker=sagemaker, work_dir=tmp_path_factory.mktemp("work"))


def test_a_wrong_entry_point_fails_the_step_as_python_fails_in_the_container(
    local_aws: LocalServices, tmp_path: Path
) -> None:
    """Preprocess's ContainerEntrypoint naming a file that is not there: AWS's python3 cannot
    open it; neither can the local one (the staged code input is not run in its place)."""
    from mlops.dataset.generator import write_csv
    from sagemaker_pipelines.definition import build_definition

    settings = load_settings()
    bucket = settings.names.local_artifact_bucket
    write_csv(tmp_path / "churn.csv", rows=300, seed=2)
    definition = json.loads(
        build_definition(
            settings,
            role_arn=settings.names.local_pipeline_role_arn,
            artifact_bucket=bucket,
            default_input_uri=upload_input(local_aws.s3, bucket, tmp_path / "churn.csv"),
            code=upload_code(local_aws.s3, bucket, tmp_path / "code"),
        )
    )
    preprocess = definition["Steps"][0]
    wrong = "/opt/ml/processing/input/code/WRONG_NAME.py"
    preprocess["Arguments"]["AppSpecification"]["ContainerEntrypoint"] = ["python3", wrong]
    result = execute(
        definition,
        handlers=default_handlers(local_aws),
        execution_id="wrong1",
        pipeline_name=settings.names.pipeline,
        read_json=lambda uri: read_s3_json(local_aws.s3, uri),
    )
    assert (result.status, result.failed_step) == (FAILED, "Preprocess")
    assert result.failure_reason == ALGORITHM_ERROR
    root = local_aws.work_dir / "preprocess-wrong1"
    log = (root / "job.log").read_text()
    staged = root / "processing" / "input" / "code" / "WRONG_NAME.py"
    assert f"python3: can't open file '{staged}': [Errno 2] No such file or directory" in log
    assert sorted(path.name for path in staged.parent.iterdir()) != []  # the real script is there


def _quality_check(local_aws: LocalServices, dataset_format: str, csv_text: str, key: str) -> Any:
    planned = next(
        item
        for item in plausible_requests(local_definition(), "churn-mlops-pipeline")
        if item.step_type == "QualityCheck"
    )
    bucket = load_settings().names.local_artifact_bucket
    arguments = copy.deepcopy(planned.request)
    arguments.pop("ProcessingJobName")
    arguments["Environment"]["dataset_format"] = dataset_format
    arguments["ProcessingInputs"][0]["S3Input"]["S3Uri"] = f"s3://{bucket}/{key}/data"
    arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = (
        f"s3://{bucket}/{key}/out"
    )
    local_aws.s3.put_object(Bucket=bucket, Key=f"{key}/data/part.csv", Body=csv_text.encode())
    step = StepInvocation(
        name="DataQualityBaseline",
        type="QualityCheck",
        arguments=arguments,
        definition={"CheckType": "DATA_QUALITY", "SkipCheck": True},
        execution_id=key,
    )
    properties = run_quality_check(step, local_aws).properties
    return read_s3_json(local_aws.s3, properties["CalculatedBaselineStatistics"])


def test_the_quality_check_reads_the_dataset_as_its_dataset_format_says(
    local_aws: LocalServices,
) -> None:
    rows = "".join(f"{age},{plan}\n" for age, plan in [(30, "a"), (41, "b"), (52, "a")] * 5)
    with_header = _quality_check(
        local_aws, json.dumps({"csv": {"header": True}}), "age,plan\n" + rows, "hdr"
    )
    without = _quality_check(local_aws, json.dumps({"csv": {"header": False}}), rows, "nohdr")
    assert [f["name"] for f in with_header["features"]] == ["age", "plan"]
    assert [f["name"] for f in without["features"]] == ["_c0", "_c1"]
    assert without["dataset"]["item_count"] == 15


def test_a_dataset_format_the_local_baseline_cannot_read_fails_the_step(
    local_aws: LocalServices,
) -> None:
    with pytest.raises(StepFailed, match="not supported locally: dataset_format json"):
        _quality_check(local_aws, json.dumps({"json": {"lines": True}}), "{}\n", "json")
