"""Kubernetes and Flux objects as plain dicts, with the CRDs' own camelCase keys.

The same dicts are committed to git and applied by Pulumi, so there is one definition of each
object. Only GA Flux APIs are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet import names

K8sObject = dict[str, Any]

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
FLUX_INSTANCE_API = "fluxcd.controlplane.io/v1"
NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1beta3"
"""Flux's Provider and Alert: https://fluxcd.io/flux/components/notification/"""
ADDRESS_KEY = "address"
"""The key of a Provider's Secret that holds the webhook URL."""

KUBECONFIG_KEY = "value"
"""The key of a kubeconfig Secret that Flux reads first."""

PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"
SSA_ANNOTATION = "kustomize.toolkit.fluxcd.io/ssa"
IF_NOT_PRESENT = {SSA_ANNOTATION: "IfNotPresent"}
"""Flux creates the object if it is missing and never changes one that exists. An existing one
never gets Flux's owner labels either, and Flux prunes only objects that carry them: what may
have existed before the fleet (a namespace) is never taken over, nor later deleted.
Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#controlling-the-apply-behavior-of-resources
"""
NEVER_PRUNED = {PRUNE_ANNOTATION: "disabled"}
"""Flux never deletes the object: what must outlive the Kustomization that applied it."""
WAIT_FOR_TERMINATION = "WaitForTermination"
"""A deleted Kustomization waits until what it applied is gone, finalizers included: Flux
objects it applied then prune their own objects before it is gone.
Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#deletion-policy"""
POD_SECURITY_LABELS = ("enforce", "audit", "warn")
"""The Pod Security admission modes a tenant namespace sets, all to the tenant's level.
Ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces
"""


def _metadata(
    name: str,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata


def namespace(
    name: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _metadata(name, labels=labels, annotations=annotations),
    }


def pod_security_labels(level: str) -> dict[str, str]:
    """A namespace's Pod Security admission labels: every mode at `level`, the latest version."""
    labels = {}
    for mode in POD_SECURITY_LABELS:
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return labels


def tenant_labels(tenant: str) -> dict[str, str]:
    return {names.TENANT_LABEL: tenant}


def tenant_of(obj: Mapping[str, Any]) -> str | None:
    """The tenant an object belongs to, by its label."""
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    tenant = labels.get(names.TENANT_LABEL) if isinstance(labels, Mapping) else None
    return str(tenant) if tenant else None


SANDBOX_FIELDS = ("serviceAccountName", "targetNamespace")
"""What keeps a tenant's Kustomization in its sandbox: the account whose rights it applies
with, and the namespace its objects land in."""


def sandbox_gaps(obj: Mapping[str, Any]) -> list[str]:
    """The sandbox fields a tenant's Flux Kustomization lacks; none for any other object."""
    is_kustomization = obj.get("kind") == "Kustomization" and str(
        obj.get("apiVersion", "")
    ).startswith(KUSTOMIZE_API.split("/")[0] + "/")
    if not is_kustomization or tenant_of(obj) is None:
        return []
    spec = obj.get("spec")
    return [f for f in SANDBOX_FIELDS if not (isinstance(spec, Mapping) and spec.get(f))]


def service_account(
    name: str,
    namespace: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(name, namespace, labels, annotations),
    }


def _binding(
    kind: str,
    name: str,
    namespace: str | None,
    role: str,
    account: str,
    account_namespace: str,
    labels: Mapping[str, str] | None,
) -> K8sObject:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _metadata(name, namespace, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
    }


def role_binding(
    name: str,
    namespace: str,
    role: str,
    account: str,
    account_namespace: str,
    labels: Mapping[str, str] | None = None,
) -> K8sObject:
    """ClusterRole `role`'s rights inside `namespace` only, for one service account."""
    return _binding("RoleBinding", name, namespace, role, account, account_namespace, labels)


def cluster_role_binding(name: str, role: str, account: str, account_namespace: str) -> K8sObject:
    """ClusterRole `role`'s rights everywhere, for one service account."""
    return _binding("ClusterRoleBinding", name, None, role, account, account_namespace, None)


def platform_cluster_role_binding(namespace: str, also: Sequence[str] = ()) -> K8sObject:
    """The platform's Kustomizations in `namespace` create namespaces, RBAC and whatever infra
    brings, so the account they impersonate is cluster-admin; so is the platform account of
    each namespace in `also`."""
    binding = cluster_role_binding(
        names.platform_binding(namespace), "cluster-admin", names.PLATFORM_ACCOUNT, namespace
    )
    binding["subjects"] += [
        {"kind": "ServiceAccount", "name": names.PLATFORM_ACCOUNT, "namespace": other}
        for other in also
    ]
    return binding


def network_isolation(name: str, namespace: str) -> K8sObject:
    """Default deny: in, only from the namespace itself; out, only to it and to DNS."""
    same_namespace: list[dict[str, Any]] = [{"podSelector": {}}]
    dns = {
        "to": [{"namespaceSelector": {}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, namespace),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": same_namespace}],
            "egress": [{"to": same_namespace}, dns],
        },
    }


def resource_quota(name: str, namespace: str, hard: Mapping[str, str | int]) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata(name, namespace),
        "spec": {"hard": {k: str(v) for k, v in hard.items()}},
    }


