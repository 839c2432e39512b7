"""One cluster as the simulation sees it: the objects on it and who applied each, the kinds its
API server serves, its RBAC, and its Flux, if it runs Flux.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet import names, objects
from fleet.objects import K8sObject, ObjectId
from fleet_cli.simulation import kinds
from fleet_cli.simulation.rbac import Authorizer

CLUSTER = "the cluster"
"""The applier of what a cluster has by itself: its namespaces, their default accounts."""
PULUMI = "pulumi"
"""The applier prefix of what a stack applies with the cluster's admin kubeconfig."""

_BASELINE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""What every new cluster has."""

FLUX_CONTROLLER_KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "source-controller": (
        ("source.toolkit.fluxcd.io", "GitRepository"),
        ("source.toolkit.fluxcd.io", "HelmRepository"),
        ("source.toolkit.fluxcd.io", "OCIRepository"),
        ("source.toolkit.fluxcd.io", "Bucket"),
        ("source.toolkit.fluxcd.io", "HelmChart"),
    ),
    "kustomize-controller": (("kustomize.toolkit.fluxcd.io", "Kustomization"),),
    "helm-controller": (("helm.toolkit.fluxcd.io", "HelmRelease"),),
    "notification-controller": (
        ("notification.toolkit.fluxcd.io", "Provider"),
        ("notification.toolkit.fluxcd.io", "Alert"),
        ("notification.toolkit.fluxcd.io", "Receiver"),
    ),
    "image-reflector-controller": (
        ("image.toolkit.fluxcd.io", "ImageRepository"),
        ("image.toolkit.fluxcd.io", "ImagePolicy"),
    ),
    "image-automation-controller": (("image.toolkit.fluxcd.io", "ImageUpdateAutomation"),),
}
"""The CRDs each Flux controller brings."""

OPERATOR_KINDS = (
    ("fluxcd.controlplane.io", "FluxInstance"),
    ("fluxcd.controlplane.io", "FluxReport"),
    ("fluxcd.controlplane.io", "ResourceSet"),
    ("fluxcd.controlplane.io", "ResourceSetInputProvider"),
)
"""The CRDs the Flux Operator's chart brings."""


@dataclass(frozen=True)
class FluxSettings:
    """Flux on a cluster, as its FluxInstance installs it.

    The multi-tenant profile adds `--no-cross-namespace-refs=true` to the controllers that
    follow references, `--no-remote-bases=true` to kustomize-controller, and
    `--default-service-account=<tenantDefaultServiceAccount or default>` to kustomize- and
    helm-controller.
    Ref: https://github.com/controlplaneio-fluxcd/flux-operator/blob/main/internal/builder/profiles.go
    """

    controllers: frozenset[str]
    no_cross_namespace_refs: bool
    no_remote_bases: bool
    default_service_account: str | None
    object_level_workload_identity: bool = False
    """`cluster.objectLevelWorkloadIdentity`: without it the operator turns the feature gate
    off, and an object naming an account to sign in to a cloud as is refused (Flux 2.7+)."""

    @classmethod
    def of_instance(cls, instance: Mapping[str, Any]) -> FluxSettings:
        spec = instance.get("spec") or {}
        cluster = spec.get("cluster") or {}
        lockdown = bool(cluster.get("multitenant"))
        default = cluster.get("tenantDefaultServiceAccount") or "default"
        return cls(
            controllers=frozenset(str(c) for c in spec.get("components") or ()),
            no_cross_namespace_refs=lockdown,
            no_remote_bases=lockdown,
            default_service_account=str(default) if lockdown else None,
            object_level_workload_identity=bool(cluster.get("objectLevelWorkloadIdentity")),
        )


CONTROLLER_NAMESPACE = names.FLUX_NAMESPACE


def controller_account(controller: str) -> tuple[str, str]:
    """The namespace and name of a Flux controller's own service account."""
    return CONTROLLER_NAMESPACE, controller


@dataclass
class Landed:
    """An object on a cluster, and what applied it."""

    obj: K8sObject
    applier: str


