"""Which API resource an object is: its group, its plural resource name and its scope.

RBAC rules name resources by their plural (`clusterrolebindings`), not by kind, and a request's
scope (namespaced or cluster-wide) decides which bindings can grant it. The API server learns
both from discovery; offline, a table of the kinds the fleet uses stands in for discovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    """One kind as the API server serves it."""

    group: str
    """The API group; "" for the core group."""
    version: str
    kind: str
    resource: str
    """The plural resource name RBAC rules use, e.g. "clusterrolebindings"."""
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# (group, kind) -> (resource, namespaced). The version is left out: every version of a kind is
# served under the same resource name.
_CLUSTER = False
_NAMESPACED = True
_KNOWN: dict[tuple[str, str], tuple[str, bool]] = {
    # core/v1
    ("", "Namespace"): ("namespaces", _CLUSTER),
    ("", "ServiceAccount"): ("serviceaccounts", _NAMESPACED),
    ("", "Secret"): ("secrets", _NAMESPACED),
    ("", "ConfigMap"): ("configmaps", _NAMESPACED),
    ("", "Pod"): ("pods", _NAMESPACED),
    ("", "Service"): ("services", _NAMESPACED),
    ("", "Endpoints"): ("endpoints", _NAMESPACED),
    ("", "PersistentVolumeClaim"): ("persistentvolumeclaims", _NAMESPACED),
    ("", "PersistentVolume"): ("persistentvolumes", _CLUSTER),
    ("", "ResourceQuota"): ("resourcequotas", _NAMESPACED),
    ("", "LimitRange"): ("limitranges", _NAMESPACED),
    ("", "Event"): ("events", _NAMESPACED),
    ("", "Node"): ("nodes", _CLUSTER),
    ("", "ReplicationController"): ("replicationcontrollers", _NAMESPACED),
    # apps/v1, batch/v1
    ("apps", "Deployment"): ("deployments", _NAMESPACED),
    ("apps", "StatefulSet"): ("statefulsets", _NAMESPACED),
    ("apps", "DaemonSet"): ("daemonsets", _NAMESPACED),
    ("apps", "ReplicaSet"): ("replicasets", _NAMESPACED),
    ("apps", "ControllerRevision"): ("controllerrevisions", _NAMESPACED),
    ("batch", "Job"): ("jobs", _NAMESPACED),
    ("batch", "CronJob"): ("cronjobs", _NAMESPACED),
    # rbac.authorization.k8s.io/v1
    ("rbac.authorization.k8s.io", "Role"): ("roles", _NAMESPACED),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("rolebindings", _NAMESPACED),
    ("rbac.authorization.k8s.io", "ClusterRole"): ("clusterroles", _CLUSTER),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("clusterrolebindings", _CLUSTER),
    # networking, policy, autoscaling, coordination, discovery, events
    ("networking.k8s.io", "NetworkPolicy"): ("networkpolicies", _NAMESPACED),
    ("networking.k8s.io", "Ingress"): ("ingresses", _NAMESPACED),
    ("networking.k8s.io", "IngressClass"): ("ingressclasses", _CLUSTER),
    ("policy", "PodDisruptionBudget"): ("poddisruptionbudgets", _NAMESPACED),
    ("autoscaling", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", _NAMESPACED),
    ("coordination.k8s.io", "Lease"): ("leases", _NAMESPACED),
    ("discovery.k8s.io", "EndpointSlice"): ("endpointslices", _NAMESPACED),
    ("events.k8s.io", "Event"): ("events", _NAMESPACED),
    # cluster-wide machinery
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ("customresourcedefinitions", _CLUSTER),
    ("apiregistration.k8s.io", "APIService"): ("apiservices", _CLUSTER),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (
        "validatingwebhookconfigurations",
        _CLUSTER,
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (
        "mutatingwebhookconfigurations",
        _CLUSTER,
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): (
        "validatingadmissionpolicies",
        _CLUSTER,
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): (
        "validatingadmissionpolicybindings",
        _CLUSTER,
    ),
    ("storage.k8s.io", "StorageClass"): ("storageclasses", _CLUSTER),
    ("scheduling.k8s.io", "PriorityClass"): ("priorityclasses", _CLUSTER),
    ("node.k8s.io", "RuntimeClass"): ("runtimeclasses", _CLUSTER),
    # Flux
    ("source.toolkit.fluxcd.io", "GitRepository"): ("gitrepositories", _NAMESPACED),
    ("source.toolkit.fluxcd.io", "HelmRepository"): ("helmrepositories", _NAMESPACED),
    ("source.toolkit.fluxcd.io", "OCIRepository"): ("ocirepositories", _NAMESPACED),
    ("source.toolkit.fluxcd.io", "Bucket"): ("buckets", _NAMESPACED),
    ("source.toolkit.fluxcd.io", "HelmChart"): ("helmcharts", _NAMESPACED),
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): ("kustomizations", _NAMESPACED),
    ("helm.toolkit.fluxcd.io", "HelmRelease"): ("helmreleases", _NAMESPACED),
    ("notification.toolkit.fluxcd.io", "Provider"): ("providers", _NAMESPACED),
    ("notification.toolkit.fluxcd.io", "Alert"): ("alerts", _NAMESPACED),
    ("notification.toolkit.fluxcd.io", "Receiver"): ("receivers", _NAMESPACED),
    ("image.toolkit.fluxcd.io", "ImageRepository"): ("imagerepositories", _NAMESPACED),
    ("image.toolkit.fluxcd.io", "ImagePolicy"): ("imagepolicies", _NAMESPACED),
    ("image.toolkit.fluxcd.io", "ImageUpdateAutomation"): ("imageupdateautomations", _NAMESPACED),
    ("fluxcd.controlplane.io", "FluxInstance"): ("fluxinstances", _NAMESPACED),
    ("fluxcd.controlplane.io", "FluxReport"): ("fluxreports", _NAMESPACED),
    ("fluxcd.controlplane.io", "ResourceSet"): ("resourcesets", _NAMESPACED),
    ("fluxcd.controlplane.io", "ResourceSetInputProvider"): (
        "resourcesetinputproviders",
        _NAMESPACED,
    ),
}


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); a bare version (`v1`) is the core group."""
    group, _, version = api_version.rpartition("/")
    return group, version


