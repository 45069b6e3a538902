"""The embedded AWS keeps its registry and buckets: one server per state directory, found by a
health check no upload can fool, and a journal replayed at start (mlops.local_runtime.aws).

Each test owns a state directory and stops its server at the end; servers are real detached
processes, killed with real signals.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime import aws
from mlops.local_runtime.aws import (
    client,
    ensure_local_aws,
    running_endpoint,
    saved_state,
    server_pid,
    stop_local_aws,
)
from mlops.local_runtime.aws_journal import Journal
from mlops.local_runtime.aws_layout import AwsStateLayout

GROUP = "churn-mlops-models"  # the default settings' model package group
BUCKET = "state-bucket"
MLOPS = Path(sys.executable).parent / "mlops"
PACKAGE_ARN = re.compile(r"model-package/churn-mlops-models/(\d+)")


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """``<tmp>/.mlops``: where the CLI run with ``cwd=<tmp>`` keeps the server by default."""
    directory = tmp_path / ".mlops"
    try:
        yield directory
    finally:
        pid = server_pid(directory) if directory.exists() else None
        if pid:
            os.kill(pid, signal.SIGCONT)  # a test may leave it stopped
        stop_local_aws(directory)


def _sagemaker(url: str) -> Any:
    return client("sagemaker", endpoint_url=url, region="us-east-1")


def _s3(url: str) -> Any:
    return client("s3", endpoint_url=url, region="us-east-1")


def _register(sagemaker: Any, count: int) -> list[str]:
    with contextlib.suppress(sagemaker.exceptions.ClientError):  # already there
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return [_one_package(sagemaker, f"run-{index}") for index in range(count)]


def _one_package(sagemaker: Any, tag: str) -> str:
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties={"run": tag},
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:3.2-0",
                        "ModelDataUrl": f"s3://{BUCKET}/{tag}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )


def _packages(url: str) -> list[dict[str, Any]]:
    listed = _sagemaker(url).list_model_packages(ModelPackageGroupName=GROUP, MaxResults=100)
    return list(listed["ModelPackageSummaryList"])


def _models_list(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MLOPS), "models", "list", "--local"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _listed_versions(result: subprocess.CompletedProcess[str]) -> set[int]:
    assert result.returncode == 0, result.stderr
    return {int(version) for version in PACKAGE_ARN.findall(result.stdout)}


def _kill(state_dir: Path) -> int:
    pid = server_pid(state_dir)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server_pid(state_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def _started_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("started the local AWS")]


def test_a_9_mb_upload_keeps_the_server_and_the_registry(state_dir: Path) -> None:
    """The 9 MB CSV of the audit: multipart upload, then the next command found "no server",
    started an empty one and lost 5 packages."""
    url = ensure_local_aws(state_dir)
    _register(_sagemaker(url), 5)
    pid = server_pid(state_dir)
    s3 = _s3(url)
    s3.create_bucket(Bucket=BUCKET)
    big = state_dir.parent / "big.csv"
    big.write_bytes(b"tenure_months,contract\n" + b"12,One year\n" * 800_000)  # 9.6 MB
    s3.upload_file(str(big), BUCKET, "input/big.csv")  # over 8 MB: multipart

    result = _models_list(state_dir.parent)

    assert _listed_versions(result) == {1, 2, 3, 4, 5}
    assert _started_lines(result.stderr) == []
    assert server_pid(state_dir) == pid
    assert running_endpoint(state_dir) == url


def test_three_commands_at_once_share_one_server(state_dir: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: _models_list(state_dir.parent), range(3)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    log = AwsStateLayout(state_dir).log.read_text()
    assert len(re.findall(r"\] pid \d+ on http", log)) == 1  # one server ever started
    assert server_pid(state_dir) is not None


def test_a_second_server_for_the_same_state_exits_and_names_the_owner(state_dir: Path) -> None:
    url = ensure_local_aws(state_dir)
    owner = server_pid(state_dir)
    second = subprocess.run(
        [sys.executable, "-m", "mlops.local_runtime.aws_server", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 3
    assert f"another local AWS server (pid {owner}) already serves" in second.stdout
    assert running_endpoint(state_dir) == url


def test_every_package_acknowledged_before_a_sigkill_is_there_after_restart(
    state_dir: Path,
) -> None:
    url = ensure_local_aws(state_dir)
    s3 = _s3(url)
    s3.create_bucket(Bucket=BUCKET)
    payload = os.urandom(1024 * 1024)
    s3.put_object(Bucket=BUCKET, Key="model.bin", Body=payload)
    sagemaker = _sagemaker(url)
    _register(sagemaker, 1)
    acknowledged: list[str] = []
    failures: list[str] = []
    enough = threading.Event()

    def register_until_the_server_dies() -> None:
        for index in range(1000):
            try:
                acknowledged.append(_one_package(sagemaker, f"live-{index}"))
            except Exception as error:  # the kill ends this loop
                failures.append(type(error).__name__)
                return
            if len(acknowledged) >= 10:
                enough.set()

    writer = threading.Thread(target=register_until_the_server_dies)
    writer.start()
    assert enough.wait(60)
    dead = _kill(state_dir)  # mid-stream: the writer is between two requests or inside one
    writer.join(30)
    assert failures, "the writer should have met the dead server"
    layout = AwsStateLayout(state_dir)
    assert json.loads(layout.state_file.read_text())["pid"] == dead  # what a SIGKILL leaves
    assert running_endpoint(state_dir) is None  # and it is not taken for a live server

    result = _models_list(state_dir.parent)

    listed = _listed_versions(result)
    acked = {int(arn.rsplit("/", 1)[1]) for arn in acknowledged} | {1}
    assert acked <= listed
    assert len(listed - acked) <= 1  # at most the request in flight at the kill
    restarted = running_endpoint(state_dir)
    assert restarted is not None
    body = _s3(restarted).get_object(Bucket=BUCKET, Key="model.bin")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
    assert len(_started_lines(result.stderr)) == 1
    assert "restored" in result.stderr
    assert json.loads(layout.state_file.read_text())["pid"] == server_pid(state_dir) != dead


def test_a_restart_keeps_arns_and_times_and_a_second_restart_changes_nothing(
    state_dir: Path,
) -> None:
    url = ensure_local_aws(state_dir)
    _register(_sagemaker(url), 3)
    s3 = _s3(url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="a.csv", Body=b"x,y\n1,2\n")
    before = _packages(url)
    modified = s3.head_object(Bucket=BUCKET, Key="a.csv")["LastModified"]
    for _ in range(2):
        _kill(state_dir)
        url = ensure_local_aws(state_dir)
        assert _packages(url) == before
        assert _s3(url).head_object(Bucket=BUCKET, Key="a.csv")["LastModified"] == modified


def test_a_multipart_upload_survives_restarts_even_one_in_progress(state_dir: Path) -> None:
    """moto makes a new upload id when the journal replays ``CreateMultipartUpload``; the
    journal maps the recorded one, for its own parts and for a client still uploading."""
    s3 = _s3(ensure_local_aws(state_dir))
    s3.create_bucket(Bucket=BUCKET)
    first, second = os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024)  # S3's 5 MB minimum
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="model.tar.gz")["UploadId"]
    etag = s3.upload_part(
        Bucket=BUCKET, Key="model.tar.gz", UploadId=upload, PartNumber=1, Body=first
    )["ETag"]
    _kill(state_dir)  # mid-upload

    s3 = _s3(ensure_local_aws(state_dir))
    last = s3.upload_part(
        Bucket=BUCKET, Key="model.tar.gz", UploadId=upload, PartNumber=2, Body=second
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="model.tar.gz",
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": last}]
        },
    )
    _kill(state_dir)

    body = _s3(ensure_local_aws(state_dir)).get_object(Bucket=BUCKET, Key="model.tar.gz")["Body"]
    assert body.read() == first + second


def test_a_live_server_that_does_not_answer_is_named_and_never_replaced(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = ensure_local_aws(state_dir)
    pid = server_pid(state_dir)
    assert pid is not None
    monkeypatch.setattr(aws, "_BUSY_TIMEOUT_SECONDS", 2.0)
    monkeypatch.setattr(aws, "_HEALTH_TIMEOUT_SECONDS", 0.5)
    os.kill(pid, signal.SIGSTOP)  # alive, holding its lock, answering nothing
    try:
        with pytest.raises(UserError) as raised:
            ensure_local_aws(state_dir)
        message = str(raised.value)
        assert f"(pid {pid})" in message
        assert str(AwsStateLayout(state_dir).log) in message
        assert "\n" not in message
        assert server_pid(state_dir) == pid
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ensure_local_aws(state_dir) == url


def test_demo_stop_keeps_the_state_and_reset_forgets_it(state_dir: Path) -> None:
    url = ensure_local_aws(state_dir)
    _register(_sagemaker(url), 2)
    runner = CliRunner()

    stopped = runner.invoke(app, ["demo", "stop", "--state-dir", str(state_dir)])
    assert stopped.exit_code == 0, stopped.output
    assert "stopped the embedded AWS server; the saved state stays in" in stopped.output
    assert server_pid(state_dir) is None
    assert not AwsStateLayout(state_dir).state_file.exists()
    assert len(_packages(ensure_local_aws(state_dir))) == 2

    reset = runner.invoke(app, ["demo", "stop", "--state-dir", str(state_dir), "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "deleted the saved state (3 requests" in reset.output  # the group and 2 packages
    assert server_pid(state_dir) is None
    assert saved_state(state_dir) == (0, 0)  # the next start replays nothing


def test_moto_reset_also_forgets_the_saved_state(state_dir: Path) -> None:
    url = ensure_local_aws(state_dir)
    _register(_sagemaker(url), 1)
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert _sagemaker(url).list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert saved_state(state_dir) == (0, 0)  # a restart brings nothing back


def test_a_line_cut_off_mid_write_loses_only_that_line(state_dir: Path) -> None:
    url = ensure_local_aws(state_dir)
    _register(_sagemaker(url), 3)
    _kill(state_dir)
    journal = AwsStateLayout(state_dir).journal_dir / "journal.jsonl"
    with journal.open("ab") as handle:  # a power cut in the middle of an append
        handle.write(b'{"v":1,"time":"2026-11-29T10:00:00","environ":{"REQUEST_ME')

    url = ensure_local_aws(state_dir)

    assert len(_packages(url)) == 3
    assert list(journal.parent.glob("journal.jsonl.damaged-*"))  # kept for inspection
    _one_package(_sagemaker(url), "after")  # appends cleanly to the repaired journal
    scan = Journal(journal.parent).scan()
    assert (len(scan.entries), scan.skipped) == (5, [])  # group + 3 packages + "after"


def test_a_kill_during_replay_leaves_the_journal_whole(state_dir: Path) -> None:
    url = ensure_local_aws(state_dir)
    s3 = _s3(url)
    s3.create_bucket(Bucket=BUCKET)
    for index in range(6):
        s3.put_object(Bucket=BUCKET, Key=f"part-{index}", Body=os.urandom(2 * 1024 * 1024))
    _register(_sagemaker(url), 2)
    stop_local_aws(state_dir)
    layout = AwsStateLayout(state_dir)
    journal = layout.journal_dir / "journal.jsonl"
    recorded = journal.read_bytes()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlops.local_runtime.aws_server", "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    for line in server.stdout:
        if "replaying" in line:
            break
    server.kill()  # SIGKILL while moto is being refilled
    server.wait()

    assert journal.read_bytes() == recorded
    assert saved_state(state_dir)[0] == 1 + 6 + 1 + 2  # bucket, objects, group, packages


def test_a_full_disk_refuses_the_upload_instead_of_losing_it(tmp_path: Path) -> None:
    """The server inherits a 4 MB file-size limit (SIGXFSZ ignored: writes fail with EFBIG, as
    on a full disk): a 6 MB object cannot be saved, so it is refused and never half-exists."""
    state_dir = tmp_path / ".mlops"
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({4 * 1024 * 1024}, "
        f"{resource.RLIM_INFINITY}))\n"
        "from mlops.local_runtime.aws import ensure_local_aws\n"
        "print(ensure_local_aws(Path(sys.argv[1])))\n"
    )
    try:
        started = subprocess.run(
            [sys.executable, "-c", script, str(state_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        url = started.stdout.strip()
        s3 = _s3(url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="small", Body=b"fits")
        with pytest.raises(s3.exceptions.ClientError) as refused:
            s3.put_object(Bucket=BUCKET, Key="large", Body=os.urandom(6 * 1024 * 1024))
        error = refused.value.response["Error"]
        assert error["Code"] == "ServiceUnavailable"
        assert "cannot save this request, so it did not run it" in error["Message"]
        listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert [o["Key"] for o in listed] == ["small"]
    finally:
        stop_local_aws(state_dir)
    saved = Journal(AwsStateLayout(state_dir).journal_dir).scan()
    paths = [entry.environ["PATH_INFO"] for entry in saved.entries]
    assert paths == [f"/{BUCKET}", f"/{BUCKET}/small"]  # what a restart brings back


def test_a_state_directory_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    not_a_directory = tmp_path / ".mlops"
    not_a_directory.write_text("a file where the state directory should be")
    with pytest.raises(UserError) as raised:
        ensure_local_aws(not_a_directory)
    assert str(raised.value).startswith(f"cannot keep the local AWS state in {not_a_directory}")
    assert "\n" not in str(raised.value)
