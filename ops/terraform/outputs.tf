# What the Kubernetes overlays and the pipeline need from this stack.
output "cluster_name" {
  value = aws_eks_cluster.main.name
}

output "lb_security_group_id" {
  description = "alb.ingress.kubernetes.io/security-groups in ops/k8s/overlays/<env>/ingress.yaml"
  value       = aws_security_group.lb.id
}

output "ecr_repository_url" {
  value = aws_ecr_repository.app.repository_url
}

output "db_primary_endpoint" {
  value = aws_db_instance.primary.endpoint
}

output "db_replica_endpoints" {
  value = aws_db_instance.replica[*].endpoint
}

output "db_master_secret_arn" {
  value = aws_db_instance.primary.master_user_secret[0].secret_arn
}

output "redis_endpoint" {
  value = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "app_secret_name" {
  value = aws_secretsmanager_secret.app.name
}

output "buckets" {
  value = {
    logs    = module.logs_bucket.id
    backups = module.backups_bucket.id
    reports = module.reports_bucket.id
    audit   = module.audit_bucket.id
  }
}

output "backup_role_arn" {
  description = "eks.amazonaws.com/role-arn of the liquid-abt-backup service account in ops/k8s/overlays/<env>/backup-service-account.yaml"
  value       = aws_iam_role.backup.arn
}

output "certificate_arn" {
  description = "alb.ingress.kubernetes.io/certificate-arn in ops/k8s/overlays/<env>/ingress.yaml"
  value       = aws_acm_certificate.gateway.arn
}
