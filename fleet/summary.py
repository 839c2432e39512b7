"""One line that tells a reviewer what a stack holds: `fleet check` prints it, stacks export it."""

from __future__ import annotations

from fleet import names as names_
from fleet.model import EnvironmentSpec, FleetSpec, StackSpec


def count(number: int, thing: str) -> str:
    """`1 cluster`, `2 clusters`: a number with its noun in agreement."""
    plural = thing + ("es" if thing.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{number} {thing if number == 1 else plural}"


def summary(model: StackSpec) -> str:
    """The stack's shape: clusters by role, and its tenants, apps and infra."""
    clusters = model.clusters
    remotes = sum(1 for c in clusters if c.role == "remote")
    roles = f"{len(clusters) - remotes} management, {remotes} remote"
    shape = f"{count(len(clusters), 'cluster')} ({roles})"
    components = count(len(model.infra), "infra component")
    if isinstance(model, FleetSpec):
        granted = ", ".join(model.environments) or "none"
        return (
            f"main stack '{model.stack}': {shape}, {components}, environments granted: "
            f"{granted}, repository {model.repository.url}"
        )
    apps = sum(len(t.apps) for t in model.tenants)
    releases = sum(len(t.releases) for t in model.tenants)
    return (
        f"environment '{model.name}' (branch {model.branch}): {shape}, "
        f"{count(len(model.tenants), 'tenant')}, {count(apps, 'app')}, "
        f"{count(releases, 'release channel')}, {components}"
    )


Placement = dict[str, list[str]]


def placement(model: StackSpec) -> Placement:
    """Which clusters each part of the stack is on, as the selectors resolved: `environment
    E`, `infra X`, `tenant T`, `app T/APP`, `channel T/X`. A group counts as one cluster."""
    found: Placement = {}
    if isinstance(model, EnvironmentSpec):
        found[f"environment {model.name}"] = [c.name for c in model.clusters]
    else:
        found[f"fleet {model.stack}"] = [c.name for c in model.clusters]
    for component in model.infra:
        found[f"infra {component.name}"] = list(component.clusters)
    if isinstance(model, EnvironmentSpec):
        for tenant in model.tenants:
            found[f"tenant {tenant.name}"] = list(tenant.clusters)
            for app in tenant.apps:
                found[f"app {tenant.name}/{app.name}"] = list(app.clusters)
            for release in tenant.releases:
                found[f"channel {tenant.name}/{release.name}"] = list(release.clusters)
    return found


def listing(names: list[str], limit: int | None) -> str:
    """`a, b, c`, or past `limit` names the first ones and how many more."""
    if limit is None or len(names) <= limit:
        return ", ".join(names) or "none"
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def placement_lines(model: StackSpec, limit: int | None = 6) -> list[str]:
    """What `fleet check` prints under the summary: each part's clusters, then what each
    selector in the config picked."""
    lines = [
        f"  {part}: {count(len(names), 'cluster')}: {listing(names, limit)}"
        for part, names in placement(model).items()
    ]
    for picked in model.selections:
        if picked.item in picked.clusters and len(picked.clusters) == 1:
            continue  # a name picks itself
        found = count(len(picked.clusters), "cluster")
        names = listing(list(picked.clusters), limit)
        lines.append(f"  {picked.at}: selector {picked.item} picks {found}: {names}")
    if isinstance(model, EnvironmentSpec) and model.rollout is not None:
        for index, ring in enumerate(model.rollout.rings):
            on = [
                c.name
                for c in model.clusters
                if model.rollout.ring_of.get(c.managed_by or c.folder) == ring
            ]
            follows = model.branch if index == 0 else names_.ring_branch(model.branch, ring)
            lines.append(
                f"  ring {index} {ring} (follows {follows}): "
                f"{count(len(on), 'cluster')}: {listing(on, limit)}"
            )
    return lines
