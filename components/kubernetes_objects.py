"""Applying the fleet's plain-dict Kubernetes objects as typed Pulumi resources.

The objects come from `fleet.objects` and `fleet.wiring`, the same functions that render git;
this module only picks the Pulumi resource that carries each one, gives it a stable name, its
cluster's provider, and the order in which it may be created and deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.secrets import SecretSources, secret_object
from fleet.config import ClusterConfig
from fleet.objects import K8sObject, object_id
from fleet.wiring import Wiring

WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
"""Pulumi waits until the object's status matches this annotation's condition."""


@dataclass(frozen=True)
class ClusterTarget:
    """A management cluster as a place to apply objects."""

    cluster: ClusterConfig
    provider: pulumi.ProviderResource
    flux: pulumi.Resource | None
    """The FluxInstance this stack installed there, which Flux objects wait for; None when
    another stack (main) installed Flux."""


def cluster_provider(
    name: str, cluster: ClusterConfig, kubeconfig: pulumi.Input[str], parent: pulumi.Resource
) -> kubernetes.Provider:
    """The one way to reach a cluster.

    `cluster_identifier` is the cluster's name, so a rotated kubeconfig updates the provider
    instead of replacing everything on the cluster. Existing objects are never adopted
    (`upsert_existing_objects` off, whatever the environment says): an object the program did
    not create, a namespace above all, is never the program's to delete.
    """
    return kubernetes.Provider(
        name,
        kubeconfig=kubeconfig,
        cluster_identifier=cluster.name,
        upsert_existing_objects=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def resource_name(owner: str, obj: Mapping[str, Any]) -> str:
    """`<owner>-<kind>-[<namespace>-]<name>`: unique in the stack, stable while the object is.

    URNs do not contain parent names, so the owner (a component, and its cluster when the
    component spans clusters) is part of every name.
    """
    kind, namespace, name = object_id(obj)
    return "-".join(part for part in (owner, kind.lower(), namespace, name) if part)


def is_custom(obj: Mapping[str, Any]) -> bool:
    """A custom resource (Flux, the Flux Operator), not a built-in Kubernetes kind."""
    api_version = str(obj["apiVersion"])
    group = api_version.split("/")[0] if "/" in api_version else ""
    return "." in group and not group.endswith(".k8s.io")


def apply_object(owner: str, obj: K8sObject, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """One object as its typed resource; a Secret's `stringData` may hold Pulumi secrets."""
    name = resource_name(owner, obj)
    metadata = obj["metadata"]
    resource: pulumi.CustomResource
    match obj["apiVersion"], obj["kind"]:
        case "v1", "Namespace":
            resource = kubernetes.core.v1.Namespace(name, metadata=metadata, opts=opts)
        case "v1", "ServiceAccount":
            resource = kubernetes.core.v1.ServiceAccount(name, metadata=metadata, opts=opts)
        case "v1", "Secret":
            resource = kubernetes.core.v1.Secret(
                name,
                metadata=metadata,
                type=obj["type"],
                string_data=obj["stringData"],
                opts=opts,
            )
        case "rbac.authorization.k8s.io/v1", "ClusterRoleBinding":
            resource = kubernetes.rbac.v1.ClusterRoleBinding(
                name,
                metadata=metadata,
                role_ref=obj["roleRef"],
                subjects=obj["subjects"],
                opts=opts,
            )
        case api_version, kind if is_custom(obj):
            resource = kubernetes.apiextensions.CustomResource(
                name,
                api_version=api_version,
                kind=kind,
                metadata=metadata,
                spec=obj["spec"],
                opts=opts,
            )
        case api_version, kind:
            raise ValueError(f"no typed resource for {api_version} {kind}")
    return resource


def apply_objects(
    owner: str, objs: Sequence[K8sObject], target: ClusterTarget, parent: pulumi.Resource
) -> None:
    """Objects on one cluster, in an order that is safe to create and to delete.

    Everything waits for Flux (its namespace `flux-system` comes with it). Objects wait for
    the namespace they live in when it is applied here. Flux objects wait for every plain
    object here (namespaces, accounts, bindings, Secrets): they are created after them and
    deleted before them, so a Kustomization can still prune with its account and kubeconfig.
    """
    flux = [target.flux] if target.flux is not None else []

    def options(depends_on: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=parent, provider=target.provider, depends_on=[*flux, *depends_on]
        )

    namespaces = {
        obj["metadata"]["name"]: apply_object(owner, obj, options([]))
        for obj in objs
        if obj["kind"] == "Namespace"
    }
    plain = [
        apply_object(owner, obj, options(_own_namespace(obj, namespaces)))
        for obj in objs
        if obj["kind"] != "Namespace" and not is_custom(obj)
    ]
    plain_and_namespaces = [*namespaces.values(), *plain]
    for obj in objs:
        if is_custom(obj):
            apply_object(owner, obj, options(plain_and_namespaces))


def apply_wiring(
    owner: str,
    wiring: Wiring,
    target: ClusterTarget,
    sources: SecretSources,
    parent: pulumi.Resource,
) -> None:
    """A `Wiring` on its cluster: its objects, and its Secrets filled from `sources`."""
    secrets = [secret_object(spec, sources) for spec in wiring.secrets]
    apply_objects(owner, [*wiring.objects, *secrets], target, parent)


def _own_namespace(
    obj: K8sObject, namespaces: Mapping[str, pulumi.CustomResource]
) -> list[pulumi.Resource]:
    namespace = obj["metadata"].get("namespace")
    return [namespaces[namespace]] if namespace in namespaces else []