def limit_range(name: str, namespace: str, limits: Sequence[Mapping[str, Any]]) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata(name, namespace),
        "spec": {"limits": [dict(limit) for limit in limits]},
    }


def git_repository(
    name: str,
    namespace: str,
    url: str,
    branch: str,
    interval: str,
    secret_ref: str | None = None,
    labels: Mapping[str, str] | None = None,
    commit: str | None = None,
) -> K8sObject:
    """A Git source; with `commit`, Flux checks out that commit of `branch` and no other.
    Ref: https://fluxcd.io/flux/components/source/gitrepositories/#commit-example"""
    ref: dict[str, str] = {"branch": branch}
    if commit is not None:
        ref["commit"] = commit
    spec: dict[str, Any] = {"interval": interval, "url": url, "ref": ref}
    if secret_ref is not None:
        spec["secretRef"] = {"name": secret_ref}
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": _metadata(name, namespace, labels),
        "spec": spec,
    }


def kustomization(
    name: str,
    namespace: str,
    path: str,
    source: str,
    interval: str,
    *,
    service_account: str,
    prune: bool = True,
    target_namespace: str | None = None,
    kube_config: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    deletion_policy: str | None = None,
    post_build: Mapping[str, Any] | None = None,
    depends_on: Sequence[str] = (),
    health: Health | None = None,
) -> K8sObject:
    """A Flux Kustomization reading `path` of the GitRepository `source` in its own namespace."""
    spec: dict[str, Any] = {
        "interval": interval,
        "path": path,
        "prune": prune,
        "sourceRef": {"kind": "GitRepository", "name": source},
        "serviceAccountName": service_account,
    }
    if target_namespace is not None:
        spec["targetNamespace"] = target_namespace
    if kube_config is not None:
        spec["kubeConfig"] = dict(kube_config)
    if deletion_policy is not None:
        spec["deletionPolicy"] = deletion_policy
    if post_build:
        spec["postBuild"] = dict(post_build)
    if depends_on:
        # Kustomizations of the same namespace: the lockdown refuses cross-namespace ones.
        spec["dependsOn"] = [{"name": name} for name in depends_on]
    if health is not None:
        spec["wait"] = True
        spec["timeout"] = health.timeout
        spec["retryInterval"] = health.retry_interval
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": _metadata(name, namespace, labels),
        "spec": spec,
    }


@dataclass(frozen=True)
class Health:
    """A Kustomization that is Ready only once everything it applied is (`wait`), within
    `timeout`, tried again after `retry_interval` when it fails:
    https://fluxcd.io/flux/components/kustomize/kustomizations/#wait"""

    timeout: str
    retry_interval: str


