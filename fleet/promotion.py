"""Promotion: the edit of environment TO's config that makes the chosen tenants, apps and infra
components run there what they run in environment FROM.

What runs is promoted; where it runs and under which rules stays TO's. Of a tenant, its
repository's URL and branch, its apps, release channels and variables are promoted; its
clusters, credentials' config keys, notifications and sandbox (Pod Security, network isolation,
quota, limits) are TO's. Of an app or a release channel, everything but its clusters. Of an infra
component, its chart (`helm`) and `manifests`; its namespace, clusters, per-cluster overrides and
scope are TO's. A part TO does not have yet is added whole, without FROM's clusters.

Pure: the config mappings of both settings files go in (`config:` of `Pulumi.<stack>.yaml`),
TO's is edited in place, so a round-trip YAML mapping keeps its comments and order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.config import CONFIG_NAMESPACE

TENANTS = f"{CONFIG_NAMESPACE}:tenants"
INFRA = f"{CONFIG_NAMESPACE}:infra"

TENANT_KEPT = (
    "clusters",
    "notifications",
    "imagePullSecret",
    "podSecurity",
    "isolateNetwork",
    "resourceQuota",
    "limitRange",
)
"""A tenant's settings that are the environment's to decide, never promoted."""
REPOSITORY_KEPT = ("credentialsSecret", "knownHosts")
"""How TO reaches the tenant's repository: its own secret config keys."""
PLACEMENT_KEPT = ("clusters",)
"""An app's or a release channel's: where it runs in TO."""
COMPONENT_PROMOTED = ("helm", "manifests")
"""An infra component's: what it installs."""


class PromotionError(ValueError):
    """The chosen part is not in FROM (or its tenant not in TO), or nothing was chosen."""


@dataclass(frozen=True)
class Selection:
    tenants: tuple[str, ...] = ()
    apps: tuple[tuple[str, str], ...] = ()
    """(tenant, app)."""
    infra: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.tenants or self.apps or self.infra)

    def titles(self) -> list[str]:
        return [
            *(f"tenant {t}" for t in self.tenants),
            *(f"app {t}/{a}" for t, a in self.apps),
            *(f"infra component {c}" for c in self.infra),
        ]


@dataclass(frozen=True)
class Promoted:
    """One part and what the edit did to it in TO."""

    part: str
    action: str
    """`added`, `updated` or `unchanged`."""
    config_path: str


def promote(
    source: Mapping[str, Any], target: MutableMapping[str, Any], selection: Selection
) -> list[Promoted]:
    """Edit `target` (TO's `config:`) so the selected parts run what they run in `source`."""
    if selection.empty:
        raise PromotionError("choose what to promote: --tenant T, --app T/APP or --infra C")
    done: list[Promoted] = []
    for tenant in selection.tenants:
        done.append(_tenant(source, target, tenant))
    for tenant, app in selection.apps:
        done.append(_app(source, target, tenant, app))
    for component in selection.infra:
        done.append(_component(source, target, component))
    return done


def _named(entries: Any, name: str) -> tuple[int, MutableMapping[str, Any]] | None:
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, MutableMapping) and entry.get("name") == name:
            return index, entry
    return None


def _list(config: MutableMapping[str, Any], key: str) -> list[Any]:
    if not isinstance(config.get(key), list):
        config[key] = []
    found: list[Any] = config[key]
    return found


def _without(entry: Mapping[str, Any], keys: Sequence[str]) -> MutableMapping[str, Any]:
    made = copy.deepcopy(entry)
    assert isinstance(made, MutableMapping)
    for key in keys:
        made.pop(key, None)
    return made


def _replace(
    target: MutableMapping[str, Any],
    source: Mapping[str, Any],
    promoted: Callable[[str], bool],
) -> bool:
    """Make the promoted keys of `target` those of `source`; True when anything changed."""
    before = copy.deepcopy(dict(target))
    for key in [k for k in target if promoted(k) and k not in source]:
        del target[key]
    for key, value in source.items():
        if promoted(key) and target.get(key) != value:
            target[key] = copy.deepcopy(value)
    return dict(target) != before


