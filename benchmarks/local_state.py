"""The embedded AWS's durable state: races, large inputs, kills and what a restart costs.

`python -m benchmarks.local_state [--race 3,8] [--input-mb 9,200] [--packages 20] [--object-mb 100]`

Every case runs the real CLI (`.venv/bin/mlops models list --local`) or boto3 against the
journaled server (`mlops.local_runtime.aws`) in a fresh state directory, and counts what a
user would see: servers started, packages listed, bytes read back. Costs are compared with
a bare moto server (`python -m moto.server`, no journal) doing the same requests in the same
run. Prints one table per case; exit 1 if a record was lost or a second server started.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops.local_runtime.aws import client, ensure_local_aws, server_pid, stop_local_aws
from mlops.local_runtime.aws_layout import AwsStateLayout

GROUP = "churn-mlops-models"
BUCKET = "bench-bucket"
MLOPS = Path(sys.executable).parent / "mlops"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:3.2-0"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--race", default="3,8", help="concurrent commands per trial")
    parser.add_argument("--input-mb", default="9,200", help="input sizes uploaded (MB)")
    parser.add_argument("--packages", type=int, default=20)
    parser.add_argument("--object-mb", type=int, default=100)
    args = parser.parse_args(argv)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="local-state-") as scratch:
        root = Path(scratch)
        race(root, [int(n) for n in args.race.split(",")], failures)
        large_inputs(root, [int(n) for n in args.input_mb.split(",")], failures)
        restart_cost(root, args.packages, args.object_mb, failures)
        journal_overhead(root)
        recorder_comparison(root)
    print(f"\nresult: {'FAIL: ' + '; '.join(failures) if failures else 'PASS'}")
    return 1 if failures else 0


# --- cases -------------------------------------------------------------------------------------


def race(root: Path, sizes: list[int], failures: list[str]) -> None:
    print("multi-server race: N `mlops models list --local` started at once, fresh state")
    print(f"{'commands':>9} {'exit 0':>7} {'servers started':>16} {'wall s':>7}")
    for size in sizes:
        ok, servers, wall = _race_once(_fresh(root, f"race-{size}"), size)
        print(f"{size:>9} {ok:>7} {servers:>16} {wall:>7.1f}")
        if servers != 1 or ok != size:
            failures.append(f"race of {size}: {servers} servers, {ok} succeeded")


def _race_once(work: Path, size: int) -> tuple[int, int, float]:
    """(commands that succeeded, servers started, wall seconds)."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(size) as pool:
        results = list(pool.map(lambda _: _models_list(work), range(size)))
    wall = time.perf_counter() - started
    servers = _servers_started(work)
    stop_local_aws(work / ".mlops")
    return sum(r.returncode == 0 for r in results), servers, wall


def large_inputs(root: Path, sizes_mb: list[int], failures: list[str]) -> None:
    print("\nlarge input: 5 packages, upload_file of N MB (multipart), then the CLI, then SIGKILL")
    print(
        f"{'MB':>5} {'upload s':>9} {'bare s':>7} {'ratio':>6} {'list: pkgs':>11} "
        f"{'new servers':>12} {'after kill: pkgs':>17} {'bytes intact':>13} {'replay s':>9}"
    )
    for size in sizes_mb:
        row = _large_input_once(_fresh(root, f"input-{size}"), size)
        upload, bare, listed, new_servers, after, intact, replay = row
        print(
            f"{size:>5} {upload:>9.2f} {bare:>7.2f} {upload / bare:>6.2f} {listed:>11} "
            f"{new_servers:>12} {after:>17} {intact!s:>13} {replay:>9.2f}"
        )
        if (listed, new_servers, after, intact) != (5, 0, 5, True):
            failures.append(f"{size} MB input: {listed}/{new_servers}/{after}/{intact}")


