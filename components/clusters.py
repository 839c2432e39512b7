"""Clusters: provisioned (AKS, k3d) or attached, Flux on management clusters, branch main's wiring.

A `ManagementCluster` owns its cluster, the one Kubernetes provider every object on it uses,
and its Flux installation; in the main stack it also applies branch main's wiring. A
`RemoteCluster` runs no Flux and nothing is applied to it directly: its management cluster's
Flux reaches it through its kubeconfig, which is all the component provides.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import yaml
from pulumi_azure_native import containerservice, resources
from pulumi_command import local

from components.azure_identity import FluxIdentity, administer, flux_identity, trust
from components.credentials import SecretConfig, SecretValues, remote_access
from components.github import GitHubAccess, flux_deploy_key
from components.kubernetes_objects import (
    WAIT_FOR_ANNOTATION,
    ClusterTarget,
    apply_object,
    apply_wiring,
    cluster_provider,
)
from fleet import names, objects, outputs, reach
from fleet.config import AksConfig, AttachedConfig, FluxConfig, K3dConfig
from fleet.model import ClusterSpec, FleetRepository
from fleet.objects import K8sObject
from fleet.wiring import Wiring, remote_bootstrap

MANAGEMENT_CLUSTER_TYPE = "fleet:cluster:ManagementCluster"
REMOTE_CLUSTER_TYPE = "fleet:cluster:RemoteCluster"
REFERENCED_CLUSTER_TYPE = "fleet:cluster:ReferencedCluster"
RESOURCE_GROUP_TYPE = "azure-native:resources:ResourceGroup"
AKS_CLUSTER_TYPE = "azure-native:containerservice:ManagedCluster"
AKS_ADMIN_CREDENTIALS = "azure-native:containerservice:listManagedClusterAdminCredentials"
"""The invoke that reads an AKS cluster's admin kubeconfig."""
AKS_USER_CREDENTIALS = "azure-native:containerservice:listManagedClusterUserCredentials"
"""The invoke that reads an AKS cluster's user kubeconfig (Microsoft Entra ID sign-in)."""
COMMAND_TYPE = "command:local:Command"
"""k3d clusters are made and read back by local commands."""
K3D_CREATE = "k3d cluster create"
FLUX_OPERATOR_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
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
    if k3d.network is not None:
        # On a shared Docker network, other clusters' Flux reaches this one by its load
        # balancer's name: the certificate must say it (`fleet.reach`).
        command += ["--network", k3d.network, "--k3s-arg", reach.k3d_tls_san(name)]
    return [*command, "--kubeconfig-update-default=false", "--wait"]


def select_context(kubeconfig: str, context: str) -> str:
    """The kubeconfig with `context` as its current context, for every later reader."""
    config = reach.parse_kubeconfig(kubeconfig)
    known = [c.get("name") for c in config.get("contexts") or [] if isinstance(c, dict)]
    if context not in known:
        raise ValueError(f"the kubeconfig has no context '{context}' (it has {known})")
    return yaml.safe_dump({**config, "current-context": context}, sort_keys=False)


@dataclass(frozen=True)
class Provisioned:
    """A cluster as provisioning leaves it: its kubeconfig (a secret), and for AKS the
    managed cluster and its resource group."""

    kubeconfig: pulumi.Output[str]
    aks: containerservice.ManagedCluster | None = None
    resource_group: pulumi.Input[str] | None = None
    user_kubeconfig: pulumi.Output[str] | None = None
    """For people, when the cluster signs in with Microsoft Entra ID only: kubelogin through
    the Azure CLI, holding no credential (the provider's may sign in otherwise)."""


