resource "aws_lambda_event_source_mapping" "trigger" {
  for_each                           = local.triggers
  event_source_arn                   = aws_sqs_queue.queue[each.value.queue].arn
  function_name                      = aws_lambda_function.function[each.value.function].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.batching_window_seconds
}

# Partial batch responses: provider 3.39's event source mapping has no
# function_response_types (it came in 3.41). Without ReportBatchItemFailures, Lambda would take
# a batch with one failed record as a success and delete every message of it, so the hostpulse
# CLI sets it on each mapping right after Terraform creates it (and clears it when the
# description stops asking for it). The parity test reads it back from the cloud.
resource "terraform_data" "partial_batch_response" {
  for_each = { for key, trigger in local.triggers : key => trigger if trigger.partial_batch_response }
  input = {
    uuid     = aws_lambda_event_source_mapping.trigger[each.key].uuid
    command  = var.hostpulse_command
    region   = var.region
    endpoint = var.localstack_endpoint
  }
  triggers_replace = [aws_lambda_event_source_mapping.trigger[each.key].uuid]

  provisioner "local-exec" {
    command = "${self.input.command} trigger-responses ${self.input.uuid} --report-batch-item-failures --region ${self.input.region}${self.input.endpoint == "" ? "" : " --endpoint ${self.input.endpoint}"}"
  }

  provisioner "local-exec" {
    when       = destroy
    on_failure = continue # the mapping may already be gone
    command    = "${self.input.command} trigger-responses ${self.input.uuid} --region ${self.input.region}${self.input.endpoint == "" ? "" : " --endpoint ${self.input.endpoint}"}"
  }
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = local.schedules
  name                = "${local.prefix}-${each.key}"
  schedule_expression = each.value.expression
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each  = local.schedules
  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = "function"
  arn       = aws_lambda_function.function[each.value.function].arn
  input     = each.value.input
}

resource "aws_lambda_permission" "schedule" {
  for_each      = local.schedules
  statement_id  = "${local.prefix}-${each.key}-schedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}
