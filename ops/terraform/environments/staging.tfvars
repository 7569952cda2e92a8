environment       = "staging"
domain            = "api.staging.liquidabt.example"
admin_cidrs       = ["203.0.113.0/28"]
node_min          = 2
node_max          = 4
db_instance_class = "db.t4g.medium"
db_read_replicas  = 1
redis_node_type   = "cache.t4g.medium"
