"""Reading the stack's config from Pulumi: the program's one edge to `pulumi.Config`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime.sync_await import _sync_await

from fleet import outputs
from fleet.config import CONFIG_NAMESPACE
from fleet.errors import ConfigError, Problem
from fleet.model import ENCRYPTED, FleetSpec, StackSpec
from fleet.safety import check_let_go, leaving_clusters
from fleet.stackfile import PREFIX, load_raw_stack, main_stacks_of


def raw_config() -> dict[str, Any]:
    """Every `fleet:` key of the running stack, prefix removed, secret values as `ENCRYPTED`."""
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in values.items():
        if not key.startswith(PREFIX):
            continue
        if runtime_config.is_config_secret(key):
            raw[key.removeprefix(PREFIX)] = ENCRYPTED
            continue
        try:
            raw[key.removeprefix(PREFIX)] = json.loads(value)
        except (TypeError, ValueError):
            raw[key.removeprefix(PREFIX)] = value
    return raw


def project_root(program_dir: Path) -> Path:
    """The project folder Pulumi runs the program for (`pulumi.get_root_directory`: where
    Pulumi.yaml is), else the program's own folder."""
    root = Path(pulumi.get_root_directory() or program_dir)
    return root if (root / "Pulumi.yaml").is_file() else program_dir


def load_running_stack(project_dir: Path) -> StackSpec:
    """The model of the stack being deployed; secrets it names must be set."""
    stack = pulumi.get_stack()
    return load_raw_stack(
        raw_config(), stack, project_dir, f"Pulumi.{stack}.yaml", secrets_required=True
    )


def secret_config(model: StackSpec) -> dict[str, pulumi.Output[str]]:
    """Every secret config value the stack names, read once here and handed to the components,
    kept secret."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    return {ref.key: config.require_secret(ref.key) for ref in model.secret_keys}


@dataclass(frozen=True)
class Deployed:
    """What the stack's last deployment exported that its next update checks against."""

    inventory: dict[str, Any] | None
    """Empty for a new stack, None when the stack has outputs but no inventory (the guard
    cannot know what would go)."""
    environments: tuple[str, ...] = ()
    """For a main stack, the environments it granted."""


def previous_deployment() -> Deployed:
    """What the stack's last deployment exported.

    A StackReference to the stack itself reads its last outputs. The values are needed before
    anything is registered (the guards stop the update), so they are awaited here. Since
    Pulumi CLI 3.112 a failed update keeps the outputs of the last one
    (https://github.com/pulumi/pulumi/pull/15754); before, it dropped them.
    """
    own = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference(f"{pulumi.get_stack()}-previous-deployment", own)
    granted = _sync_await(reference.get_output_details(outputs.ENVIRONMENTS)).value
    environments = tuple(str(e) for e in granted) if isinstance(granted, list) else ()
    inventory, deployed = _read_inventory(reference)
    if inventory is None and not deployed:
        inventory = {}
    return Deployed(inventory, environments)


def _read_inventory(reference: pulumi.StackReference) -> tuple[dict[str, Any] | None, bool]:
    """The last inventory of the stack `reference` reads (None when there is none), and
    whether that stack was deployed at all (its `commit` output is there)."""
    details = _sync_await(reference.get_output_details(outputs.INVENTORY))
    if isinstance(details.value, dict):
        return details.value, True
    commit = _sync_await(reference.get_output_details(outputs.COMMIT))
    return None, commit.value is not None


def check_environments_let_go(
    previous: Deployed, model: StackSpec, project_dir: Path, source: str
) -> None:
    """A main stack's update that drops clusters, or environments from its grant: each
    environment stack must have let them go first (`fleet.safety.check_let_go`). The last
    inventories of the environment stacks beside it, and of a stack named after each dropped
    environment, are read only then, through StackReferences of the same organization and
    project."""
    if not isinstance(model, FleetSpec):
        return
    leaving = leaving_clusters(previous.inventory, model)
    dropped = [e for e in previous.environments if e not in model.environments]
    if not leaving and not dropped:
        return
    beside = [s for s, main in main_stacks_of(project_dir).items() if main == model.stack]
    # A dropped environment's stack may have lost its file and not its deployment.
    named = [e for e in dropped if e not in beside]
    deployed = {stack: _last_inventory(stack, source) for stack in beside}
    deployed |= {stack: _last_inventory(stack, source, may_be_gone=True) for stack in named}
    check_let_go(leaving, dropped, deployed, source)


def _last_inventory(stack: str, source: str, *, may_be_gone: bool = False) -> dict[str, Any] | None:
    """Stack `stack`'s last deployed inventory; None when it was never deployed (or, when it
    `may_be_gone`, cannot be read). A stack deployed without one fails closed."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"
    reference = pulumi.StackReference(f"{stack}-last-deployment", name)
    try:
        inventory, deployed = _read_inventory(reference)
    except Exception as error:  # the engine's own error: a stack that cannot be read
        if may_be_gone:
            return None
        problem = Problem(
            "fleet:clusters",
            f"this update lets clusters or environments go, and environment stack {name} "
            f"cannot be read to know whether it still has them ({error}): deploy or remove it "
            "first",
        )
        raise ConfigError([problem], source) from None
    if inventory is not None or not deployed:
        return inventory
    problem = Problem(
        "fleet:clusters",
        f"environment stack {name} was deployed without an inventory (an older program, "
        "or a Pulumi CLI before 3.112 that dropped it), so whether it still has what this "
        "update lets go cannot be known: run `pulumi up` on it first",
    )
    raise ConfigError([problem], source)