def notification_provider(
    name: str, namespace: str, kind: str, secret: str, channel: str | None = None
) -> K8sObject:
    """A Provider whose address is in the Secret `secret` (key `address`), never in git."""
    spec: dict[str, Any] = {"type": kind, "secretRef": {"name": secret}}
    if channel is not None:
        spec["channel"] = channel
    return {
        "apiVersion": NOTIFICATION_API,
        "kind": "Provider",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }


def commit_status_provider(name: str, namespace: str, repository: str, secret: str) -> K8sObject:
    """A GitHub Provider that sets commit statuses on `repository` with the token in `secret`
    (key `token`): https://fluxcd.io/flux/components/notification/providers/#github"""
    return {
        "apiVersion": NOTIFICATION_API,
        "kind": "Provider",
        "metadata": _metadata(name, namespace),
        "spec": {"type": "github", "address": repository, "secretRef": {"name": secret}},
    }


def alert(
    name: str,
    namespace: str,
    provider: str,
    severity: str,
    match_labels: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
    kinds: Sequence[str] = ("Kustomization", "HelmRelease"),
) -> K8sObject:
    """An Alert on every Kustomization and HelmRelease of its own namespace (the lockdown
    refuses others), or of those labelled `match_labels`."""
    source: dict[str, Any] = {"name": "*"}
    if match_labels:
        source["matchLabels"] = dict(match_labels)
    spec: dict[str, Any] = {
        "providerRef": {"name": provider},
        "eventSeverity": severity,
        "eventSources": [{"kind": k, **source} for k in kinds],
    }
    if metadata:
        spec["eventMetadata"] = dict(metadata)
    return {
        "apiVersion": NOTIFICATION_API,
        "kind": "Alert",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }


def post_build(substitute: Mapping[str, str], secret: str | None = None) -> dict[str, Any]:
    """A Kustomization's `postBuild`: variables inline, and a Secret of secret ones (in the
    Kustomization's namespace, as lockdown requires)."""
    found: dict[str, Any] = {}
    if substitute:
        found["substitute"] = dict(substitute)
    if secret is not None:
        found["substituteFrom"] = [{"kind": "Secret", "name": secret}]
    return found


def helm_repository(name: str, namespace: str, url: str, interval: str) -> K8sObject:
    spec: dict[str, Any] = {"interval": interval, "url": url}
    if url.startswith("oci://"):
        spec["type"] = "oci"
    return {
        "apiVersion": SOURCE_API,
        "kind": "HelmRepository",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }


def helm_release(
    name: str,
    namespace: str,
    chart: str,
    version: str,
    source: str,
    interval: str,
    values: Mapping[str, Any],
    *,
    service_account: str | None = None,
    target_namespace: str | None = None,
    kube_config: Mapping[str, Any] | None = None,
    values_from: Sequence[Mapping[str, str]] = (),
) -> K8sObject:
    """A HelmRelease whose chart comes from the HelmRepository `source` in its own namespace.

    With `kube_config` (`fleet.reach.kube_config`) it installs on a remote cluster into
    `target_namespace` there;
    `values_from` are Flux's references to values in Secrets beside it, merged under `values`.
    """
    spec: dict[str, Any] = {
        "interval": interval,
        "chart": {
            "spec": {
                "chart": chart,
                "version": version,
                "sourceRef": {"kind": "HelmRepository", "name": source},
            }
        },
        "values": dict(values),
    }
    if values_from:
        spec["valuesFrom"] = [dict(reference) for reference in values_from]
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    if target_namespace is not None:
        spec["targetNamespace"] = target_namespace
        spec["storageNamespace"] = target_namespace
        spec["install"] = {"createNamespace": True}
    if kube_config is not None:
        spec["kubeConfig"] = dict(kube_config)
    return {
        "apiVersion": HELM_API,
        "kind": "HelmRelease",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }


