"""Serving speed: `python -m benchmarks.serving [--requests N] [--model PATH]`.

The endpoint runs in its own process (``mlops endpoint serve --local``), as it would on an
instance, so client threads here do not share a GIL with it; everything goes over loopback
HTTP to the sagemaker-runtime route. Measured in one run, against the bare library:

- single-row latency p50/p99 and requests/s at concurrency 1 and 8 (keep-alive connections);
  the floor is bare ``booster.inplace_predict`` on one already-encoded row;
- rows/s for 1000-row CSV batches through the server, and in-process through ``read_input``
  + ``predict`` (+ ``write_output``) and through ``transform_fn`` (all of it, as the container
  calls it), each as a ratio to bare ``inplace_predict`` on the same 1000 rows already encoded.

Without ``--model`` it trains a booster the size of the project's defaults (max_depth 5,
200 rounds) on generated data and packs it per contracts §4 (the serving tests' kit).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = "bench"
BATCH_ROWS = 1000


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _build_model(directory: Path) -> tuple[Path, Any]:
    import json

    import numpy as np
    import xgboost as xgb

    from tests.serving import modelkit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        raw = modelkit.raw_rows(5000, seed=11)
        spec = modelkit.build_spec(raw)
        matrix = modelkit.encode_frame(raw, spec)
        labels = (raw["churn"] == "Yes").to_numpy(np.float32)
        booster = xgb.train(
            {"objective": "binary:logistic", "max_depth": 5, "eta": 0.1, "seed": 0},
            xgb.DMatrix(matrix, label=labels, feature_names=list(spec["encoded_columns"])),
            num_boost_round=200,
        )
        model_dir = directory / "model"
        model_dir.mkdir()
        booster.save_model(str(model_dir / "xgboost-model"))
    (model_dir / "feature_spec.json").write_text(json.dumps(spec))
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
        tar.add(model_dir / "feature_spec.json", arcname="feature_spec.json")
        tar.add(REPO_ROOT / "inference" / "inference.py", arcname="code/inference.py")
    return archive, raw.drop(columns=["churn"])


def _start_server(archive: Path, work: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
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
            ENDPOINT,
        ],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return process, line.split(" at ")[1].split()[0]


def _load(url: str, body: bytes, requests: int, concurrency: int) -> tuple[list[float], float]:
    """``requests`` POSTs split over ``concurrency`` keep-alive connections: latencies, wall."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // concurrency

    def worker() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        mine = []
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        for _ in range(per_thread):
            started = time.perf_counter()
            connection.request("POST", f"/endpoints/{ENDPOINT}/invocations", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def _best_rate(function: Callable[[], object], rows: int, seconds: float = 1.0) -> float:
    """Rows/s of ``function`` (best of repeated runs over ~``seconds``)."""
    function()
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return rows / best


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="single-row requests per level")
    parser.add_argument("--batches", type=int, default=40, help="1000-row requests")
    args = parser.parse_args(argv)

    import numpy as np

    from inference import inference

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as temp:
        work = Path(temp)
        archive, raw = _build_model(work)
        unpacked = work / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        model = inference.model_fn(str(unpacked))
        rows = raw.head(BATCH_ROWS).to_numpy().tolist()
        batch_body = ("\n".join(",".join(row) for row in rows) + "\n").encode()
        single_body = (",".join(rows[0]) + "\n").encode()
        encoded = inference.encode(inference.read_input(batch_body, "text/csv"), model)
        one_encoded = np.ascontiguousarray(encoded[:1])

        bare_batch = _best_rate(lambda: model.booster.inplace_predict(encoded), BATCH_ROWS)
        bare_single_s = 1 / _best_rate(lambda: model.booster.inplace_predict(one_encoded), 1)

        def handlers() -> object:
            request = inference.read_input(batch_body, "text/csv")
            return inference.write_output(inference.predict(request, model), "text/csv")

        in_process = _best_rate(
            lambda: inference.predict(inference.read_input(batch_body, "text/csv"), model),
            BATCH_ROWS,
        )
        in_process_out = _best_rate(handlers, BATCH_ROWS)
        in_process_transform = _best_rate(
            lambda: inference.transform_fn(model, batch_body, "text/csv", "text/csv"), BATCH_ROWS
        )

        server, url = _start_server(archive, work)
        try:
            _load(url, single_body, 100, 1)  # warm up connections and the model
            results = {}
            for concurrency in (1, 8):
                results[concurrency] = _load(url, single_body, args.requests, concurrency)
            batch_latencies, batch_wall = _load(url, batch_body, args.batches, 1)
            batch8_latencies, batch8_wall = _load(url, batch_body, args.batches, 8)
        finally:
            server.terminate()
            server.wait(timeout=30)

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"model: 5000-row churn data, max_depth 5, 200 rounds, {model.encoded_width} encoded columns"
    )
    print(
        f"cpus: {os.cpu_count()}  load average: {load}  single-row requests per level: "
        f"{args.requests}  batch requests: {args.batches}"
    )
    print()
    print(
        f"{'single row (HTTP, runtime route)':<36}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'p50 / bare':>12}"
    )
    for concurrency, (latencies, wall) in results.items():
        p50 = statistics.median(latencies)
        print(
            f"{'concurrency ' + str(concurrency):<36}{p50 * 1e3:>9.2f}{_percentile(latencies, 99) * 1e3:>9.2f}"
            f"{len(latencies) / wall:>9.0f}{p50 / bare_single_s:>11.0f}x"
        )
    print(f"{'bare inplace_predict, 1 row':<36}{bare_single_s * 1e3:>9.3f}")
    print()
    print(f"{'1000-row CSV batches':<48}{'rows/s':>12}{'vs bare':>10}")
    server_rate = BATCH_ROWS * len(batch_latencies) / batch_wall
    server8_rate = BATCH_ROWS * len(batch8_latencies) / batch8_wall
    for label, rate in (
        ("server, HTTP, concurrency 1", server_rate),
        ("server, HTTP, concurrency 8", server8_rate),
        ("in-process read_input + predict", in_process),
        ("in-process read_input + predict + write_output", in_process_out),
        ("in-process transform_fn", in_process_transform),
        ("bare inplace_predict (encoded rows)", bare_batch),
    ):
        print(f"{label:<48}{rate:>12,.0f}{rate / bare_batch:>9.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
