# PostgreSQL: multi-AZ primary with read replicas, encrypted with the data key, TLS forced, the
# master password kept by RDS in Secrets Manager (never in Terraform state), 35 days of PITR.
resource "aws_db_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.data[*].id
}

resource "aws_db_parameter_group" "main" {
  name   = "${local.name}-pg17"
  family = "postgres17"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "primary" {
  identifier     = "${local.name}-primary"
  engine         = "postgres"
  engine_version = "17"
  instance_class = var.db_instance_class
  db_name        = "liquid_abt"
  username       = "liquid_abt_owner"

  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.data.arn

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 5
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.data.arn

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.main.name

  backup_retention_period   = 35
  backup_window             = "16:00-17:00"
  maintenance_window        = "sun:17:30-sun:18:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.data.arn
  enabled_cloudwatch_logs_exports = ["postgresql"]
  auto_minor_version_upgrade      = true
}

resource "aws_db_instance" "replica" {
  count               = var.db_read_replicas
  identifier          = "${local.name}-replica-${count.index + 1}"
  replicate_source_db = aws_db_instance.primary.identifier
  instance_class      = var.db_instance_class

  storage_encrypted      = true
  kms_key_id             = aws_kms_key.data.arn
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.main.name
  availability_zone      = var.availability_zones[(count.index + 1) % length(var.availability_zones)]

  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.data.arn
  skip_final_snapshot             = true
  auto_minor_version_upgrade      = true
}
