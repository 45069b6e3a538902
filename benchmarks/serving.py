"""Serving speed: `python -m benchmarks.serving [--requests N] [--batches N] [--rounds K]`.

The endpoint runs in its own process (``mlops endpoint serve --local``), as it would on an
instance, so client threads here do not share a GIL with it; everything goes over loopback
HTTP (keep-alive connections) to the sagemaker-runtime route. Measured in one run:

- single-row latency p50/p99 and requests/s at concurrency 1 and 8;
- rows/s for 1000-row CSV batches through the server at concurrency 1 and 8, and in this
  process through the handlers' ``transform_fn`` (what the container calls per request);
- the **floor**: the same work in one process with the bare libraries, per request: parse the
  CSV bytes (pyarrow's C++ reader, or pandas' C engine when that is faster), encode them to
  the booster's matrix with numpy (contracts §3), ``booster.inplace_predict``. The answer's
  serialisation is not in the floor, so the ratio also charges the handlers for writing it.

Every in-process figure is the median of repeated calls, and one client's batch figure the
median request, so both sides of a ratio are the same statistic (until issue 17's second
round the floor was its fastest call against the server's mean request). Each figure is the
best of ``--rounds`` interleaved rounds (latencies: the round with the lowest p99), so that
other processes on a shared machine skew it less; the load average is printed alongside. The model is a booster the size of the project's defaults (max_depth 5,
200 rounds) trained on generated data and packed per contracts §4 (the serving tests' kit).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

REPO_ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = "bench"
BATCH_ROWS = 1000


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _build_model(directory: Path) -> tuple[Path, Any]:
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
            xgb.DMatrix(
                matrix, label=labels, feature_names=cast("list[str]", spec["encoded_columns"])
            ),
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


class Floor:
    """Parse CSV bytes, encode them as contracts §3 says, predict: bare libraries, no checks."""

    def __init__(self, spec: dict[str, Any], booster: Any) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        self.booster = booster
        self.names = [feature["name"] for feature in spec["features"]]
        self.width = len(spec["encoded_columns"])
        self.numeric: dict[str, int] = {}
        self.categorical: dict[str, tuple[int, list[str]]] = {}
        offset = 0
        for feature in spec["features"]:
            if feature["type"] == "numeric":
                self.numeric[feature["name"]] = offset
                offset += 1
            else:
                self.categorical[feature["name"]] = (offset, list(feature["categories"]))
                offset += len(feature["categories"])
        self.value_sets = {
            name: pa.array(vocabulary) for name, (_, vocabulary) in self.categorical.items()
        }
        types = {
            **dict.fromkeys(self.numeric, pa.float64()),
            **dict.fromkeys(self.categorical, pa.string()),
        }
        self.read_options = pa_csv.ReadOptions(column_names=self.names, use_threads=False)
        self.convert_options = pa_csv.ConvertOptions(column_types=types)
        self.np = np

    def pyarrow(self, body: bytes) -> Any:
        import pyarrow.compute as pc
        import pyarrow.csv as pa_csv

        np = self.np
        table = pa_csv.read_csv(
            io.BytesIO(body), read_options=self.read_options, convert_options=self.convert_options
        )
        matrix = np.zeros((table.num_rows, self.width), dtype=np.float32)
        for name, offset in self.numeric.items():
            matrix[:, offset] = table[name].to_numpy()  # a blank cell is null: NaN
        for name, (offset, _) in self.categorical.items():
            codes = pc.index_in(table[name], value_set=self.value_sets[name])
            found = codes.is_valid().to_numpy(zero_copy_only=False)
            indexes = codes.fill_null(0).to_numpy()
            matrix[np.flatnonzero(found), offset + indexes[found]] = 1.0
        return self.booster.inplace_predict(matrix, validate_features=False)

    def pandas(self, body: bytes) -> Any:
        import pandas as pd

        np = self.np
        frame = pd.read_csv(
            io.BytesIO(body),
            header=None,
            names=self.names,
            dtype=dict.fromkeys(self.categorical, str),
            keep_default_na=False,
            na_values={name: [""] for name in self.numeric},
        )
        matrix = np.zeros((len(frame), self.width), dtype=np.float32)
        matrix[:, list(self.numeric.values())] = frame[list(self.numeric)].to_numpy(np.float64)
        for name, (offset, vocabulary) in self.categorical.items():
            codes = np.asarray(pd.Categorical(frame[name], categories=vocabulary).codes)
            found = codes >= 0
            matrix[np.flatnonzero(found), offset + codes[found]] = 1.0
        return self.booster.inplace_predict(matrix, validate_features=False)


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


def _median_seconds(function: Callable[[], object], seconds: float = 1.0) -> float:
    """The median of repeated calls of ``function`` over about ``seconds``: the statistic the
    server's figures use too (its requests' median latency), so the ratio compares like with
    like rather than one lucky in-process call with a typical request."""
    function()
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


@dataclass
class Latency:
    """One concurrency level's best round: (p50, p99) seconds and requests/s."""

    p50: float = float("inf")
    p99: float = float("inf")
    rate: float = 0.0

    def update(self, latencies: list[float], wall: float) -> None:
        p99 = _percentile(latencies, 99)
        if p99 < self.p99:
            self.p50, self.p99, self.rate = statistics.median(latencies), p99, len(latencies) / wall


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="single-row requests a round")
    parser.add_argument("--batches", type=int, default=100, help="1000-row requests a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from inference import inference

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as temp:
        work = Path(temp)
        archive, raw = _build_model(work)
        unpacked = work / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        model = inference.model_fn(str(unpacked))
        floor = Floor(json.loads((unpacked / "feature_spec.json").read_text()), model.booster)
        rows = raw.head(BATCH_ROWS).to_numpy().tolist()
        batch_body = ("\n".join(",".join(row) for row in rows) + "\n").encode()
        single_body = (",".join(rows[0]) + "\n").encode()
        expected = inference.predict(inference.read_input(batch_body, "text/csv"), model)
        for parse in (floor.pyarrow, floor.pandas):  # the floor does the handlers' work
            if not (parse(batch_body) == expected.probabilities).all():
                raise SystemExit(f"{parse.__name__} floor disagrees with the handlers")
        encoded = inference.encode(inference.read_input(batch_body, "text/csv"), model)
        text = batch_body.decode()  # the container hands text/csv to the handlers as str

        in_process: dict[str, float] = {}
        single: dict[str, float] = {}
        latency = {1: Latency(), 8: Latency()}
        served = {1: 0.0, 8: 0.0}
        server, url = _start_server(archive, work)
        try:
            _load(url, single_body, 100, 1)  # warm up connections and the model
            for _ in range(args.rounds):
                for label, function in (
                    ("floor, pyarrow", lambda: floor.pyarrow(batch_body)),
                    ("floor, pandas", lambda: floor.pandas(batch_body)),
                    (
                        "transform_fn",
                        lambda: inference.transform_fn(model, text, "text/csv", "text/csv"),
                    ),
                    ("inplace_predict", lambda: model.booster.inplace_predict(encoded)),
                ):
                    in_process[label] = max(
                        in_process.get(label, 0.0), BATCH_ROWS / _median_seconds(function)
                    )
                for label, function in (
                    ("floor", lambda: floor.pyarrow(single_body)),
                    (
                        "transform_fn",
                        lambda: inference.transform_fn(
                            model, single_body.decode(), "text/csv", "text/csv"
                        ),
                    ),
                ):
                    single[label] = min(
                        single.get(label, float("inf")), _median_seconds(function, 0.3)
                    )
                for concurrency in (1, 8):
                    latency[concurrency].update(
                        *_load(url, single_body, args.requests, concurrency)
                    )
                for concurrency in (1, 8):
                    latencies, wall = _load(url, batch_body, args.batches, concurrency)
                    # One client: rows / the median request (as the floor's median call);
                    # eight: rows / wall, the throughput several clients get together.
                    rate = (
                        BATCH_ROWS / statistics.median(latencies)
                        if concurrency == 1
                        else BATCH_ROWS * len(latencies) / wall
                    )
                    served[concurrency] = max(served[concurrency], rate)
        finally:
            server.terminate()
            server.wait(timeout=30)

    floor_label = max(("floor, pyarrow", "floor, pandas"), key=in_process.__getitem__)
    floor_rate = in_process[floor_label]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"model: 5000-row churn data, max_depth 5, 200 rounds, {model.encoded_width} encoded columns"
    )
    print(
        f"cpus: {os.cpu_count()}  load average: {load}  best of {args.rounds} rounds of "
        f"{args.requests} single-row and {args.batches} 1000-row requests"
    )
    print()
    print(f"{'single row (HTTP, runtime route)':<46}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    for concurrency, result in latency.items():
        print(
            f"{'concurrency ' + str(concurrency):<46}{result.p50 * 1e3:>9.2f}{result.p99 * 1e3:>9.2f}"
            f"{result.rate:>9.0f}"
        )
    print(f"{'in-process transform_fn, 1 row':<46}{single['transform_fn'] * 1e3:>9.2f}")
    print(f"{'floor (pyarrow parse, encode, predict), 1 row':<46}{single['floor'] * 1e3:>9.2f}")
    print()
    print(f"{'1000-row CSV batches':<46}{'rows/s':>12}{'× floor':>10}")
    for label, rate in (
        ("server, HTTP, concurrency 1", served[1]),
        ("server, HTTP, concurrency 8", served[8]),
        ("in-process transform_fn (parse…write)", in_process["transform_fn"]),
        ("floor: pyarrow parse + encode + predict", in_process["floor, pyarrow"]),
        ("floor: pandas parse + encode + predict", in_process["floor, pandas"]),
        ("inplace_predict alone (encoded rows)", in_process["inplace_predict"]),
    ):
        print(f"{label:<46}{rate:>12,.0f}{rate / floor_rate:>9.2f}x")
    print(f"(floor = {floor_label.removeprefix('floor, ')}, the faster in this run)")


if __name__ == "__main__":
    main(sys.argv[1:])
