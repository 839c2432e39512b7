"""Reading stack settings files (`Pulumi.<stack>.yaml`) offline, without the Pulumi CLI.

Secret values stay encrypted in those files; here they are only known to be secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from fleet import names, yamldoc
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


STACK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
"""A stack name as Pulumi takes it (letters, digits, `-`, `_`, `.`), never a path."""
PROJECT_FILE = "Pulumi.yaml"


def stack_file(stack: str, project_dir: Path) -> Path:
    """STACK is a path to a settings file (`Pulumi.<stack>.yaml` in a project folder), or a
    stack name read from the project folder; anything else is a `ConfigError` saying what
    there is."""
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path("."):
        return _settings_path(candidate)
    if not STACK_NAME.match(stack) or stack in (".", ".."):
        raise ConfigError([Problem(stack, "not a stack name (letters, digits, -, _ and .)")], stack)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file() and not (project_dir / PROJECT_FILE).is_file():
        message = (
            f"no {PROJECT_FILE} in {project_dir} or above it: run fleet inside the project, or "
            "give --project DIR"
        )
        raise ConfigError([Problem(str(path), message)], str(path))
    if not path.is_file():
        known = ", ".join(stack_files(project_dir)) or "none"
        message = f"no stack '{stack}' in {project_dir} (its stacks: {known})"
        raise ConfigError([Problem(str(path), message)], str(path))
    return path


def _settings_path(path: Path) -> Path:
    """A settings file named on the command line (`Pulumi.<stack>.yaml`, or any `<stack>.yaml`)
    beside the project's `Pulumi.yaml`, whose program renders it."""
    where = str(path)
    name = stack_name(path)
    if not STACK_NAME.match(name) or name in (".", ".."):
        message = f"'{name}' is not a stack name (letters, digits, -, _ and .): rename the file"
        raise ConfigError([Problem(where, message)], where)
    if not path.exists():
        raise ConfigError([Problem(where, "no such stack settings file")], where)
    if not path.is_file():
        raise ConfigError([Problem(where, "a folder, not a stack settings file")], where)
    if not (path.resolve().parent / PROJECT_FILE).is_file():
        message = (
            f"no {PROJECT_FILE} beside it: a stack's settings file is read in its Pulumi "
            "project folder, whose program renders it; copy it there"
        )
        raise ConfigError([Problem(where, message)], where)
    return path


def find_project(start: Path) -> Path:
    """The project folder: `start` or the nearest folder above it holding `Pulumi.yaml`, as the
    pulumi CLI finds it; `start` itself when there is none."""
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return start


def program_dir(project_dir: Path) -> Path:
    """Where the project's program is: `main` of its `Pulumi.yaml`, relative to it (a second
    set of stacks, such as `examples/k3d`, runs the repository's one program), else the
    project folder itself.
    Ref: https://www.pulumi.com/docs/iac/concepts/projects/project-file/ (`main`)"""
    project_file = project_dir / PROJECT_FILE
    if not project_file.is_file():
        return project_dir
    try:
        document = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return project_dir
    main = document.get("main") if isinstance(document, dict) else None
    return (project_dir / main).resolve() if isinstance(main, str) and main else project_dir


def stack_name(path: Path) -> str:
    """`Pulumi.dev.yaml` -> `dev`; any other file name -> its stem."""
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name.split(".", 1)[1].rsplit(".", 1)[0]
    return path.stem


def read_raw_config(path: Path) -> dict[str, Any]:
    """The `fleet:` keys of a settings file, prefix removed, secure values as `ENCRYPTED`.

    The file is config a user wrote: read strictly (`yamldoc.load_config`), and every way it
    can be unreadable is a `ConfigError` naming it and saying what to do."""
    source = str(path)
    document = yamldoc.load_config(_settings_text(path), source)
    if document is None:
        return {}
    if not isinstance(document, dict):
        message = (
            f"expected a mapping with a 'config' key, found {_kind(document)}: a stack "
            "settings file holds `config:` and under it keys such as `fleet:clusters:`"
        )
        raise ConfigError([Problem(source, message)], source)
    config = document.get("config", {})
    if not isinstance(config, dict):
        message = (
            f"expected a mapping with a 'config' key, but 'config' is {_kind(config)}: "
            "write the keys under it, such as `fleet:clusters:`"
        )
        raise ConfigError([Problem(source, message)], source)
    raw: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(key, str) and key.startswith(PREFIX):
            raw[key.removeprefix(PREFIX)] = _as_the_program_reads(_secrets_hidden(value))
    return raw


