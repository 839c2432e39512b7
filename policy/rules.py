"""The fleet's invariants as plain functions of plain data, so that they are testable without an
engine: each takes a resource's type and inputs (and, where a rule needs them, its options) and
returns one message per violation; an empty list means the resource complies.

`policy/pack.py` wraps them as Pulumi policies; `pulumi preview --policy-pack policy` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from components import clusters, gitops_branch, kubernetes_objects, tree_store
from fleet import objects, yamldoc
from fleet.config import VERSION_PATTERN

GIT_WRITER = gitops_branch.GITOPS_BRANCH_TYPE
"""The dynamic resource that commits a branch's files; its input `tree` names them in this
machine's tree store (`components.tree_store`)."""
KUSTOMIZE_GROUP = objects.KUSTOMIZE_API.split("/")[0] + "/"
FLUX_INSTANCE_GROUP = objects.FLUX_INSTANCE_API.split("/")[0] + "/"
HELM_RELEASE = clusters.FLUX_OPERATOR_RELEASE_TYPE
FLUX_OPERATOR_CHART = clusters.FLUX_OPERATOR_RELEASE
MANAGED_CLUSTER = clusters.AKS_CLUSTER_TYPE
LOCAL_COMMAND = clusters.COMMAND_TYPE
K3D_CREATE = clusters.K3D_CREATE
KUBERNETES_PREFIX = kubernetes_objects.OBJECT_TYPE_PREFIX

ALLOW_UNPROTECTED_CLUSTERS = "allowUnprotectedClusters"
"""Policy config key of the cluster protection rule, for throwaway fleets."""

EXACT_VERSION = re.compile(VERSION_PATTERN)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
GITHUB_TOKEN = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b")
"""Classic tokens (ghp_, gho_, ghu_, ghs_, ghr_ and 36 characters) and fine-grained ones."""
KUBECONFIG_CREDENTIALS = ("client-key-data", "token", "password")


