"""Deploy component: model approval → serving stack update. ``approval`` is the construct,
``stack`` its stack, ``runtime/`` the Lambda's deployment package (boto3 + stdlib only)."""
