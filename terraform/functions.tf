# The functions and their queue triggers are one CloudFormation stack that Terraform owns.
# Provider 3.39's aws_lambda_function accepts runtimes up to python3.8 and has no
# `architectures`, and its event source mapping has no `function_response_types` (partial
# batch responses): the stack's python3.12, arm64 packages and ReportBatchItemFailures would
# all be lost. CloudFormation's own resource types take every one of them, and Terraform still
# creates, updates (a new package is a new S3 key) and destroys them with the rest.
locals {
  # What each placeholder of the description stands for here.
  placeholders = merge(
    {
      "$${database_url}" = var.database_url
      "$${redis_url}"    = var.redis_url
      "$${admin_token}"  = var.admin_token
      "$${read_token}"   = var.read_token
      "$${public_read}"  = tostring(var.public_read)
      "$${cors_origins}" = local.cors_origins
      "$${region}"       = var.region
    },
    { for name, arn in local.secret_arn : "$${secret:${name}}" => arn },
    { for name, queue in aws_sqs_queue.queue : "$${queue:${name}}" => queue.id },
    { for name, queue in aws_sqs_queue.dead_letter : "$${dlq:${name}}" => queue.id },
    { for name, bucket in aws_s3_bucket.bucket : "$${bucket:${name}}" => bucket.id },
  )

  # CloudFormation logical ids: "alerts-tick" -> "AlertsTick".
  logical_id = { for name in keys(local.functions) : name => join("", [for part in split("-", name) : title(part)]) }
  trigger_id = { for key in keys(local.triggers) : key => join("", [for part in split("-", key) : title(part)]) }

  package_file = { for name in keys(local.functions) : name => "${var.package_dir}/${name}.zip" }

  function_template = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "hostpulse functions and their queue triggers, from the stack description"
    Resources = merge(
      {
        for name, spec in local.functions : "Function${local.logical_id[name]}" => {
          Type = "AWS::Lambda::Function"
          Properties = merge(
            {
              FunctionName  = "${local.prefix}-${name}"
              Runtime       = local.stack.runtime
              Architectures = [var.architecture]
              Handler       = spec.handler
              MemorySize    = spec.memory
              Timeout       = spec.timeout
              Role          = aws_iam_role.function[name].arn
              Code = {
                S3Bucket = aws_s3_bucket.artifacts.id
                S3Key    = aws_s3_bucket_object.package[name].key
              }
              Environment = {
                Variables = { for key, value in spec.environment : key => lookup(local.placeholders, value, value) }
              }
            },
            lookup(var.reserved_concurrency, name, -1) < 0 ? {} : {
              ReservedConcurrentExecutions = var.reserved_concurrency[name]
            },
            !contains(local.vpc_functions, name) ? {} : {
              VpcConfig = { SubnetIds = var.subnet_ids, SecurityGroupIds = var.security_group_ids }
            },
          )
        }
      },
      {
        for key, trigger in local.triggers : "Trigger${local.trigger_id[key]}" => {
          Type = "AWS::Lambda::EventSourceMapping"
          Properties = merge(
            {
              EventSourceArn                 = aws_sqs_queue.queue[trigger.queue].arn
              FunctionName                   = { Ref = "Function${local.logical_id[trigger.function]}" }
              BatchSize                      = trigger.batch_size
              MaximumBatchingWindowInSeconds = trigger.batching_window_seconds
              Enabled                        = true
            },
            trigger.partial_batch_response ? { FunctionResponseTypes = ["ReportBatchItemFailures"] } : {},
          )
        }
      },
    )
    Outputs = {
      for name in keys(local.functions) : "Function${local.logical_id[name]}Arn" => {
        Value = { "Fn::GetAtt" = ["Function${local.logical_id[name]}", "Arn"] }
      }
    }
  })

  function_arn = {
    for name in keys(local.functions) : name => aws_cloudformation_stack.functions.outputs["Function${local.logical_id[name]}Arn"]
  }
  function_name = { for name in keys(local.functions) : name => "${local.prefix}-${name}" }
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:the logs hold no secrets (the functions never log credentials or sample values); CloudWatch encrypts them at rest
  #checkov:skip=CKV_AWS_338:retention is a variable (log_retention_days); a year of debug logs is a cost few fleets want
  for_each          = local.functions
  name              = "/aws/lambda/${local.prefix}-${each.key}"
  retention_in_days = var.log_retention_days
}

# The packages `hostpulse package` built, each under a key named by its hash: a changed
# package is a new key, so CloudFormation updates exactly the functions whose code changed.
resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:deployment packages; who deployed what is in CloudTrail
  #checkov:skip=CKV_AWS_144:packages are rebuilt reproducibly from the repository
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encrypts at rest without a customer key to manage
  #checkov:skip=CKV2_AWS_62:nothing reacts to package uploads
  #checkov:skip=CKV_AWS_21:each package has a key of its own (its hash), so versions would only duplicate
  #checkov:skip=CKV2_AWS_61:old packages are small and allow going back; the operator may expire them
  bucket        = "${local.prefix}-artifacts"
  force_destroy = true # only packages, rebuilt from the repository

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_object" "package" {
  #checkov:skip=CKV_AWS_186:code built from the public repository; the bucket encrypts it with SSE-S3
  for_each = local.functions
  bucket   = aws_s3_bucket.artifacts.id
  # The key carries the package's sha256 (Lambda's CodeSha256 in hex), so the deployed code is
  # exactly this file.
  key    = "functions/${each.key}/${filesha256(local.package_file[each.key])}.zip"
  source = local.package_file[each.key]
  etag   = filemd5(local.package_file[each.key])
}

resource "aws_cloudformation_stack" "functions" {
  #checkov:skip=CKV_AWS_124:Terraform waits for every stack operation and reports its failure; stack events stay in CloudFormation
  name          = "${local.prefix}-functions"
  template_body = local.function_template
  depends_on    = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function, aws_secretsmanager_secret_version.secret]
}
