"""Reading stack settings files (`Pulumi.<stack>.yaml`) offline, without the Pulumi CLI.

Secret values stay encrypted in those files; here they are only known to be secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fleet.config import CONFIG_NAMESPACE
from fleet.errors import ConfigError, Problem
from fleet.model import (
    ENCRYPTED,
    EnvironmentSpec,
    StackSpec,
    is_environment_stack,
    load_environment,
    load_main,
    main_stack_name,
)

PREFIX = CONFIG_NAMESPACE + ":"


def stack_file(stack: str, project_dir: Path) -> Path:
    """STACK is a path to a settings file, or a stack name read from the project folder."""
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return candidate
    return project_dir / f"Pulumi.{stack}.yaml"


def stack_name(path: Path) -> str:
    """`Pulumi.dev.yaml` -> `dev`; any other file name -> its stem."""
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name.split(".", 1)[1].rsplit(".", 1)[0]
    return path.stem


def read_raw_config(path: Path) -> dict[str, Any]:
    """The `fleet:` keys of a settings file, prefix removed, secure values as `ENCRYPTED`."""
    if not path.exists():
        raise ConfigError([Problem(str(path), "no such stack settings file")], str(path))
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError([Problem(str(path), f"not valid YAML: {error}")], str(path)) from None
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise ConfigError([Problem(str(path), "expected a mapping with a 'config' key")], str(path))
    raw: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(key, str) and key.startswith(PREFIX):
            raw[key.removeprefix(PREFIX)] = _secrets_hidden(value)
    return raw


def _secrets_hidden(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return ENCRYPTED
        return {k: _secrets_hidden(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_secrets_hidden(v) for v in value]
    return value


def load_stack(path: Path) -> StackSpec:
    """The model of one stack settings file; an environment also reads its main stack's file."""
    return load_raw_stack(read_raw_config(path), stack_name(path), path.parent, str(path))


def load_raw_stack(
    raw: Mapping[str, Any],
    stack: str,
    project_dir: Path,
    source: str,
    *,
    secrets_required: bool = False,
) -> StackSpec:
    """A stack's model from its raw config; an environment stack's fleet is defined by the main
    stack's settings file in `project_dir`."""
    if not is_environment_stack(raw):
        return load_main(raw, stack, source=source, secrets_required=secrets_required)
    reference = raw["mainStack"]
    if not isinstance(reference, str) or not main_stack_name(reference):
        problem = Problem(
            "fleet:mainStack", "expected a stack name such as organization/fleet/main"
        )
        raise ConfigError([problem], source)
    main_path = project_dir / f"Pulumi.{main_stack_name(reference)}.yaml"
    if not main_path.exists():
        problem = Problem(
            "fleet:mainStack",
            f"the main stack's settings file {main_path.name} is not beside {Path(source).name}",
        )
        raise ConfigError([problem], source)
    main_raw = read_raw_config(main_path)
    fleet = load_main(main_raw, stack_name(main_path), source=str(main_path))
    return load_environment(raw, stack, fleet, source=source, secrets_required=secrets_required)


def environments_of(main_path: Path) -> list[EnvironmentSpec]:
    """Every environment stack beside `main_path` whose main stack it is, by file name."""
    found = []
    for path in sorted(main_path.parent.glob("Pulumi.*.yaml")):
        if path == main_path:
            continue
        raw = read_raw_config(path)
        reference = raw.get("mainStack")
        if isinstance(reference, str) and main_stack_name(reference) == stack_name(main_path):
            model = load_stack(path)
            assert isinstance(model, EnvironmentSpec)
            found.append(model)
    return found
