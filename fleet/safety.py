"""The blast-radius guard: an update may remove only so much.

Each deployment exports its inventory; the next one compares. Removing more than
`fleet:maxRemovals` things at once is far more often a broken edit (a list cut short, a bad
merge, a renamed environment) than a plan, so the update stops before it changes anything and
says what would go. What counts is what takes workloads with it: a cluster, a tenant, a tenant
leaving a cluster that stays, an app (its Kustomizations prune what they applied), an infra
component, and a change of the environment's name, branch or repository (every namespace of the
environment is deleted and made anew).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleet.errors import ConfigError, Problem
from fleet.model import FleetSpec, StackSpec

Inventory = dict[str, Any]
CLUSTERS, TENANTS, PLACEMENTS = "clusters", "tenants", "placements"
APPS, COMPONENTS, IDENTITY = "apps", "components", "identity"
APP_PLACEMENTS, COMPONENT_PLACEMENTS = "appPlacements", "componentPlacements"
_KINDS = {CLUSTERS: "cluster", TENANTS: "tenant", COMPONENTS: "infra component"}


def inventory(model: StackSpec) -> Inventory:
    """What the guard compares: each member of a group is a cluster; where each tenant's
    channel runs (`T@C`, `T/X@C`); the apps (`T/APP`) and components; and what identifies the
    stack's objects (its environment, branch and repository)."""
    clusters = [member.name for c in model.clusters for member in c.physical]
    components = [c.name for c in model.infra]

    def on(names: Sequence[str]) -> list[str]:
        return [m.name for c in model.clusters if c.name in names for m in c.physical]

    component_placements = [f"{x.name}@{m}" for x in model.infra for m in on(x.clusters)]
    if isinstance(model, FleetSpec):
        identity = f"branch main of {model.repository.url}"
        return {
            CLUSTERS: clusters,
            TENANTS: [],
            PLACEMENTS: [],
            APPS: [],
            COMPONENTS: components,
            IDENTITY: identity,
            APP_PLACEMENTS: [],
            COMPONENT_PLACEMENTS: component_placements,
        }
    placements = []
    for tenant in model.tenants:
        for channel in tenant.channels(model.name):
            name = tenant.name if channel.release is None else f"{tenant.name}/{channel.release}"
            placements += [f"{name}@{member}" for member in on(channel.clusters)]
    return {
        CLUSTERS: clusters,
        TENANTS: [t.name for t in model.tenants],
        PLACEMENTS: placements,
        APPS: [f"{t.name}/{a.name}" for t in model.tenants for a in t.apps],
        COMPONENTS: components,
        IDENTITY: (
            f"environment {model.name} on branch {model.branch} of {model.fleet.repository.url}"
        ),
        APP_PLACEMENTS: [
            f"{t.name}/{a.name}@{m}" for t in model.tenants for a in t.apps for m in on(a.clusters)
        ],
        COMPONENT_PLACEMENTS: component_placements,
    }


def removals(previous: Mapping[str, Any], current: Inventory) -> list[str]:
    """What `previous` had and `current` loses, one line each: `cluster NAME`, `tenant NAME`,
    `infra component NAME`; `tenant T from cluster C` where both stay but T no longer runs on C
    (a changed selector or label removes as much as a deleted tenant); `app T/APP` where T
    stays; and, when the identity changed, every tenant and component of the old one."""
    gone = []
    old_identity = previous.get(IDENTITY)
    if isinstance(old_identity, str) and old_identity != current[IDENTITY]:
        # Every object is named after the environment and read from its branch: all of them go,
        # and nothing else needs counting.
        changed = f"({old_identity} becomes {current[IDENTITY]})"
        gone += [f"tenant {t} {changed}" for t in _listed(previous, TENANTS)]
        gone += [f"infra component {c} {changed}" for c in _listed(previous, COMPONENTS)]
        gone += [f"what the stack applies on {c} {changed}" for c in _listed(previous, CLUSTERS)]
        return gone
    for key, kind in _KINDS.items():
        gone += [f"{kind} {name}" for name in _listed(previous, key) if name not in current[key]]
    # (tenant, cluster) where the tenant's own channel stopped running: its apps go with it.
    left: set[tuple[str, str]] = set()
    for placement in _listed(previous, PLACEMENTS):
        channel, _, cluster = placement.rpartition("@")
        tenant = channel.split("/", 1)[0]
        stays = tenant in current[TENANTS] and cluster in current[CLUSTERS]
        if stays and placement not in current[PLACEMENTS]:
            gone.append(f"tenant {channel} from cluster {cluster}")
            if channel == tenant:
                left.add((tenant, cluster))
    for app in _listed(previous, APPS):
        if app.split("/", 1)[0] in current[TENANTS] and app not in current[APPS]:
            gone.append(f"app {app}")
    # An app or component that stays but leaves a cluster that stays prunes what it ran there.
    for placement in _listed(previous, APP_PLACEMENTS):
        app, _, cluster = placement.rpartition("@")
        stays = app in current[APPS] and cluster in current[CLUSTERS]
        counted = (app.split("/", 1)[0], cluster) in left
        if stays and not counted and placement not in current[APP_PLACEMENTS]:
            gone.append(f"app {app} from cluster {cluster}")
    for placement in _listed(previous, COMPONENT_PLACEMENTS):
        component, _, cluster = placement.rpartition("@")
        stays = component in current[COMPONENTS] and cluster in current[CLUSTERS]
        if stays and placement not in current[COMPONENT_PLACEMENTS]:
            gone.append(f"infra component {component} from cluster {cluster}")
    return gone


