# The application's secrets (DATABASE_URL, APP_DB_PASSWORD, REDIS_URL, JWT_KEYS, GATEWAY_SECRET,
# INTEGRATION_KEYS, exchange credentials) live here as one JSON secret that an operator fills; the
# External Secrets Operator copies it into the cluster (ops/k8s/base/external-secret.yaml). Terraform
# creates the container, never a value.
resource "aws_secretsmanager_secret" "app" {
  name                    = "liquid-abt/${var.environment}/app"
  kms_key_id              = aws_kms_key.data.arn
  recovery_window_in_days = 30
}

# The Redis AUTH token, for whoever composes REDIS_URL (rediss://:<token>@<endpoint>:6379).
resource "aws_secretsmanager_secret" "redis_auth" {
  name       = "liquid-abt/${var.environment}/redis-auth"
  kms_key_id = aws_kms_key.data.arn
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.redis_auth.id
  secret_string = random_password.redis_auth.result
}

# The one image every role runs (ops/Dockerfile), tagged with the git commit, never overwritten.
resource "aws_ecr_repository" "app" {
  name                 = "liquid-abt"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.data.arn
  }
}

# The gateway's TLS certificate (validated through DNS by whoever holds the zone).
resource "aws_acm_certificate" "gateway" {
  domain_name       = var.domain
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}
