locals {
  # What each placeholder of the description stands for here.
  placeholders = merge(
    {
      "$${database_url}" = var.database_url
      "$${redis_url}"    = var.redis_url
      "$${admin_token}"  = var.admin_token
      "$${cors_origins}" = local.cors_origins
      "$${region}"       = var.region
    },
    { for name, queue in aws_sqs_queue.queue : "$${queue:${name}}" => queue.id },
    { for name, queue in aws_sqs_queue.dead_letter : "$${dlq:${name}}" => queue.id },
    { for name, bucket in aws_s3_bucket.bucket : "$${bucket:${name}}" => bucket.id },
  )
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:the logs hold no secrets (the functions never log credentials or sample values); CloudWatch encrypts them at rest
  #checkov:skip=CKV_AWS_338:retention is a variable (log_retention_days); a year of debug logs is a cost few fleets want
  for_each          = local.functions
  name              = "/aws/lambda/${local.prefix}-${each.key}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_116:no function is invoked asynchronously by a caller that would need a DLQ: queue triggers have their own dead-letter queues, schedules run again
  #checkov:skip=CKV_AWS_117:functions go into the VPC when subnet_ids are given (the ones that reach PostgreSQL or Redis); the local cloud has none
  #checkov:skip=CKV_AWS_173:environment variables are encrypted at rest with the Lambda service key; the database and Redis URLs are sensitive variables kept out of outputs
  #checkov:skip=CKV_AWS_272:code signing needs a signing profile per account; packages are reproducible and deployed by hash instead
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not wired into the handlers; Powertools logs carry correlation ids
  #checkov:skip=CKV_AWS_115:concurrency is a variable (reserved_concurrency), unreserved unless the operator bounds it
  for_each                       = local.functions
  function_name                  = "${local.prefix}-${each.key}"
  role                           = aws_iam_role.function[each.key].arn
  runtime                        = local.stack.runtime
  handler                        = each.value.handler
  memory_size                    = each.value.memory
  timeout                        = each.value.timeout
  filename                       = "${var.package_dir}/${each.key}.zip"
  source_code_hash               = filebase64sha256("${var.package_dir}/${each.key}.zip")
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = { for key, value in each.value.environment : key => lookup(local.placeholders, value, value) }
  }

  dynamic "vpc_config" {
    for_each = contains(local.vpc_functions, each.key) ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function]
}
