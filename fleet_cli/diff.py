"""What changes between two renders of a stack: what a reviewer reads in a pull request."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fleet import objects, yamldoc
from fleet.safety import removals
from fleet_cli.render import StackRender

ChangeKind = Literal["added", "removed", "changed"]
_MARKS: dict[ChangeKind, str] = {"added": "+", "removed": "-", "changed": "!"}


@dataclass(frozen=True)
class Change:
    scope: str
    """`branch main`, `cluster k3d-america` or `pulumi resources`."""
    kind: ChangeKind
    item: str
    patch: str


def compare(base: StackRender, head: StackRender) -> list[Change]:
    """Every cluster joining or leaving a part of the stack, then every file, object and
    resource added, removed or changed from `base` to `head`."""
    changes = _destructive(base, head)
    changes += _placement(base.placement, head.placement) if base.placement else []
    for branch in sorted(set(base.branches) | set(head.branches)):
        changes += _changes(
            f"branch {branch}",
            base.branches.get(branch, {}),
            head.branches.get(branch, {}),
        )
    for cluster in sorted(set(base.clusters) | set(head.clusters)):
        changes += _changes(
            f"cluster {cluster}",
            _by_id(base.clusters.get(cluster, [])),
            _by_id(head.clusters.get(cluster, [])),
        )
    base_urns = {r.urn for r in base.resources}
    # A resource that moved under an alias is the same resource: Pulumi keeps its state.
    moved = {a: r.urn for r in head.resources if r.urn not in base_urns for a in r.aliases}
    changes += _changes(
        "pulumi resources",
        {moved.get(r.urn, r.urn): _resource_text(r.inputs) for r in base.resources},
        {r.urn: _resource_text(r.inputs) for r in head.resources},
    )
    return changes


PLACEMENT_SCOPE = "clusters joining and leaving"
HAND_EDITS_SCOPE = "edited by hand on the branches (the next pulumi up overwrites them)"


def hand_edit_changes(edits: Mapping[str, list[str]]) -> list[Change]:
    """A line per file changed on a branch since the stack last wrote it."""
    return [
        Change(HAND_EDITS_SCOPE, "changed", f"{branch}: {path}", "")
        for branch, paths in edits.items()
        for path in paths
    ]


DESTRUCTIVE_SCOPE = "destructive: what goes, with everything in it"


def _destructive(base: StackRender, head: StackRender) -> list[Change]:
    """First what the removal guard counts (clusters, tenants and apps gone, a renamed
    environment), then every Namespace that leaves a branch (Flux prunes it) or that Pulumi
    deletes on a cluster: a reviewer sees these first."""
    found = []
    if base.inventory is not None and head.inventory is not None:
        found += [
            Change(DESTRUCTIVE_SCOPE, "removed", item, "")
            for item in removals(base.inventory, head.inventory)
        ]
    for branch, files in base.branches.items():
        kept_in_git = {name for _, name in _namespaces(head.branches.get(branch, {}))}
        found += [
            Change(DESTRUCTIVE_SCOPE, "removed", f"Namespace {name} (from {branch}: {path})", "")
            for path, name in sorted(_namespaces(files))
            if name not in kept_in_git
        ]
    for cluster in sorted(base.clusters):
        kept = {objects.object_id(o) for o in head.clusters.get(cluster, [])}
        found += [
            Change(
                DESTRUCTIVE_SCOPE, "removed", f"Namespace {o['metadata']['name']} on {cluster}", ""
            )
            for o in base.clusters[cluster]
            if o.get("kind") == "Namespace" and objects.object_id(o) not in kept
        ]
    return found


def _namespaces(files: Mapping[str, str]) -> set[tuple[str, str]]:
    """(file, name) of each Namespace a branch declares (Flux prunes one that leaves the
    branch, with everything in it)."""
    found = set()
    for path, text in files.items():
        if "kind: Namespace" not in text:
            continue
        for document in yamldoc.load_all(text):
            if isinstance(document, dict) and document.get("kind") == "Namespace":
                found.add((path, str(document.get("metadata", {}).get("name"))))
    return found


def guard_trips(base: StackRender, head: StackRender, max_removals: int) -> str | None:
    """What `pulumi up` would say when its removal guard stops the update; None when it goes."""
    if base.inventory is None or head.inventory is None:
        return None
    gone = removals(base.inventory, head.inventory)
    if len(gone) <= max_removals:
        return None
    return (
        f"The removal guard would stop this update: {len(gone)} removals where "
        f"fleet:maxRemovals allows {max_removals} (listed first below)."
    )


def _placement(base: Mapping[str, list[str]], head: Mapping[str, list[str]]) -> list[Change]:
    """`+ edge-0042 joins environment dev`, `- k3d-asia leaves tenant yakuza`: what a change of
    labels, selectors or lists moves, before the objects it moves."""
    changes = []
    for part in dict.fromkeys([*base, *head]):
        before, after = base.get(part, []), head.get(part, [])
        for cluster in after:
            if cluster not in before:
                changes.append(Change(PLACEMENT_SCOPE, "added", f"{cluster} joins {part}", ""))
        for cluster in before:
            if cluster not in after:
                changes.append(Change(PLACEMENT_SCOPE, "removed", f"{cluster} leaves {part}", ""))
    return changes


def _by_id(documents: list[objects.K8sObject]) -> dict[str, str]:
    texts = {}
    for document in documents:
        kind, namespace, name = objects.object_id(document)
        texts[f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"] = yamldoc.dump_all(
            [document]
        )
    return texts


def _resource_text(inputs: Mapping[str, Any]) -> str:
    """The inputs; a branch's tree is named by its digest, since its branch above shows the
    files one by one."""
    shown = dict(inputs)
    tree = shown.get("tree")
    if isinstance(tree, str):
        shown["tree"] = f"sha256 {tree[:16]} of the files (see the branch above)"
    return json.dumps(shown, indent=2, sort_keys=True) + "\n"


def _changes(scope: str, before: Mapping[str, str], after: Mapping[str, str]) -> list[Change]:
    found = []
    for item in sorted(set(before) | set(after)):
        old, new = before.get(item), after.get(item)
        if old == new:
            continue
        kind: ChangeKind = "added" if old is None else "removed" if new is None else "changed"
        patch = "".join(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{item}" if old is not None else "/dev/null",
                tofile=f"b/{item}" if new is not None else "/dev/null",
            )
        )
        found.append(Change(scope, kind, item, patch))
    return found


def report(
    stack: str, base: str, changes: list[Change], *, patch: bool, warning: str | None = None
) -> str:
    """Markdown: the guard's `warning`, then a `diff` block per scope (destructive changes and
    clusters joining or leaving first, then per branch and cluster), a line per change or its
    patch."""
    title = f"### fleet diff: stack `{stack}` against `{base}`"
    if not changes:
        return f"{title}\n\nNo changes.\n"
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in _MARKS}
    lines = [title, ""]
    if warning is not None:
        lines += [f"> **{warning}**", ""]
    lines.append(
        f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed"
    )
    for scope in dict.fromkeys(c.scope for c in changes):
        lines += ["", f"**{scope}**", "```diff"]
        for change in (c for c in changes if c.scope == scope):
            shown = patch and change.patch
            lines.append(
                change.patch.rstrip("\n") if shown else f"{_MARKS[change.kind]} {change.item}"
            )
        lines.append("```")
    return "\n".join(lines) + "\n"
