variable "environment" {
  type        = string
  description = "staging or production"
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment is staging or production."
  }
}

variable "region" {
  type    = string
  default = "ap-southeast-2"
}

variable "availability_zones" {
  type    = list(string)
  default = ["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"]
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

# One subnet per zone in each tier. The load balancer lives in the public tier only
# (ops/k8s network policies let the gateway take traffic from these ranges).
variable "public_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
}

# EKS nodes and pods.
variable "app_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20"]
}

# PostgreSQL and Redis: no route to or from the internet.
variable "data_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.64.0/24", "10.0.65.0/24", "10.0.66.0/24"]
}

# Who may reach the Kubernetes API from outside the VPC (the deploy pipeline, operators' VPN).
variable "admin_cidrs" {
  type = list(string)
  validation {
    condition     = alltrue([for c in var.admin_cidrs : !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "The Kubernetes API is never open to the whole internet."
  }
}

variable "kubernetes_version" {
  type    = string
  default = "1.31"
}

variable "node_instance_types" {
  type    = list(string)
  default = ["m6i.large"]
}

variable "node_min" {
  type    = number
  default = 3
}

variable "node_max" {
  type    = number
  default = 12
}

variable "db_instance_class" {
  type    = string
  default = "db.r6g.large"
}

variable "db_allocated_storage_gb" {
  type    = number
  default = 100
}

variable "db_read_replicas" {
  type    = number
  default = 2
}

variable "redis_node_type" {
  type    = string
  default = "cache.r6g.large"
}

variable "domain" {
  type        = string
  description = "Public name of the gateway, e.g. api.liquidabt.example"
}
