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

from components.credentials import SecretValues, secret_object
from fleet import names
from fleet.model import ClusterSpec
from fleet.objects import (
    SOURCE_KINDS,
    K8sObject,
    ObjectId,
    bound_accounts,
    object_id,
    references,
)
from fleet.wiring import Kubeconfig, Wiring, WorkloadIdentityAccess

PROVIDER_TYPE = "pulumi:providers:kubernetes"
"""The type token of the one provider each cluster has."""
OBJECT_TYPE_PREFIX = "kubernetes:"
"""Every object applied to a cluster has a type token that starts so (providers do not)."""
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
"""Pulumi waits until the object's status matches this annotation's condition."""


@dataclass(frozen=True)
class ClusterTarget:
    """A management cluster as a place to apply objects."""

    cluster: ClusterSpec
    provider: pulumi.ProviderResource
    flux: pulumi.Resource | None
    """The FluxInstance this stack installed there, which Flux objects wait for; None when
    another stack (main) installed Flux."""


def cluster_provider(
    name: str,
    cluster: ClusterSpec,
    kubeconfig: pulumi.Input[str],
    parent: pulumi.Resource,
    aliases: Sequence[pulumi.Alias] = (),
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
        opts=pulumi.ResourceOptions(parent=parent, aliases=list(aliases) or None),
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
        case "v1", "ConfigMap":
            resource = kubernetes.core.v1.ConfigMap(
                name, metadata=metadata, data=obj["data"], opts=opts
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
    owner: str,
    objs: Sequence[K8sObject],
    target: ClusterTarget,
    parent: pulumi.Resource,
    after: Mapping[ObjectId, Sequence[pulumi.Resource]] | None = None,
) -> None:
    """Objects on one cluster, each waiting for exactly what it uses (`objects.references`),
    and for what `after` names for it (resources on other clusters).

    Everything waits for Flux (its namespace `flux-system` comes with it). A Flux object is
    created after its namespace, account (and the bindings that give the account its rights),
    source and Secrets, and deleted before them, so a Kustomization can still prune. Each
    object has a handful of dependencies, however many objects the cluster has.
    """
    flux = [target.flux] if target.flux is not None else []
    applied: dict[ObjectId, pulumi.CustomResource] = {}
    bindings: dict[ObjectId, list[pulumi.CustomResource]] = {}

    def apply(obj: K8sObject) -> None:
        refs = sorted(references(obj))
        used: list[pulumi.Resource] = [applied[ref] for ref in refs if ref in applied]
        used += [b for ref in refs for b in bindings.get(ref, [])]
        used += (after or {}).get(object_id(obj), ())
        opts = pulumi.ResourceOptions(
            parent=parent, provider=target.provider, depends_on=[*flux, *used]
        )
        resource = apply_object(owner, obj, opts)
        applied[object_id(obj)] = resource
        for account in bound_accounts(obj):
            bindings.setdefault(account, []).append(resource)

    def stage(obj: K8sObject) -> int:
        if obj["kind"] == "Namespace":
            return 0
        if not is_custom(obj):
            return 1
        return 2 if obj["kind"] in SOURCE_KINDS else 3

    for obj in sorted(objs, key=stage):
        apply(obj)


def apply_wiring(
    owner: str,
    wiring: Wiring,
    target: ClusterTarget,
    values: SecretValues,
    parent: pulumi.Resource,
    remotes: Mapping[str, pulumi.Resource] | None = None,
) -> None:
    """A `Wiring` on its cluster: its objects, and its Secrets filled from `values`.

    `remotes` are the remotes' bootstrap bindings, by remote: a remote's kubeconfig Secret is
    created after it and deleted before it, so whatever reaches the remote through that Secret
    is gone (and has pruned what it applied there) while the platform's rights still hold."""
    secrets = [secret_object(secret, values) for secret in wiring.secrets]
    bootstraps = remotes or {}
    after = {
        object_id(made): [bootstraps[secret.content.cluster]]
        for secret, made in zip(wiring.secrets, secrets, strict=True)
        if isinstance(secret.content, Kubeconfig | WorkloadIdentityAccess)
        and secret.content.cluster in bootstraps
    }
    applied = [_signed_in(o, values) for o in wiring.objects]
    apply_objects(owner, [*applied, *secrets], target, parent, after)


def _signed_in(obj: K8sObject, values: SecretValues) -> K8sObject:
    """The platform account, annotated with the managed identity Flux signs in to its
    secret-less remotes as, when there is one (`components.azure_identity`)."""
    if values.flux_identity is None or object_id(obj)[::2] != (
        "ServiceAccount",
        names.PLATFORM_ACCOUNT,
    ):
        return obj
    metadata = obj["metadata"]
    annotations = {**metadata.get("annotations", {}), **values.flux_identity.annotations()}
    return {**obj, "metadata": {**metadata, "annotations": annotations}}
