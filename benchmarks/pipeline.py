"""Local pipeline wall time vs. a bare script doing the same work in one process.

`python -m benchmarks.pipeline [--rows 100000,1000000]`

For each size: the whole local execution (`run_local_pipeline`: stage code and data in local
S3, build the definition, Preprocess → DataQualityBaseline → Train → Evaluate → CheckMetric →
Register, copy artifacts out) against a bare script run as one fresh interpreter that reads
the CSV, splits it 70/15/15, one-hot encodes, trains XGBoost with the same parameters and early
stopping, and scores the test split. Both pay their own imports; the SDK import of the
definition build is paid once before timing (a warm-up build), as in a CDK synth or a second
CLI run it is the fixed cost of ~10 s reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_ROWS = (100_000, 1_000_000)

BARE_SCRIPT = r"""
import json, os, sys, time
started = time.perf_counter()
import numpy as np, pandas as pd, xgboost as xgb
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split

path, hp = sys.argv[1], json.loads(sys.argv[2])
frame = pd.read_csv(path)
y = (frame.pop("churn").astype(str) == "Yes").astype(int).to_numpy()
frame = frame.drop(columns=["customer_id"])
categorical = list(frame.select_dtypes(exclude="number").columns)
x = pd.get_dummies(frame, columns=categorical, dtype=float).astype(float)
x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, random_state=42, stratify=y)
x_valid, x_test, y_valid, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=42, stratify=y_rest)
params = {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": hp["max_depth"],
          "eta": hp["eta"], "subsample": hp["subsample"], "colsample_bytree": hp["colsample_bytree"],
          "min_child_weight": hp["min_child_weight"], "tree_method": "hist",
          "nthread": os.cpu_count()}
dtrain, dvalid = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_valid, label=y_valid)
booster = xgb.train(params, dtrain, num_boost_round=hp["num_round"],
                    evals=[(dtrain, "train"), (dvalid, "validation")],
                    early_stopping_rounds=hp["early_stopping_rounds"], verbose_eval=False)
scores = booster.predict(xgb.DMatrix(x_test), iteration_range=(0, booster.best_iteration + 1))
labels = (scores >= 0.5).astype(int)
print(json.dumps({"auc": roc_auc_score(y_test, scores), "f1": f1_score(y_test, labels),
                  "precision": precision_score(y_test, labels), "recall": recall_score(y_test, labels),
                  "accuracy": accuracy_score(y_test, labels), "rounds": booster.best_iteration + 1,
                  "seconds": time.perf_counter() - started}))
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline")
    parser.add_argument(
        "--rows",
        default=",".join(str(n) for n in DEFAULT_ROWS),
        help="comma-separated dataset sizes",
    )
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.rows.split(",") if part.strip()]

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("MLOPS_LOCAL_AWS_URL", None)
    from mlops.core.settings import load_settings
    from mlops.dataset.generator import write_csv
    from mlops.local_runtime.aws import ensure_local_aws, stop_local_aws

    settings = load_settings()
    rows_out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        # The local AWS server the CLI uses: a separate moto process, private to this run.
        state_dir = Path(scratch) / "state"
        ensure_local_aws(state_dir)
        try:
            import_seconds = _warm_up(settings)
            for rows in sizes:
                data = Path(scratch) / f"churn-{rows}.csv"
                write_csv(data, rows=rows, seed=42)
                rows_out.append(_measure(settings, data, rows, Path(scratch), state_dir))
        finally:
            stop_local_aws(state_dir)
    _print_table(rows_out, import_seconds)
    return 0


def _warm_up(settings: Any) -> float:
    from sagemaker_pipelines.definition import CodeLocations, build_definition

    started = time.perf_counter()
    build_definition(
        settings,
        role_arn="arn:aws:iam::123456789012:role/bench",
        artifact_bucket="bench",
        default_input_uri="s3://bench/in/",
        code=CodeLocations("s3://bench/p.py", "s3://bench/e.py", "s3://bench/s.tar.gz"),
    )
    return time.perf_counter() - started


def _measure(
    settings: Any, data: Path, rows: int, scratch: Path, state_dir: Path
) -> dict[str, Any]:
    from mlops.local_runtime.executor.run import run_local_pipeline

    started = time.perf_counter()
    run = run_local_pipeline(
        settings, data=data, out_dir=scratch / f"out-{rows}", state_dir=state_dir
    )
    pipeline_seconds = time.perf_counter() - started
    if not run.summary.succeeded:
        raise SystemExit(f"pipeline failed at {rows} rows: {run.summary.failure_reason}")

    hp = settings.hyperparameters.model_dump()
    started = time.perf_counter()
    bare = subprocess.run(
        [sys.executable, "-c", BARE_SCRIPT, str(data), json.dumps(hp)],
        capture_output=True,
        text=True,
        check=False,
    )
    bare_seconds = time.perf_counter() - started
    if bare.returncode != 0:
        raise SystemExit(f"bare script failed: {bare.stderr.strip()[-2000:]}")
    bare_result = json.loads(bare.stdout.strip().splitlines()[-1])
    steps = {step.name: step.seconds for step in run.summary.steps}
    return {
        "rows": rows,
        "pipeline": pipeline_seconds,
        "bare": bare_seconds,
        "steps": steps,
        "pipeline_auc": run.summary.metrics["auc"],
        "bare_auc": bare_result["auc"],
    }


def _print_table(rows: list[dict[str, Any]], import_seconds: float) -> None:
    print(
        f"definition build incl. SDK import (paid once, not in the figures): {import_seconds:.1f} s"
    )
    print(
        f"{'rows':>10} {'pipeline s':>11} {'bare s':>8} {'ratio':>6} "
        f"{'prep':>6} {'baseline':>8} {'train':>6} {'eval':>6} {'register':>8} "
        f"{'AUC pipe':>8} {'AUC bare':>8}"
    )
    for row in rows:
        steps = row["steps"]
        print(
            f"{row['rows']:>10,} {row['pipeline']:>11.1f} {row['bare']:>8.1f} "
            f"{row['pipeline'] / row['bare']:>5.2f}x "
            f"{steps['Preprocess']:>6.1f} {steps['DataQualityBaseline']:>8.1f} "
            f"{steps['Train']:>6.1f} {steps['Evaluate']:>6.1f} {steps['Register']:>8.1f} "
            f"{row['pipeline_auc']:>8.4f} {row['bare_auc']:>8.4f}"
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
