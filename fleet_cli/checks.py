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
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet import layout, names, objects, yamldoc
from fleet.config import DURATION_PATTERN
from fleet.objects import K8sObject
from fleet_cli.kustomize import KustomizeError, build
from fleet_cli.render import StackRender

Files = Mapping[str, str]

GA_APIS = {
    "GitRepository": objects.SOURCE_API,
    "HelmRepository": objects.SOURCE_API,
    "OCIRepository": objects.SOURCE_API,
    "Bucket": objects.SOURCE_API,
    "Kustomization": objects.KUSTOMIZE_API,
    "HelmRelease": objects.HELM_API,
}
_DURATION = re.compile(DURATION_PATTERN)


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
        builds = _Builds(render, Path(scratch))
        findings = builds.check()
        walk = _place(render, repository_url, builds)
    findings += walk.findings
    for check in _CHECKS:
        findings += check(walk.placed)
    if lockdown:
        findings += _check_lockdown(walk.placed)
    return findings


_BUILD_CACHE: dict[str, list[K8sObject] | str] = {}
"""Builds by the content of everything a folder reads: objects, or kustomize's error."""


class _Builds:
    """Every kustomization folder of every branch, built as few times as kustomize allows.

    Only the top folders (those no other kustomization includes) are built up front: building
    a top builds everything it includes, so every folder is covered. A folder a Flux
    Kustomization points at below a top is built when asked for. When a top fails, its
    included folders are built one by one to name the deepest ones that fail.
    """

    def __init__(self, render: StackRender, scratch: Path) -> None:
        self.roots: dict[str, Path] = {}
        self.files = render.branches
        self.children: dict[tuple[str, str], list[str]] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._references: dict[tuple[str, str], list[str]] = {}
        for branch, files in render.branches.items():
            root = scratch / branch.replace("/", "_")
            self.roots[branch] = root
            for path, text in files.items():
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            for path in files:
                if posixpath.basename(path) == layout.KUSTOMIZATION_FILE:
                    folder = posixpath.dirname(path) or "."
                    self.children[(branch, folder)] = [
                        p
                        for p in self._named(branch, folder)
                        if layout.kustomization_file(p) in files
                    ]

    def check(self) -> list[Finding]:
        """Build the tops; a failing one is searched for the folders that fail."""
        included = {(b, child) for (b, _), children in self.children.items() for child in children}
        tops = [key for key in self.children if key not in included]
        self._build(tops)
        findings = []
        for key in tops:
            if isinstance(self._result(key), str):
                findings += self._culprits(key)
        return findings

    def objects(self, branch: str, folder: str) -> list[K8sObject] | None:
        """What the folder builds to; None when it has no kustomization or does not build."""
        key = (branch, folder)
        if key not in self.children:
            return None
        self._build([key])
        result = self._result(key)
        return None if isinstance(result, str) else result

    def _culprits(self, key: tuple[str, str]) -> list[Finding]:
        branch, folder = key
        children = [(branch, child) for child in self.children[key]]
        self._build(children)
        failing = [child for child in children if isinstance(self._result(child), str)]
        if not failing:
            return [Finding(f"{branch}:{folder}", f"does not build: {self._result(key)}")]
        return [finding for child in failing for finding in self._culprits(child)]

    def _named(self, branch: str, folder: str) -> list[str]:
        """The paths a folder's kustomization names, parsed once."""
        if (branch, folder) not in self._references:
            self._references[(branch, folder)] = _kustomization_references(
                self.files[branch], folder
            )
        return self._references[(branch, folder)]

    def _key(self, key: tuple[str, str]) -> str:
        """A hash of the folder's name and of every file its kustomization reads, transitively:
        the same key, the same build."""
        if key in self._keys:
            return self._keys[key]
        branch, folder = key
        files = self.files[branch]
        digest = hashlib.sha256(folder.encode())
        seen: set[str] = set()
        pending = [folder]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            own = layout.kustomization_file(current)
            digest.update(f"\0{own}\0{files.get(own, '')}".encode())
            for path in self._named(branch, current):
                if path in files:
                    digest.update(f"\0{path}\0{files[path]}".encode())
                else:
                    pending.append(path)
        self._keys[key] = digest.hexdigest()
        return self._keys[key]

    def _result(self, key: tuple[str, str]) -> list[K8sObject] | str:
        return _BUILD_CACHE[self._key(key)]

    def _build(self, keys: list[tuple[str, str]]) -> None:
        missing = {self._key(k): k for k in keys if self._key(k) not in _BUILD_CACHE}
        folders = [self.roots[branch] / folder for branch, folder in missing.values()]
        roots = [self.roots[branch] for branch, _ in missing.values()]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = pool.map(_build_or_error, folders, roots)
            for cache_key, result in zip(missing, results, strict=True):
                _BUILD_CACHE[cache_key] = result


