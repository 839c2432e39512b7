"""Clusters: provisioned (AKS, k3d) or attached, Flux on management clusters, branch main's wiring.

A `ManagementCluster` owns its cluster, the one Kubernetes provider every object on it uses,
and its Flux installation; in the main stack it also applies branch main's wiring. A
`RemoteCluster` runs no Flux and nothing is applied to it directly: its management cluster's
Flux reaches it through its kubeconfig, which is all the component provides.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import yaml
from pulumi_azure_native import containerservice, resources
from pulumi_command import local

from components import stack_config
from components.credentials import SecretSources, flux_repository_credentials
from components.github import GitHubAccess
from components.kubernetes_objects import (
    WAIT_FOR_ANNOTATION,
    ClusterTarget,
    apply_object,
    apply_wiring,
    cluster_provider,
)
from fleet import names, objects
from fleet.config import (
    AksConfig,
    AttachedConfig,
    ClusterConfig,
    FluxConfig,
    K3dConfig,
    RepositoryConfig,
)
from fleet.objects import K8sObject
from fleet.wiring import Wiring

FLUX_OPERATOR_CHART = "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator"
FLUX_OPERATOR_RELEASE = "flux-operator"


# ---------------------------------------------------------------- provisioning


def k3d_create_command(name: str, k3d: K3dConfig) -> list[str]:
    """`k3d cluster create`, leaving the user's ~/.kube/config alone: Pulumi reads it back."""
    command = ["k3d", "cluster", "create", name]
    command += ["--servers", str(k3d.servers), "--agents", str(k3d.agents)]
    if k3d.image is not None:
        command += ["--image", k3d.image]
    for port in k3d.ports:
        command += ["-p", port]
    return [*command, "--kubeconfig-update-default=false", "--wait"]


def select_context(kubeconfig: str, context: str) -> str:
    """The kubeconfig with `context` as its current context, for every later reader."""
    config = yaml.safe_load(kubeconfig)
    known = [c.get("name") for c in config.get("contexts") or []]
    if context not in known:
        raise ValueError(f"the kubeconfig has no context '{context}' (it has {known})")
    return yaml.safe_dump({**config, "current-context": context}, sort_keys=False)


def _aks(name: str, aks: AksConfig, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    group: pulumi.Input[str] = aks.resource_group
    if aks.create_resource_group:
        group = resources.ResourceGroup(
            f"{name}-resource-group",
            resource_group_name=aks.resource_group,
            location=aks.location,
            opts=opts,
        ).name
    cluster = containerservice.ManagedCluster(
        f"{name}-cluster",
        resource_name_=name,
        resource_group_name=group,
        location=aks.location,
        dns_prefix=name,
        kubernetes_version=aks.kubernetes_version,
        identity={"type": containerservice.ResourceIdentityType.SYSTEM_ASSIGNED},
        agent_pool_profiles=[
            {
                "name": pool.name,
                "vm_size": pool.vm_size,
                "count": pool.count,
                "mode": pool.mode,
                "os_type": containerservice.OSType.LINUX,
            }
            for pool in aks.node_pools
        ],
        opts=opts,
    )
    credentials = containerservice.list_managed_cluster_admin_credentials_output(
        resource_group_name=group, resource_name=cluster.name
    )
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
        credentials.apply(lambda c: base64.b64decode(c.kubeconfigs[0].value).decode())
    )
    return kubeconfig


def _k3d(name: str, k3d: K3dConfig, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    # A k3d cluster cannot change shape: a new shape is a new cluster, and its name is taken
    # until the old one is gone.
    cluster = local.Command(
        f"{name}-cluster",
        create=shlex.join(k3d_create_command(name, k3d)),
        delete=shlex.join(["k3d", "cluster", "delete", name]),
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(replace_on_changes=["*"], delete_before_replace=True)
        ),
    )
    kubeconfig = local.Command(
        f"{name}-kubeconfig",
        create=shlex.join(["k3d", "kubeconfig", "get", name]),
        logging=local.Logging.STDERR,
        triggers=[cluster.id],
        opts=pulumi.ResourceOptions(parent=opts.parent, additional_secret_outputs=["stdout"]),
    )
    stdout: pulumi.Output[str] = kubeconfig.stdout
    return stdout


def _attached(attached: AttachedConfig) -> pulumi.Output[str]:
    kubeconfig = stack_config.secret(attached.kubeconfig_secret)
    context = attached.context
    if context is None:
        return kubeconfig
    return kubeconfig.apply(lambda value: select_context(value, context))