def _as_the_program_reads(value: Any) -> Any:
    """A top-level string as the program reads it under `pulumi up`: JSON where it parses
    (`pulumi config set fleet:maxRemovals 2` writes the string "2"; the program reads 2, see
    `components.stack_config.raw_config`), so both readers agree."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _settings_text(path: Path) -> str:
    """A settings file's text: UTF-8 (with or without a byte order mark), as Pulumi writes it."""
    source = str(path)

    def refuse(message: str, where: str = source) -> ConfigError:
        return ConfigError([Problem(where, message)], source)

    if path.is_dir():
        raise refuse(
            "a folder, not a stack settings file: a stack's settings are the file "
            "Pulumi.<stack>.yaml; rename or remove the folder"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise refuse(
            "no such stack settings file: create it (pulumi stack init, then pulumi config "
            "set), or name an existing stack"
        ) from None
    except PermissionError:
        raise refuse(
            "cannot be read (permission denied): give your user read access to it "
            "(chmod u+r), or run as its owner"
        ) from None
    except OSError as error:
        raise refuse(f"cannot be read ({error.strerror or error}): check the file") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        line = data[: error.start].count(b"\n") + 1
        message = (
            f"not UTF-8 text (byte 0x{bad:02x} is not UTF-8): save the file as UTF-8, as "
            "pulumi config set writes it"
        )
        raise refuse(message, f"{source}:{line}") from None


def _kind(value: Any) -> str:
    """What a YAML value is, in the words of the error."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a single value ({value!r})"


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
        raws = _project_raws(project_dir)
        _refuse_unlisted_environments(fleet, raws, source)
        _refuse_a_shared_branch(stack, fleet.branch, fleet, raws, source, "fleet:repository.branch")
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
    name = _environment_name(raw, stack)
    if name not in fleet.environments:
        raise ConfigError([_unlisted(name, Path(source).name)], str(main_path))
    others = _other_environments(fleet, stack, project_dir)
    env = load_environment(
        raw, stack, fleet, source=source, secrets_required=secrets_required, others=others
    )
    _refuse_a_shared_branch(
        stack, env.branch, fleet, _project_raws(project_dir), source, "fleet:environment.branch"
    )
    return env


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


def _environment_name(raw: Mapping[str, Any], stack: str) -> str:
    """An environment stack's environment, from its raw config: `environment.name` or the
    stack's name."""
    environment = raw.get("environment")
    name = environment.get("name") if isinstance(environment, Mapping) else None
    return name if isinstance(name, str) and name else stack


def _unlisted(environment: str, settings: str) -> Problem:
    return Problem(
        "fleet:environments",
        f"environment '{environment}' ({settings}) runs on this fleet and is not listed: the "
        "main stack grants the listed environments on its remotes. List it and run `pulumi up` "
        "on the main stack before the environment's; to remove an environment, destroy its "
        f"stack and delete {settings} first",
    )


def _project_raws(project_dir: Path) -> dict[str, Mapping[str, Any]]:
    """Every stack's raw config in `project_dir`, each file read once; one that does not read
    is left out (it reports its own problems when it is checked)."""
    raws: dict[str, Mapping[str, Any]] = {}
    for stack, path in stack_files(project_dir).items():
        try:
            raws[stack] = read_raw_config(path)
        except ConfigError:
            continue
    return raws


def _main_of(raw: Mapping[str, Any]) -> str | None:
    """The main stack an environment's raw config runs on; None for a main stack's."""
    reference = raw.get("mainStack")
    return main_stack_name(reference) if isinstance(reference, str) else None


def _refuse_unlisted_environments(
    fleet: FleetSpec, raws: Mapping[str, Mapping[str, Any]], source: str
) -> None:
    """Every environment stack beside the main stack must be listed in its
    `fleet:environments`: dropping one would take its Flux's rights on every remote while
    its objects are still there to prune."""
    problems = [
        _unlisted(name, f"Pulumi.{stack}.yaml")
        for stack, raw in raws.items()
        if _main_of(raw) == fleet.stack
        and (name := _environment_name(raw, stack)) not in fleet.environments
    ]
    if problems:
        raise ConfigError(problems, source)


def _refuse_a_shared_branch(
    stack: str,
    branch: str,
    fleet: FleetSpec,
    raws: Mapping[str, Mapping[str, Any]],
    source: str,
    at: str,
) -> None:
    """Every stack of the project commits a branch of its own in its repository: main stacks
    of one repository (a fleet split into shards) as well as environments. A branch taken
    twice would have the git writer refuse the second stack's files while its Flux already
    follows the first's."""
    problems = [
        Problem(
            at,
            f"branch '{branch}' is stack {other}'s too (Pulumi.{other}.yaml): give each stack "
            "of the repository a branch of its own",
        )
        for other, (other_branch, other_places) in _branches(raws).items()
        if other != stack
        and other_branch == branch
        and other_places & _places(fleet.repository.url, fleet.repository.push_url)
    ]
    if problems:
        raise ConfigError(problems, source)


def _branches(raws: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, set[str]]]:
    """Each stack's branch and the repository it commits to (the URL Flux reads and the one
    the program pushes to), from the raw settings."""
    found: dict[str, tuple[str, set[str]]] = {}
    for stack, raw in raws.items():
        main_name = _main_of(raw)
        main = raw if main_name is None else raws.get(main_name)
        repository = main.get("repository") if main is not None else None
        if not isinstance(repository, Mapping):
            continue
        if main_name is None:
            branch = repository.get("branch", names.MAIN_BRANCH)
        else:
            environment = raw.get("environment")
            settings = environment if isinstance(environment, Mapping) else {}
            branch = settings.get("branch") or _environment_name(raw, stack)
        if isinstance(branch, str):
            found[stack] = (branch, _places(repository.get("url"), repository.get("pushUrl")))
    return found


def _places(*urls: Any) -> set[str]:
    """Repository URLs as compared: without a trailing `/` or `.git`; none left out."""
    return {u.rstrip("/").removesuffix(".git") for u in urls if isinstance(u, str) and u}


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
        found[stack] = _main_of(read_raw_config(path))
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