def plural(kind: str) -> str:
    """The conventional plural resource name of a kind nobody told us about.

    The API server's guess (meta.UnsafeGuessKindToResource) lower-cases the kind, leaves
    "...endpoints" alone, turns "...y" into "...ies" and adds "es" after "s"; this also adds "es"
    after "x", "ch" and "sh", as the CRD generators do. A CRD may declare any plural: register
    real ones in the table rather than trusting this.
    Ref: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apimachinery/pkg/api/meta/restmapper.go
    """
    name = kind.lower()
    if not name or name.endswith("endpoints"):
        return name
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    if name.endswith("y"):
        return name[:-1] + "ies"
    return name + "s"


def kind_of(api_version: str, kind: str) -> Kind:
    """The kind behind an apiVersion and kind; unknown kinds are guessed, and namespaced."""
    group, version = split_api_version(api_version)
    resource, namespaced = _KNOWN.get((group, kind), (plural(kind), _NAMESPACED))
    return Kind(group, version, kind, resource, namespaced)


def kind_of_object(obj: Mapping[str, Any]) -> Kind:
    """The kind of an object given as a dict with Kubernetes' own keys."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"an object without a kind: {dict(obj.get('metadata') or {})}")
    api_version = obj.get("apiVersion")
    return kind_of(api_version if isinstance(api_version, str) else "", kind)


def is_cluster_scoped(obj: Mapping[str, Any]) -> bool:
    """Whether the object lives outside namespaces (its metadata.namespace means nothing)."""
    return not kind_of_object(obj).namespaced


EXTENSION_SUFFIX = ".fluxcd.io"
"""Groups served only where their CRDs are installed (Flux's, the Flux Operator's)."""


def is_builtin(kind: Kind) -> bool:
    """Served by every API server, no CRD needed."""
    return (kind.group, kind.kind) in _KNOWN and not kind.group.endswith(EXTENSION_SUFFIX)
