"""The Pulumi program: read the stack's config into the fleet model, then build it."""

from pathlib import Path

import pulumi

from components.stack_config import (
    check_environments_let_go,
    load_running_stack,
    previous_deployment,
    project_root,
    secret_config,
)
from components.stacks import build
from fleet.errors import ConfigError
from fleet.safety import check_removals

# The folder of Pulumi.yaml, where the stacks' settings are: this program's own, or a second
# set of stacks that runs it (`main:` in their Pulumi.yaml, e.g. examples/k3d).
PROJECT_DIR = project_root(Path(__file__).parent)

try:
    model = load_running_stack(PROJECT_DIR)
    previous = previous_deployment()
    check_removals(previous.inventory, model, f"Pulumi.{model.stack}.yaml")
    check_environments_let_go(previous, model, PROJECT_DIR, f"Pulumi.{model.stack}.yaml")
except ConfigError as error:
    # A user's mistake: the list of problems, not a traceback.
    raise pulumi.RunError(error.render()) from None

for name, value in build(model, secret_config(model)).items():
    pulumi.export(name, value)
