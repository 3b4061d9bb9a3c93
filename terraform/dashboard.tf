# The static dashboard: an S3 website whose config.json points at this stack's API. Readers
# still need a read credential for the API; the page itself holds none.
locals {
  content_types = {
    html = "text/html; charset=utf-8"
    js   = "text/javascript; charset=utf-8"
    css  = "text/css; charset=utf-8"
    json = "application/json"
    svg  = "image/svg+xml"
    png  = "image/png"
  }
  dashboard_files = toset([
    for file in fileset(var.frontend_dir, "**") : file
    if !startswith(basename(file), "config") && contains(keys(local.content_types), reverse(split(".", file))[0])
  ])
  api_url = local.api == null ? "" : (
    local.local_cloud
    ? "${var.localstack_endpoint}/_aws/execute-api/${aws_api_gateway_rest_api.api[0].id}/${local.api.stage}"
    : aws_api_gateway_stage.api[0].invoke_url
  )
  dashboard_origin = local.local_cloud ? var.localstack_endpoint : "http://${aws_s3_bucket.dashboard.website_endpoint}"
  dashboard_url = (
    local.local_cloud
    ? "${var.localstack_endpoint}/${aws_s3_bucket.dashboard.id}/index.html"
    : "http://${aws_s3_bucket.dashboard.website_endpoint}/"
  )
  cors_origins = var.cors_origins != "" ? var.cors_origins : local.dashboard_origin
}

resource "aws_s3_bucket" "dashboard" {
  #checkov:skip=CKV_AWS_18:a public website of static files; access logs would record only page loads
  #checkov:skip=CKV_AWS_144:the files are rebuilt from the repository by every apply
  #checkov:skip=CKV_AWS_145:public files; SSE-S3 is enough
  #checkov:skip=CKV2_AWS_62:nothing reacts to dashboard files
  #checkov:skip=CKV_AWS_21:the files are rebuilt from the repository by every apply
  #checkov:skip=CKV2_AWS_61:the files never expire
  #checkov:skip=CKV2_AWS_6:a website bucket must allow the public read policy below
  #checkov:skip=CKV_AWS_20:public read is what a website bucket is for; it holds only the dashboard's static files
  bucket        = "${local.prefix}-dashboard"
  force_destroy = true # only files this configuration put there

  website {
    index_document = "index.html"
  }

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}

resource "aws_s3_bucket_policy" "dashboard" {
  #checkov:skip=CKV_AWS_70:anyone may read the dashboard's static files (GetObject only); the data behind it needs an API credential
  bucket = aws_s3_bucket.dashboard.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PublicReadOfTheDashboard"
      Effect    = "Allow"
      Principal = "*"
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.dashboard.arn}/*"
    }]
  })
}

resource "aws_s3_bucket_object" "dashboard" {
  #checkov:skip=CKV_AWS_186:public static files; the bucket encrypts them with SSE-S3
  for_each     = local.dashboard_files
  bucket       = aws_s3_bucket.dashboard.id
  key          = each.key
  source       = "${var.frontend_dir}/${each.key}"
  etag         = filemd5("${var.frontend_dir}/${each.key}")
  content_type = local.content_types[reverse(split(".", each.key))[0]]
}

resource "aws_s3_bucket_object" "dashboard_config" {
  #checkov:skip=CKV_AWS_186:public file naming the API's address, no credential; the bucket encrypts it with SSE-S3
  bucket        = aws_s3_bucket.dashboard.id
  key           = "config.json"
  content       = jsonencode({ apiBase = local.api_url, token = "" })
  content_type  = "application/json"
  cache_control = "no-store"
}
