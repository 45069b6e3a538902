"""`mlops pipeline run --local` wall time vs. a bare one-process script doing the same work.

`python -m benchmarks.pipeline [--rows 20000,1000000] [--no-phases]`

For each size, in one run on the same CSV:

- **pipeline, cold**: the first ``mlops pipeline run --local --data <csv>`` in a fresh project
  folder (the local AWS server starts, the definition is built, the warm runtime starts);
- **pipeline, again**: a second identical command — the inner loop a data scientist lives in
  after editing a script. This is the figure the ratio uses;
- **bare**: one fresh interpreter doing the same work with the bare libraries (below).

The bare script does what the pipeline's scripts do, the way a good one-process script would:
reads the CSV with pandas (only blank cells missing, as in preprocess.py: pandas' default NA
words would turn the churn table's ``internet_service`` value "None" into a missing value and
drop a category the pipeline keeps), drops the id column, one-hot encodes the categorical columns over
all rows in the booster's feature order of preprocess.py (each column in place, categories
sorted), makes the *same* seeded stratified 70/15/15 split as preprocess.py (same rows), trains
XGBoost with the same parameters, evaluation metrics (``auc,logloss`` on train and validation,
early stopping on validation logloss), thread policy and seed, keeps the trees up to the best
round, scores the test split at the same threshold, computes the same twelve binary metrics
with the same 100-sample bootstrap standard deviations (vectorised with numpy), the ROC and
precision-recall curves and the confusion matrix, and draws the same four plots. What it does
not do, and the pipeline does: validate every cell against the schema with row-level errors,
the data-quality baseline (statistics + constraints of the training split), the model
archive with ``inference.py``, the registry entry, ``summary.json`` and ``report.html``.

Then a phase breakdown of one more (warm) run, in process: definition, uploads, each step's
staging, process (start + imports + work) and publishing, artifacts, report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_ROWS = (20_000, 1_000_000)
# Names the phase of a timed call from its (args, kwargs).
Label = Callable[[tuple[Any, ...], dict[str, Any]], str]
REPO = Path(__file__).resolve().parents[1]

BARE_SCRIPT = r"""
import json, os, sys, time
started = time.perf_counter()
import numpy as np, pandas as pd, xgboost as xgb
from sklearn import metrics
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

path, hp, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
# Only blank cells are missing: pandas' default NA words ("None", "NA", "null" …) are real
# categories to preprocess.py (the churn table's internet_service has "None").
frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
y = (frame.pop("churn").astype(str) == "Yes").astype(np.int64).to_numpy()
frame = frame.drop(columns=["customer_id"])
# One-hot in place, categories sorted: the feature order preprocess.py gives the booster.
blocks = {}
for name in frame.columns:
    column = frame[name]
    if pd.api.types.is_numeric_dtype(column):
        blocks[name] = column.to_numpy(dtype=np.float64)
        continue
    for category in sorted(column.dropna().astype(str).unique()):
        blocks[f"{name}={category}"] = (column == category).to_numpy(dtype=np.float64)
columns = list(blocks)
x = np.column_stack(list(blocks.values()))

# preprocess.py's split: per class, a seeded permutation cut 15 % test, 15 % validation.
rng = np.random.default_rng(42)
parts = {"train": [], "validation": [], "test": []}
for code in (0, 1):
    members = rng.permutation(np.flatnonzero(y == code))
    n_test, n_valid = round(len(members) * 0.15), round(len(members) * 0.15)
    parts["test"].append(members[:n_test])
    parts["validation"].append(members[n_test:n_test + n_valid])
    parts["train"].append(members[n_test + n_valid:])
rows = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}

threads = 1 if len(rows["train"]) < 50_000 else os.cpu_count()
params = {"objective": "binary:logistic", "eval_metric": ["auc", "logloss"],
          "max_depth": hp["max_depth"], "eta": hp["eta"], "subsample": hp["subsample"],
          "colsample_bytree": hp["colsample_bytree"], "min_child_weight": hp["min_child_weight"],
          "seed": 0, "nthread": threads, "tree_method": "hist"}
