# Liquid ABT on AWS (Sydney): one stack per environment, in its own account.
#   terraform init -backend-config=environments/<env>.backend.hcl
#   terraform apply -var-file=environments/<env>.tfvars
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
  # Bucket, key and lock table come from environments/<env>.backend.hcl; the state is encrypted.
  backend "s3" {
    encrypt = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "liquid-abt"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "liquid-abt-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
}
