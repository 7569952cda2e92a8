# Security groups. Only the load balancer accepts traffic from the internet, and only HTTPS on 443.
#   lb     ← 0.0.0.0/0 and ::/0 on 443
#   nodes  ← lb on the gateway's port 4000; ← nodes (pod to pod, kubelet); ← cluster control plane
#   db     ← nodes on 5432
#   redis  ← nodes on 6379
resource "aws_security_group" "lb" {
  name        = "${local.name}-lb"
  description = "Internet-facing load balancer: HTTPS only"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "lb_https_ipv4" {
  security_group_id = aws_security_group.lb.id
  description       = "HTTPS from the internet"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "lb_https_ipv6" {
  security_group_id = aws_security_group.lb.id
  description       = "HTTPS from the internet (IPv6)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv6         = "::/0"
}

resource "aws_vpc_security_group_egress_rule" "lb_to_gateway" {
  security_group_id            = aws_security_group.lb.id
  description                  = "To the gateway pods"
  ip_protocol                  = "tcp"
  from_port                    = 4000
  to_port                      = 4000
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_security_group" "cluster" {
  name        = "${local.name}-eks-cluster"
  description = "EKS control plane"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "cluster_from_nodes" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "Kubernetes API from the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_vpc_security_group_egress_rule" "cluster_to_nodes" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "Kubelets and webhooks on the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 10250
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_security_group" "nodes" {
  name        = "${local.name}-eks-nodes"
  description = "EKS nodes and pods"
  vpc_id      = aws_vpc.main.id
  tags        = { "kubernetes.io/cluster/${local.name}" = "owned" }
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_lb" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "Gateway port from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 4000
  to_port                      = 4000
  referenced_security_group_id = aws_security_group.lb.id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_nodes" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "Pod to pod and node to node (network policies narrow it)"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_cluster" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "Control plane to kubelets and webhooks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 10250
  referenced_security_group_id = aws_security_group.cluster.id
}

# Out to the exchanges, payment processors and AWS APIs (through NAT).
resource "aws_vpc_security_group_egress_rule" "nodes_out" {
  security_group_id = aws_security_group.nodes.id
  description       = "Outbound"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "db" {
  name        = "${local.name}-postgres"
  description = "PostgreSQL: from the nodes only"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_nodes" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.nodes.id
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "Redis: from the nodes only"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_nodes" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis (TLS) from the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.nodes.id
}
