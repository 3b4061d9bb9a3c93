variable "stack_file" {
  description = "The stack description both deployers read."
  type        = string
  default     = "../stack/stack.yaml"
}

variable "name_prefix" {
  description = "Prefix of every physical name; empty means the description's own name. A prefix of its own lets this stack stand beside one `hostpulse up` deployed."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z][a-z0-9-]{0,30})?$", var.name_prefix))
    error_message = "name_prefix: lower-case letters, digits and dashes, starting with a letter, at most 31."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "localstack_endpoint" {
  description = "The local cloud's endpoint (http://127.0.0.1:4566); empty on AWS."
  type        = string
  default     = ""
}

variable "package_dir" {
  description = "Where `hostpulse package` wrote <function>.zip for every function of the description."
  type        = string
  default     = "../build/lambda/x86_64"
}

variable "architecture" {
  description = "The architecture the packages were built for (`hostpulse package --arch`)."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture: x86_64 or arm64."
  }
}

variable "database_url" {
  description = "PostgreSQL URL the functions use (RDS on AWS)."
  type        = string
  sensitive   = true
}

variable "redis_url" {
  description = "Redis URL the functions use (ElastiCache on AWS)."
  type        = string
  sensitive   = true
}

variable "admin_token" {
  description = "The API's admin credential (hp_admin_...); empty: only signed-in operators administer. Kept in the secret store (Secrets Manager), never in a function's environment."
  type        = string
  sensitive   = true
  default     = ""
}

variable "read_token" {
  description = "The credential that reads the query API (or a sign-in does). Kept in the secret store (Secrets Manager), never in a function's environment."
  type        = string
  sensitive   = true
  default     = ""
}

variable "public_read" {
  description = "Whether anyone who reaches the API may read it (hosts, series, process command lines, alert rules, the pipeline) when no read token is set. There is no default: say true to publish the fleet's data on purpose, or false to close reads behind the read token and sign-in."
  type        = bool
  default     = null
  validation {
    condition     = var.public_read != null
    error_message = "public_read: say whether the API's reads are public. true serves hosts, series, process command lines, alert rules and the pipeline view to anyone who reaches the API; false closes them behind read_token and sign-in."
  }
}

variable "secret_arns" {
  description = "Secrets of the description that already exist in Secrets Manager, by name (for example { api = \"arn:aws:secretsmanager:...\" }), each a JSON object of HOSTPULSE_* values: their values then never pass through Terraform or its state. The others are created from the variables above (sensitive in the state)."
  type        = map(string)
  default     = {}
}

variable "cors_origins" {
  description = "Origins allowed to call the API from a browser, comma-separated; empty means the deployed dashboard's own origin."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Subnets for the functions that reach PostgreSQL or Redis (private subnets with a NAT gateway or VPC endpoints for SQS, S3 and CloudWatch Logs). Empty: no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for those functions; they must be allowed into RDS and ElastiCache."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.security_group_ids) > 0 || length(var.subnet_ids) == 0
    error_message = "security_group_ids: a function in subnets needs at least one security group."
  }
}

variable "reserved_concurrency" {
  description = "Per function, the most instances that may run at once (-1: no reservation). Bounding aggregate bounds PostgreSQL connections."
  type        = map(number)
  default     = {}
}

variable "log_retention_days" {
  description = "How long the functions' logs are kept."
  type        = number
  default     = 30
}

variable "force_destroy_buckets" {
  description = "Let destroy delete buckets that still hold objects (the archive): for throwaway stacks only."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { application = "hostpulse" }
}

variable "frontend_dir" {
  description = "The static dashboard to publish."
  type        = string
  default     = "../frontend"
}
