"""Stopping a loaded endpoint: `python -m benchmarks.shutdown [--runs 3] [--load-seconds 4]`.

What a user does: ``mlops endpoint serve --local --model … --capture DIR`` in its own process,
8 clients (``benchmarks.load``'s request mix, one keep-alive connection each) sending without
pause, then a signal mid-load:

- **SIGTERM** must drain: every request the server accepted is answered 2xx, the process exits
  0, and data capture holds exactly the requests answered 2xx. Requests that reach the server
  after it stopped accepting are refused at connect, or find their idle keep-alive connection
  closed without an answer (the server closes idle connections when it stops): counted
  separately, they are not errors, and capture proves they were never processed.
- **SIGKILL** cannot drain: capture loses what was buffered since its last flush. With
  ``flush_interval_seconds`` = 1 the lost records must all have been answered within about the
  last second before the kill.

Every request carries a unique ``InferenceId``, which capture records as
``eventMetadata.inferenceId``, so answers and records are matched one to one (lost = answered
2xx, not captured; extra = captured, not answered 2xx).

A reliability check, not a speed benchmark: there is no bare-library equivalent of "stop a
server under load", so the table reports counts, not ratios. ``run_shutdown`` also backs
``tests/reliability/test_endpoint_shutdown.py``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from benchmarks.load import ENDPOINT_NAME, MIX, build_bodies, check_answer, load_model

REPO_ROOT = Path(__file__).resolve().parents[1]
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
START_TIMEOUT_SECONDS = 90.0  # the serve process imports the ML stack (~10 s on 2 cores)
EXIT_TIMEOUT_SECONDS = 30.0
# Capture flushes every second; the flush itself takes a few milliseconds more under load.
FLUSH_SLACK_SECONDS = 0.25


@dataclass
class ShutdownReport:
    """What one signal-under-load run saw, from the clients' and from capture's side."""

    signal_name: str
    clients: int
    load_seconds: float  # from the first answer to the signal
    answered_before_signal: int
    answered: int  # 2xx answers, in all
    non_2xx: Counter[int]  # status -> count
    non_2xx_samples: list[str]
    refused: int  # connection refused: the server no longer listens
    closed_unanswered: int  # connection closed before any answer (idle keep-alive closed)
    exit_code: int | None
    exit_seconds: float  # signal -> process gone
    captured: int
    lost: int  # answered 2xx but not captured
    extra: int  # captured but never answered 2xx
    lost_window_seconds: float  # the oldest lost record was answered this long before the signal
    stderr: str
    problems: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """2xx answers per second before the signal."""
        return self.answered_before_signal / self.load_seconds if self.load_seconds else 0.0

    @property
    def traceback_printed(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr


class _Ledger:
    """What the client threads saw; answer times are ``time.monotonic()``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered: dict[str, float] = {}  # inference id -> when the 2xx arrived
        self.non_2xx: Counter[int] = Counter()
        self.samples: list[str] = []
        self.refused = 0
        self.closed_unanswered = 0
        self.first_answer = threading.Event()

    def ok(self, inference_id: str) -> None:
        with self.lock:
            self.answered[inference_id] = time.monotonic()
        self.first_answer.set()

    def failed(self, status: int, detail: str) -> None:
        with self.lock:
            self.non_2xx[status] += 1
            if len(self.samples) < 5:
                self.samples.append(f"HTTP {status}: {detail}")


