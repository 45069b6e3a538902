"""Lambda function sources; each directory is one function's deployment package."""
