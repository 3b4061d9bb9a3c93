output "ingest_url" {
  description = "Where agents send batches (HOSTPULSE_INGEST_URL)."
  value       = local.api == null ? "" : "${local.api_url}/v1/ingest"
}

output "api_url" {
  description = "The query API's base (routes under /api/v1)."
  value       = local.api_url
}

output "dashboard_url" {
  description = "The static dashboard."
  value       = local.dashboard_url
}

output "functions" {
  description = "Physical function names by logical name."
  value       = local.function_name
}

output "queues" {
  description = "Queue URLs by logical name."
  value       = { for name, queue in aws_sqs_queue.queue : name => queue.id }
}

output "dead_letter_queues" {
  description = "Dead-letter queue URLs by the logical name of the queue they serve."
  value       = { for name, queue in aws_sqs_queue.dead_letter : name => queue.id }
}

output "buckets" {
  description = "Bucket names by logical name (the dashboard's included)."
  value       = merge({ for name, bucket in aws_s3_bucket.bucket : name => bucket.id }, { dashboard = aws_s3_bucket.dashboard.id })
}
