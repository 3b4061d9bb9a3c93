# One role per function, allowed exactly what the description says it does: write its own
# logs, consume the queues it is triggered from, send to the queues and read or write the
# buckets its `access` names. Policies are built with jsonencode (not a data source) so that
# the tests can read them under a mock provider.
locals {
  lambda_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  vpc_functions = toset([
    for name, spec in local.functions : name if spec.in_vpc && length(var.subnet_ids) > 0
  ])

  function_policies = {
    for name, spec in local.functions : name => jsonencode({
      Version = "2012-10-17"
      Statement = concat(
        [{
          Sid      = "OwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.function[name].arn}:*"]
        }],
        length(local.consumes[name]) == 0 ? [] : [{
          Sid      = "ConsumeTriggerQueues"
          Effect   = "Allow"
          Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
          Resource = [for queue in local.consumes[name] : aws_sqs_queue.queue[queue].arn]
        }],
        length(spec.send) == 0 ? [] : [{
          Sid      = "SendToQueues"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [for queue in spec.send : aws_sqs_queue.queue[queue].arn]
        }],
        length(spec.watch) == 0 ? [] : [{
          Sid    = "CountQueues"
          Effect = "Allow"
          Action = ["sqs:GetQueueAttributes"]
          Resource = flatten([
            for queue in spec.watch : concat(
              [aws_sqs_queue.queue[queue].arn],
              contains(keys(aws_sqs_queue.dead_letter), queue) ? [aws_sqs_queue.dead_letter[queue].arn] : [],
            )
          ])
        }],
        length(spec.read) == 0 ? [] : [{
          Sid      = "ReadBuckets"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = [for bucket in spec.read : "${aws_s3_bucket.bucket[bucket].arn}/*"]
        }],
        length(spec.write) == 0 ? [] : [{
          Sid      = "WriteBuckets"
          Effect   = "Allow"
          Action   = ["s3:PutObject"]
          Resource = [for bucket in spec.write : "${aws_s3_bucket.bucket[bucket].arn}/*"]
        }],
        length(spec.secrets) == 0 ? [] : [{
          Sid      = "ReadOwnSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = [for secret in spec.secrets : local.secret_arn[secret]]
        }],
        # Lambda manages the network interfaces of functions in a VPC; these actions take no
        # resource narrower than "*".
        contains(local.vpc_functions, name) ? [{
          Sid      = "VpcNetworkInterfaces"
          Effect   = "Allow"
          Action   = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:UnassignPrivateIpAddresses"]
          Resource = ["*"]
        }] : [],
      )
    })
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${local.prefix}-${each.key}"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "${local.prefix}-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy   = local.function_policies[each.key]
}
