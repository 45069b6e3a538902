"""The batch starter Lambda's deployment package (boto3 and the standard library only)."""