def provision(cluster: ClusterConfig, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The cluster, created or attached; returns its kubeconfig as a secret."""
    opts = pulumi.ResourceOptions(parent=parent, protect=cluster.protect)
    match cluster.kind:
        case "aks":
            assert cluster.aks is not None  # fleet.validate requires it
            return _aks(cluster.name, cluster.aks, opts)
        case "k3d":
            return _k3d(cluster.name, cluster.k3d or K3dConfig(), opts)
        case "attached":
            assert cluster.attached is not None  # fleet.validate requires it
            return _attached(cluster.attached)


# ---------------------------------------------------------------- Flux


def waited_for(obj: K8sObject) -> K8sObject:
    """The object, annotated so that Pulumi waits until it is Ready."""
    annotations = {**obj["metadata"].get("annotations", {}), WAIT_FOR_ANNOTATION: "condition=Ready"}
    metadata = {**obj["metadata"], "annotations": annotations}
    return {**obj, "metadata": metadata}


def install_flux(
    name: str,
    cluster: ClusterConfig,
    flux: FluxConfig,
    provider: pulumi.ProviderResource,
    parent: pulumi.Resource,
) -> pulumi.CustomResource:
    """The Flux Operator chart, then the FluxInstance; returns it once Flux is Ready."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    operator = kubernetes.helm.v3.Release(
        f"{name}-{FLUX_OPERATOR_RELEASE}",
        name=FLUX_OPERATOR_RELEASE,
        chart=FLUX_OPERATOR_CHART,
        version=flux.operator_version,
        namespace=names.FLUX_NAMESPACE,
        create_namespace=True,
        opts=opts,
    )
    instance = objects.flux_instance(
        flux.version,
        flux.registry,
        flux.components,
        multitenant=flux.multitenant,
        cluster_type="azure" if cluster.kind == "aks" else "kubernetes",
    )
    return apply_object(
        name,
        waited_for(instance),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[operator])),
    )


# ---------------------------------------------------------------- components


@dataclass(frozen=True)
class MainBranchArgs:
    """Branch main's wiring on one management cluster, and where its Secrets come from."""

    wiring: Wiring
    repository: RepositoryConfig
    remote_kubeconfigs: Mapping[str, pulumi.Output[str]]
    github: GitHubAccess | None
    """Where Flux's deploy keys are made, when Flux reads the repository over SSH."""


@dataclass(frozen=True)
class ManagementClusterArgs:
    cluster: ClusterConfig
    flux: FluxConfig
    main_branch: MainBranchArgs | None = None
    """None for an environment's dedicated cluster: branch main does not know it."""


class ManagementCluster(pulumi.ComponentResource):
    """A cluster running Flux: provisioned or attached, its provider, Flux, branch main's wiring."""

    cluster: ClusterConfig
    kubeconfig: pulumi.Output[str]
    provider: pulumi.ProviderResource
    flux_instance: pulumi.CustomResource

    def __init__(
        self, name: str, args: ManagementClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:cluster:ManagementCluster", name, None, opts)
        self.cluster = args.cluster
        self.kubeconfig = provision(args.cluster, self)
        self.provider = cluster_provider(f"{name}-provider", args.cluster, self.kubeconfig, self)
        self.flux_instance = install_flux(name, args.cluster, args.flux, self.provider, self)
        if args.main_branch is not None:
            self._wire_main_branch(name, args.main_branch)
        self.register_outputs({names.KUBECONFIG_OUTPUT: self.kubeconfig})

    @property
    def target(self) -> ClusterTarget:
        return ClusterTarget(self.cluster, self.provider, self.flux_instance)

    def _wire_main_branch(self, name: str, main: MainBranchArgs) -> None:
        credentials = flux_repository_credentials(name, main.repository, main.github, self)
        sources = SecretSources(main.remote_kubeconfigs, repository=credentials)
        apply_wiring(name, main.wiring, self.target, sources, self)


@dataclass(frozen=True)
class RemoteClusterArgs:
    cluster: ClusterConfig


class RemoteCluster(pulumi.ComponentResource):
    """A cluster without Flux, reconciled by its management cluster through its kubeconfig."""

    cluster: ClusterConfig
    kubeconfig: pulumi.Output[str]

    def __init__(
        self, name: str, args: RemoteClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:cluster:RemoteCluster", name, None, opts)
        self.cluster = args.cluster
        self.kubeconfig = provision(args.cluster, self)
        self.register_outputs({names.KUBECONFIG_OUTPUT: self.kubeconfig})


def cluster_outputs(
    clusters: Iterable[ManagementCluster | RemoteCluster],
) -> dict[str, dict[str, Any]]:
    """Every cluster's access, by name: what environment stacks read through a StackReference."""
    return {
        c.cluster.name: {
            "role": c.cluster.role,
            "kind": c.cluster.kind,
            "managedBy": c.cluster.managed_by,
            names.KUBECONFIG_OUTPUT: c.kubeconfig,
        }
        for c in clusters
    }
