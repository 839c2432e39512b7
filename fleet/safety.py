"""The blast-radius guard: an update may remove only so many clusters and tenants.

Each deployment exports its inventory; the next one compares. Removing more than
`fleet:maxRemovals` entities at once is far more often a broken edit (a list cut short, a bad
merge) than a plan, so the update stops before it changes anything and says what would go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.errors import ConfigError, Problem
from fleet.model import FleetSpec, StackSpec

Inventory = dict[str, list[str]]
_KINDS = {"clusters": "cluster", "tenants": "tenant"}
PLACEMENTS = "placements"


def inventory(model: StackSpec) -> Inventory:
    """The entities whose removal the guard counts: each member of a group is a cluster; and
    where each tenant's channel runs (`T@C`, `T/X@C`)."""
    clusters = [member.name for c in model.clusters for member in c.physical]
    if isinstance(model, FleetSpec):
        return {"clusters": clusters, "tenants": [], PLACEMENTS: []}
    placements = []
    for tenant in model.tenants:
        for channel in [None, *(r.name for r in tenant.releases)]:
            name = tenant.name if channel is None else f"{tenant.name}/{channel}"
            placements += [
                f"{name}@{member.name}"
                for c in model.clusters
                if c.name in tenant.channel_clusters(channel)
                for member in c.physical
            ]
    return {
        "clusters": clusters,
        "tenants": [t.name for t in model.tenants],
        PLACEMENTS: placements,
    }


def removals(previous: Mapping[str, Any], current: Inventory) -> list[str]:
    """`cluster NAME` and `tenant NAME` for each entity in `previous` and not in `current`;
    `tenant T from cluster C` where both stay but T no longer runs on C (its namespaces and
    everything in them go): a changed selector or label removes as much as a deleted tenant."""
    gone = []
    for key, kind in _KINDS.items():
        gone += [f"{kind} {name}" for name in _listed(previous, key) if name not in current[key]]
    for placement in _listed(previous, PLACEMENTS):
        channel, _, cluster = placement.rpartition("@")
        tenant = channel.split("/", 1)[0]
        stays = tenant in current["tenants"] and cluster in current["clusters"]
        if stays and placement not in current[PLACEMENTS]:
            gone.append(f"tenant {channel} from cluster {cluster}")
    return gone


def _listed(inventory: Mapping[str, Any], key: str) -> list[str]:
    listed = inventory.get(key)
    return [str(n) for n in listed] if isinstance(listed, list) else []


def check_removals(previous: Mapping[str, Any], model: StackSpec, source: str) -> None:
    """Raise a `ConfigError` when the update would remove more than `maxRemovals` entities."""
    gone = removals(previous, inventory(model))
    if len(gone) <= model.max_removals:
        return
    message = (
        f"this update would remove {len(gone)} clusters or tenants ({', '.join(gone)}); at most "
        f"{model.max_removals} may go in one update. If that is meant, set fleet:maxRemovals "
        f"to {len(gone)} for this update"
    )
    raise ConfigError([Problem("fleet:maxRemovals", message)], source)
