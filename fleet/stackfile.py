"""Reading stack settings files (`Pulumi.<stack>.yaml`) offline, without the Pulumi CLI.

Secret values stay encrypted in those files; here they are only known to be secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from fleet.config import CONFIG_NAMESPACE
from fleet.errors import ConfigError, Problem
from fleet.model import (
    ENCRYPTED,
    EnvironmentSpec,
    FleetSpec,
    StackSpec,
    claimed_namespaces,
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
        fleet = load_main(raw, stack, source=source, secrets_required=secrets_required)
        if not fleet.flux.multitenant:
            _refuse_tenants_without_lockdown(fleet, project_dir, source)
        _refuse_environments_namespaces(fleet, project_dir, source)
        return fleet
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
    others = _other_environments(fleet, stack, project_dir)
    return load_environment(
        raw, stack, fleet, source=source, secrets_required=secrets_required, others=others
    )


def _other_environments(fleet: FleetSpec, stack: str, project_dir: Path) -> dict[str, str]:
    """The namespaces the fleet's environment stacks in this project have, but `stack`'s. One
    whose config does not parse reports it when it is checked, and claims nothing here."""
    claimed: dict[str, str] = {}
    for other, main in main_stacks_of(project_dir).items():
        if main != fleet.stack or other == stack:
            continue
        path = project_dir / f"Pulumi.{other}.yaml"
        try:
            claimed.update(claimed_namespaces(read_raw_config(path), other, str(path)))
        except ConfigError:
            continue
    return claimed


def _refuse_environments_namespaces(fleet: FleetSpec, project_dir: Path, source: str) -> None:
    """A common component goes on every cluster: its namespace must be none of an
    environment's (a tenant's above all: the component's account is cluster-admin)."""
    claimed = _other_environments(fleet, "", project_dir)
    problems = [
        Problem(
            f"fleet:infra[{index}].namespace",
            f"'{component.namespace}' is {claimed[component.namespace]}: give the component a "
            "namespace of its own",
        )
        for index, component in enumerate(fleet.infra)
        if component.namespace in claimed
    ]
    if problems:
        raise ConfigError(problems, source)


def _refuse_tenants_without_lockdown(fleet: FleetSpec, project_dir: Path, source: str) -> None:
    """Lockdown cannot go while an environment of this fleet has tenants: without it a
    tenant's Kustomization applies as Flux's own cluster-admin account."""
    with_tenants = []
    for stack, main in main_stacks_of(project_dir).items():
        raw = read_raw_config(project_dir / f"Pulumi.{stack}.yaml") if main == fleet.stack else {}
        if raw.get("tenants"):
            with_tenants.append(f"Pulumi.{stack}.yaml")
    if with_tenants:
        problem = Problem(
            "fleet:flux.multitenant",
            "tenants need Flux's multi-tenant lockdown, and "
            f"{', '.join(with_tenants)} list fleet:tenants: keep it true",
        )
        raise ConfigError([problem], source)


def stack_files(project_dir: Path) -> dict[str, Path]:
    """Every stack of the project, by name: its `Pulumi.<stack>.yaml`."""
    return {stack_name(path): path for path in sorted(project_dir.glob("Pulumi.*.yaml"))}


def main_stacks_of(project_dir: Path) -> dict[str, str | None]:
    """Each stack of the project with the main stack it runs on (None for a main stack)."""
    found: dict[str, str | None] = {}
    for stack, path in stack_files(project_dir).items():
        reference = read_raw_config(path).get("mainStack")
        found[stack] = main_stack_name(reference) if isinstance(reference, str) else None
    return found


def deploy_order(project_dir: Path) -> list[str]:
    """The stacks in the order `pulumi up` must run them: main stacks, then environments."""
    main_of = main_stacks_of(project_dir)
    return sorted(main_of, key=lambda stack: (main_of[stack] is not None, stack))


def concerned_stacks(changed: Iterable[str], project_dir: Path) -> list[str]:
    """The stacks a change of these project-relative paths concerns: a stack's own file
    concerns it; a main stack's file concerns its environments too (they read it); any other
    file is code or project settings and concerns every stack. A deleted stack is gone."""
    main_of = main_stacks_of(project_dir)
    concerned: set[str] = set()
    for path in changed:
        name = PurePosixPath(path).name
        is_stack_file = "/" not in path and name.startswith("Pulumi.") and name.count(".") >= 2
        if not is_stack_file:
            concerned.update(main_of)
            continue
        stack = stack_name(Path(name))
        if stack in main_of:
            concerned.add(stack)
            concerned.update(env for env, main in main_of.items() if main == stack)
    return sorted(concerned)


def environments_of(main_path: Path) -> list[EnvironmentSpec]:
    """Every environment stack beside `main_path` whose main stack it is."""
    main = stack_name(main_path)
    found = []
    for stack, runs_on in main_stacks_of(main_path.parent).items():
        if runs_on == main:
            model = load_stack(main_path.parent / f"Pulumi.{stack}.yaml")
            assert isinstance(model, EnvironmentSpec)
            found.append(model)
    return found