def _large_input_once(work: Path, size: int) -> tuple[float, float, int, int, int, bool, float]:
    state = work / ".mlops"
    data = work / "input.csv"
    _write_csv(data, size * 1_000_000)
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    url = ensure_local_aws(state)
    _register(url, 5)
    s3 = client("s3", endpoint_url=url, region="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    upload = _timed(lambda: s3.upload_file(str(data), BUCKET, "input.csv"))
    with _bare_moto() as bare_url:
        bare = client("s3", endpoint_url=bare_url, region="us-east-1")
        bare.create_bucket(Bucket=BUCKET)
        bare_upload = _timed(lambda: bare.upload_file(str(data), BUCKET, "input.csv"))
    servers_before = _servers_started(work)
    listed = _models_list(work)
    listed_packages = len(set(re.findall(r"model-package/[\w-]+/(\d+)", listed.stdout)))
    new_servers = _servers_started(work) - servers_before
    os.kill(server_pid(state) or 0, signal.SIGKILL)
    _wait_unlocked(state)
    url = ensure_local_aws(state)
    after = len(_packages(url))
    body = client("s3", endpoint_url=url, region="us-east-1").get_object(
        Bucket=BUCKET, Key="input.csv"
    )["Body"]
    intact = _stream_digest(body) == digest
    replay = _replay_seconds(state)
    stop_local_aws(state, reset=True)
    data.unlink()
    return upload, bare_upload, listed_packages, new_servers, after, intact, replay


def restart_cost(root: Path, packages: int, object_mb: int, failures: list[str]) -> None:
    print(f"\nrestart: {packages} packages + a {object_mb} MB object, SIGKILL, next command")
    work = _fresh(root, "restart")
    state = work / ".mlops"
    url = ensure_local_aws(state)
    payload = os.urandom(object_mb * 1_000_000)
    digest = hashlib.sha256(payload).hexdigest()

    def build(target: str) -> None:
        _register(target, packages)
        s3 = client("s3", endpoint_url=target, region="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="model.bin", Body=payload)

    first = _timed(lambda: build(url))
    with _bare_moto() as bare_url:
        bare = _timed(lambda: build(bare_url))
    before = _packages(url)
    layout = AwsStateLayout(state)
    journal_bytes = sum(p.stat().st_size for p in layout.journal_dir.rglob("*") if p.is_file())
    entries = len((layout.journal_dir / "journal.jsonl").read_text().splitlines())
    rows = []
    for attempt in (1, 2):
        os.kill(server_pid(state) or 0, signal.SIGKILL)
        _wait_unlocked(state)
        restart = _timed(lambda: ensure_local_aws(state))
        url = ensure_local_aws(state)
        after = _packages(url)
        body = client("s3", endpoint_url=url, region="us-east-1").get_object(
            Bucket=BUCKET, Key="model.bin"
        )["Body"]
        same = after == before and _stream_digest(body) == digest
        rows.append((attempt, restart, _replay_seconds(state), len(after), same))
        if not same:
            failures.append(f"restart {attempt}: state differs")
    print(f"journal: {entries} requests, {journal_bytes / 1e6:.1f} MB on disk")
    print(f"creating the state by requests: journaled {first:.2f} s, bare moto {bare:.2f} s")
    print(f"{'restart':>8} {'start s':>8} {'replay s':>9} {'packages':>9} {'identical':>10}")
    for attempt, restart, replay, count, same in rows:
        print(f"{attempt:>8} {restart:>8.2f} {replay:>9.2f} {count:>9} {same!s:>10}")
    print(f"replay / creating it on bare moto: {rows[0][2] / bare:.2f}")
    stop_local_aws(state, reset=True)


def journal_overhead(root: Path) -> None:
    print("\nper-request cost: 400 PutObject (1 KB) + 100 CreateModelPackage, sequential,")
    print("alternating between the journaled server and a bare moto server")
    state = _fresh(root, "overhead") / ".mlops"
    url = ensure_local_aws(state)
    with _bare_moto() as bare_url:
        journaled, bare = _request_latencies(url, bare_url)
    print(f"{'request':>20} {'journaled p50 ms':>17} {'bare p50 ms':>12} {'ratio':>6}")
    for name in journaled:
        ours, theirs = statistics.median(journaled[name]), statistics.median(bare[name])
        print(f"{name:>20} {ours * 1000:>17.2f} {theirs * 1000:>12.2f} {ours / theirs:>6.2f}")
    stop_local_aws(state, reset=True)


def recorder_comparison(root: Path) -> None:
    """What the same state does through moto's own recorder (``MOTO_ENABLE_RECORDING``, replay
    with ``/moto-api/recorder/replay-recording``): why the journal is not that recorder."""
    print("\nmoto's recorder, same state (3 packages, a 9 MB upload_file, a 1 KB object),")
    print("server killed, a new one replays the recording twice")
    work = _fresh(root, "recorder")
    data = work / "input.csv"
    _write_csv(data, 9_000_000)
    recording = work / "recording.jsonl"
    environment = {"MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(recording)}
    with _bare_moto(environment) as url:
        _register(url, 3)
        s3 = client("s3", endpoint_url=url, region="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(data), BUCKET, "input.csv")
        s3.put_object(Bucket=BUCKET, Key="small", Body=os.urandom(1024))
        created = [p["CreationTime"] for p in _packages(url)]
    size = recording.stat().st_size
    with _bare_moto(environment) as url:
        replays = []
        for _ in range(2):
            replay = _timed(lambda: _post(f"{url}/moto-api/recorder/replay-recording"))
            s3 = client("s3", endpoint_url=url, region="us-east-1")
            keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
            packages = _packages(url)
            replays.append((replay, keys, len(packages), packages[0]["CreationTime"] in created))
    print(f"recording: {size / 1e6:.1f} MB for {data.stat().st_size / 1e6:.1f} MB uploaded")
    print(f"{'replay':>7} {'seconds':>8} {'objects':>22} {'packages':>9} {'same CreationTime':>18}")
    for number, (seconds, keys, count, same) in enumerate(replays, start=1):
        print(f"{number:>7} {seconds:>8.2f} {','.join(keys):>22} {count:>9} {same!s:>18}")


# --- helpers --------------------------------------------------------------------------------------


def _fresh(root: Path, name: str) -> Path:
    work = root / name
    work.mkdir()
    return work


def _servers_started(work: Path) -> int:
    """Servers ever started for ``work/.mlops``: each logs one ``pid N on http://…`` line."""
    log = AwsStateLayout(work / ".mlops").log
    return len(re.findall(r"\] pid \d+ on http", log.read_text())) if log.exists() else 0


def _models_list(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MLOPS), "models", "list", "--local"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _register(url: str, count: int) -> None:
    sagemaker = client("sagemaker", endpoint_url=url, region="us-east-1")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for index in range(count):
        _package(sagemaker, index)


def _package(sagemaker: Any, index: int) -> None:
    sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{index}/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )


def _packages(url: str) -> list[dict[str, Any]]:
    sagemaker = client("sagemaker", endpoint_url=url, region="us-east-1")
    listed = sagemaker.list_model_packages(ModelPackageGroupName=GROUP, MaxResults=100)
    return list(listed["ModelPackageSummaryList"])


def _write_csv(path: Path, size: int) -> None:
    """A churn-like CSV of about ``size`` bytes whose rows all differ (as real data does, so
    no 8 MB part repeats another)."""
    with path.open("wb") as handle:
        handle.write(b"customer_id,tenure_months,contract,monthly_charges,churn\n")
        written, index = 0, 0
        while written < size:
            block = "".join(
                f"{index + n:010d},{(index + n) % 72},Month-to-month,{(index + n) % 9000 / 100},No\n"
                for n in range(10_000)
            ).encode()
            handle.write(block)
            written, index = written + len(block), index + 10_000


def _stream_digest(body: Any) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _post(url: str) -> bytes:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=600) as response:
        return bytes(response.read())


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _wait_unlocked(state: Path) -> None:
    deadline = time.monotonic() + 10
    while server_pid(state) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def _replay_seconds(state: Path) -> float:
    found = re.findall(
        r"replayed \d+ requests in ([\d.]+) s", AwsStateLayout(state).log.read_text()
    )
    return float(found[-1]) if found else float("nan")


def _request_latencies(*urls: str) -> list[dict[str, list[float]]]:
    """Per URL, the latency of each request kind; requests alternate between the URLs so a
    busy machine slows both alike."""
    s3 = [client("s3", endpoint_url=url, region="us-east-1") for url in urls]
    sagemaker = [client("sagemaker", endpoint_url=url, region="us-east-1") for url in urls]
    for index in range(len(urls)):
        s3[index].create_bucket(Bucket=BUCKET)
        sagemaker[index].create_model_package_group(ModelPackageGroupName=GROUP)
        s3[index].put_object(Bucket=BUCKET, Key="warm-up", Body=b"")
        _package(sagemaker[index], -1)
    body = os.urandom(1024)
    latencies: list[dict[str, list[float]]] = [
        {"PutObject 1 KB": [], "CreateModelPackage": []} for _ in urls
    ]
    for request in range(400):
        for index in range(len(urls)):
            started = time.perf_counter()
            s3[index].put_object(Bucket=BUCKET, Key=f"k{request}", Body=body)
            latencies[index]["PutObject 1 KB"].append(time.perf_counter() - started)
    for request in range(100):
        for index in range(len(urls)):
            started = time.perf_counter()
            _package(sagemaker[index], request)
            latencies[index]["CreateModelPackage"].append(time.perf_counter() - started)
    return latencies


@contextmanager
def _bare_moto(environment: dict[str, str] | None = None) -> Iterator[str]:
    """A plain moto server in its own process (what the local AWS was before the journal)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(environment or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.kill()  # a kill, as in the cases above: nothing is flushed on the way out
        process.wait(10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
