"""VPC placement (the ``network`` setting): security groups, VPC endpoints, ENI permissions."""
