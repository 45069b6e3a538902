"""CDK infrastructure: one folder per component, assembled into four stacks by ``infra.app``.

Each component folder holds its constructs, its stack, its runtime code if it has any, and the
cdk-nag acknowledgements of its own resources, made where those resources are created:

- ``storage/``  the KMS key (its policy in ``key_policy``) and the data, artifact and access-log
  buckets (``buckets``);
- ``pipeline/`` the SageMaker pipeline from the offline-built definition (``definition``),
  its code assets, execution role and the model registry;
- ``serving/``  the endpoint (``endpoint``), Model Monitor and drift alarms (``monitor``,
  ``features``) and optional retraining on drift (``retrain``);
- ``deploy/``   registry approval → serving stack update (``approval``) as the serving stack's
  own CloudFormation role (``serving_role``), with the Lambda's code in ``runtime/``;
- ``shared/``   what several components use: ``SageMakerRole`` and service trust, the fixed
  role names (``role_names``), image repository ARNs, ARNs, conditions, the SSM parameters the
  CLI reads, and the acknowledgement helpers.

Imports point one way: ``app`` → ``nag`` and the components' ``stack`` modules; ``pipeline``,
``serving`` and ``deploy`` → ``storage`` (``StorageRefs``) → ``shared`` → ``mlops.core``.
``nag`` holds only the rule packs. See docs/deploy.md.
"""