def _merge_named(target_entries: list[Any], source_entries: Any, kept: Sequence[str]) -> list[Any]:
    """FROM's entries in FROM's order; each keeps TO's `kept` keys of the same-named entry."""
    merged = []
    for entry in source_entries if isinstance(source_entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        made = _without(entry, kept)
        existing = _named(target_entries, str(entry.get("name")))
        if existing is not None:
            for key in kept:
                if key in existing[1]:
                    made[key] = copy.deepcopy(existing[1][key])
        merged.append(made)
    return merged


def _tenant(source: Mapping[str, Any], target: MutableMapping[str, Any], name: str) -> Promoted:
    found = _named(source.get(TENANTS), name)
    if found is None:
        raise PromotionError(
            f"tenant '{name}' is not in {TENANTS} of the environment promoted from"
        )
    _, entry = found
    tenants = _list(target, TENANTS)
    existing = _named(tenants, name)
    if existing is None:
        tenants.append(_without(entry, ("clusters",)))
        return Promoted(f"tenant {name}", "added", f"{TENANTS}[{len(tenants) - 1}]")
    index, mine = existing
    before = copy.deepcopy(dict(mine))
    repository = mine.get("repository")
    if isinstance(repository, MutableMapping) and isinstance(entry.get("repository"), Mapping):
        _replace(repository, entry["repository"], lambda k: k not in REPOSITORY_KEPT)
    elif "repository" in entry:
        mine["repository"] = copy.deepcopy(entry["repository"])
    for key, kept in (("apps", PLACEMENT_KEPT), ("releases", PLACEMENT_KEPT)):
        merged = _merge_named(_list(mine, key), entry.get(key), kept)
        if merged != mine[key]:
            mine[key] = merged
        if not mine[key]:
            del mine[key]
    _replace(mine, entry, lambda k: k == "vars")
    action = "unchanged" if dict(mine) == before else "updated"
    return Promoted(f"tenant {name}", action, f"{TENANTS}[{index}]")


def _app(
    source: Mapping[str, Any], target: MutableMapping[str, Any], tenant: str, app: str
) -> Promoted:
    found = _named(source.get(TENANTS), tenant)
    source_app = _named(found[1].get("apps"), app) if found else None
    if source_app is None:
        raise PromotionError(f"app '{tenant}/{app}' is not in the environment promoted from")
    mine = _named(target.get(TENANTS), tenant)
    if mine is None:
        raise PromotionError(
            f"tenant '{tenant}' is not in the environment promoted to: promote the tenant "
            f"(--tenant {tenant}) to bring it with its apps"
        )
    t_index, tenant_entry = mine
    apps = _list(tenant_entry, "apps")
    [made] = _merge_named(apps, [source_app[1]], PLACEMENT_KEPT)
    existing = _named(apps, app)
    if existing is None:
        apps.append(made)
        return Promoted(
            f"app {tenant}/{app}", "added", f"{TENANTS}[{t_index}].apps[{len(apps) - 1}]"
        )
    index, current = existing
    action = "unchanged" if dict(current) == dict(made) else "updated"
    if action == "updated":
        apps[index] = made
    return Promoted(f"app {tenant}/{app}", action, f"{TENANTS}[{t_index}].apps[{index}]")


def _component(source: Mapping[str, Any], target: MutableMapping[str, Any], name: str) -> Promoted:
    found = _named(source.get(INFRA), name)
    if found is None:
        raise PromotionError(
            f"infra component '{name}' is not in {INFRA} of the environment promoted from"
        )
    components = _list(target, INFRA)
    existing = _named(components, name)
    if existing is None:
        components.append(_without(found[1], ("clusters",)))
        return Promoted(f"infra component {name}", "added", f"{INFRA}[{len(components) - 1}]")
    index, mine = existing
    changed = _replace(mine, found[1], lambda k: k in COMPONENT_PROMOTED)
    return Promoted(
        f"infra component {name}", "updated" if changed else "unchanged", f"{INFRA}[{index}]"
    )
