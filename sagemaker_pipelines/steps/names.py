"""Step names and the evaluation property file the gates read.

The names are the definition's contract with its readers: the local executor, the CLI summary,
``start --wait`` output and infra address steps by them. They are re-exported by
`sagemaker_pipelines.definition`, where those readers import them from.
"""

from __future__ import annotations

PREPROCESS = "Preprocess"
DATA_QUALITY = "DataQualityBaseline"
# Baselines of the other three Model Monitor types: model quality (QualityCheck on Evaluate's
# predictions), bias and SHAP explanations (training/clarify.py, writing Clarify's formats).
MODEL_QUALITY = "ModelQualityBaseline"
MODEL_BIAS = "ModelBiasBaseline"
MODEL_EXPLAINABILITY = "ModelExplainabilityBaseline"
TRAIN = "Train"
EVALUATE = "Evaluate"
# The gate: CheckMetric registers a model whose test predictions vary and whose gate metric
# reaches the MetricThreshold parameter; when it refuses, CheckPredictions picks the reason
# (ConstantPredictions before MetricBelowThreshold).
CHECK_METRIC = "CheckMetric"
REGISTER = "Register"
CHECK_PREDICTIONS = "CheckPredictions"
CONSTANT_PREDICTIONS = "ConstantPredictions"
FAIL = "MetricBelowThreshold"

EVALUATION_PROPERTY_FILE = "EvaluationReport"
# evaluation.json's prediction_check (training/evaluate.py): how many distinct answers the
# model gave on the test split, and the message a constant model fails with.
DISTINCT_PREDICTIONS_PATH = "prediction_check.distinct_predictions"
PREDICTION_CHECK_MESSAGE_PATH = "prediction_check.message"
