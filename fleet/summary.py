"""One line that tells a reviewer what a stack holds: `fleet check` prints it, stacks export it."""

from __future__ import annotations

from fleet.model import FleetSpec, StackSpec


def count(number: int, thing: str) -> str:
    """`1 cluster`, `2 clusters`: a number with its noun in agreement."""
    return f"{number} {thing}{'' if number == 1 else 's'}"


def summary(model: StackSpec) -> str:
    """The stack's shape: clusters by role, and its tenants, apps and infra."""
    clusters = model.clusters
    remotes = sum(1 for c in clusters if c.role == "remote")
    roles = f"{len(clusters) - remotes} management, {remotes} remote"
    shape = f"{count(len(clusters), 'cluster')} ({roles})"
    components = count(len(model.infra), "infra component")
    if isinstance(model, FleetSpec):
        return (
            f"main stack '{model.stack}': {shape}, {components}, repository {model.repository.url}"
        )
    apps = sum(len(t.apps) for t in model.tenants)
    releases = sum(len(t.releases) for t in model.tenants)
    return (
        f"environment '{model.name}' (branch {model.branch}): {shape}, "
        f"{count(len(model.tenants), 'tenant')}, {count(apps, 'app')}, "
        f"{count(releases, 'release channel')}, {components}"
    )
