"""The policy pack's entry point, which Pulumi runs from inside this folder (`python -m
pulumi.policy .`) with the project's virtualenv: see PulumiPolicy.yaml."""

import sys
from pathlib import Path

# The project root is not on sys.path there; the rules import as `policy.*`, as in the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.pack import ENFORCEMENT_LEVEL, POLICIES

PolicyPack("fleet", POLICIES, enforcement_level=ENFORCEMENT_LEVEL)
