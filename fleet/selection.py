"""Which clusters a list in config names: cluster names and label selectors, resolved once.

A list of clusters mixes names and Kubernetes label selectors; a selector means what it means to
the API server: every `matchLabels` pair and every `matchExpressions` requirement must hold, and
an empty selector selects everything in reach
(https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors,
`LabelSelectorAsSelector` in k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go). The shape rules of
a requirement are apimachinery's `ValidateLabelSelectorRequirement`: `In` and `NotIn` need
values, `Exists` and `DoesNotExist` take none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fleet.config import ClusterRef, ClusterSelector, LabelRequirement


class Labelled(Protocol):
    """A cluster as a selector sees it."""

    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


def _holds(requirement: LabelRequirement, labels: Mapping[str, str]) -> bool:
    present = requirement.key in labels
    match requirement.operator:
        case "In":
            return present and labels[requirement.key] in requirement.values
        case "NotIn":
            return not present or labels[requirement.key] not in requirement.values
        case "Exists":
            return present
        case "DoesNotExist":
            return not present


def matches(selector: ClusterSelector, labels: Mapping[str, str]) -> bool:
    """True when every pair and every requirement of `selector` holds for `labels`."""
    return all(labels.get(k) == v for k, v in selector.match_labels.items()) and all(
        _holds(r, labels) for r in selector.match_expressions
    )


def shape_error(requirement: LabelRequirement) -> str | None:
    """Why a requirement is malformed, or None."""
    if requirement.operator in ("In", "NotIn") and not requirement.values:
        return f"operator {requirement.operator} needs at least one value"
    if requirement.operator in ("Exists", "DoesNotExist") and requirement.values:
        return f"operator {requirement.operator} takes no values"
    return None


def describe(ref: ClusterRef) -> str:
    """A name as is; a selector as `kubectl get -l` would take it (`tier=edge,region in (eu)`);
    `every cluster` for the empty selector."""
    if isinstance(ref, str):
        return ref
    parts = [f"{k}={v}" for k, v in ref.match_labels.items()]
    for r in ref.match_expressions:
        match r.operator:
            case "In" | "NotIn":
                parts.append(f"{r.key} {r.operator.lower()} ({', '.join(r.values)})")
            case "Exists":
                parts.append(r.key)
            case "DoesNotExist":
                parts.append(f"!{r.key}")
    return ",".join(parts) or "every cluster"


@dataclass(frozen=True)
class Selection:
    """What one list of clusters picked, in the order of the list, and what was wrong in it."""

    names: tuple[str, ...]
    errors: tuple[tuple[int, str], ...]
    """(index in the list, message) for each item that names nothing it may."""
    picked: tuple[tuple[str, tuple[str, ...]], ...]
    """(the item as described, the clusters it picked), for showing a user."""


def select(
    refs: Sequence[ClusterRef],
    scope: Sequence[Labelled],
    scope_name: str,
    unknown: Callable[[str], str],
) -> Selection:
    """The clusters of `scope` that `refs` name or select: names in the list's order, each
    selector's matches in the scope's order, no cluster twice. A name outside the scope
    (`unknown` says why) and a selector that matches nothing there are errors: an empty
    selection is never what a user meant, and would silently remove what ran there."""
    known = {c.name: c for c in scope}
    names: dict[str, None] = {}
    errors: list[tuple[int, str]] = []
    picked: list[tuple[str, tuple[str, ...]]] = []
    for index, ref in enumerate(refs):
        if isinstance(ref, str):
            if ref in known:
                names[ref] = None
                picked.append((ref, (ref,)))
            else:
                errors.append((index, unknown(ref)))
            continue
        malformed = [e for r in ref.match_expressions if (e := shape_error(r)) is not None]
        if malformed:
            errors += [(index, f"selector {describe(ref)}: {e}") for e in malformed]
            continue
        found = tuple(c.name for c in scope if matches(ref, c.labels))
        if not found:
            errors.append((index, f"selector {describe(ref)} selects none of {scope_name}"))
        names.update(dict.fromkeys(found))
        picked.append((describe(ref), found))
    return Selection(tuple(names), tuple(errors), tuple(picked))