@dataclass
class ClusterState:
    """Everything the simulation knows about one cluster."""

    name: str
    objects: dict[ObjectId, Landed] = field(default_factory=dict)
    authorizer: Authorizer = field(default_factory=Authorizer)
    flux: FluxSettings | None = None
    operator: bool = False
    """Whether the Flux Operator's chart is installed (it serves FluxInstance)."""

    def __post_init__(self) -> None:
        for namespace in _BASELINE_NAMESPACES:
            self.put(objects.namespace(namespace), CLUSTER)

    # ---------------------------------------------------------------- objects

    def get(self, object_id: ObjectId) -> Landed | None:
        return self.objects.get(object_id)

    def has(self, kind: str, namespace: str, name: str) -> bool:
        return (kind, namespace, name) in self.objects

    def namespace_exists(self, namespace: str) -> bool:
        return ("Namespace", "", namespace) in self.objects

    def put(self, obj: K8sObject, applier: str) -> None:
        """The object lands (or is updated) as `applier` left it. A new Namespace gets its
        `default` ServiceAccount, as the service account controller makes it.
        Ref: https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
        """
        object_id = objects.object_id(obj)
        new_namespace = object_id[0] == "Namespace" and object_id not in self.objects
        self.objects[object_id] = Landed(obj, applier)
        self.authorizer.add(obj)
        if new_namespace:
            self.put(objects.service_account("default", object_id[2]), CLUSTER)

    def remove(self, object_id: ObjectId) -> list[Landed]:
        """Delete an object; a Namespace takes every object in it along. Returns what went."""
        landed = self.objects.pop(object_id, None)
        if landed is None:
            return []
        self.authorizer.remove(landed.obj)
        gone = [landed]
        kind, _, name = object_id
        if kind == "Namespace":
            for inside in [i for i in self.objects if i[1] == name]:
                gone += self.remove(inside)
        return gone

    def by_kind(self, *wanted: str) -> list[tuple[ObjectId, Landed]]:
        return sorted((i, o) for i, o in self.objects.items() if i[0] in wanted)

    # ---------------------------------------------------------------- API

    def serves(self, kind: kinds.Kind) -> bool:
        """Whether the API server knows this kind: built in, or one of its CRDs is installed."""
        if kinds.is_builtin(kind):
            return True
        wanted = (kind.group, kind.kind)
        if self.operator and wanted in OPERATOR_KINDS:
            return True
        if self.flux is not None and any(
            wanted in FLUX_CONTROLLER_KINDS.get(c, ()) for c in self.flux.controllers
        ):
            return True
        return any(_defines(landed.obj, wanted) for landed in self._crds())

    def _crds(self) -> Iterable[Landed]:
        return (o for i, o in self.objects.items() if i[0] == "CustomResourceDefinition")

    def install_flux(self, instance: Mapping[str, Any]) -> None:
        """A FluxInstance is Ready: its controllers run with their flags, their CRDs are served,
        their accounts bound to cluster-admin (Flux's default install), and Flux's aggregated
        roles extend admin, edit and view."""
        self.flux = FluxSettings.of_instance(instance)
        for controller in sorted(self.flux.controllers):
            namespace, account = controller_account(controller)
            self.put(objects.service_account(account, namespace), "flux")
        self.put(_controllers_binding(sorted(self.flux.controllers)), "flux")
        for role in _FLUX_AGGREGATED_ROLES:
            self.put(role, "flux")


def _defines(crd: K8sObject, wanted: tuple[str, str]) -> bool:
    spec = crd.get("spec") or {}
    return (spec.get("group"), (spec.get("names") or {}).get("kind")) == wanted


def _controllers_binding(controllers: list[str]) -> K8sObject:
    """Flux's default install binds its controllers to cluster-admin (`cluster-reconciler`).
    Ref: https://github.com/fluxcd/flux2/blob/main/manifests/rbac/reconciler.yaml"""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"cluster-reconciler-{CONTROLLER_NAMESPACE}"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": c, "namespace": CONTROLLER_NAMESPACE}
            for c in controllers
        ],
    }


_FLUX_GROUPS = [
    "notification.toolkit.fluxcd.io",
    "source.toolkit.fluxcd.io",
    "source.extensions.fluxcd.io",
    "helm.toolkit.fluxcd.io",
    "image.toolkit.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
]
_WRITE = ("create", "delete", "deletecollection", "patch", "update")
_FLUX_AGGREGATED_ROLES: list[K8sObject] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {f"rbac.authorization.k8s.io/aggregate-to-{role}": "true" for role in to},
        },
        "rules": [{"apiGroups": _FLUX_GROUPS, "resources": ["*"], "verbs": verbs}],
    }
    for name, to, verbs in (
        (
            "flux-edit",
            ("admin", "edit"),
            ["create", "delete", "deletecollection", "patch", "update"],
        ),
        ("flux-view", ("admin", "edit", "view"), ["get", "list", "watch"]),
    )
]
"""Flux's ClusterRoles that extend the built-in admin, edit and view to its own kinds.
Ref: https://github.com/fluxcd/flux2/blob/main/manifests/rbac/edit.yaml (and view.yaml)"""
