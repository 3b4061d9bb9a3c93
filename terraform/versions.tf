terraform {
  # `terraform test` with mock providers needs 1.7; `check`-free preconditions need 1.2.
  required_version = ">= 1.7"
  required_providers {
    # 3.39.0 is the provider every machine of the project can install without the registry
    # (see scripts/terraform-tools.sh); its gaps are worked around in place and named there.
    aws = {
      source  = "hashicorp/aws"
      version = "3.39.0"
    }
  }
}

provider "aws" {
  region = var.region

  # Against the local cloud: fixed test credentials, no account or region look-ups, and every
  # service this configuration uses sent to one endpoint. Provider 3.39 ignores
  # AWS_ENDPOINT_URL, and without skip_get_ec2_platforms it retries EC2 for ~25 s per run.
  access_key                  = local.local_cloud ? "test" : null
  secret_key                  = local.local_cloud ? "test" : null
  skip_credentials_validation = local.local_cloud
  skip_requesting_account_id  = local.local_cloud
  skip_metadata_api_check     = local.local_cloud
  skip_region_validation      = local.local_cloud
  skip_get_ec2_platforms      = true
  s3_force_path_style         = local.local_cloud

  dynamic "endpoints" {
    for_each = local.local_cloud ? [var.localstack_endpoint] : []
    content {
      apigateway       = endpoints.value
      cloudformation   = endpoints.value
      cloudwatchevents = endpoints.value
      cloudwatchlogs   = endpoints.value
      iam              = endpoints.value
      lambda           = endpoints.value
      s3               = endpoints.value
      secretsmanager   = endpoints.value
      sqs              = endpoints.value
      sts              = endpoints.value
    }
  }

  default_tags {
    tags = var.tags
  }
}
