resource "aws_sqs_queue" "dead_letter" {
  #checkov:skip=CKV2_AWS_73:the AWS-managed key needs no key policy for the functions' roles; a customer key is the operator's to add
  for_each                  = local.dead_letter_queues
  name                      = "${local.prefix}-${each.key}-dlq"
  message_retention_seconds = each.value.retention_seconds
  # SQS-managed encryption needs provider 4.x; the AWS-managed key is the nearest in 3.39.
  kms_master_key_id = "alias/aws/sqs"
}

resource "aws_sqs_queue" "queue" {
  #checkov:skip=CKV2_AWS_73:the AWS-managed key needs no key policy for the functions' roles; a customer key is the operator's to add
  for_each                   = local.queues
  name                       = "${local.prefix}-${each.key}"
  visibility_timeout_seconds = each.value.visibility_timeout
  message_retention_seconds  = each.value.retention_seconds
  kms_master_key_id          = "alias/aws/sqs"
  redrive_policy = each.value.dead_letter == null ? null : jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[each.key].arn
    maxReceiveCount     = each.value.dead_letter.max_receive_count
  })
}
