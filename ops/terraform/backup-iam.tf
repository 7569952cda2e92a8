# The backup CronJob's AWS access (IRSA): its own Kubernetes service account, liquid-abt-backup in the
# environment's namespace (= local.name, ops/k8s/overlays/<env>), assumes this role with a projected
# web-identity token. Least privilege: objects under the backup prefix of the backups bucket and the
# data key only through S3. No s3:DeleteObjectVersion: on the versioned bucket a prune only adds a
# delete marker, so the role cannot destroy a backup before the bucket's lifecycle does.
data "tls_certificate" "eks_oidc" {
  url = aws_eks_cluster.main.identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "eks" {
  url             = aws_eks_cluster.main.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.eks_oidc.certificates[0].sha1_fingerprint]
}

locals {
  oidc_issuer_host = replace(aws_eks_cluster.main.identity[0].oidc[0].issuer, "https://", "")
  # BACKUP_PREFIX (lib/config.ts default) under which `npm run backup` writes <id>/abt.dump and <id>/manifest.json.
  backup_prefix          = "backups"
  backup_service_account = "system:serviceaccount:${local.name}:liquid-abt-backup"
}

resource "aws_iam_role" "backup" {
  name = "${local.name}-backup"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.eks.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_issuer_host}:sub" = local.backup_service_account
          "${local.oidc_issuer_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "backup" {
  name = "backups-bucket"
  role = aws_iam_role.backup.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # `list` and retention read the listing. Unconditioned on s3:prefix: S3 answers a GET of a
        # missing key (an incomplete backup's manifest) with 404 only to a caller who may list.
        Sid      = "ListBackups"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = module.backups_bucket.arn
      },
      {
        # Write a dump and its manifest (multipart, aborted on failure), read them back for a restore,
        # and delete what retention does not keep (a delete marker; old versions expire by lifecycle).
        Sid      = "ReadWriteBackups"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
        Resource = "${module.backups_bucket.arn}/${local.backup_prefix}/*"
      },
      {
        # SSE-KMS with the data key: encrypt new parts, decrypt on read and to complete a multipart upload.
        Sid       = "DataKeyThroughS3"
        Effect    = "Allow"
        Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource  = aws_kms_key.data.arn
        Condition = { StringEquals = { "kms:ViaService" = "s3.${var.region}.amazonaws.com" } }
      },
    ]
  })
}
