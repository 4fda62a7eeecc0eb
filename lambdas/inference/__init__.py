"""The inference function: S3 -> SNS -> SQS frame jobs in, one observation per frame out."""
