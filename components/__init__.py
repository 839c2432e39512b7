"""Pulumi components: the only place where the fleet's resources are created."""
