"""The fields of a Flux object, checked as its CRD's schema and its controller would: the GA
API version, the required fields and their types, intervals that are durations, and paths that
start with `./`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fleet import objects
from fleet.config import DURATION_PATTERN

GA_APIS = {
    "GitRepository": objects.SOURCE_API,
    "HelmRepository": objects.SOURCE_API,
    "OCIRepository": objects.SOURCE_API,
    "Bucket": objects.SOURCE_API,
    "Kustomization": objects.KUSTOMIZE_API,
    "HelmRelease": objects.HELM_API,
}
_DURATION = re.compile(DURATION_PATTERN)
_REQUIRED: dict[str, dict[str, type]] = {
    "GitRepository": {"url": str, "ref.branch": str},
    "HelmRepository": {"url": str},
    "Kustomization": {"path": str, "prune": bool, "sourceRef.kind": str, "sourceRef.name": str},
    "HelmRelease": {
        "chart.spec.chart": str,
        "chart.spec.sourceRef.kind": str,
        "chart.spec.sourceRef.name": str,
    },
}


def field_problems(obj: Mapping[str, Any]) -> list[str]:
    """What is wrong with a Flux object's fields; nothing for other objects."""
    kind = str(obj.get("kind"))
    group = str(obj.get("apiVersion", "")).split("/")[0]
    if kind not in GA_APIS or group != GA_APIS[kind].split("/")[0]:
        return []
    problems = []
    if obj.get("apiVersion") != GA_APIS[kind]:
        problems.append(f"apiVersion {obj.get('apiVersion')} is not {GA_APIS[kind]}")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return [*problems, "has no spec"]
    interval = spec.get("interval")
    if not isinstance(interval, str) or not _DURATION.match(interval):
        problems.append(f"spec.interval {interval!r} is not a duration like 5m")
    for path, expected in _REQUIRED.get(kind, {}).items():
        value = _get(spec, path)
        if not isinstance(value, expected):
            problems.append(f"spec.{path} must be a {expected.__name__}, not {value!r}")
    if kind == "Kustomization" and not str(spec.get("path", "")).startswith("./"):
        problems.append(f"spec.path {spec.get('path')!r} must start with ./")
    return problems


def _get(spec: Mapping[str, Any], path: str) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value
