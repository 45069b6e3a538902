"""training/train.py under the XGBoost script-mode contract (docs/contracts.md §4)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from mlops.local_runtime import JobFailed, run_training_job
from sagemaker_pipelines import code as code_bundle
from tests.container_scripts.conftest import DEFAULT_HYPERPARAMETERS, Chain, training_spec


def _channels(chain: Chain) -> dict[str, str]:
    return {name: chain.preprocess.outputs[name] for name in ("train", "validation", "spec")}


def test_model_archive_holds_booster_spec_and_serving_code(chain: Chain) -> None:
    with tarfile.open(chain.training.local_model) as tar:
        names = sorted(tar.getnames())
    assert names == ["code/inference.py", "feature_spec.json", "xgboost-model"]
    served = (chain.training.model_dir / "code" / "inference.py").read_bytes()
    assert served == code_bundle.INFERENCE_SCRIPT.read_bytes()


def test_model_artifact_is_published_under_the_job_output_prefix(chain: Chain) -> None:
    uri = chain.training.model_artifact
    assert uri.endswith("/models/train/output/model.tar.gz")
    bucket, _, key = uri[len("s3://") :].partition("/")
    published = chain.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert published == chain.training.local_model.read_bytes()


def test_booster_feature_names_are_the_spec_encoded_columns(chain: Chain) -> None:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray((chain.training.model_dir / "xgboost-model").read_bytes()))
    spec = json.loads((chain.training.model_dir / "feature_spec.json").read_text())
    assert booster.feature_names == spec["encoded_columns"]


def test_model_spec_takes_the_prediction_threshold_hyperparameter(chain: Chain) -> None:
    spec = json.loads((chain.training.model_dir / "feature_spec.json").read_text())
    assert spec["prediction_threshold"] == 0.4


def test_validation_auc_is_logged_for_metric_definitions(chain: Chain) -> None:
    assert 0.8 <= chain.training.metrics["validation:auc"] < 0.97
    assert chain.training.metrics["train:auc"] >= chain.training.metrics["validation:auc"]
    log = chain.training.log_file.read_text()
    assert "[0]\ttrain-auc:" in log
    assert "[best]\ttrain-auc:" in log


def test_binary_training_stops_early_on_validation_logloss(chain: Chain) -> None:
    # AUC ranks rows and can peak while every probability is under the threshold; logloss
    # (the last evaluation metric, which xgboost stops on) keeps improving until they fit.
    log = chain.training.log_file.read_text()
    assert '"eval_metric": ["auc", "logloss"]' in log
    assert chain.training.metrics["validation:logloss"] < 0.6


@pytest.mark.parametrize(
    ("override", "script_message"),
    [
        pytest.param(
            {"max_depth": "-3"}, "hyperparameter max_depth must be >= 0, got -3", id="max_depth"
        ),
        pytest.param(
            {"tree_method": "sideways"},
            "xgboost rejected the training setup",
            id="xgboost-parameter",
        ),
    ],
)
def test_bad_hyperparameter_fails_with_the_launchers_reason_and_logs_the_scripts(
    chain: Chain, tmp_path: Path, override: dict[str, str], script_message: str
) -> None:
    """The image's launcher overwrites train.py's failure file (tests/fidelity compares the
    text with the real launcher's); train.py's own reason stays in the job log."""
    spec = training_spec(
        "bad-hp",
        tmp_path,
        _channels(chain),
        chain.sourcedir_uri,
        {**DEFAULT_HYPERPARAMETERS, **override},
        tmp_path / "models",
    )
    with pytest.raises(JobFailed) as failure:
        run_training_job(spec, s3_client=chain.s3)
    failure_file = tmp_path / "bad-hp" / "output" / "failure"
    assert failure.value.reason == f"AlgorithmError: {failure_file.read_text()}"
    assert failure_file.read_text().startswith('ExecuteUserScriptError:\nCommand "')
    key, value = next(iter(override.items()))
    assert " -m train " in failure.value.reason
    assert f" --{key} {value}" in failure.value.reason
    assert script_message in (tmp_path / "bad-hp" / "job.log").read_text()
    assert not (tmp_path / "models").exists()


def test_missing_spec_channel_names_the_channel(chain: Chain, tmp_path: Path) -> None:
    channels = {k: v for k, v in _channels(chain).items() if k != "spec"}
    spec = training_spec(
        "no-spec", tmp_path, channels, chain.sourcedir_uri, DEFAULT_HYPERPARAMETERS, tmp_path
    )
    with pytest.raises(JobFailed, match="ExecuteUserScriptError"):
        run_training_job(spec, s3_client=chain.s3)
    assert "channel 'spec' is missing" in (tmp_path / "no-spec" / "job.log").read_text()