dtrain = xgb.DMatrix(x[rows["train"]], label=y[rows["train"]], feature_names=columns)
dvalid = xgb.DMatrix(x[rows["validation"]], label=y[rows["validation"]], feature_names=columns)
booster = xgb.train(params, dtrain, num_boost_round=hp["num_round"],
                    evals=[(dtrain, "train"), (dvalid, "validation")],
                    early_stopping_rounds=hp["early_stopping_rounds"], verbose_eval=False)
best = booster.best_iteration
booster = booster[: best + 1]
booster.save_model(os.path.join(out, "model.ubj"))
labels = y[rows["test"]]
booster.set_param({"nthread": 1 if len(labels) < 50_000 else 0})
scores = booster.predict(xgb.DMatrix(x[rows["test"]], feature_names=columns))
predicted = (scores >= 0.5).astype(np.int64)

def all_metrics(labels, scores, predicted):
    # Each row of the arguments is one sample (the bootstrap passes many at once).
    labels, scores, predicted = np.atleast_2d(labels), np.atleast_2d(scores), np.atleast_2d(predicted)
    n = labels.shape[1]
    pos = labels.sum(axis=1).astype(float); neg = n - pos
    tp = ((labels == 1) & (predicted == 1)).sum(axis=1).astype(float)
    fp = ((labels == 0) & (predicted == 1)).sum(axis=1).astype(float)
    fn, tn = pos - tp, neg - fp
    ratio = lambda a, b: np.divide(a, b, out=np.zeros_like(a), where=b > 0)
    precision, recall = ratio(tp, tp + fp), ratio(tp, pos)
    def fbeta(beta):
        w = beta * beta; d = w * precision + recall
        return ratio((1 + w) * precision * recall, d)
    order = np.argsort(scores, axis=1, kind="stable")
    ranks = np.empty_like(order, dtype=float)
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    for i in range(scores.shape[0]):  # average ranks of ties
        _, inverse, counts = np.unique(sorted_scores[i], return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        ranks[i, order[i]] = (ends - (counts - 1) / 2.0)[inverse]
    auc = ((ranks * (labels == 1)).sum(axis=1) - pos * (pos + 1) / 2) / np.where(pos * neg > 0, pos * neg, np.nan)
    return {"auc": auc, "f1": fbeta(1.0), "precision": precision, "recall": recall,
            "accuracy": (tp + tn) / n, "f0_5": fbeta(0.5), "f2": fbeta(2.0),
            "true_positive_rate": recall, "true_negative_rate": ratio(tn, neg),
            "false_positive_rate": ratio(fp, neg), "false_negative_rate": ratio(fn, pos),
            "accuracy_best_constant_classifier": np.maximum(pos, neg) / n}

values = {k: float(v[0]) for k, v in all_metrics(labels, scores, predicted).items()}
sample = np.random.default_rng(0).integers(0, len(labels), (100, len(labels)))
spread = {k: float(np.nanstd(v, ddof=1)) for k, v in
          all_metrics(labels[sample], scores[sample], predicted[sample]).items()}
fpr, tpr, _ = metrics.roc_curve(labels, scores)
prec, rec, _ = metrics.precision_recall_curve(labels, scores)
matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
for name, (xs, ys) in {"roc": (fpr, tpr), "pr": (rec, prec)}.items():
    figure, axes = plt.subplots(figsize=(5, 5)); axes.plot(xs, ys)
    figure.savefig(os.path.join(out, f"{name}.png"), dpi=100); plt.close(figure)
figure, axes = plt.subplots(figsize=(4, 4)); axes.imshow(matrix, cmap="Blues")
figure.savefig(os.path.join(out, "matrix.png"), dpi=100); plt.close(figure)
gain = sorted(booster.get_score(importance_type="gain").items(), key=lambda kv: -kv[1])[:20]
figure, axes = plt.subplots(figsize=(7, 6)); axes.barh([k for k, _ in gain], [v for _, v in gain])
figure.tight_layout(); figure.savefig(os.path.join(out, "importance.png"), dpi=100); plt.close(figure)
report = {"values": values, "standard_deviations": spread}
with open(os.path.join(out, "evaluation.json"), "w") as handle:
    json.dump(report, handle)
print(json.dumps({"auc": values["auc"], "auc_sd": spread["auc"], "rounds": best + 1,
                  "seconds": time.perf_counter() - started}))
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline")
    parser.add_argument(
        "--rows",
        default=",".join(str(n) for n in DEFAULT_ROWS),
        help="comma-separated dataset sizes",
    )
    parser.add_argument(
        "--no-phases", action="store_true", help="skip the in-process phase breakdown"
    )
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.rows.split(",") if part.strip()]

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("MLOPS_LOCAL_AWS_URL", None)
    from mlops.core.settings import load_settings
    from mlops.dataset.generator import write_csv

    settings = load_settings()
    results: list[dict[str, Any]] = []
    phases: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        root = Path(scratch)
        project = _project_folder(root)
        try:
            for rows in sizes:
                data = root / f"churn-{rows}.csv"
                write_csv(data, rows=rows, seed=42)
                results.append(_measure(settings, data, rows, project))
            if not args.no_phases:
                phases = _phase_breakdown(settings, root / f"churn-{sizes[0]}.csv", project)
        finally:
            _stop(project)
    _print_table(results)
    if phases:
        _print_phases(sizes[0], phases)
    return 0


