"""The fleet's policy pack: `pulumi preview --policy-pack policy` checks its invariants."""
