bucket         = "liquid-abt-production-terraform-state"
key            = "liquid-abt/terraform.tfstate"
region         = "ap-southeast-2"
dynamodb_table = "liquid-abt-production-terraform-lock"
