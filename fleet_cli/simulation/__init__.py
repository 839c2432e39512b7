"""A simulation of what lands on each cluster: Kubernetes authorization and Flux's own rules,
offline."""
