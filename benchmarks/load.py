"""Load: `python -m benchmarks.load [--clients 8] [--requests 2000] [--max-seconds 600]`.

A bounded soak of the local endpoint (``LocalEndpoint`` on 127.0.0.1, data capture to a
temporary directory at 100 % sampling): ``clients`` threads, each with its own keep-alive
connection, send ``requests`` invocations each to the sagemaker-runtime route, a fixed mix of
CSV and JSON bodies, single rows and batches, asking for JSON or CSV answers. Every answer is
checked (status 200, one prediction per row sent). After the endpoint stops (which flushes the
capture buffer) the capture files are read back and compared with what was sent:

- records == successful requests and eventIds are unique (nothing lost, nothing twice);
- the multiset of captured request bodies equals the multiset of bodies answered 200, so a
  record cannot be "counted" while carrying another request's data.

Resident memory (``VmRSS``) is read after a warm-up, when half the requests are done, and at
the end; a leak shows as growth in the second half comparable to the first. The same
``run_load`` backs the bounded variant in ``tests/reliability/test_load.py``.

The "bare library" reference required of every benchmark is ``inplace_predict`` on one
already-encoded row, timed in the same run: the ratio shows what HTTP, parsing, encoding,
capture and contention cost per request.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENDPOINT_NAME = "load-test"
BATCH_ROWS = 10
WARMUP_REQUESTS = 200
MAX_GROWTH_SECOND_HALF_MB = 16.0


@dataclass(frozen=True)
class RequestKind:
    """One entry of the request mix: how the body is built and what answer is asked for."""

    name: str
    content_type: str
    accept: str
    rows: int


MIX: tuple[RequestKind, ...] = (
    RequestKind("csv-1", "text/csv", "application/json", 1),
    RequestKind("csv-batch", "text/csv", "text/csv", BATCH_ROWS),
    RequestKind("json-1", "application/json", "application/json", 1),
    RequestKind("json-batch", "application/json", "text/csv", BATCH_ROWS),
)


@dataclass
class LoadReport:
    """What one load run measured; ``problems`` lists every failed check (empty = pass)."""

    clients: int
    requests_per_client: int
    seconds: float
    sent: int
    succeeded: int
    errors: int
    error_samples: list[str]
    captured_records: int
    unique_event_ids: int
    missing_bodies: int  # answered 200 but absent from capture
    extra_bodies: int  # captured but never answered 200 (or captured twice)
    latencies_ms: dict[str, list[float]]
    rss_mb: dict[str, float]
    bare_predict_ms: float
    warmup: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def all_latencies(self) -> list[float]:
        return [value for values in self.latencies_ms.values() for value in values]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mb() -> float:
    """This process's resident set size (Linux ``/proc``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_bodies(raw_rows: list[list[str]], feature_names: list[str]) -> dict[str, list[bytes]]:
    """Bodies per request kind, rotating through the generated rows (JSON numbers as numbers)."""
    numeric = set()
    for index, name in enumerate(feature_names):
        try:
            [float(row[index]) for row in raw_rows if row[index].strip()]
            numeric.add(name)
        except ValueError:
            continue

    def json_value(name: str, text: str) -> Any:
        if not text.strip():
            return None
        return float(text) if name in numeric else text

    bodies: dict[str, list[bytes]] = {}
    for kind in MIX:
        variants = []
        for start in range(0, len(raw_rows) - kind.rows + 1, kind.rows):
            rows = raw_rows[start : start + kind.rows]
            if kind.content_type == "text/csv":
                body = "\n".join(",".join(row) for row in rows) + "\n"
            else:
                instances = [
                    {n: json_value(n, v) for n, v in zip(feature_names, row, strict=True)}
                    for row in rows
                ]
                body = json.dumps({"instances": instances})
            variants.append(body.encode("utf-8"))
        bodies[kind.name] = variants
    return bodies


class _Shared:
    """State the client threads update: counters, samples and the body ledger."""

    def __init__(self, total: int) -> None:
        self.lock = threading.Lock()
        self.total = total
        self.done = 0
        self.succeeded = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.answered: collections.Counter[str] = collections.Counter()
        self.latencies: dict[str, list[float]] = {kind.name: [] for kind in MIX}
        self.rss_middle: float | None = None

    def finish(self, kind: str, seconds: float, body_hash: str | None, error: str | None) -> None:
        with self.lock:
            self.done += 1
            self.latencies[kind].append(seconds * 1000)
            if error is None and body_hash is not None:
                self.succeeded += 1
                self.answered[body_hash] += 1
            else:
                self.errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{kind}: {error}")
            if self.done == self.total // 2:
                self.rss_middle = rss_mb()


