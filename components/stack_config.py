"""Reading the stack's config from Pulumi: the program's one edge to `pulumi.Config`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime.sync_await import _sync_await

from fleet import names
from fleet.config import CONFIG_NAMESPACE
from fleet.model import SECRET, Environment, Fleet
from fleet.stackfile import PREFIX, load_raw_stack


def raw_config() -> dict[str, Any]:
    """Every `fleet:` key of the running stack, prefix removed, secret values as `SECRET`."""
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in values.items():
        if not key.startswith(PREFIX):
            continue
        if runtime_config.is_config_secret(key):
            raw[key.removeprefix(PREFIX)] = SECRET
            continue
        try:
            raw[key.removeprefix(PREFIX)] = json.loads(value)
        except (TypeError, ValueError):
            raw[key.removeprefix(PREFIX)] = value
    return raw


def load_running_stack(project_dir: Path) -> Fleet | Environment:
    """The model of the stack being deployed; secrets it names must be set."""
    stack = pulumi.get_stack()
    return load_raw_stack(
        raw_config(), stack, project_dir, f"Pulumi.{stack}.yaml", secrets_required=True
    )


def secret(key: str) -> pulumi.Output[str]:
    """The value of a secret config key, kept secret."""
    return pulumi.Config(CONFIG_NAMESPACE).require_secret(key)


def previous_inventory() -> dict[str, Any]:
    """What the stack's last deployment exported as its inventory; empty for a new stack.

    A StackReference to the stack itself reads its last outputs. The value is needed before
    anything is registered (the removal guard stops the update), so it is awaited here.
    """
    own = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference(f"{pulumi.get_stack()}-previous-deployment", own)
    details = _sync_await(reference.get_output_details(names.INVENTORY_OUTPUT))
    return details.value if isinstance(details.value, dict) else {}