def _client(
    port: int,
    index: int,
    bodies: dict[str, list[bytes]],
    ledger: _Ledger,
    stop: threading.Event,
    pause: float,
) -> None:
    path = f"/endpoints/{ENDPOINT_NAME}/invocations"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    number = 0
    while not stop.is_set():
        kind = MIX[(index + number) % len(MIX)]
        variants = bodies[kind.name]
        body = variants[(index * 7919 + number) % len(variants)]
        inference_id = f"c{index}-{number}"
        number += 1
        headers = {
            "Content-Type": kind.content_type,
            "Accept": kind.accept,
            INFERENCE_ID_HEADER: inference_id,
        }
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except ConnectionRefusedError:
            with ledger.lock:
                ledger.refused += 1
            connection.close()
            stop.wait(0.05)
            continue
        except (OSError, http.client.HTTPException):
            with ledger.lock:
                ledger.closed_unanswered += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        problem = check_answer(kind, response.status, payload)
        if problem is None:
            ledger.ok(inference_id)
        else:
            ledger.failed(response.status, problem)
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        if pause:
            stop.wait(pause)
    connection.close()


def _captured_ids(root: Path) -> Counter[str]:
    """The ``inferenceId`` of every record under ``root`` (``*.jsonl``, as Model Monitor reads)."""
    ids: Counter[str] = Counter()
    for path in sorted(root.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                ids[json.loads(line)["eventMetadata"].get("inferenceId", "")] += 1
    return ids


def serve_command(archive: Path, capture_dir: Path) -> list[str]:
    """``mlops endpoint serve`` as a user runs it (port 0: a free port, read from stdout)."""
    return [
        sys.executable,
        "-m",
        "mlops.cli.main",
        "endpoint",
        "serve",
        "--local",
        "--model",
        str(archive),
        "--port",
        "0",
        "--name",
        ENDPOINT_NAME,
        "--capture",
        str(capture_dir),
        "--sampling",
        "100",
    ]


def _pump(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
    """Read a child's pipe to its end (so it never blocks on a full pipe)."""
    for line in stream or ():
        lines.put(line)


def _start(archive: Path, capture_dir: Path, work_dir: Path) -> tuple[subprocess.Popen[str], int]:
    scratch = work_dir / "tmp"
    scratch.mkdir(exist_ok=True)
    process = subprocess.Popen(
        serve_command(archive, capture_dir),
        cwd=work_dir,  # the endpoint record (.mlops/endpoints/) goes here, not into the repo
        # and the unpacked model too: a SIGKILLed server cannot remove it
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT_SECONDS)
    except queue.Empty:
        process.kill()
        raise RuntimeError("mlops endpoint serve did not start in time") from None
    if " at http://127.0.0.1:" not in first:
        process.kill()
        raise RuntimeError(f"unexpected first line from serve: {first!r}")
    return process, int(first.rsplit(":", 1)[1].split()[0])


def run_shutdown(
    archive: Path,
    raw_rows: list[list[str]],
    feature_names: list[str],
    *,
    signal_number: int,
    work_dir: Path,
    clients: int = 8,
    load_seconds: float = 3.0,
    pause: float = 0.0,
) -> ShutdownReport:
    """Serve ``archive`` in a subprocess, load it, send ``signal_number``, account for all.

    ``pause``: seconds each client waits between requests (0: as fast as answers come).
    """
    capture_dir = work_dir / "capture"
    bodies = build_bodies(raw_rows, feature_names)
    process, port = _start(archive, capture_dir, work_dir)
    stderr_lines: queue.Queue[str] = queue.Queue()
    drain = threading.Thread(target=_pump, args=(process.stderr, stderr_lines), daemon=True)
    drain.start()
    ledger = _Ledger()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_client, args=(port, index, bodies, ledger, stop, pause), daemon=True
        )
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        if not ledger.first_answer.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError("no answer from the endpoint")
        started = time.monotonic()
        time.sleep(load_seconds)
        signalled = time.monotonic()
        with ledger.lock:
            before = len(ledger.answered)
        process.send_signal(signal_number)
        exit_code: int | None
        try:
            exit_code = process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            exit_code = None
        exited = time.monotonic()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()
    drain.join(timeout=5)
    captured = _captured_ids(capture_dir)
    with ledger.lock:
        answered = dict(ledger.answered)
        report = ShutdownReport(
            signal_name=signal.Signals(signal_number).name,
            clients=clients,
            load_seconds=signalled - started,
            answered_before_signal=before,
            answered=len(answered),
            non_2xx=Counter(ledger.non_2xx),
            non_2xx_samples=list(ledger.samples),
            refused=ledger.refused,
            closed_unanswered=ledger.closed_unanswered,
            exit_code=exit_code,
            exit_seconds=exited - signalled,
            captured=sum(captured.values()),
            lost=0,
            extra=sum((captured - Counter(answered.keys())).values()),
            lost_window_seconds=0.0,
            stderr="".join(stderr_lines.queue),
        )
    lost = [key for key in answered if key not in captured]
    report.lost = len(lost)
    report.lost_window_seconds = max((signalled - answered[key] for key in lost), default=0.0)
    report.problems = _problems(report)
    return report


def _problems(report: ShutdownReport) -> list[str]:
    problems = []
    if report.non_2xx:
        problems.append(f"{sum(report.non_2xx.values())} non-2xx answers: {report.non_2xx_samples}")
    if report.extra:
        problems.append(f"{report.extra} captured records were never answered 2xx")
    if report.signal_name == "SIGTERM":
        if report.exit_code != 0:
            problems.append(f"exit code {report.exit_code} after SIGTERM")
        if report.lost:
            problems.append(f"{report.lost} records answered 2xx but not captured")
        if report.traceback_printed:
            problems.append("a traceback on stderr")
    elif report.lost_window_seconds > 1.0 + FLUSH_SLACK_SECONDS:
        problems.append(
            f"SIGKILL lost records answered {report.lost_window_seconds:.2f} s before the kill"
        )
    return problems


def print_table(reports: list[ShutdownReport]) -> None:
    """One row per run (the format docs/reliability.md quotes)."""
    header = (
        f"{'signal':<8}{'clients':>8}{'load s':>7}{'req/s':>7}{'2xx':>7}{'non-2xx':>8}{'refused':>8}"
        f"{'closed':>7}{'exit':>6}{'exit s':>7}{'captured':>9}{'lost':>6}{'extra':>6}"
        f"{'lost window s':>14}"
    )
    print(header)
    for report in reports:
        exit_code = "-" if report.exit_code is None else str(report.exit_code)
        print(
            f"{report.signal_name:<8}{report.clients:>8}{report.load_seconds:>7.1f}{report.throughput:>7.0f}"
            f"{report.answered:>7}{sum(report.non_2xx.values()):>8}{report.refused:>8}"
            f"{report.closed_unanswered:>7}{exit_code:>6}{report.exit_seconds:>7.2f}"
            f"{report.captured:>9}{report.lost:>6}{report.extra:>6}"
            f"{report.lost_window_seconds:>14.2f}"
        )
    for report in reports:
        for problem in report.problems:
            print(f"FAIL {report.signal_name}: {problem}")
    print("result:", "PASS" if not any(r.problems for r in reports) else "FAIL")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shutdown", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    # SIGKILL at a low request rate too (one client, 20 ms between requests): the buffer then
    # never fills, so only the flush interval bounds what a kill loses.
    scenarios = [
        (signal.SIGTERM, args.clients, 0.0),
        (signal.SIGKILL, args.clients, 0.0),
        (signal.SIGKILL, 1, 0.02),
    ]
    reports = []
    with tempfile.TemporaryDirectory(prefix="mlops-shutdown-") as scratch:
        root = Path(scratch)
        archive, rows, names = load_model(root)
        for number in range(args.runs):
            for index, (signal_number, clients, pause) in enumerate(scenarios):
                work_dir = root / f"run-{number}-{index}"
                work_dir.mkdir()
                reports.append(
                    run_shutdown(
                        archive,
                        rows,
                        names,
                        signal_number=signal_number,
                        work_dir=work_dir,
                        clients=clients,
                        load_seconds=args.load_seconds,
                        pause=pause,
                    )
                )
    reports.sort(key=lambda report: (report.signal_name != "SIGTERM", -report.clients))
    print_table(reports)
    return 0 if not any(r.problems for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
