"""Checks of a rendered stack: what Flux would do with it, found before Flux does.

Starting from the objects Pulumi applies on each cluster, every Kustomization that reads the
fleet's repository is followed to the folder it builds (with real kustomize) and to the cluster
its objects land on. Over all of that, the checks look for what breaks reconciliation or
tenant isolation: folders that do not build, Flux objects missing required fields or using
non-GA APIs, sources and kubeconfig Secrets that do not exist where they are looked up, tenant
objects that reach out of their namespace, and objects applied twice.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet import names, objects
from fleet.kustomize import KustomizeError, build
from fleet.objects import K8sObject
from fleet.render import StackRender

Files = Mapping[str, str]

GA_APIS = {
    "GitRepository": objects.SOURCE_API,
    "HelmRepository": objects.SOURCE_API,
    "OCIRepository": objects.SOURCE_API,
    "Bucket": objects.SOURCE_API,
    "Kustomization": objects.KUSTOMIZE_API,
    "HelmRelease": objects.HELM_API,
}
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")


@dataclass(frozen=True)
class Finding:
    """One problem, with where it is: a file or folder of a branch, or an object on a cluster."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class _Placed:
    """An object where it lands, and who put it there."""

    cluster: str
    obj: K8sObject
    applied_by: str


@dataclass
class _Walk:
    placed: list[_Placed] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def verify(render: StackRender, repository_url: str, *, lockdown: bool = True) -> list[Finding]:
    """Every problem of a rendered stack; an empty list when Flux would reconcile it cleanly.

    `repository_url` is the fleet repository Flux reads: Kustomizations reading it are followed
    into the rendered branches. With `lockdown`, Flux refuses cross-namespace references.
    """
    with tempfile.TemporaryDirectory(prefix="fleet-verify-") as scratch:
        built, findings = _build_all(render, Path(scratch))
    walk = _place(render, repository_url, built)
    findings += walk.findings
    for check in _CHECKS:
        findings += check(walk.placed)
    if lockdown:
        findings += _check_lockdown(walk.placed)
    return findings


_BUILD_CACHE: dict[str, list[K8sObject] | str] = {}
"""Builds by the content of everything a folder reads: objects, or kustomize's error."""


def _build_all(
    render: StackRender, scratch: Path
) -> tuple[dict[tuple[str, str], list[K8sObject]], list[Finding]]:
    """Build every kustomization folder of every branch: {(branch, folder): objects}."""
    jobs: dict[tuple[str, str], tuple[str, Path]] = {}
    for branch, files in render.branches.items():
        root = scratch / branch.replace("/", "_")
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for path in files:
            if path.endswith("kustomization.yaml"):
                folder = posixpath.dirname(path) or "."
                jobs[(branch, folder)] = (_closure_key(files, folder), root / folder)
    missing = {key: folder for key, folder in jobs.values() if key not in _BUILD_CACHE}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for key, result in zip(missing, pool.map(_build_or_error, missing.values()), strict=True):
            _BUILD_CACHE[key] = result
    built: dict[tuple[str, str], list[K8sObject]] = {}
    findings = []
    for (branch, folder), (key, _) in jobs.items():
        result = _BUILD_CACHE[key]
        if isinstance(result, str):
            findings.append(Finding(f"{branch}:{folder}", f"does not build: {result}"))
        else:
            built[(branch, folder)] = result
    return built, findings


def _build_or_error(folder: Path) -> list[K8sObject] | str:
    try:
        return build(folder)
    except KustomizeError as error:
        return str(error).replace(str(folder), "<folder>")


def _closure_key(files: Mapping[str, str], folder: str) -> str:
    """A hash of the folder's name and of every file its kustomization reads, transitively."""
    digest = hashlib.sha256(folder.encode())
    seen: set[str] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        own = f"{current}/kustomization.yaml" if current != "." else "kustomization.yaml"
        text = files.get(own, "")
        digest.update(f"\0{own}\0{text}".encode())
        try:
            body = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            continue
        references = (
            [
                *body.get("resources", []),
                *(p.get("path") for p in body.get("patches", []) if isinstance(p, dict)),
            ]
            if isinstance(body, dict)
            else []
        )
        for reference in references:
            if not isinstance(reference, str):
                continue
            path = posixpath.normpath(posixpath.join(current, reference))
            if path in files:
                digest.update(f"\0{path}\0{files[path]}".encode())
            else:
                pending.append(path)
    return digest.hexdigest()


