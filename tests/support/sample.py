"""The sample stacks' raw config and models, fresh for every call."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.errors import ConfigError
from fleet.model import EnvironmentSpec, StackSpec, load_environment, load_main
from fleet.stackfile import read_raw_config

PROJECT = Path(__file__).resolve().parents[2]
SAMPLE_STACKS = ("main", "dev", "qa")

Raw = dict[str, Any]
Edit = Callable[[Raw], object]


def sample_raw(stack: str) -> Raw:
    return copy.deepcopy(read_raw_config(PROJECT / f"Pulumi.{stack}.yaml"))


def load_sample(
    stack: str,
    edit: Edit | None = None,
    edit_main: Edit | None = None,
    secrets_required: bool = False,
) -> StackSpec:
    """A sample stack's model after optional edits of its raw config (and of main's)."""
    main_raw = sample_raw("main")
    if edit_main is not None:
        edit_main(main_raw)
    if stack == "main":
        if edit is not None:
            edit(main_raw)
        return load_main(main_raw, "main", source="main", secrets_required=secrets_required)
    fleet = load_main(main_raw, "main", source="main")
    raw = sample_raw(stack)
    if edit is not None:
        edit(raw)
    return load_environment(raw, stack, fleet, source=stack, secrets_required=secrets_required)


def sample_environment(stack: str, edit: Edit | None = None) -> EnvironmentSpec:
    """A sample environment stack's model."""
    env = load_sample(stack, edit)
    assert isinstance(env, EnvironmentSpec)
    return env


def problems_of(stack: str, edit: Edit | None = None, edit_main: Edit | None = None) -> list[str]:
    """The problems an edited sample stack has, as `path: message` lines."""
    with pytest.raises(ConfigError) as caught:
        load_sample(stack, edit, edit_main)
    return [str(p) for p in caught.value.problems]


def tenants(raw: Raw) -> list[dict[str, Any]]:
    """The tenants of an environment's raw config."""
    found: list[dict[str, Any]] = raw["tenants"]
    return found


def cluster(raw: Raw, name: str) -> dict[str, Any]:
    """A cluster entry of the main stack's raw config, by name."""
    found: dict[str, Any] = next(c for c in raw["clusters"] if c["name"] == name)
    return found


SETTINGS_FILES = ("Pulumi.yaml", "__main__.py", *(f"Pulumi.{s}.yaml" for s in SAMPLE_STACKS))
"""The sample's program and stack settings: a project the installed packages run."""


def copy_settings(folder: Path) -> Path:
    """The sample's program and stack settings files copied into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SETTINGS_FILES:
        shutil.copy(PROJECT / name, folder / name)
    return folder


def grant_environments(project: Path, *environments: str) -> None:
    """The sample's main stack in `project` listing `environments` too, as a new environment
    stack beside it needs (`fleet:environments`)."""
    path = project / "Pulumi.main.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["fleet:environments"] += list(environments)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def commit_all(folder: Path, message: str) -> None:
    """`folder` made a git repository of its own, with everything in it committed."""
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message],
    ):
        subprocess.run(["git", *command], cwd=folder, check=True)
