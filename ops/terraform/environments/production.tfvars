environment      = "production"
domain           = "api.liquidabt.example"
admin_cidrs      = ["203.0.113.0/28"]
db_read_replicas = 2