def _place(
    render: StackRender, repository_url: str, built: Mapping[tuple[str, str], list[K8sObject]]
) -> _Walk:
    """Follow Kustomizations from what Pulumi applies to where every object lands."""
    walk = _Walk()
    pending = [
        _Placed(cluster, obj, "pulumi")
        for cluster, applied in render.clusters.items()
        for obj in applied
    ]
    while pending:
        item = pending.pop(0)
        walk.placed.append(item)
        if item.obj.get("kind") != "Kustomization":
            continue
        spec = item.obj.get("spec") or {}
        namespace = item.obj["metadata"].get("namespace", "")
        source = _find(walk.placed + pending, item.cluster, spec.get("sourceRef"), namespace)
        if source is None or source.get("spec", {}).get("url") != repository_url:
            continue  # a tenant's own repository: not ours to build
        branch = source["spec"].get("ref", {}).get("branch", "")
        folder = str(spec.get("path", "")).removeprefix("./").rstrip("/") or "."
        where = f"{item.cluster}:{namespace}/{item.obj['metadata'].get('name')}"
        if (branch, folder) not in built:
            if branch in render.branches:
                walk.findings.append(
                    Finding(where, f"path ./{folder} has no kustomization on branch {branch}")
                )
            continue
        lands_on = item.cluster
        if "kubeConfig" in spec:
            lands_on = _remote_of(spec, folder)
        pending += [_Placed(lands_on, obj, where) for obj in built[(branch, folder)]]
    return walk


def _remote_of(spec: Mapping[str, Any], folder: str) -> str:
    """The remote a Kustomization with a kubeconfig reaches: named by its `R-kubeconfig`."""
    secret = str(spec["kubeConfig"].get("secretRef", {}).get("name", ""))
    suffix = names.kubeconfig_secret("")
    return secret.removesuffix(suffix) if secret.endswith(suffix) else f"remote of {folder}"


def _find(
    placed: Iterable[_Placed], cluster: str, reference: Any, namespace: str
) -> K8sObject | None:
    if not isinstance(reference, Mapping):
        return None
    wanted = (reference.get("kind"), reference.get("namespace", namespace), reference.get("name"))
    for item in placed:
        if item.cluster == cluster and objects.object_id(item.obj) == wanted:
            return item.obj
    return None


# ---------------------------------------------------------------- checks


def _where(item: _Placed) -> str:
    kind, namespace, name = objects.object_id(item.obj)
    place = f"{namespace}/{name}" if namespace else name
    return f"{item.cluster}: {kind} {place} (applied by {item.applied_by})"


def _check_fields(placed: list[_Placed]) -> list[Finding]:
    """Required fields, types, durations and GA API versions of Flux objects."""
    findings = []
    for item in placed:
        kind = str(item.obj.get("kind"))
        if kind not in GA_APIS:
            continue
        problems = []
        if item.obj.get("apiVersion") != GA_APIS[kind]:
            problems.append(f"apiVersion {item.obj.get('apiVersion')} is not {GA_APIS[kind]}")
        spec = item.obj.get("spec")
        if not isinstance(spec, Mapping):
            problems.append("has no spec")
            spec = {}
        interval = spec.get("interval")
        if not isinstance(interval, str) or not _DURATION.match(interval):
            problems.append(f"spec.interval {interval!r} is not a duration like 5m")
        required = _REQUIRED.get(kind, {})
        for path, expected in required.items():
            value = _get(spec, path)
            if not isinstance(value, expected):
                problems.append(f"spec.{path} must be a {expected.__name__}, not {value!r}")
        if kind == "Kustomization" and not str(spec.get("path", "")).startswith("./"):
            problems.append(f"spec.path {spec.get('path')!r} must start with ./")
        findings += [Finding(_where(item), problem) for problem in problems]
    return findings


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


