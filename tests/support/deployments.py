"""The sample fleet under the recording mocks of `fleet_cli.engine` (DESIGN.md section 6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from components import tree_store
from components.stack_config import secret_config
from components.stacks import build
from fleet.model import ENCRYPTED, FleetSpec, StackSpec
from fleet_cli.engine import (
    Invoked,
    RecordingMocks,
    Registered,
    fake_kubeconfig,
    main_stack_outputs,
    program_of,
    run,
    stack_config,
)
from tests.support.sample import PROJECT, load_sample, sample_raw

__all__ = ["RecordingMocks", "Registered", "stack_config"]

main_program = program_of(PROJECT)
"""The project's own `__main__.py`."""


def program(model: StackSpec) -> Callable[[], Mapping[str, Any]]:
    """The stack's program once its config is loaded, as `__main__.py` goes on: its secret
    config read at the edge, then its components."""
    return lambda: build(model, secret_config(model))


def sample_mocks() -> RecordingMocks:
    """Mocks whose StackReference reads what the sample main stack exports."""
    return RecordingMocks(main_stack_outputs(_sample_fleet()))


def run_program(stack: str, mocks: RecordingMocks) -> dict[str, Any]:
    """Run `__main__.py` as `pulumi up -s STACK` would; returns its exports."""
    return run(stack, mocks, main_program)


def settle(value: Any) -> tuple[Any, bool]:
    """An output's value once the program has run, and whether it is secret."""
    output = pulumi.Output.from_input(value)
    return _sync_await(output.future()), _sync_await(output.is_secret())


def _sample_fleet() -> FleetSpec:
    fleet = load_sample("main")
    assert isinstance(fleet, FleetSpec)
    return fleet


# ---------------------------------------------------------------- deployments under mocks

SAMPLE_SECRETS = {"k3sAmericaSouthKubeconfig": fake_kubeconfig("k3s-america-south")}
"""The secret config the sample stacks name, as `pulumi config set --secret` would hold it."""


@dataclass(frozen=True)
class Deployment:
    """What one run of a program registered, invoked and exported."""

    exports: dict[str, Any]
    resources: list[Registered]
    invokes: list[Invoked]

    def get(self, type_suffix: str, name: str) -> Registered:
        """The resource named `name` whose type ends with `type_suffix` (e.g. `v1:Secret`)."""
        (found,) = [r for r in self.resources if r.name == name and r.type.endswith(type_suffix)]
        return found

    def by_urn(self) -> dict[str, Registered]:
        return {r.urn: r for r in self.resources}

    def children(self, component: str) -> set[tuple[str, str]]:
        """(type, name) of the resources whose parent is the component named `component`."""
        (parent,) = [r.urn for r in self.resources if r.name == component and not r.provider]
        return {(r.type, r.name) for r in self.resources if r.parent == parent}

    def of_type(self, type_suffix: str) -> list[Registered]:
        return [r for r in self.resources if r.type.endswith(type_suffix)]


def deploy(
    stack: str,
    program: Callable[[], Mapping[str, Any]],
    config: Mapping[str, Any],
    secrets: Mapping[str, str],
    stack_outputs: dict[str, Any] | None = None,
) -> Deployment:
    """Run `program` with the stack's config and secret config, under fresh mocks."""
    mocks = sample_mocks() if stack_outputs is None else RecordingMocks(stack_outputs)
    with stack_config({**config, **secrets}, secret_keys=list(secrets)):
        exports = run(stack, mocks, program)
    return Deployment(exports, mocks.resources, mocks.invokes)


def deploy_sample(
    stack: str,
    edit: Callable[[dict[str, Any]], object] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Deployment:
    """The real program on a sample stack, as `pulumi up` runs it: its config edited by `edit`,
    its secret config `secrets` (default: the ones the sample names)."""
    config = {k: v for k, v in sample_raw(stack).items() if v is not ENCRYPTED}
    if edit is not None:
        edit(config)
    if secrets is None:
        secrets = SAMPLE_SECRETS if stack == "main" else {}
    return deploy(stack, main_program, config, secrets)


def committed(branch: Registered) -> dict[str, str]:
    """The files a branch resource commits: its input names them in the tree store."""
    return tree_store.load(branch.inputs["tree"])


def assert_files_lost_only(before: Registered, after: Registered, *marks: str) -> None:
    """A removal takes the entity's files off the branch (each path has one of `marks`) and
    edits only the listings of them."""
    old, new = committed(before), committed(after)
    assert set(new) < set(old), "the removal takes files off the branch"
    gone = set(old) - set(new)
    assert all(any(mark in path for mark in marks) for path in gone), gone
    edited = [path for path in new if new[path] != old[path]]
    assert all(
        path.endswith("kustomization.yaml") or path.startswith("clusters/") for path in edited
    ), edited
