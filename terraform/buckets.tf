resource "aws_s3_bucket" "bucket" {
  #checkov:skip=CKV_AWS_18:access logs of the archive would need a second bucket per stack; CloudTrail data events are the place for an audit trail
  #checkov:skip=CKV_AWS_144:cross-region replication is a choice of the operator, not of every stack
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encrypts at rest without a customer key to manage
  #checkov:skip=CKV2_AWS_62:nothing reacts to archive writes; replay reads the archive on demand
  #checkov:skip=CKV_AWS_21:the archive is written once per key (keys name the batch), so versions would only duplicate
  #checkov:skip=CKV2_AWS_61:the archive is the durable record replay rebuilds tiers from; expiring it is the operator's decision
  for_each      = local.buckets
  bucket        = "${local.prefix}-${each.key}"
  force_destroy = var.force_destroy_buckets

  # Without an explicit block, provider 3.39's plans against the local cloud never settle.
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }

  versioning {
    enabled = each.value.versioned
  }
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  for_each                = aws_s3_bucket.bucket
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