def _get(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _is_kind(resource_type: str, group: str, kind: str) -> bool:
    """Whether a Kubernetes type token (`kubernetes:<group>/<version>:<kind>`) is group's kind."""
    return resource_type.startswith(f"{KUBERNETES_PREFIX}{group}") and resource_type.endswith(
        f":{kind}"
    )


# ---------------------------------------------------------------- the git writer's files


@dataclass(frozen=True)
class CommittedFile:
    """One file the git writer commits, with its YAML documents when it parses as YAML."""

    path: str
    text: str
    documents: list[Any] | None
    """None: not YAML. Documents that are not mappings are kept as they are."""
    unreadable: str | None = None
    """Why the files could not be read, so none of them can be checked."""

    @property
    def objects(self) -> Iterator[Mapping[str, Any]]:
        """The documents that are objects (mappings)."""
        return (d for d in self.documents or [] if isinstance(d, Mapping))


def committed_files(resource_type: str, props: Mapping[str, Any]) -> list[CommittedFile]:
    """The files of a git writer resource, parsed; no files for any other resource."""
    if resource_type != GIT_WRITER:
        return []
    digest = props.get("tree")
    if not isinstance(digest, str):
        return [CommittedFile("the branch's files", "", None, unreadable="no tree is named")]
    try:
        files = tree_store.load(digest)
    except tree_store.TreeMissing as error:
        return [CommittedFile("the branch's files", "", None, unreadable=str(error))]
    parsed = []
    for path, text in files.items():
        if not isinstance(text, str):
            continue
        try:
            documents: list[Any] | None = yamldoc.load_all(text)
        except yaml.YAMLError:
            documents = None
        parsed.append(CommittedFile(str(path), text, documents))
    return parsed


def _name(obj: Mapping[str, Any]) -> str:
    return str(_get(obj, "metadata", "name") or "<unnamed>")


# ---------------------------------------------------------------- 1. tenant sandboxes


def _sandbox_problems(obj: Mapping[str, Any], where: str) -> list[str]:
    """A Kustomization labelled with a tenant must impersonate it and stay in its namespace."""
    return [
        f"{where} of tenant '{objects.tenant_of(obj)}' has no spec.{field}: without it the "
        "tenant's objects would be applied with the platform's rights or outside the tenant's "
        "namespace"
        for field in objects.sandbox_gaps(obj)
    ]


def tenant_kustomization_problems(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Tenant Kustomizations carry `serviceAccountName` and `targetNamespace`, whether Pulumi
    applies them or the git writer commits them."""
    if _is_kind(resource_type, KUSTOMIZE_GROUP, "Kustomization"):
        return _sandbox_problems(props, f"Kustomization '{_name(props)}'")
    files = committed_files(resource_type, props)
    return [f"{file.path}: {file.unreadable}" for file in files if file.unreadable] + [
        problem
        for file in files
        for obj in file.objects
        for problem in _sandbox_problems(obj, f"{file.path}: Kustomization '{_name(obj)}'")
    ]


# ---------------------------------------------------------------- 2. no secrets in git


def _object_secret_problems(path: str, obj: Mapping[str, Any]) -> list[str]:
    if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
        return [f"{path}: Secret '{_name(obj)}' carries data; Pulumi applies Secrets, git never"]
    users = obj.get("users")
    if not isinstance(users, Sequence) or isinstance(users, str):
        return []
    return [
        f"{path}: kubeconfig user '{_get(user, 'name') or '<unnamed>'}' carries {key}"
        for user in users
        for key in KUBECONFIG_CREDENTIALS
        if _get(user, "user", key)
    ]


def secret_material_problems(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No committed file holds a Secret's data, a private key, kubeconfig credentials or a
    GitHub token. Messages name the file and the kind of secret, never the secret itself."""
    problems = []
    for file in committed_files(resource_type, props):
        if file.unreadable:
            problems.append(f"{file.path}: {file.unreadable}, so it cannot be checked")
            continue
        if PRIVATE_KEY.search(file.text):
            problems.append(f"{file.path}: holds a PEM private key")
        prefixes = sorted({m.group(0).split("_", 1)[0] for m in GITHUB_TOKEN.finditer(file.text)})
        if prefixes:
            kinds = ", ".join(f"{prefix}_..." for prefix in prefixes)
            problems.append(f"{file.path}: holds what looks like a GitHub token ({kinds})")
        if file.documents is None and file.path.endswith((".yaml", ".yml")):
            problems.append(f"{file.path}: is not valid YAML, so it cannot be checked for secrets")
        for obj in file.objects:
            problems += _object_secret_problems(file.path, obj)
    return problems


# ---------------------------------------------------------------- 3. explicit providers


def is_default_provider(provider_urn: str) -> bool:
    """The engine names the providers it makes `default` or `default_<version>`."""
    name = provider_urn.rsplit("::", 1)[-1]
    return name == "default" or name.startswith("default_")


def explicit_provider_problems(resource_type: str, provider_urn: str | None) -> list[str]:
    """Every object in a cluster names its cluster's provider, so nothing lands in whatever
    ~/.kube/config points at. Resources the engine sends without a provider (components) are
    not objects in a cluster; `pulumi:providers:kubernetes` does not start with `kubernetes:`."""
    if not resource_type.startswith(KUBERNETES_PREFIX) or provider_urn is None:
        return []
    if is_default_provider(provider_urn):
        return [
            f"uses the default Kubernetes provider ({provider_urn.rsplit('::', 1)[-1]}); "
            "pass the cluster's provider explicitly"
        ]
    return []


# ---------------------------------------------------------------- 4. protected clusters


def is_provisioned_cluster(resource_type: str, props: Mapping[str, Any]) -> bool:
    """An AKS cluster, or the command that creates a k3d cluster."""
    if resource_type == MANAGED_CLUSTER:
        return True
    create = props.get("create") if resource_type == LOCAL_COMMAND else None
    return isinstance(create, str) and create.lstrip().startswith(K3D_CREATE)


def cluster_protection_problems(
    resource_type: str, props: Mapping[str, Any], protect: bool, allow_unprotected: bool
) -> list[str]:
    """Provisioned clusters are protected from deletion, unless the pack's config allows
    otherwise (`allowUnprotectedClusters`, for throwaway fleets)."""
    if protect or allow_unprotected or not is_provisioned_cluster(resource_type, props):
        return []
    return [
        "a provisioned cluster must be protected: set `protect: true` on the cluster (the "
        f"default), or set {ALLOW_UNPROTECTED_CLUSTERS} in the policy pack's config"
    ]


# ---------------------------------------------------------------- 5. pinned Flux


def _pinned(version: Any, what: str) -> list[str]:
    if isinstance(version, str) and EXACT_VERSION.match(version):
        return []
    return [f"{what} is {version!r}, not an exact version X.Y.Z: Flux must not move by itself"]


def flux_version_problems(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The FluxInstance's distribution and the Flux Operator chart are pinned to exact versions."""
    if _is_kind(resource_type, FLUX_INSTANCE_GROUP, "FluxInstance"):
        version = _get(props, "spec", "distribution", "version")
        return _pinned(version, "spec.distribution.version")
    chart = props.get("chart") if resource_type == HELM_RELEASE else None
    if isinstance(chart, str) and FLUX_OPERATOR_CHART in chart:
        return _pinned(props.get("version"), f"the version of chart {chart}")
    return []