def _project_folder(root: Path) -> Path:
    """A folder holding the project's settings and nothing else: the CLI keeps its local AWS
    state (``.mlops/``) and run folders there, so the benchmark never touches the checkout's."""
    project = root / "project"
    project.mkdir()
    (project / "cdk.json").write_text((REPO / "cdk.json").read_text())
    return project


def _cli(project: Path, *arguments: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    mlops = Path(sys.executable).parent / "mlops"
    from mlops.local_runtime.jobs.warm import WARM_RUNTIME_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    # Its own warm runtime: the cold run starts the servers, none left from other work helps.
    env[WARM_RUNTIME_ENV] = str(project / ".warm")
    started = time.perf_counter()
    done = subprocess.run(
        [str(mlops), *arguments],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, done


def _pipeline_run(project: Path, data: Path, out: Path) -> tuple[float, dict[str, Any]]:
    seconds, done = _cli(
        project, "pipeline", "run", "--local", "--data", str(data), "--out", str(out)
    )
    if done.returncode != 0:
        raise SystemExit(f"pipeline run failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads((out / "summary.json").read_text())


def _measure(settings: Any, data: Path, rows: int, project: Path) -> dict[str, Any]:
    cold, _ = _pipeline_run(project, data, project / f"cold-{rows}")
    again, summary = _pipeline_run(project, data, project / f"again-{rows}")

    hp = settings.hyperparameters.model_dump()
    out = project / f"bare-{rows}"
    out.mkdir()
    started = time.perf_counter()
    bare = subprocess.run(
        [sys.executable, "-c", BARE_SCRIPT, str(data), json.dumps(hp), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    bare_seconds = time.perf_counter() - started
    if bare.returncode != 0:
        raise SystemExit(f"bare script failed: {bare.stderr.strip()[-2000:]}")
    bare_result = json.loads(bare.stdout.strip().splitlines()[-1])
    return {
        "rows": rows,
        "cold": cold,
        "again": again,
        "bare": bare_seconds,
        "steps": {step["name"]: step["seconds"] for step in summary["steps"]},
        "auc": summary["metrics"]["auc"],
        "auc_sd": summary["standard_deviations"].get("auc", float("nan")),
        "rounds": _rounds(Path(summary["training_log"])),
        "bare_auc": bare_result["auc"],
        "bare_auc_sd": bare_result["auc_sd"],
        "bare_rounds": bare_result["rounds"],
    }


def _rounds(training_log: Path) -> int | None:
    match = re.search(r"best_iteration=(\d+)", training_log.read_text())
    return int(match.group(1)) + 1 if match else None


def _stop(project: Path) -> None:
    from mlops.local_runtime.jobs.warm import WarmRuntime

    _cli(project, "demo", "stop", "--state-dir", str(project / ".mlops"))
    WarmRuntime(project / ".warm").stop()


# --------------------------------------------------------------------------- phases


def _phase_breakdown(settings: Any, data: Path, project: Path) -> list[tuple[str, float]]:
    """One more warm run in this process, with the functions that do each phase timed."""
    import mlops.local_runtime.executor.run as run
    import mlops.local_runtime.jobs.processing as processing
    import mlops.local_runtime.jobs.training as training
    from mlops.local_runtime.executor import handlers, report

    timings: dict[str, float] = {}
    patched: list[tuple[Any, str, Any]] = []

    def time_calls(module: Any, name: str, label: Label) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                key = label(args, kwargs)
                timings[key] = timings.get(key, 0.0) + time.perf_counter() - began

        patched.append((module, name, original))
        setattr(module, name, timed)

    def per_job(phase: str, argument: int | str) -> Label:
        """``<step>: <phase>``, the step read from a path argument under ``work/<job>/``."""

        def label(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            value = kwargs[argument] if isinstance(argument, str) else args[argument]
            parts = Path(str(value)).parts
            job = parts[parts.index("work") + 1] if "work" in parts else "?"
            return f"{job.split('-')[0]}: {phase}"

        return label

    def fixed(name: str) -> Label:
        return lambda args, kwargs: name

    time_calls(run, "ensure_local_aws", fixed("local AWS health check"))
    time_calls(run, "upload_code", fixed("upload code"))
    time_calls(run, "upload_input", fixed("upload input"))
    time_calls(run, "cached_definition", fixed("definition (cached)"))
    time_calls(run, "collect_artifacts", fixed("artifacts download"))
    time_calls(report, "write_run_report", fixed("report.html"))
    for module in (processing, training):
        time_calls(module, "stage_in", per_job("stage in", 1))
        time_calls(module, "run_command", per_job("process (start + imports + work)", "log_file"))
    time_calls(processing, "stage_out", per_job("publish outputs", 0))
    time_calls(training, "publish_file", per_job("publish outputs", 0))
    time_calls(training, "pack_directory", per_job("pack model.tar.gz", 0))
    time_calls(handlers, "run_quality_check", fixed("dataqualitybaseline (whole step, in process)"))
    time_calls(handlers, "register_model", fixed("register"))
    from mlops.local_runtime.jobs.warm import WARM_RUNTIME_ENV

    os.environ[WARM_RUNTIME_ENV] = str(project / ".warm")  # the servers the CLI runs started
    try:
        started = time.perf_counter()
        run.run_local_pipeline(
            settings, data=data, out_dir=project / "phases", state_dir=project / ".mlops"
        )
        timings["total (in process, no CLI start)"] = time.perf_counter() - started
    finally:
        for module, name, original in reversed(patched):
            setattr(module, name, original)
    cli_start, _ = _cli(project, "pipeline", "run", "--help")
    timings["CLI start (mlops pipeline run --help)"] = cli_start
    return sorted(timings.items(), key=lambda item: item[0])


# --------------------------------------------------------------------------- output


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'rows':>10} {'cold s':>7} {'again s':>8} {'bare s':>7} {'ratio':>6} "
        f"{'prep':>6} {'baseline':>8} {'train':>6} {'eval':>6} {'register':>8} "
        f"{'AUC':>14} {'AUC bare':>14} {'rounds':>7}"
    )
    for row in rows:
        steps = row["steps"]
        print(
            f"{row['rows']:>10,} {row['cold']:>7.1f} {row['again']:>8.1f} {row['bare']:>7.1f} "
            f"{row['again'] / row['bare']:>5.2f}x "
            f"{steps['Preprocess']:>6.1f} {steps['DataQualityBaseline']:>8.1f} "
            f"{steps['Train']:>6.1f} {steps['Evaluate']:>6.1f} {steps['Register']:>8.1f} "
            f"{row['auc']:>7.4f}±{row['auc_sd']:.4f} "
            f"{row['bare_auc']:>7.4f}±{row['bare_auc_sd']:.4f} "
            f"{row['rounds']!s:>3}/{row['bare_rounds']}"
        )
    print("ratio = again / bare; rounds = pipeline / bare; AUC ± bootstrap standard deviation")
    for row in rows:  # every step of the second run, the ones beyond the bare script's work too
        listed = ", ".join(f"{name} {seconds:.1f}" for name, seconds in row["steps"].items())
        print(f"{row['rows']:>10,} steps (s, again; independent steps overlap): {listed}")


def _print_phases(rows: int, phases: list[tuple[str, float]]) -> None:
    print(f"\nphases of a warm run at {rows:,} rows (seconds; step phases run inside the steps):")
    for name, seconds in phases:
        print(f"  {name:<52} {seconds:7.2f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
