# Everything deployed comes from the stack description; nothing here lists a function, queue,
# route or schedule. Defaults are the description's own (hostpulse/deploy/model.py); the
# parity test holds this file and the local deployer to the same result.
locals {
  stack       = yamldecode(file(var.stack_file))
  stack_dir   = dirname(var.stack_file)
  prefix      = var.name_prefix != "" ? var.name_prefix : local.stack.name
  local_cloud = var.localstack_endpoint != ""

  functions = {
    for name, spec in local.stack.functions : name => {
      handler     = spec.handler
      memory      = try(spec.memory, 256)
      timeout     = try(spec.timeout, 30)
      environment = try(spec.environment, {})
      send        = try(spec.access.send, [])
      watch       = try(spec.access.watch, [])
      read        = try(spec.access.read, [])
      write       = try(spec.access.write, [])
      secrets     = try(spec.access.secrets, [])
      # Functions that talk to PostgreSQL or Redis are the ones placed in the VPC.
      in_vpc = anytrue([
        for value in values(try(spec.environment, {})) :
        contains(["$${database_url}", "$${redis_url}"], value)
      ])
    }
  }

  queues = {
    for name, spec in try(local.stack.queues, {}) : name => {
      visibility_timeout = try(spec.visibility_timeout, 30)
      retention_seconds  = try(spec.retention_seconds, 345600)
      dead_letter        = try(spec.dead_letter, null)
    }
  }
  dead_letter_queues = {
    for name, spec in local.queues : name => {
      max_receive_count = spec.dead_letter.max_receive_count
      retention_seconds = try(spec.dead_letter.retention_seconds, 1209600)
    } if spec.dead_letter != null
  }

  triggers = {
    for trigger in try(local.stack.triggers, []) : "${trigger.queue}-${trigger.function}" => {
      queue                   = trigger.queue
      function                = trigger.function
      batch_size              = try(trigger.batch_size, 10)
      batching_window_seconds = try(trigger.batching_window_seconds, 0)
      partial_batch_response  = try(trigger.partial_batch_response, true)
    }
  }
  # The queues each function consumes: its role may receive and delete from them.
  consumes = {
    for name in keys(local.functions) : name => [
      for trigger in values(local.triggers) : trigger.queue if trigger.function == name
    ]
  }

  schedules = {
    for name, spec in try(local.stack.schedules, {}) : name => {
      function   = spec.function
      expression = spec.expression
      input      = try(spec.input, null)
    }
  }

  buckets = { for name, spec in try(local.stack.buckets, {}) : name => { versioned = try(spec.versioned, false) } }

  secrets = try(local.stack.secrets, {})

  api = try(local.stack.api, null) == null ? null : {
    stage              = try(local.stack.api.stage, "local")
    binary_media_types = try(local.stack.api.binary_media_types, [])
    routes             = { for route in local.stack.api.routes : "${route.method} ${route.path}" => route }
  }
}

# What this configuration cannot build from a description is refused, not silently dropped.
resource "terraform_data" "description_check" {
  input = local.stack.name
  lifecycle {
    precondition {
      condition     = length(try(local.stack.topics, {})) == 0
      error_message = "The description has topics: this configuration deploys none (ingest sends to both queues itself); add aws_sns_topic resources before using them."
    }
    precondition {
      condition = alltrue(flatten([
        for spec in values(local.functions) : [
          for value in values(spec.environment) :
          !strcontains(value, "$${") || can(regex("^\\$\\{[a-z_]+(:[a-z0-9-]+)?\\}$", value))
        ]
      ]))
      error_message = "An environment value mixes a placeholder with other text; each value must be one placeholder or none."
    }
  }
}