def flux_instance(
    version: str,
    registry: str,
    components: Sequence[str],
    *,
    multitenant: bool,
    cluster_type: str,
) -> K8sObject:
    """The Flux Operator's FluxInstance: Flux itself, pinned to one version.

    Multi-tenant, it locks down workload identity too: a tenant's source, decryption or
    kubeconfig that names a cloud provider and no account would otherwise authenticate as the
    controller itself (its cloud identity, or the node's), with the platform's access.
    Ref: https://fluxcd.io/flux/installation/configuration/workload-identity/ and the
    operator's `cluster.multitenantWorkloadIdentity` (Flux 2.7 and later)."""
    cluster: dict[str, Any] = {
        "type": cluster_type,
        "multitenant": multitenant,
        "networkPolicy": True,
        "domain": "cluster.local",
    }
    if multitenant:
        cluster["multitenantWorkloadIdentity"] = True
        cluster["objectLevelWorkloadIdentity"] = True
    return {
        "apiVersion": FLUX_INSTANCE_API,
        "kind": "FluxInstance",
        "metadata": _metadata("flux", names.FLUX_NAMESPACE),
        "spec": {
            "distribution": {"version": version, "registry": registry},
            "components": list(components),
            "cluster": cluster,
        },
    }


OPAQUE_SECRET = "Opaque"
DOCKER_CONFIG_SECRET = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_KEY = ".dockerconfigjson"


def secret(name: str, namespace: str, secret_type: str = OPAQUE_SECRET) -> K8sObject:
    """A Secret without its data: values are Pulumi secrets, filled in only where it is applied."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace),
        "type": secret_type,
    }


def object_id(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name): what makes an object the same object on a cluster."""
    metadata = obj.get("metadata", {})
    return (str(obj.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name")))


ObjectId = tuple[str, str, str]

SOURCE_KINDS = ("GitRepository", "HelmRepository", "OCIRepository", "Bucket")


def source_reference(obj: Mapping[str, Any]) -> Any:
    """The `sourceRef` a Flux object reads from (a HelmRelease's is in its chart template)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "HelmRelease":
        return (spec.get("chart") or {}).get("spec", {}).get("sourceRef")
    return spec.get("sourceRef")


def references(obj: Mapping[str, Any]) -> set[ObjectId]:
    """The objects `obj` uses on its cluster: its namespace, the account it impersonates, its
    source, and the Secrets it reads (credentials, kubeconfig). Creating it after them and
    deleting it before them is what keeps a Kustomization able to prune."""
    metadata = obj.get("metadata", {})
    namespace = str(metadata.get("namespace", ""))
    spec = obj.get("spec") or {}
    found: set[ObjectId] = set()
    if namespace:
        found.add(("Namespace", "", namespace))
    account = spec.get("serviceAccountName")
    if account:
        found.add(("ServiceAccount", namespace, str(account)))
    source = source_reference(obj)
    if isinstance(source, Mapping):
        found.add((str(source.get("kind")), namespace, str(source.get("name"))))
    for secret in (spec.get("secretRef"), spec.get("kubeConfig", {}).get("secretRef")):
        if isinstance(secret, Mapping):
            found.add(("Secret", namespace, str(secret.get("name"))))
    config_map = spec.get("kubeConfig", {}).get("configMapRef")
    if isinstance(config_map, Mapping):
        found.add(("ConfigMap", namespace, str(config_map.get("name"))))
    return found


def bound_accounts(obj: Mapping[str, Any]) -> set[ObjectId]:
    """The service accounts a (Cluster)RoleBinding gives rights to."""
    if obj.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
        return set()
    return {
        ("ServiceAccount", str(s.get("namespace", "")), str(s.get("name")))
        for s in obj.get("subjects", [])
        if s.get("kind") == "ServiceAccount"
    }
