"""Reading the stack's config from Pulumi: the program's one edge to `pulumi.Config`."""

from __future__ import annotations

import json
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


def previous_inventory() -> dict[str, Any] | None:
    """What the stack's last deployment exported as its inventory: empty for a new stack, None
    when the stack has outputs but no inventory (the guard cannot know what would go).

    A StackReference to the stack itself reads its last outputs. The value is needed before
    anything is registered (the removal guard stops the update), so it is awaited here. Since
    Pulumi CLI 3.112 a failed update keeps the outputs of the last one
    (https://github.com/pulumi/pulumi/pull/15754); before, it dropped them.
    """
    own = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference(f"{pulumi.get_stack()}-previous-deployment", own)
    details = _sync_await(reference.get_output_details(outputs.INVENTORY))
    if isinstance(details.value, dict):
        return details.value
    deployed = _sync_await(reference.get_output_details(outputs.COMMIT))
    return None if deployed.value is not None else {}


def check_environments_let_go(
    previous: dict[str, Any] | None, model: StackSpec, project_dir: Path, source: str
) -> None:
    """A main stack's update that drops clusters: each environment stack beside it must have
    let them go first (`fleet.safety.check_let_go`). Its last inventory is read only then,
    through a StackReference of the same organization and project."""
    if not isinstance(model, FleetSpec):
        return
    leaving = leaving_clusters(previous, model)
    if not leaving:
        return
    stacks = [s for s, main in main_stacks_of(project_dir).items() if main == model.stack]
    check_let_go(leaving, {stack: _last_inventory(stack, source) for stack in stacks}, source)


def _last_inventory(stack: str, source: str) -> dict[str, Any] | None:
    """Stack `stack`'s last deployed inventory; None when it has none (never deployed)."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"
    reference = pulumi.StackReference(f"{stack}-last-deployment", name)
    try:
        details = _sync_await(reference.get_output_details(outputs.INVENTORY))
    except Exception as error:  # the engine's own error: a stack that cannot be read
        problem = Problem(
            "fleet:clusters",
            f"clusters leave the fleet, and environment stack {name} cannot be read to know "
            f"whether it still has them ({error}): deploy or remove it first",
        )
        raise ConfigError([problem], source) from None
    return details.value if isinstance(details.value, dict) else None