def _digest(body: bytes) -> str:
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def check_answer(kind: RequestKind, status: int, payload: bytes) -> str | None:
    """None when the answer is a 200 with one prediction per row sent, else what is wrong."""
    if status != 200:
        return f"HTTP {status}: {payload[:200]!r}"
    if kind.accept == "text/csv":
        count = len(payload.decode("utf-8").splitlines())
    else:
        count = len(json.loads(payload)["predictions"])
    return None if count == kind.rows else f"{count} predictions for {kind.rows} rows"


def _client(
    url: str,
    index: int,
    requests: int,
    bodies: dict[str, list[bytes]],
    shared: _Shared,
    *,
    record: bool = True,
) -> None:
    host, port = url.removeprefix("http://").split(":")
    path = f"/endpoints/{ENDPOINT_NAME}/invocations"
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        for number in range(requests):
            kind = MIX[(index + number) % len(MIX)]
            variants = bodies[kind.name]
            body = variants[(index * 7919 + number) % len(variants)]
            headers = {"Content-Type": kind.content_type, "Accept": kind.accept}
            started = time.perf_counter()
            error: str | None
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                error = check_answer(kind, response.status, payload)
            except (OSError, http.client.HTTPException, ValueError) as failure:
                error = f"{type(failure).__name__}: {failure}"
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
            elapsed = time.perf_counter() - started
            if record:
                shared.finish(kind.name, elapsed, None if error else _digest(body), error)
            elif error is None:
                with shared.lock:
                    shared.answered[_digest(body)] += 1
    finally:
        connection.close()


def _read_capture(root: Path) -> tuple[int, int, collections.Counter[str]]:
    """(records, unique eventIds, multiset of captured request-body hashes)."""
    records = 0
    event_ids: set[str] = set()
    bodies: collections.Counter[str] = collections.Counter()
    for path in sorted(root.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            records += 1
            event_ids.add(record["eventMetadata"]["eventId"])
            data = record["captureData"]["endpointInput"]["data"]
            bodies[_digest(data.encode("utf-8"))] += 1
    return records, len(event_ids), bodies


def _bare_predict_ms(model_dir: Path, row: list[str], feature_names: list[str]) -> float:
    """Median time of ``inplace_predict`` on one encoded row: the floor of a request."""
    import numpy as np

    from inference import inference as handlers

    model = handlers.model_fn(str(model_dir))
    matrix = handlers.encode(handlers.read_input(",".join(row), "text/csv"), model)
    matrix = np.ascontiguousarray(matrix)
    timings = []
    for _ in range(300):
        started = time.perf_counter()
        model.booster.inplace_predict(matrix, validate_features=False)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run_load(
    archive: Path,
    raw_rows: list[list[str]],
    feature_names: list[str],
    *,
    clients: int,
    requests_per_client: int,
    capture_dir: Path,
    max_seconds: float,
    warmup: int = WARMUP_REQUESTS,
) -> LoadReport:
    """Serve ``archive`` with capture into ``capture_dir``, drive the load, check everything."""
    from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint

    bodies = build_bodies(raw_rows, feature_names)
    total = clients * requests_per_client
    shared = _Shared(total)
    capture = CaptureConfig(
        destination=str(capture_dir), sampling_percentage=100, endpoint_name=ENDPOINT_NAME
    )
    endpoint = LocalEndpoint(archive, EndpointOptions(endpoint_name=ENDPOINT_NAME, capture=capture))
    bare_ms = _bare_predict_ms(endpoint.work_dir / "model", raw_rows[0], feature_names)
    endpoint.start()
    try:
        if warmup:
            _client(endpoint.url, 0, warmup, bodies, shared, record=False)
        rss = {"start": rss_mb()}
        started = time.perf_counter()
        threads = [
            threading.Thread(
                target=_client,
                args=(endpoint.url, index, requests_per_client, bodies, shared),
                name=f"load-client-{index}",
                daemon=True,
            )
            for index in range(clients)
        ]
        for thread in threads:
            thread.start()
        deadline = started + max_seconds
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.perf_counter()))
        seconds = time.perf_counter() - started
        timed_out = any(thread.is_alive() for thread in threads)
        rss["middle"] = shared.rss_middle if shared.rss_middle is not None else float("nan")
        rss["end"] = rss_mb()
    finally:
        endpoint.stop()  # flushes the capture buffer
    records, unique, captured = _read_capture(capture_dir)
    with shared.lock:
        answered = collections.Counter(shared.answered)
    report = LoadReport(
        clients=clients,
        requests_per_client=requests_per_client,
        seconds=seconds,
        sent=shared.done,
        succeeded=shared.succeeded,
        errors=shared.errors,
        error_samples=list(shared.error_samples),
        captured_records=records,
        unique_event_ids=unique,
        missing_bodies=sum((answered - captured).values()),
        extra_bodies=sum((captured - answered).values()),
        latencies_ms=shared.latencies,
        rss_mb=rss,
        bare_predict_ms=bare_ms,
        warmup=warmup,
    )
    report.problems = _problems(report, total=total, warmup=warmup, timed_out=timed_out)
    return report