def _aks(
    name: str,
    aks: AksConfig,
    opts: pulumi.ResourceOptions,
    resource_group: pulumi.Input[str] | None,
    workload_identity: bool,
) -> Provisioned:
    group: pulumi.Input[str] = aks.resource_group
    if resource_group is not None:
        group = resource_group
    elif aks.create_resource_group:
        group = resources.ResourceGroup(
            f"{name}-resource-group",
            resource_group_name=aks.resource_group,
            location=aks.location,
            opts=opts,
        ).name
    entra: dict[str, Any] = {}
    if not aks.local_accounts:
        # Microsoft Entra ID only: no local admin account, Kubernetes rights from Azure roles.
        # Ref: https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad
        entra = {
            "disable_local_accounts": True,
            "aad_profile": {
                "managed": True,
                "enable_azure_rbac": True,
                "admin_group_object_ids": list(aks.admin_groups),
            },
        }
    if workload_identity:
        # Flux here signs in to its remotes as a managed identity, through the cluster's OIDC
        # issuer. Ref: https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster
        entra["oidc_issuer_profile"] = {"enabled": True}
        entra["security_profile"] = {"workload_identity": {"enabled": True}}
    cluster = containerservice.ManagedCluster(
        f"{name}-cluster",
        resource_name_=name,
        resource_group_name=group,
        location=aks.location,
        dns_prefix=name,
        kubernetes_version=aks.kubernetes_version,
        identity={"type": containerservice.ResourceIdentityType.SYSTEM_ASSIGNED},
        **entra,
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
        # NetworkPolicies enforced (AKS enforces none by default): Flux's own policies, which
        # keep tenants' Pods away from its controllers and their artifacts, and the tenants'
        # isolation. Azure CNI powered by Cilium, the dataplane AKS recommends.
        # Ref: https://learn.microsoft.com/azure/aks/azure-cni-powered-by-cilium
        network_profile={
            "network_plugin": containerservice.NetworkPlugin.AZURE,
            "network_plugin_mode": containerservice.NetworkPluginMode.OVERLAY,
            "network_dataplane": containerservice.NetworkDataplane.CILIUM,
            "network_policy": containerservice.NetworkPolicy.CILIUM,
        },
        opts=opts,
    )
    if not aks.local_accounts:
        # No admin credentials exist: the user kubeconfig, signing in with kubelogin.
        user = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=group, resource_name=cluster.name, format="exec"
        )
        given = user.apply(lambda c: base64.b64decode(c.kubeconfigs[0].value).decode())
        login = aks.login
        entra_config: pulumi.Output[str] = pulumi.Output.secret(
            given.apply(lambda value: reach.entra_kubeconfig(value, login))
        )
        people: pulumi.Output[str] = pulumi.Output.unsecret(
            given.apply(lambda value: reach.entra_kubeconfig(value, "azurecli"))
        )
        return Provisioned(entra_config, cluster, group, people)
    credentials = containerservice.list_managed_cluster_admin_credentials_output(
        resource_group_name=group, resource_name=cluster.name
    )
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
        credentials.apply(lambda c: base64.b64decode(c.kubeconfigs[0].value).decode())
    )
    return Provisioned(kubeconfig, cluster, group)


def docker_networks(clusters: Iterable[ClusterSpec]) -> dict[str, pulumi.Resource]:
    """The Docker networks k3d clusters share (`k3d.network`), each made once before any of its
    clusters: two `k3d cluster create --network N` side by side would race to create it."""
    found: dict[str, pulumi.Resource] = {}
    for cluster in (m for c in clusters for m in c.physical):
        provisioning = cluster.provisioning
        if not isinstance(provisioning, K3dConfig) or provisioning.network is None:
            continue
        network = provisioning.network
        if network not in found:
            found[network] = local.Command(
                f"docker-network-{network}",
                create=f"docker network inspect {shlex.quote(network)} >/dev/null 2>&1 || "
                f"docker network create {shlex.quote(network)}",
                delete=f"docker network rm {shlex.quote(network)}",
            )
    return found


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


def _attached(attached: AttachedConfig, secrets: SecretConfig) -> pulumi.Output[str]:
    kubeconfig = secrets[attached.kubeconfig_secret]
    context = attached.context
    if context is None:
        return kubeconfig
    return kubeconfig.apply(lambda value: select_context(value, context))