def _build_or_error(folder: Path, root: Path) -> list[K8sObject] | str:
    try:
        return build(folder)
    except KustomizeError as error:
        return str(error).replace(f"{root}/", "")


def _kustomization_references(files: Mapping[str, str], folder: str) -> list[str]:
    """The paths a folder's kustomization names (resources and patch files), normalised."""
    own = layout.kustomization_file(folder)
    try:
        body = yamldoc.load(files.get(own, "")) or {}
    except yaml.YAMLError:
        return []
    if not isinstance(body, dict):
        return []
    patches = body.get("patches") or []
    named = [
        *(body.get("resources") or []),
        *(p.get("path") for p in patches if isinstance(p, dict)),
    ]
    return [posixpath.normpath(posixpath.join(folder, n)) for n in named if isinstance(n, str)]


def _place(render: StackRender, repository_url: str, builds: _Builds) -> _Walk:
    """Follow Kustomizations from what Pulumi applies to where every object lands."""
    walk = _Walk()
    pending = deque(
        _Placed(cluster, obj, "pulumi")
        for cluster, applied in render.clusters.items()
        for obj in applied
    )
    known: dict[tuple[str, tuple[str, str, str]], K8sObject] = {
        (item.cluster, objects.object_id(item.obj)): item.obj for item in pending
    }
    while pending:
        item = pending.popleft()
        walk.placed.append(item)
        if item.obj.get("kind") != "Kustomization":
            continue
        spec = item.obj.get("spec") or {}
        namespace = item.obj["metadata"].get("namespace", "")
        source = _find(known, item.cluster, spec.get("sourceRef"), namespace)
        if source is None or source.get("spec", {}).get("url") != repository_url:
            continue  # a tenant's own repository: not ours to build
        branch = source["spec"].get("ref", {}).get("branch", "")
        folder = layout.folder_of(str(spec.get("path", "")))
        where = f"{item.cluster}:{namespace}/{item.obj['metadata'].get('name')}"
        if branch not in render.branches:
            continue  # another stack's branch
        if (branch, folder) not in builds.children:
            walk.findings.append(
                Finding(where, f"path ./{folder} has no kustomization on branch {branch}")
            )
            continue
        built = builds.objects(branch, folder)
        if built is None:
            continue  # reported where it fails to build
        lands_on = _remote_of(spec, folder) if "kubeConfig" in spec else item.cluster
        for obj in built:
            known.setdefault((lands_on, objects.object_id(obj)), obj)
            pending.append(_Placed(lands_on, obj, where))
    return walk


def _remote_of(spec: Mapping[str, Any], folder: str) -> str:
    """The remote a Kustomization with a kubeconfig reaches: named by its `R-kubeconfig`."""
    secret = str(spec["kubeConfig"].get("secretRef", {}).get("name", ""))
    suffix = names.kubeconfig_secret("")
    return secret.removesuffix(suffix) if secret.endswith(suffix) else f"remote of {folder}"


def _find(
    known: Mapping[tuple[str, tuple[str, str, str]], K8sObject],
    cluster: str,
    reference: Any,
    namespace: str,
) -> K8sObject | None:
    if not isinstance(reference, Mapping):
        return None
    wanted = (
        str(reference.get("kind")),
        str(reference.get("namespace", namespace)),
        str(reference.get("name")),
    )
    return known.get((cluster, wanted))


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


def _check_references(placed: list[_Placed]) -> list[Finding]:
    """Every sourceRef and kubeConfig Secret exists in the object's namespace on its cluster."""
    present = {(item.cluster, objects.object_id(item.obj)) for item in placed}
    findings = []
    for item in placed:
        namespace = item.obj.get("metadata", {}).get("namespace", "")
        reference = objects.source_reference(item.obj)
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


def _check_tenants(placed: list[_Placed]) -> list[Finding]:
    """A tenant's Flux objects impersonate the tenant and stay in the tenant's namespace."""
    findings = []
    for item in placed:
        tenant = objects.tenant_of(item.obj)
        kind = item.obj.get("kind")
        if tenant is None or kind not in ("Kustomization", "HelmRelease", "GitRepository"):
            continue
        namespace = item.obj["metadata"].get("namespace", "")
        spec = item.obj.get("spec") or {}
        findings += [
            Finding(_where(item), f"a tenant Kustomization needs {key}")
            for key in objects.sandbox_gaps(item.obj)
        ]
        reference = objects.source_reference(item.obj)
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
        reference = objects.source_reference(item.obj)
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
