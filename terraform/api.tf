# The REST API: one resource per path segment, each route a proxy integration to its function.
# A resource's parent must exist first and one resource block cannot refer to itself, so the
# paths are created level by level (deep enough for every route; a precondition says if not).
locals {
  route_paths = local.api == null ? [] : distinct([for route in values(local.api.routes) : route.path])
  api_paths = distinct(flatten([
    for path in local.route_paths : [
      for depth in range(1, length(split("/", trimprefix(path, "/"))) + 1) :
      "/${join("/", slice(split("/", trimprefix(path, "/")), 0, depth))}"
    ] if path != "/"
  ]))
  paths_at_depth = {
    for depth in range(1, 7) : depth => toset([
      for path in local.api_paths : path if length(split("/", path)) - 1 == depth
    ])
  }
  resource_ids = merge(
    { "/" = one(aws_api_gateway_rest_api.api[*].root_resource_id) },
    { for path, resource in aws_api_gateway_resource.depth1 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.depth2 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.depth3 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.depth4 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.depth5 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.depth6 : path => resource.id },
  )
  api_routes   = local.api == null ? {} : local.api.routes
  api_function = toset([for route in values(local.api_routes) : route.function])
}

resource "aws_api_gateway_rest_api" "api" {
  count              = local.api == null ? 0 : 1
  name               = local.prefix
  binary_media_types = local.api.binary_media_types
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = alltrue([for path in local.api_paths : length(split("/", path)) - 1 <= 6])
      error_message = "A route is deeper than six path segments; add a level to api.tf."
    }
  }
}

resource "aws_api_gateway_resource" "depth1" {
  for_each    = local.paths_at_depth[1]
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  parent_id   = aws_api_gateway_rest_api.api[0].root_resource_id
  path_part   = basename(each.key)
}

resource "aws_api_gateway_resource" "depth2" {
  for_each    = local.paths_at_depth[2]
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  parent_id   = aws_api_gateway_resource.depth1[dirname(each.key)].id
  path_part   = basename(each.key)
}

resource "aws_api_gateway_resource" "depth3" {
  for_each    = local.paths_at_depth[3]
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  parent_id   = aws_api_gateway_resource.depth2[dirname(each.key)].id
  path_part   = basename(each.key)
}

resource "aws_api_gateway_resource" "depth4" {
  for_each    = local.paths_at_depth[4]
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  parent_id   = aws_api_gateway_resource.depth3[dirname(each.key)].id
  path_part   = basename(each.key)
}

resource "aws_api_gateway_resource" "depth5" {
  for_each    = local.paths_at_depth[5]
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  parent_id   = aws_api_gateway_resource.depth4[dirname(each.key)].id
  path_part   = basename(each.key)
}

resource "aws_api_gateway_resource" "depth6" {
  for_each    = local.paths_at_depth[6]
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  parent_id   = aws_api_gateway_resource.depth5[dirname(each.key)].id
  path_part   = basename(each.key)
}

resource "aws_api_gateway_method" "route" {
  #checkov:skip=CKV_AWS_59:every function authenticates its callers itself (agent tokens, read and admin credentials; see docs/security.md); an authorizer would check the same tokens twice
  #checkov:skip=CKV2_AWS_53:request bodies are validated by the functions against the wire contract, with answers that name the field
  for_each      = local.api_routes
  rest_api_id   = aws_api_gateway_rest_api.api[0].id
  resource_id   = local.resource_ids[each.value.path]
  http_method   = each.value.method
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "route" {
  for_each                = local.api_routes
  rest_api_id             = aws_api_gateway_rest_api.api[0].id
  resource_id             = local.resource_ids[each.value.path]
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = "arn:aws:apigateway:${var.region}:lambda:path/2015-03-31/functions/${local.function_arn[each.value.function]}/invocations"
}

resource "aws_lambda_permission" "api" {
  for_each      = local.api_function
  statement_id  = "${local.prefix}-api-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = local.function_name[each.key]
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.api[0].execution_arn}/*/*"
  depends_on    = [aws_cloudformation_stack.functions]
}

resource "aws_api_gateway_deployment" "api" {
  count       = local.api == null ? 0 : 1
  rest_api_id = aws_api_gateway_rest_api.api[0].id
  # A new deployment whenever a route or its integration changes.
  triggers = {
    routes = sha1(jsonencode([
      local.api_routes,
      [for integration in aws_api_gateway_integration.route : integration.uri],
    ]))
  }
  lifecycle {
    create_before_destroy = true
  }
  depends_on = [aws_api_gateway_integration.route]
}

resource "aws_api_gateway_stage" "api" {
  #checkov:skip=CKV_AWS_76:access logs need an account-wide API Gateway CloudWatch role, which one stack should not own; the functions log every request with a correlation id
  #checkov:skip=CKV_AWS_73:X-Ray tracing is not wired into the handlers
  #checkov:skip=CKV_AWS_120:answers are live metrics; a cache would serve stale ones
  #checkov:skip=CKV2_AWS_51:agents authenticate with bearer tokens, not client certificates
  #checkov:skip=CKV2_AWS_29:a WAF is the operator's account-level choice; ingest has its own per-agent rate limits
  #checkov:skip=CKV2_AWS_4:execution logging needs the same account-wide role as access logs
  count         = local.api == null ? 0 : 1
  rest_api_id   = aws_api_gateway_rest_api.api[0].id
  deployment_id = aws_api_gateway_deployment.api[0].id
  stage_name    = local.api.stage
}