def group_resource_group(cluster: ClusterSpec) -> pulumi.Output[str] | None:
    """The Azure resource group an AKS group creates, once for all its members (each member
    owning it would delete it, and the others with it, when that member goes); None where the
    group creates none, or the cluster is no group."""
    aks = cluster.provisioning
    if not cluster.members or not isinstance(aks, AksConfig) or not aks.create_resource_group:
        return None
    group = resources.ResourceGroup(
        f"{cluster.name}-resource-group",
        resource_group_name=aks.resource_group,
        location=aks.location,
        opts=pulumi.ResourceOptions(protect=cluster.protect),
    )
    name: pulumi.Output[str] = group.name
    return name


def provision(
    cluster: ClusterSpec,
    secrets: SecretConfig,
    parent: pulumi.Resource,
    resource_group: pulumi.Input[str] | None = None,
    workload_identity: bool = False,
    after: Sequence[pulumi.Resource] = (),
) -> Provisioned:
    """The cluster, created or attached, with its kubeconfig as a secret. A group's member on
    AKS is given its group's `resource_group`; with `workload_identity` the cluster issues
    tokens that Azure trusts (its Flux signs in to secret-less remotes)."""
    opts = pulumi.ResourceOptions(parent=parent, protect=cluster.protect, depends_on=list(after))
    match cluster.provisioning:
        case AksConfig() as aks:
            return _aks(cluster.name, aks, opts, resource_group, workload_identity)
        case K3dConfig() as k3d:
            return Provisioned(_k3d(cluster.name, k3d, opts))
        case AttachedConfig() as attached:
            return Provisioned(_attached(attached, secrets))


# ---------------------------------------------------------------- Flux


def waited_for(obj: K8sObject) -> K8sObject:
    """The object, annotated so that Pulumi waits until it is Ready."""
    annotations = {**obj["metadata"].get("annotations", {}), WAIT_FOR_ANNOTATION: "condition=Ready"}
    metadata = {**obj["metadata"], "annotations": annotations}
    return {**obj, "metadata": metadata}


