"""Promotion: the edit of environment TO's config that makes the chosen tenants, apps and infra
components run there what they run in environment FROM.

What runs is promoted; where it runs and under which rules stays TO's. Of a tenant, its
repository's URL and branch, pinned to the commit FROM runs, its apps, release channels (pinned
alike) and variables are promoted; its clusters, credentials' config keys, notifications and
sandbox (Pod Security, network isolation, quota, limits, image pull secret) are TO's. Of an app
or a release channel, everything but its clusters. Of an infra component, its chart (`helm`)
and `manifests`; its namespace, clusters, per-cluster overrides and scope are TO's. A part TO
does not have yet is added without FROM's clusters and, for a tenant, without its sandbox
settings (it gets TO's defaults).

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


Channel = tuple[str, str | None]
"""A tenant's channel: (tenant, None) for its own, (tenant, release) for a release channel."""


def promote(
    source: Mapping[str, Any],
    target: MutableMapping[str, Any],
    selection: Selection,
    runs: Mapping[Channel, str] | None = None,
) -> list[Promoted]:
    """Edit `target` (TO's `config:`) so the selected parts run what they run in `source`.

    `runs` is the commit of its repository each channel of FROM runs (read from FROM's
    clusters). A channel whose branch TO would take from FROM is pinned to that commit (or to
    FROM's own pin), so that pushes to FROM's branch do not reach TO; without one, it is
    refused."""
    if selection.empty:
        raise PromotionError("choose what to promote: --tenant T, --app T/APP or --infra C")
    done: list[Promoted] = []
    for tenant in selection.tenants:
        done.append(_tenant(source, target, tenant, runs or {}))
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


def _without(entry: Mapping[str, Any], keys: Sequence[str]) -> MutableMapping[str, Any]:
    made = copy.deepcopy(entry)
    assert isinstance(made, MutableMapping)
    for key in keys:
        made.pop(key, None)
    return made


def _update(
    target: MutableMapping[str, Any],
    source: Mapping[str, Any],
    promoted: Callable[[str], bool],
) -> None:
    """Make the promoted keys of `target` those of `source`, in place: what is equal stays as
    it is (with its comments), what goes is deleted, what is new comes at the end."""
    for key in [k for k in target if promoted(k) and k not in source]:
        del target[key]
    for key, value in source.items():
        if promoted(key) and target.get(key) != value:
            target[key] = copy.deepcopy(value)


