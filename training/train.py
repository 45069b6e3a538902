"""Train step (SageMaker XGBoost 3.2-0 container, script mode; numpy, pandas, xgboost).

Contract (docs/contracts.md §2-4): hyperparameters arrive as ``--key value`` arguments; the
channels are ``train`` and ``validation`` (encoded CSV, no header, label first) and ``spec``
(``feature_spec.json`` from preprocess), found through ``SM_CHANNEL_<NAME>``. The spec's
``problem_type`` picks the objective and the evaluation metrics (`OBJECTIVES`); trains with
early stopping on the validation set and writes into ``SM_MODEL_DIR``:

    xgboost-model       the booster (UBJSON), trees up to the best iteration,
                        feature_names = the spec's encoded_columns
    feature_spec.json   the spec plus ``prediction_threshold`` (hyperparameter)
    code/inference.py   the serving handlers, copied from next to this file

so ``model.tar.gz`` is servable without a repack step. Evaluation lines are xgboost's own
``[round]<TAB>train-auc:0.91<TAB>train-logloss:0.3<TAB>validation-auc:0.88…`` (the built-in
algorithm's format; in CloudWatch the tab shows as ``#011``), then a final line with the best
round's values.

Early stopping watches the last evaluation metric, chosen so that it cannot stop at a useless
model: ``logloss`` for binary (AUC only ranks rows: it can peak at round 2 while every
probability is still under the decision threshold, a model answering one class for all rows),
``mlogloss`` for multiclass, ``rmse`` for regression. ``--eval_metric`` overrides the list.

Any failure writes its reason to ``$SM_OUTPUT_DIR/failure`` (``/opt/ml/output/failure``, what
SageMaker shows as FailureReason) and exits 1. Unknown ``--key value`` hyperparameters are
passed to xgboost as parameters (e.g. ``--gamma 1 --scale_pos_weight 3``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_FILE = "xgboost-model"
SPEC_FILE = "feature_spec.json"
INFERENCE_FILE = "inference.py"
# problem type → (objective, evaluation metrics; the last one stops training early).
OBJECTIVES = {
    "binary": ("binary:logistic", "auc,logloss"),
    "multiclass": ("multi:softprob", "merror,mlogloss"),
    "regression": ("reg:squarederror", "mae,rmse"),
}
# Below this many training rows one thread trains faster than a team (`training_threads`).
SMALL_DATA_ROWS = 50_000
# Distributed training (`train_distributed`): the single host's name, the tracker's port in
# the image (sagemaker_xgboost_container.distributed.Rabit), how long a host name may take to
# resolve, and the local runtime's host map (set only by it).
CURRENT_HOST = "algo-1"
TRACKER_PORT = 9099
HOST_RESOLUTION_SECONDS = 900.0
LOCAL_HOSTS_ENV = "MLOPS_LOCAL_HOSTS"
# Objective families an ``--objective`` override may come from, per problem type.
_OBJECTIVE_FAMILIES = {
    "binary": ("binary:",),
    "multiclass": ("multi:softprob",),
    "regression": ("reg:", "count:", "survival:"),
}


class TrainingError(Exception):
    """A problem the user can fix; its message is the failure reason."""


def main(argv: list[str] | None = None) -> int:
    """Run training; on any failure write the failure file and return 1."""
    try:
        args, extra = parse_hyperparameters(sys.argv[1:] if argv is None else argv)
        train(args, extra)
    except TrainingError as error:
        return _fail(str(error))
    except Exception as error:  # the failure file must say why, whatever broke
        traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        return _fail(f"{type(error).__name__}: {first_line}")
    return 0


def parse_hyperparameters(argv: list[str]) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Known hyperparameters (validated), and the rest as extra xgboost parameters."""
    parser = argparse.ArgumentParser(
        description="XGBoost training, SageMaker script mode", exit_on_error=False
    )
    parser.add_argument("--max_depth", type=int, default=5)
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--num_round", type=int, default=300)
    parser.add_argument("--subsample", type=float, default=0.8)
    parser.add_argument("--colsample_bytree", type=float, default=0.8)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--early_stopping_rounds", type=int, default=20)
    parser.add_argument("--objective", default=None, help="default: by the spec's problem type")
    parser.add_argument(
        "--eval_metric", default=None, help="comma list; the last stops early (default: by type)"
    )
    parser.add_argument("--prediction_threshold", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    try:
        args, unknown = parser.parse_known_args(argv)
    except argparse.ArgumentError as error:
        raise TrainingError(f"invalid hyperparameter: {error}") from None
    _validate(args)
    return args, _extra_parameters(unknown)


def _validate(args: argparse.Namespace) -> None:
    rules: list[tuple[str, bool, str]] = [
        ("max_depth", args.max_depth >= 0, ">= 0"),
        ("eta", 0 < args.eta <= 1, "in (0, 1]"),
        ("num_round", args.num_round >= 1, ">= 1"),
        ("subsample", 0 < args.subsample <= 1, "in (0, 1]"),
        ("colsample_bytree", 0 < args.colsample_bytree <= 1, "in (0, 1]"),
        ("min_child_weight", args.min_child_weight >= 0, ">= 0"),
        ("early_stopping_rounds", args.early_stopping_rounds >= 1, ">= 1"),
        ("prediction_threshold", 0 < args.prediction_threshold < 1, "in (0, 1)"),
    ]
    for name, ok, rule in rules:
        if not ok:
            raise TrainingError(f"hyperparameter {name} must be {rule}, got {getattr(args, name)}")


def training_setup(args: argparse.Namespace, problem_type: str) -> tuple[str, list[str]]:
    """(objective, evaluation metrics) for the spec's problem type and any overrides."""
    if problem_type not in OBJECTIVES:
        raise TrainingError(f"{SPEC_FILE}: unknown problem_type {problem_type!r}")
    objective, metrics = OBJECTIVES[problem_type]
    if args.objective is not None:
        if not args.objective.startswith(_OBJECTIVE_FAMILIES[problem_type]):
            raise TrainingError(
                f"hyperparameter objective {args.objective} does not fit a {problem_type} "
                f"problem (use {objective}, or change the dataset's problem_type)"
            )
        objective = args.objective
    chosen = [m.strip() for m in (args.eval_metric or metrics).split(",") if m.strip()]
    if not chosen:
        raise TrainingError("hyperparameter eval_metric names no metric")
    return objective, chosen


def _extra_parameters(unknown: list[str]) -> dict[str, Any]:
    if len(unknown) % 2 or any(not key.startswith("--") for key in unknown[::2]):
        raise TrainingError(f"hyperparameters must be '--key value' pairs, got {unknown}")
    extra: dict[str, Any] = {}
    for key, value in zip(unknown[::2], unknown[1::2], strict=True):
        try:
            extra[key[2:]] = json.loads(value)
        except json.JSONDecodeError:
            extra[key[2:]] = value
    return extra


def _channel(name: str) -> Path:
    value = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    if not value:
        raise TrainingError(
            f"channel {name!r} is missing (no SM_CHANNEL_{name.upper()}); the job needs the "
            "train, validation and spec channels"
        )
    return Path(value)


def load_spec(spec_dir: Path) -> dict[str, Any]:
    """The feature spec from the ``spec`` channel."""
    path = spec_dir / SPEC_FILE
    if not path.is_file():
        raise TrainingError(f"{SPEC_FILE} is missing from the spec channel ({spec_dir})")
    try:
        spec = json.loads(path.read_text())
        columns = spec["encoded_columns"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise TrainingError(f"{SPEC_FILE} is not a valid feature spec: {error}") from None
    if not columns:
        raise TrainingError(f"{SPEC_FILE} lists no encoded_columns")
    return dict(spec)


def load_split(
    channel_dir: Path,
    name: str,
    width: int,
    problem_type: str,
    classes: int,
    *,
    allow_empty: bool = False,
) -> Any:
    """(features, labels) from every CSV in a channel; checks width and the labels. With
    ``allow_empty`` (a host's shard in distributed training) a channel without files is
    None, and the both-classes check is left to the caller (it is across hosts)."""
    import numpy as np
    import pandas as pd

    files = sorted(p for p in channel_dir.rglob("*.csv") if p.is_file())
    if not files and allow_empty:
        return None
    if not files:
        raise TrainingError(f"the {name} channel holds no CSV files ({channel_dir})")
    frames = []
    for path in files:
        try:
            frame = pd.read_csv(path, header=None, dtype=np.float64)
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise TrainingError(f"{name} channel, {path.name}: not numeric CSV ({error})") from None
        if frame.shape[1] != width + 1:
            raise TrainingError(
                f"{name} channel, {path.name}: {frame.shape[1]} columns, expected {width + 1} "
                "(label + the spec's encoded_columns)"
            )
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True).to_numpy()
    labels = data[:, 0]
    if problem_type == "regression":
        if not np.isfinite(labels).all():
            raise TrainingError(f"{name} channel: labels (first column) must be finite numbers")
        return data[:, 1:], labels
    if not np.isin(labels, np.arange(classes, dtype=np.float64)).all():
        raise TrainingError(
            f"{name} channel: labels (first column) must be class indexes 0..{classes - 1}"
        )
    if problem_type == "binary" and not allow_empty and len(np.unique(labels)) < 2:
        raise TrainingError(f"{name} channel: needs both classes, found only {labels[0]:g}")
    return data[:, 1:], labels


def train(args: argparse.Namespace, extra: dict[str, Any]) -> None:
    """Train with early stopping and write the model directory — alone, or with the other
    hosts of a multi-instance job (`train_distributed`)."""
    spec = load_spec(_channel("spec"))
    columns = list(spec["encoded_columns"])
    problem_type = str(spec.get("problem_type", "binary"))
    objective, metrics = training_setup(args, problem_type)
    classes = len(spec.get("classes") or ["0", "1"]) if problem_type != "regression" else 0
    inference_source = Path(__file__).resolve().parent / INFERENCE_FILE
    if not inference_source.is_file():
        raise TrainingError(
            f"{INFERENCE_FILE} is not next to train.py in the source dir; the model artifact "
            "needs it (package the code with sagemaker_pipelines.code)"
        )
    job = TrainingJob(args, extra, spec, objective, metrics, classes, inference_source)
    hosts = json.loads(os.environ.get("SM_HOSTS", "[]")) or [CURRENT_HOST]
    if len(hosts) > 1:
        train_distributed(job, sorted(hosts), os.environ.get("SM_CURRENT_HOST", hosts[0]))
        return
    x_train, y_train = load_split(_channel("train"), "train", len(columns), problem_type, classes)
    x_valid, y_valid = load_split(
        _channel("validation"), "validation", len(columns), problem_type, classes
    )
    job.fit(x_train, y_train, x_valid, y_valid, write=True)


@dataclass(frozen=True)
class TrainingJob:
    """What every host trains with: the hyperparameters, the spec and its objective."""

    args: argparse.Namespace
    extra: dict[str, Any]
    spec: dict[str, Any]
    objective: str
    metrics: list[str]
    classes: int
    inference_source: Path

    @property
    def problem_type(self) -> str:
        return str(self.spec.get("problem_type", "binary"))

    def fit(self, x_train: Any, y_train: Any, x_valid: Any, y_valid: Any, *, write: bool) -> None:
        """Early-stopped training; ``write``: this host writes the model directory."""
        import xgboost as xgb

        columns = list(self.spec["encoded_columns"])
        dtrain = xgb.DMatrix(x_train, label=y_train, feature_names=columns)
        dvalid = xgb.DMatrix(x_valid, label=y_valid, feature_names=columns)
        params: dict[str, Any] = {
            "objective": self.objective,
            "eval_metric": self.metrics,
            "num_class": self.classes if self.objective.startswith("multi:") else None,
            "max_depth": self.args.max_depth,
            "eta": self.args.eta,
            "subsample": self.args.subsample,
            "colsample_bytree": self.args.colsample_bytree,
            "min_child_weight": self.args.min_child_weight,
            "seed": self.args.seed,
            "nthread": training_threads(len(y_train)),
            "tree_method": "hist",
        }
        params.update(self.extra)
        params = {k: v for k, v in params.items() if v is not None}
        print(
            f"{self.problem_type}: training on {len(y_train)} rows, validating on "
            f"{len(y_valid)} rows, {len(columns)} features; "
            f"params {json.dumps(params, sort_keys=True)}",
            flush=True,
        )
        started = time.monotonic()
        history: dict[str, dict[str, list[float]]] = {}
        try:
            booster = xgb.train(
                params,
                dtrain,
                num_boost_round=self.args.num_round,
                evals=[(dtrain, "train"), (dvalid, "validation")],
                early_stopping_rounds=self.args.early_stopping_rounds,
                evals_result=history,
                verbose_eval=True,
            )
        except xgb.core.XGBoostError as error:
            message = next((ln for ln in str(error).splitlines() if ln.strip()), str(error))
            raise TrainingError(f"xgboost rejected the training setup: {message.strip()}") from None
        best = int(booster.best_iteration)
        booster = booster[: best + 1]
        summary = "\t".join(
            f"{split}-{metric}:{values[best]:.5f}"
            for split, by_metric in history.items()
            for metric, values in by_metric.items()
        )
        print(f"[best]\t{summary}", flush=True)
        print(
            f"best_iteration={best} rounds_run={len(history['validation'][self.metrics[-1]])} "
            f"seconds={time.monotonic() - started:.2f}",
            flush=True,
        )
        if write:
            model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
            write_model_dir(
                model_dir, booster, self.spec, self.args.prediction_threshold, self.inference_source
            )


# --------------------------------------------------------------------------- several hosts


def train_distributed(job: TrainingJob, hosts: list[str], current: str) -> None:
    """The XGBoost image's distributed training, in script mode: each host trains on its
    shard of the ``train``/``validation`` channels (``ShardedByS3Key``) while XGBoost's
    collective (Rabit) sums the histograms and the evaluation metrics across hosts, so every
    host grows the same trees and stops at the same round; the first host writes the model.

    As the image's ``sagemaker_xgboost_container.distributed.rabit_run`` does (the image's
    own libraries, xgboost 3.2's ``collective`` and ``RabitTracker``, nothing else): the
    tracker runs on the first host in sorted order at port 9099, ranks follow that order, the
    hosts first agree which of them hold data (a host whose shard is empty — fewer objects
    than hosts — leaves and exits 0), and those re-form on the next port when any left.
    """
    columns = len(job.spec["encoded_columns"])
    group = Collective(hosts, current, host_address(hosts[0])[1])
    with group:
        train_part = load_split(
            _channel("train"), "train", columns, job.problem_type, job.classes, allow_empty=True
        )
        valid_part = load_split(
            _channel("validation"),
            "validation",
            columns,
            job.problem_type,
            job.classes,
            allow_empty=True,
        )
        holds_data = train_part is not None and valid_part is not None
        labels = sorted(set(train_part[1].tolist())) if train_part is not None else []
        seen = group.gather({"host": current, "data": holds_data, "labels": labels})
        with_data = [entry["host"] for entry in seen if entry["data"]]
        if not with_data:
            raise TrainingError("no host received training and validation data")
        if job.problem_type == "binary" and len({x for e in seen for x in e["labels"]}) < 2:
            raise TrainingError("train channel: needs both classes across the hosts")
        if len(with_data) == len(hosts):
            job.fit(*train_part, *valid_part, write=group.rank == 0)
            return
    if not holds_data:
        print(
            f"warning: host {current} received no training or validation data (fewer objects "
            f"than hosts?): it takes no part in training",
            flush=True,
        )
        return
    with Collective(with_data, current, group.port + 1) as smaller:
        job.fit(*train_part, *valid_part, write=smaller.rank == 0)


class Collective:
    """One XGBoost collective group over ``hosts`` (sorted): the tracker on the first host,
    each host's rank its position (``sortby="task"``). The tracker starts at construction,
    before the data loads, so the other hosts find it when they connect."""

    def __init__(self, hosts: list[str], current: str, port: int) -> None:
        from xgboost.tracker import RabitTracker

        self.hosts = sorted(hosts)
        self.rank = self.hosts.index(current)
        self.port = port
        self.address = host_address(self.hosts[0])[0]
        self.tracker: Any = None
        self.context: Any = None
        if self.rank == 0:
            self.tracker = RabitTracker(
                n_workers=len(self.hosts), host_ip=self.address, port=port, sortby="task"
            )
            self.tracker.start()

    def __enter__(self) -> Collective:
        from xgboost import collective

        self.context = collective.CommunicatorContext(
            dmlc_tracker_uri=self.address,
            dmlc_tracker_port=self.port,
            dmlc_task_id=str(self.rank),
        )
        self.context.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.context is not None:
            self.context.__exit__(None, None, None)
        if self.tracker is not None:
            self.tracker.wait_for(timeout=60)
            self.tracker.free()

    def gather(self, value: dict[str, Any]) -> list[dict[str, Any]]:
        """Every host's ``value``, in rank order (each broadcasts its own)."""
        from xgboost import collective

        gathered: list[dict[str, Any]] = []
        for rank in range(len(self.hosts)):
            payload: Any = value if rank == self.rank else None
            gathered.append(dict(collective.broadcast(payload, rank)))
        return gathered


def host_address(host: str) -> tuple[str, int]:
    """(IP address, tracker port) of a host of the cluster.

    On SageMaker the hosts' names resolve through the cluster's DNS (retried: they appear as
    the instances start) and the tracker listens on 9099, the image's port. The local
    runtime runs every host on one machine and says where each is in ``MLOPS_LOCAL_HOSTS``
    (``algo-1=127.0.0.1:41234,…``), the one variable only it sets.
    """
    local = os.environ.get(LOCAL_HOSTS_ENV)
    if local:
        for item in local.split(","):
            name, _, address = item.partition("=")
            if name.strip() == host:
                ip, _, port = address.strip().rpartition(":")
                return ip, int(port)
        raise TrainingError(f"host {host} is not in {LOCAL_HOSTS_ENV}={local}")
    deadline = time.monotonic() + HOST_RESOLUTION_SECONDS
    delay = 0.1
    while True:
        try:
            return socket.gethostbyname(host), TRACKER_PORT
        except OSError:
            if time.monotonic() > deadline:
                raise TrainingError(f"host {host} does not resolve") from None
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def training_threads(rows: int) -> int | None:
    """One thread below `SMALL_DATA_ROWS` training rows, else every CPU (``SM_NUM_CPUS``).

    On small data a round's histograms take microseconds and an OpenMP team costs more in
    synchronisation than it saves, badly so on a busy machine: 76 rounds on 124 rows took
    0.11 s with one thread and 2.6 s with two on a loaded 2-core host.
    """
    if rows < SMALL_DATA_ROWS:
        return 1
    return int(os.environ.get("SM_NUM_CPUS", "0")) or None


def write_model_dir(
    model_dir: Path, booster: Any, spec: dict[str, Any], threshold: float, inference: Path
) -> None:
    """The three members of model.tar.gz (contracts §4)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    # An explicit .ubj name picks UBJSON without xgboost's "default format" warning.
    explicit = model_dir / f"{MODEL_FILE}.ubj"
    booster.save_model(str(explicit))
    explicit.replace(model_dir / MODEL_FILE)
    spec = {**spec, "prediction_threshold": threshold}
    (model_dir / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copyfile(inference, model_dir / "code" / INFERENCE_FILE)


def failure_file() -> Path:
    """Where SageMaker reads the failure reason; relocatable through the SM_* variables."""
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    if output_dir:
        return Path(output_dir) / "failure"
    model_dir = os.environ.get("SM_MODEL_DIR")
    if model_dir:
        return Path(model_dir).parent / "output" / "failure"
    return Path("/opt/ml/output/failure")


def _fail(reason: str) -> int:
    print(f"training failed: {reason}", file=sys.stderr, flush=True)
    try:
        path = failure_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reason)
    except OSError as error:
        print(f"could not write the failure file: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