def install_flux(
    name: str,
    cluster: ClusterSpec,
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
    repository: FleetRepository
    remotes: Mapping[str, RemoteCluster]
    """The fleet's remotes, by name: their kubeconfigs and bootstrap bindings."""
    github: GitHubAccess | None
    """Where Flux's deploy keys are made, when Flux reads the repository over SSH."""


@dataclass(frozen=True)
class ManagementClusterArgs:
    cluster: ClusterSpec
    flux: FluxConfig
    secrets: SecretConfig
    """The stack's secret config: an attached cluster's kubeconfig, the repository token."""
    main_branch: MainBranchArgs | None = None
    """None for an environment's dedicated cluster: branch main does not know it."""
    resource_group: pulumi.Input[str] | None = None
    """For a member of an AKS group: the group's resource group (`group_resource_group`)."""
    after: Sequence[pulumi.Resource] = ()
    """What must exist before it is made: its Docker network (`docker_networks`)."""


class ManagementCluster(pulumi.ComponentResource):
    """A cluster running Flux: provisioned or attached, its provider, Flux, branch main's wiring."""

    cluster: ClusterSpec
    kubeconfig: pulumi.Output[str]
    provider: pulumi.ProviderResource
    flux_instance: pulumi.CustomResource
    aks: containerservice.ManagedCluster | None
    user_kubeconfig: pulumi.Output[str] | None
    flux_identity: FluxIdentity | None
    """What its Flux signs in to its secret-less remotes as (`components.azure_identity`)."""

    def __init__(
        self, name: str, args: ManagementClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(MANAGEMENT_CLUSTER_TYPE, name, None, opts)
        self.cluster = args.cluster
        remotes = args.main_branch.remotes if args.main_branch is not None else {}
        secret_less = {n: r for n, r in remotes.items() if reach.secret_less(r.cluster)}
        provisioned = provision(
            args.cluster, args.secrets, self, args.resource_group, bool(secret_less), args.after
        )
        self.kubeconfig = provisioned.kubeconfig
        self.user_kubeconfig = provisioned.user_kubeconfig
        self.aks = provisioned.aks
        self.flux_identity = None
        if (
            secret_less
            and provisioned.aks is not None
            and isinstance(args.cluster.provisioning, AksConfig)
        ):
            issuer = provisioned.aks.oidc_issuer_profile.apply(
                lambda p: str(p.issuer_url) if p is not None else ""
            )
            self.flux_identity = flux_identity(
                name,
                provisioned.resource_group or args.cluster.provisioning.resource_group,
                args.cluster.provisioning.location,
                issuer,
                self,
            )
            trust(name, self.flux_identity, names.FLUX_NAMESPACE, self)
            for remote_name, remote in secret_less.items():
                assert remote.aks is not None
                administer(f"{name}-{remote_name}", self.flux_identity, remote.aks.id, self)
        self.provider = cluster_provider(f"{name}-provider", args.cluster, self.kubeconfig, self)
        self.flux_instance = install_flux(name, args.cluster, args.flux, self.provider, self)
        if args.main_branch is not None:
            self._wire_main_branch(name, args.main_branch, args.secrets)
        self.register_outputs({outputs.KUBECONFIG: self.kubeconfig})

    @property
    def target(self) -> ClusterTarget:
        return ClusterTarget(self.cluster, self.provider, self.flux_instance)

    def _wire_main_branch(self, name: str, main: MainBranchArgs, secrets: SecretConfig) -> None:
        values = SecretValues(
            secrets,
            {remote: r.flux_kubeconfig for remote, r in main.remotes.items()},
            deploy_key=flux_deploy_key(name, main.repository, main.github, self),
            remote_access={
                n: remote_access(r.aks.id, r.kubeconfig)
                for n, r in main.remotes.items()
                if r.aks is not None and reach.secret_less(r.cluster)
            },
            flux_identity=self.flux_identity,
        )
        bootstraps = {remote: r.bootstrap for remote, r in main.remotes.items()}
        apply_wiring(name, main.wiring, self.target, values, self, bootstraps)


@dataclass(frozen=True)
class RemoteClusterArgs:
    cluster: ClusterSpec
    secrets: SecretConfig
    platform_namespace: str
    """The namespace of the Flux objects that reach it (main's `flux-system`, or the
    environment's that owns it), whose platform account is made cluster-admin on it."""
    environments: Sequence[str] = ()
    """The environments whose platform accounts are made cluster-admin on it too: the main
    stack's list (`fleet:environments`)."""
    after: Sequence[pulumi.Resource] = ()
    """What must exist before it is made: its Docker network (`docker_networks`)."""


class RemoteCluster(pulumi.ComponentResource):
    """A cluster without Flux, reconciled by its management cluster through its kubeconfig.

    Pulumi applies one thing to it, with its admin credentials: the binding that gives the
    platform's accounts their rights there (`fleet.wiring.remote_bootstrap`)."""

    cluster: ClusterSpec
    kubeconfig: pulumi.Output[str]
    flux_kubeconfig: pulumi.Output[str]
    """What its management cluster's Flux reaches it with (`fleet.reach`)."""
    aks: containerservice.ManagedCluster | None
    user_kubeconfig: pulumi.Output[str] | None
    provider: pulumi.ProviderResource
    bootstrap: pulumi.Resource

    def __init__(
        self, name: str, args: RemoteClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(REMOTE_CLUSTER_TYPE, name, None, opts)
        self.cluster = args.cluster
        provisioned = provision(args.cluster, args.secrets, self, after=args.after)
        self.kubeconfig = provisioned.kubeconfig
        self.user_kubeconfig = provisioned.user_kubeconfig
        self.aks = provisioned.aks
        self.flux_kubeconfig = flux_kubeconfig_of(args.cluster, self.kubeconfig)
        self.provider = cluster_provider(f"{name}-provider", args.cluster, self.kubeconfig, self)
        self.bootstrap = bootstrap_remote(name, self.cluster, self.provider, args, self)
        self.register_outputs({outputs.KUBECONFIG: self.kubeconfig})


def flux_kubeconfig_of(cluster: ClusterSpec, kubeconfig: pulumi.Output[str]) -> pulumi.Output[str]:
    """The kubeconfig Flux reaches `cluster` with, kept secret; the same Output when Flux
    reaches it as Pulumi does."""
    if reach.in_network_server(cluster) is None:
        return kubeconfig
    derived: pulumi.Output[str] = pulumi.Output.secret(
        kubeconfig.apply(lambda value: reach.flux_kubeconfig(cluster, value))
    )
    return derived


def bootstrap_remote(
    name: str,
    cluster: ClusterSpec,
    provider: pulumi.ProviderResource,
    args: RemoteClusterArgs,
    parent: pulumi.Resource,
) -> pulumi.Resource:
    """The platform's binding on a remote, applied with the remote's admin credentials."""
    (binding,) = remote_bootstrap(args.platform_namespace, args.environments)
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    return apply_object(f"{name}-{args.platform_namespace}", binding, opts)


@dataclass(frozen=True)
class ReferencedClusterArgs:
    cluster: ClusterSpec
    """A management cluster of the fleet."""
    kubeconfig: pulumi.Output[str]
    """Its kubeconfig as the main stack exports it (`fleet.outputs`)."""


class ReferencedCluster(pulumi.ComponentResource):
    """A fleet management cluster as an environment stack reaches it: the main stack
    provisions it and installs Flux; this stack owns its provider for the cluster, which
    applies the environment's wiring there. The fleet's remotes need none: the main stack
    grants the environment's platform account on them (`fleet:environments`)."""

    cluster: ClusterSpec
    kubeconfig: pulumi.Output[str]
    provider: pulumi.ProviderResource

    def __init__(
        self, name: str, args: ReferencedClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(REFERENCED_CLUSTER_TYPE, name, None, opts)
        self.cluster = args.cluster
        self.kubeconfig = args.kubeconfig
        self.oidc_issuer: pulumi.Output[str] | None = None
        """With secret-less remotes: its OIDC issuer."""
        # The provider was first made by the Environment, this component's parent: the alias
        # keeps its URN's history, so nothing on the cluster is replaced.
        former = [pulumi.Alias(parent=opts.parent)] if opts and opts.parent else []
        self.provider = cluster_provider(
            f"{name}-provider", args.cluster, args.kubeconfig, self, aliases=former
        )
        self.register_outputs({})

    @property
    def target(self) -> ClusterTarget:
        """Flux is the main stack's to install, so objects here wait for nothing of it."""
        return ClusterTarget(self.cluster, self.provider, flux=None)


def user_kubeconfigs(
    clusters: Iterable[ManagementCluster | RemoteCluster],
) -> dict[str, pulumi.Output[str]]:
    """The kubeconfigs for people of the clusters that sign in with Microsoft Entra ID only:
    no credential in them, each person signs in as themselves (`az login`)."""
    return {c.cluster.name: c.user_kubeconfig for c in clusters if c.user_kubeconfig is not None}


def cluster_outputs(
    clusters: Iterable[ManagementCluster | RemoteCluster],
) -> dict[str, dict[str, Any]]:
    """Every cluster's access, by name: what environment stacks read through a StackReference;
    for AKS, its resource id and the identity of its Flux (secret-less access)."""
    found: dict[str, dict[str, Any]] = {}
    for c in clusters:
        access: dict[str, Any] = outputs.cluster_access(c.cluster, c.kubeconfig)
        if c.aks is not None:
            access[outputs.AZURE_ID] = c.aks.id
        identity = c.flux_identity if isinstance(c, ManagementCluster) else None
        if identity is not None:
            access[outputs.OIDC_ISSUER] = identity.issuer
        found[c.cluster.name] = access
    return found