def _problems(report: LoadReport, *, total: int, warmup: int, timed_out: bool) -> list[str]:
    problems = []
    if timed_out:
        problems.append(f"not finished within the time bound ({report.sent}/{total} sent)")
    if report.sent != total:
        problems.append(f"{report.sent} requests completed, expected {total}")
    if report.errors:
        problems.append(f"{report.errors} errors, e.g. {report.error_samples}")
    expected_records = report.succeeded + warmup
    if report.captured_records != expected_records:
        problems.append(
            f"{report.captured_records} capture records for {expected_records} successful requests"
        )
    if report.unique_event_ids != report.captured_records:
        problems.append(
            f"{report.captured_records - report.unique_event_ids} duplicated capture eventIds"
        )
    if report.missing_bodies or report.extra_bodies:
        problems.append(
            f"captured bodies differ from answered ones: {report.missing_bodies} missing, "
            f"{report.extra_bodies} extra"
        )
    return problems


def memory_growth(report: LoadReport) -> tuple[float, float]:
    """RSS growth (MB) over the first and the second half of the run."""
    rss = report.rss_mb
    return rss["middle"] - rss["start"], rss["end"] - rss["middle"]


def print_table(report: LoadReport) -> None:
    """The figures as a table (the format docs/reliability.md quotes)."""
    everything = report.all_latencies
    first, second = memory_growth(report)
    throughput = report.sent / report.seconds if report.seconds else 0.0
    p50 = percentile(everything, 50)
    print(
        f"load: {report.clients} clients x {report.requests_per_client} requests "
        f"= {report.sent} in {report.seconds:.1f} s ({throughput:.0f} req/s)"
    )
    print(f"{'request kind':<14}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, values in [*report.latencies_ms.items(), ("all", everything)]:
        print(
            f"{name:<14}{len(values):>8}{percentile(values, 50):>10.2f}"
            f"{percentile(values, 99):>10.2f}{max(values, default=0.0):>10.2f}"
        )
    print(
        f"bare inplace_predict, 1 row: {report.bare_predict_ms:.3f} ms; "
        f"request p50 / bare = {p50 / report.bare_predict_ms:.0f}x"
    )
    print(f"{'check':<42}{'value':>12}")
    rows = [
        ("errors", report.errors),
        ("successful requests (excl. warm-up)", report.succeeded),
        ("warm-up requests (also captured)", report.warmup),
        ("capture records", report.captured_records),
        ("unique capture eventIds", report.unique_event_ids),
        ("answered but not captured (lost)", report.missing_bodies),
        ("captured but not answered / twice", report.extra_bodies),
        ("RSS start MB", f"{report.rss_mb['start']:.1f}"),
        ("RSS middle MB", f"{report.rss_mb['middle']:.1f}"),
        ("RSS end MB", f"{report.rss_mb['end']:.1f}"),
        ("RSS growth first half MB", f"{first:+.1f}"),
        ("RSS growth second half MB", f"{second:+.1f}"),
    ]
    for label, value in rows:
        print(f"{label:<42}{value!s:>12}")
    print("result:", "PASS" if not report.problems else "FAIL: " + "; ".join(report.problems))


def load_model(directory: Path) -> tuple[Path, list[list[str]], list[str]]:
    """The serving tests' model kit: a real ``model.tar.gz`` plus raw rows as text."""
    from tests.serving.modelkit import FEATURES, build_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        built = build_model(directory, rows=2000, seed=3)
    rows = [list(map(str, row)) for row in built.raw.to_numpy().tolist()]
    return built.archive, rows, list(FEATURES)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="requests per client")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlops-load-") as scratch:
        root = Path(scratch)
        archive, rows, names = load_model(root)
        report = run_load(
            archive,
            rows,
            names,
            clients=args.clients,
            requests_per_client=args.requests,
            capture_dir=root / "capture",
            max_seconds=args.max_seconds,
        )
    first, second = memory_growth(report)
    if second > max(MAX_GROWTH_SECOND_HALF_MB, first):
        report.problems.append(
            f"memory grew {second:+.1f} MB in the second half (first half {first:+.1f} MB)"
        )
    print_table(report)
    return 0 if not report.problems else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
