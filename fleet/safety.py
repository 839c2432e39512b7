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


def inventory(model: StackSpec) -> Inventory:
    """The entities whose removal the guard counts: each member of a group is a cluster."""
    tenants = [] if isinstance(model, FleetSpec) else [t.name for t in model.tenants]
    clusters = [member.name for c in model.clusters for member in c.physical]
    return {"clusters": clusters, "tenants": tenants}


def removals(previous: Mapping[str, Any], current: Inventory) -> list[str]:
    """`cluster NAME` and `tenant NAME` for each entity in `previous` and not in `current`."""
    gone = []
    for key, kind in _KINDS.items():
        listed = previous.get(key)
        names = listed if isinstance(listed, list) else []
        gone += [f"{kind} {name}" for name in names if name not in current.get(key, [])]
    return gone


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
