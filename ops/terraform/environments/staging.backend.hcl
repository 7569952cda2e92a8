bucket         = "liquid-abt-staging-terraform-state"
key            = "liquid-abt/terraform.tfstate"
region         = "ap-southeast-2"
dynamodb_table = "liquid-abt-staging-terraform-lock"
