"""AWS (or LocalStack): clients, the SQS queue and the S3 archive."""
