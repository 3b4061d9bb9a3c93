# The description's secrets (the API's read and admin tokens): JSON objects of HOSTPULSE_*
# values in Secrets Manager, which a function reads when it starts, so no credential sits in a
# function's environment. A secret given in secret_arns is used as it is, and its values never
# pass through Terraform; the others are created here from the variables, their values marked
# sensitive in the state.
resource "aws_secretsmanager_secret" "secret" {
  #checkov:skip=CKV_AWS_149:the account's default key (aws/secretsmanager) encrypts it; a customer key is the operator's choice, or pass a secret of their own in secret_arns
  #checkov:skip=CKV2_AWS_57:tokens are rotated by the operator (a new variable value, or their own secret in secret_arns), not by a rotation function
  for_each = { for name, values in local.secrets : name => values if !contains(keys(var.secret_arns), name) }
  name     = "${local.prefix}-${each.key}"
  # On the local cloud a destroyed stack's names come back at once.
  recovery_window_in_days = local.local_cloud ? 0 : 7
}

resource "aws_secretsmanager_secret_version" "secret" {
  for_each  = aws_secretsmanager_secret.secret
  secret_id = each.value.id
  # Empty values are left out: an unset token is no token.
  secret_string = jsonencode({
    for key, value in local.secrets[each.key] : key => lookup(local.placeholders, value, value)
    if lookup(local.placeholders, value, value) != ""
  })
}

locals {
  secret_arn = merge(var.secret_arns, { for name, secret in aws_secretsmanager_secret.secret : name => secret.arn })
}
