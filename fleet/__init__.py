"""The fleet's pure domain: config schema, validation, names and the resolved model.

Nothing in this package creates a Pulumi resource, so every part of it can be used
offline (by the `fleet` command and the tests) exactly as `pulumi up` uses it.
"""