def _listed(inventory: Mapping[str, Any], key: str) -> list[str]:
    listed = inventory.get(key)
    return [str(n) for n in listed] if isinstance(listed, list) else []


def check_removals(previous: Mapping[str, Any] | None, model: StackSpec, source: str) -> None:
    """Raise a `ConfigError` when the update would remove more than `maxRemovals` things; or,
    when the last deployment left no inventory (`previous` None), unless `maxRemovals` allows
    everything the stack has: what would go cannot be known, so the guard fails closed."""
    current = inventory(model)
    if previous is None:
        everything = len(current[CLUSTERS]) + len(current[TENANTS]) + len(current[COMPONENTS])
        if model.max_removals >= everything:
            return
        message = (
            "the stack's last deployment left no inventory (a failed update on a Pulumi CLI "
            "before 3.112, which drops stack outputs, or a deployment by an older program), so "
            "what this update removes cannot be known. Look at `pulumi preview --diff`; if it "
            f"is meant, set fleet:maxRemovals to {everything} for this update"
        )
        raise ConfigError([Problem("fleet:maxRemovals", message)], source)
    gone = removals(previous, current)
    if len(gone) <= model.max_removals:
        return
    message = (
        f"this update would remove {len(gone)} clusters, tenants, apps or components "
        f"({', '.join(gone)}); at most {model.max_removals} may go in one update. If that is "
        f"meant, set fleet:maxRemovals to {len(gone)} for this update"
    )
    raise ConfigError([Problem("fleet:maxRemovals", message)], source)


def leaving_clusters(previous: Mapping[str, Any] | None, model: FleetSpec) -> list[str]:
    """The clusters the main stack's last deployment had and this update drops."""
    if previous is None:
        return []
    current = inventory(model)[CLUSTERS]
    return [name for name in _listed(previous, CLUSTERS) if name not in current]


def check_let_go(
    leaving: Sequence[str],
    dropped: Sequence[str],
    deployed: Mapping[str, Mapping[str, Any] | None],
    source: str,
) -> None:
    """Raise a `ConfigError` when a cluster leaves the fleet, or an environment leaves the
    main stack's grant (`fleet:environments`), while an environment stack's last deployment
    (`deployed`: its inventory by stack, None when it has none) still has it. The environment
    goes first: on a remote its Flux prunes what it applied with the rights the main stack
    grants there, and on a management cluster its objects are deleted with the kubeconfig the
    main stack exports; once the main stack has let the cluster or the grant go, neither is
    there and the environment's objects would be left behind (on a remote, with Flux's
    finalizers stuck)."""
    problems = []
    for stack, held in sorted(deployed.items()):
        if held is None:
            continue
        problems += [
            Problem(
                "fleet:clusters",
                f"cluster {name} leaves the fleet while environment stack {stack} still has "
                f"it: take it out of {stack} first (a label its selectors do not pick, or its "
                f"list), run `pulumi up` on {stack}, then remove it here",
            )
            for name in leaving
            if name in _listed(held, CLUSTERS)
        ]
        environment = _environment_of(held)
        if environment in dropped:
            problems.append(
                Problem(
                    "fleet:environments",
                    f"environment {environment} leaves the list while stack {stack} still "
                    f"runs it: keep it listed until stack {stack} is destroyed, or deployed "
                    "under its new name (list both names meanwhile)",
                )
            )
    if problems:
        raise ConfigError(problems, source)


def _environment_of(held: Mapping[str, Any]) -> str | None:
    """The environment an environment stack's inventory names (`environment E on branch ...`)."""
    identity = held.get(IDENTITY)
    if isinstance(identity, str) and identity.startswith("environment "):
        return identity.split(" ", 2)[1]
    return None
