# The four buckets. Retention follows what the records are: AML/CTF records and the logs that
# show who did what are kept 7 years (2557 days); database backups 90 days.
data "aws_elb_service_account" "main" {}

module "logs_bucket" {
  source         = "./modules/private-bucket"
  name           = "${local.name}-logs"
  kms_key_arn    = null # load balancer access logs can only be written with SSE-S3
  retention_days = 2557
  transitions = [
    { days = 30, storage_class = "STANDARD_IA" },
    { days = 90, storage_class = "GLACIER" },
    { days = 365, storage_class = "DEEP_ARCHIVE" },
  ]
  extra_policy_statements = [
    {
      Sid       = "LoadBalancerAccessLogs"
      Effect    = "Allow"
      Principal = { AWS = data.aws_elb_service_account.main.arn }
      Action    = "s3:PutObject"
      Resource  = "arn:${data.aws_partition.current.partition}:s3:::${local.name}-logs/alb/AWSLogs/${local.account_id}/*"
    },
    {
      Sid       = "VpcFlowLogs"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "arn:${data.aws_partition.current.partition}:s3:::${local.name}-logs/vpc-flow/AWSLogs/${local.account_id}/*"
      Condition = { StringEquals = { "s3:x-amz-acl" = "bucket-owner-full-control", "aws:SourceAccount" = local.account_id } }
    },
    {
      Sid       = "VpcFlowLogsAcl"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = "s3:GetBucketAcl"
      Resource  = "arn:${data.aws_partition.current.partition}:s3:::${local.name}-logs"
    },
  ]
}

module "backups_bucket" {
  source         = "./modules/private-bucket"
  name           = "${local.name}-backups"
  kms_key_arn    = aws_kms_key.data.arn
  retention_days = 90
  transitions    = [{ days = 30, storage_class = "STANDARD_IA" }]
}

# Tax (CGT) and AUSTRAC reports generated for tenants.
module "reports_bucket" {
  source         = "./modules/private-bucket"
  name           = "${local.name}-reports"
  kms_key_arn    = aws_kms_key.data.arn
  retention_days = 2557
  transitions    = [{ days = 90, storage_class = "STANDARD_IA" }]
}

# Exported audit chains and their anchors: write-once for the whole retention period.
module "audit_bucket" {
  source           = "./modules/private-bucket"
  name             = "${local.name}-audit"
  kms_key_arn      = aws_kms_key.data.arn
  retention_days   = 2557
  object_lock_days = 2557
  transitions      = [{ days = 90, storage_class = "GLACIER_IR" }]
}