def _update_named(
    owner: MutableMapping[str, Any], key: str, source_entries: Any, kept: Sequence[str]
) -> None:
    """`owner[key]` becomes FROM's entries in FROM's order; an entry TO has already is updated
    in place and keeps its `kept` keys (and its comments)."""
    current = owner.get(key)
    entries = current if isinstance(current, list) else []
    merged: list[Any] = []
    for entry in source_entries if isinstance(source_entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        existing = _named(entries, str(entry.get("name")))
        if existing is None:
            merged.append(_without(entry, kept))
            continue
        mine = existing[1]
        _update(mine, entry, lambda k: k not in kept)
        merged.append(mine)
    if not merged:
        owner.pop(key, None)
    elif merged != entries or [id(e) for e in merged] != [id(e) for e in entries]:
        if isinstance(current, list):
            current[:] = merged
        else:
            owner[key] = merged


def _channel_commit(
    previous: Mapping[str, Any] | None,
    theirs: Mapping[str, Any],
    keys: tuple[str, str],
    channel: Channel,
    runs: Mapping[Channel, str],
) -> str | None:
    """The commit a channel is pinned to in TO after the promotion (None: it follows its
    branch, as it did). Taking FROM's repository or branch unpinned would let every push to
    it through to TO: refused."""
    pinned = runs.get(channel) or theirs.get("commit")
    if pinned:
        return str(pinned)
    if previous is None or any(previous.get(k) != theirs.get(k) for k in keys):
        what = f"tenant {channel[0]}" + (f"'s release channel {channel[1]}" if channel[1] else "")
        raise PromotionError(
            f"{what} follows branch {theirs.get('branch')} of its repository in the "
            "environment promoted from; following it here too would let every push to it "
            "through: give --clusters or --status, so that the commit it runs there is read "
            "from its clusters and pinned"
        )
    return None


def _set_commit(entry: MutableMapping[str, Any], commit: str | None) -> None:
    if commit is None:
        entry.pop("commit", None)
    elif entry.get("commit") != commit:
        entry["commit"] = commit


def _tenant(
    source: Mapping[str, Any],
    target: MutableMapping[str, Any],
    name: str,
    runs: Mapping[Channel, str],
) -> Promoted:
    found = _named(source.get(TENANTS), name)
    if found is None:
        raise PromotionError(
            f"tenant '{name}' is not in {TENANTS} of the environment promoted from"
        )
    entry = found[1]
    tenants = target.get(TENANTS)
    existing = _named(tenants, name)
    mine = existing[1] if existing is not None else None
    # Every pin first: a refusal leaves TO as it was.
    theirs_repository = entry.get("repository")
    if not isinstance(theirs_repository, Mapping):
        theirs_repository = {}
    my_repository = mine.get("repository") if mine is not None else None
    own = _channel_commit(
        my_repository if isinstance(my_repository, Mapping) else None,
        theirs_repository,
        ("url", "branch"),
        (name, None),
        runs,
    )
    releases: dict[str, str | None] = {}
    for release in entry.get("releases") or []:
        if isinstance(release, Mapping):
            release_name = str(release.get("name"))
            previous = _named(mine.get("releases"), release_name) if mine is not None else None
            releases[release_name] = _channel_commit(
                previous[1] if previous else None,
                release,
                ("repository", "branch"),
                (name, release_name),
                runs,
            )
    if not isinstance(tenants, list):
        tenants = target[TENANTS] = []
    if existing is None:
        mine = _without(entry, TENANT_KEPT)
        tenants.append(mine)
        index, before = len(tenants) - 1, None
    else:
        index, mine = existing
        before = copy.deepcopy(mine)
    repository = mine.get("repository")
    if isinstance(repository, MutableMapping):
        _update(repository, theirs_repository, lambda k: k not in (*REPOSITORY_KEPT, "commit"))
        _set_commit(repository, own)
    _update_named(mine, "apps", entry.get("apps"), PLACEMENT_KEPT)
    _update_named(mine, "releases", entry.get("releases"), (*PLACEMENT_KEPT, "commit"))
    for release in mine.get("releases") or []:
        _set_commit(release, releases.get(str(release.get("name"))))
    _update(mine, entry, lambda k: k == "vars")
    unchanged = "unchanged" if mine == before else "updated"
    return Promoted(
        f"tenant {name}", "added" if before is None else unchanged, f"{TENANTS}[{index}]"
    )


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
    apps = tenant_entry.get("apps")
    if not isinstance(apps, list):
        apps = tenant_entry["apps"] = []
    existing = _named(apps, app)
    if existing is None:
        apps.append(_without(source_app[1], PLACEMENT_KEPT))
        return Promoted(
            f"app {tenant}/{app}", "added", f"{TENANTS}[{t_index}].apps[{len(apps) - 1}]"
        )
    index, current = existing
    before = copy.deepcopy(current)
    _update(current, source_app[1], lambda k: k not in PLACEMENT_KEPT)
    action = "unchanged" if current == before else "updated"
    return Promoted(f"app {tenant}/{app}", action, f"{TENANTS}[{t_index}].apps[{index}]")


def _component(source: Mapping[str, Any], target: MutableMapping[str, Any], name: str) -> Promoted:
    found = _named(source.get(INFRA), name)
    if found is None:
        raise PromotionError(
            f"infra component '{name}' is not in {INFRA} of the environment promoted from"
        )
    components = target.get(INFRA)
    if not isinstance(components, list):
        components = target[INFRA] = []
    existing = _named(components, name)
    if existing is None:
        components.append(_without(found[1], ("clusters",)))
        return Promoted(f"infra component {name}", "added", f"{INFRA}[{len(components) - 1}]")
    index, mine = existing
    before = copy.deepcopy(mine)
    _update(mine, found[1], lambda k: k in COMPONENT_PROMOTED)
    action = "unchanged" if mine == before else "updated"
    return Promoted(f"infra component {name}", action, f"{INFRA}[{index}]")
