"""Deploy component: model approval → serving stack update. ``approval`` is the construct,
``serving_role`` the CloudFormation role the update runs as, ``stack`` their stack,
``runtime/`` the Lambda's deployment package (boto3 + stdlib only)."""
