# Queue triggers are in the functions' CloudFormation stack (functions.tf); schedules are here.
resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = local.schedules
  name                = "${local.prefix}-${each.key}"
  schedule_expression = each.value.expression
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each  = local.schedules
  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = "function"
  arn       = local.function_arn[each.value.function]
  input     = each.value.input
}

resource "aws_lambda_permission" "schedule" {
  for_each      = local.schedules
  statement_id  = "${local.prefix}-${each.key}-schedule"
  action        = "lambda:InvokeFunction"
  function_name = local.function_name[each.value.function]
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
  depends_on    = [aws_cloudformation_stack.functions]
}