def _get(spec: Mapping[str, Any], path: str) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _source_reference(obj: K8sObject) -> Any:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "HelmRelease":
        return _get(spec, "chart.spec.sourceRef")
    return spec.get("sourceRef")


def _check_references(placed: list[_Placed]) -> list[Finding]:
    """Every sourceRef and kubeConfig Secret exists in the object's namespace on its cluster."""
    present = {(item.cluster, objects.object_id(item.obj)) for item in placed}
    findings = []
    for item in placed:
        namespace = item.obj.get("metadata", {}).get("namespace", "")
        reference = _source_reference(item.obj)
        if isinstance(reference, Mapping):
            wanted = (
                reference.get("kind"),
                reference.get("namespace", namespace),
                reference.get("name"),
            )
            if (item.cluster, wanted) not in present:
                findings.append(
                    Finding(
                        _where(item),
                        f"sourceRef {wanted[0]} {wanted[1]}/{wanted[2]} does not exist on "
                        f"{item.cluster}",
                    )
                )
        secret = _get(item.obj.get("spec") or {}, "kubeConfig.secretRef.name")
        if secret is not None and (item.cluster, ("Secret", namespace, secret)) not in present:
            findings.append(
                Finding(
                    _where(item),
                    f"kubeConfig Secret {namespace}/{secret} is not created by this stack "
                    f"on {item.cluster}",
                )
            )
    return findings


def _tenant_of(obj: K8sObject) -> str | None:
    labels = obj.get("metadata", {}).get("labels") or {}
    tenant = labels.get(names.TENANT_LABEL)
    return str(tenant) if tenant else None


def _check_tenants(placed: list[_Placed]) -> list[Finding]:
    """A tenant's Flux objects impersonate the tenant and stay in the tenant's namespace."""
    findings = []
    for item in placed:
        tenant = _tenant_of(item.obj)
        kind = item.obj.get("kind")
        if tenant is None or kind not in ("Kustomization", "HelmRelease", "GitRepository"):
            continue
        namespace = item.obj["metadata"].get("namespace", "")
        spec = item.obj.get("spec") or {}
        if kind == "Kustomization":
            for key in ("serviceAccountName", "targetNamespace"):
                if not spec.get(key):
                    findings.append(Finding(_where(item), f"a tenant Kustomization needs {key}"))
        reference = _source_reference(item.obj)
        foreign = {
            "targetNamespace": spec.get("targetNamespace"),
            "sourceRef.namespace": reference.get("namespace")
            if isinstance(reference, Mapping)
            else None,
        }
        for key, value in foreign.items():
            if value is not None and value != namespace:
                findings.append(
                    Finding(
                        _where(item), f"{key} {value} leaves the tenant's namespace {namespace}"
                    )
                )
    return findings


def _check_applied_once(placed: list[_Placed]) -> list[Finding]:
    """Two appliers of one object fight over it, and one may prune it."""
    appliers: dict[tuple[str, tuple[str, str, str]], list[str]] = {}
    for item in placed:
        appliers.setdefault((item.cluster, objects.object_id(item.obj)), []).append(item.applied_by)
    findings = []
    for (cluster, (kind, namespace, name)), who in sorted(appliers.items()):
        if len(who) > 1:
            place = f"{namespace}/{name}" if namespace else name
            findings.append(
                Finding(
                    f"{cluster}: {kind} {place}",
                    f"applied {len(who)} times: {', '.join(sorted(who))}",
                )
            )
    return findings


def _check_lockdown(placed: list[_Placed]) -> list[Finding]:
    """Under multi-tenant lockdown Flux refuses a reference into another namespace."""
    findings = []
    for item in placed:
        reference = _source_reference(item.obj)
        namespace = item.obj.get("metadata", {}).get("namespace", "")
        if isinstance(reference, Mapping) and reference.get("namespace", namespace) != namespace:
            findings.append(
                Finding(
                    _where(item),
                    f"sourceRef reaches into namespace {reference['namespace']}, which Flux "
                    "refuses under multi-tenant lockdown",
                )
            )
    return findings


_CHECKS: tuple[Callable[[list[_Placed]], list[Finding]], ...] = (
    _check_fields,
    _check_references,
    _check_tenants,
    _check_applied_once,
)
