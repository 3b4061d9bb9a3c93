# Offline checks under a mock provider (runs "apply" against the mock, so ARNs have values) (it takes the real provider's schema): names come from
# the description under the chosen prefix, and each role allows exactly what its function does.
mock_provider "aws" {
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:000000000000:mocked" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mocked" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:000000000000:log-group:mocked" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { execution_arn = "arn:aws:execute-api:us-east-1:000000000000:mocked" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:000000000000:rule/mocked" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:mocked" }
  }
  mock_resource "aws_cloudformation_stack" {
    defaults = {
      outputs = {
        FunctionIngestArn     = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-ingest"
        FunctionAggregateArn  = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-aggregate"
        FunctionRetentionArn  = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-retention"
        FunctionApiArn        = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-api"
        FunctionAlertsArn     = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-alerts"
        FunctionAlertsTickArn = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-alerts-tick"
        FunctionHealthArn     = "arn:aws:lambda:us-east-1:000000000000:function:hp-test-health"
      }
    }
  }
}

variables {
  name_prefix  = "hp-test"
  database_url = "postgresql://hostpulse@db.internal/hostpulse"
  redis_url    = "redis://cache.internal:6379/0"
  admin_token  = "hp_admin_test"
  read_token   = "hp_read_test"
  public_read  = false
}

run "names_come_from_the_description_under_the_prefix" {
  command = apply

  assert {
    condition = toset([
      for r in jsondecode(aws_cloudformation_stack.functions.template_body).Resources : r.Properties.FunctionName
      if r.Type == "AWS::Lambda::Function"
    ]) == toset([for name in keys(yamldecode(file(var.stack_file)).functions) : "hp-test-${name}"])
    error_message = "every function of the description, and only those, named <prefix>-<name>"
  }
  assert {
    condition     = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionAlertsTick.Properties.Runtime == "python3.12"
    error_message = "the description's runtime, which provider 3.39's own Lambda resource refuses"
  }
  assert {
    condition     = aws_sqs_queue.queue["aggregate"].name == "hp-test-aggregate" && aws_sqs_queue.dead_letter["aggregate"].name == "hp-test-aggregate-dlq"
    error_message = "queues and their dead-letter queues named <prefix>-<name>[-dlq]"
  }
  assert {
    condition = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.TriggerAggregateAggregate.Properties == {
      EventSourceArn                 = "arn:aws:sqs:us-east-1:000000000000:mocked"
      FunctionName                   = { Ref = "FunctionAggregate" }
      BatchSize                      = 100
      MaximumBatchingWindowInSeconds = 1
      Enabled                        = true
      FunctionResponseTypes          = ["ReportBatchItemFailures"]
    }
    error_message = "the aggregate trigger's settings come from the description, partial batch responses included"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.schedule["alerts-tick"].schedule_expression == "rate(1 minute)"
    error_message = "schedules come from the description"
  }
  assert {
    condition     = jsondecode(aws_secretsmanager_secret_version.secret["api"].secret_string) == { HOSTPULSE_ADMIN_TOKEN = "hp_admin_test", HOSTPULSE_READ_TOKEN = "hp_read_test" }
    error_message = "the API's tokens are in its secret"
  }
  assert {
    condition = alltrue([
      for r in jsondecode(aws_cloudformation_stack.functions.template_body).Resources : alltrue([
        for value in values(r.Properties.Environment.Variables) : !contains(["hp_admin_test", "hp_read_test"], value)
      ]) if r.Type == "AWS::Lambda::Function"
    ])
    error_message = "no token in any function's environment"
  }
  assert {
    condition     = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionApi.Properties.Environment.Variables.HOSTPULSE_SETTINGS_SECRET == "arn:aws:secretsmanager:us-east-1:000000000000:secret:mocked" && jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionApi.Properties.Environment.Variables.HOSTPULSE_PUBLIC_READ == "false"
    error_message = "the api function reads its secret and keeps its reads closed"
  }
  assert {
    condition     = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionIngest.Properties.Environment.Variables.HOSTPULSE_DATABASE_URL == "postgresql://hostpulse@db.internal/hostpulse"
    error_message = "placeholders are replaced by this environment's values"
  }
  assert {
    condition     = !contains(keys(jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionIngest.Properties), "VpcConfig")
    error_message = "no VPC unless subnets are given"
  }
}

run "each_role_allows_exactly_what_its_function_does" {
  command = apply

  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.function["ingest"].policy).Statement : s.Action])) == toset(["logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", "s3:PutObject"])
    error_message = "ingest: its logs, send to the queues, write the archive; nothing else"
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.function["aggregate"].policy).Statement : s.Action])) == toset(["logs:CreateLogStream", "logs:PutLogEvents", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "s3:GetObject", "s3:PutObject"])
    error_message = "aggregate: its logs, consume its queue, read and write the archive"
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.function["api"].policy).Statement : s.Action])) == toset(["logs:CreateLogStream", "logs:PutLogEvents", "sqs:GetQueueAttributes", "secretsmanager:GetSecretValue"])
    error_message = "api: its logs, counting what waits in the queues it watches, and its own secret"
  }
  assert {
    condition = alltrue(flatten([
      for policy in aws_iam_role_policy.function : [
        for s in jsondecode(policy.policy).Statement : [for r in s.Resource : r != "*"]
      ]
    ]))
    error_message = "no statement on every resource"
  }
}

run "functions_that_reach_the_databases_go_into_the_given_subnets" {
  command = apply
  variables {
    subnet_ids         = ["subnet-1", "subnet-2"]
    security_group_ids = ["sg-1"]
  }

  assert {
    condition     = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionAggregate.Properties.VpcConfig.SubnetIds == ["subnet-1", "subnet-2"]
    error_message = "aggregate reaches PostgreSQL: it runs in the subnets"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.function["aggregate"].policy).Statement : s.Action]), "ec2:CreateNetworkInterface")
    error_message = "a function in a VPC may manage its network interfaces"
  }
}

run "subnets_without_security_groups_are_refused" {
  command = plan
  variables {
    subnet_ids = ["subnet-1"]
  }
  expect_failures = [var.security_group_ids]
}

run "arm64_functions_run_on_arm64" {
  command = apply
  variables {
    architecture = "arm64"
  }

  assert {
    condition     = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionIngest.Properties.Architectures == ["arm64"]
    error_message = "the architecture the packages were built for"
  }
}

run "reads_neither_public_nor_closed_are_refused" {
  command = plan
  variables {
    public_read = null
  }
  expect_failures = [var.public_read]
}

run "a_secret_of_the_operators_own_keeps_the_tokens_out_of_terraform" {
  command = apply
  variables {
    secret_arns = { api = "arn:aws:secretsmanager:us-east-1:000000000000:secret:own" }
  }

  assert {
    condition     = length(aws_secretsmanager_secret_version.secret) == 0
    error_message = "no secret value written by Terraform"
  }
  assert {
    condition     = jsondecode(aws_cloudformation_stack.functions.template_body).Resources.FunctionApi.Properties.Environment.Variables.HOSTPULSE_SETTINGS_SECRET == "arn:aws:secretsmanager:us-east-1:000000000000:secret:own"
    error_message = "the api function reads the operator's secret"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.function["api"].policy).Statement : s.Resource]), "arn:aws:secretsmanager:us-east-1:000000000000:secret:own")
    error_message = "and may read only that one"
  }
}
