"""The batch inference pipeline: a registered model version scored over an S3 prefix.

`definition.build_batch_definition` builds it with the SDK v3, offline and deterministically,
like the training pipeline (`sagemaker_pipelines.definition`); the CDK batch stack deploys the
JSON and the local executor runs it. Importing this package costs nothing: the SDK is imported
inside the builder.
"""
