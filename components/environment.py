"""An environment on its clusters: branch E, its Flux wiring on every cluster, tenant sandboxes.

The fleet's clusters are reached through the main stack's outputs (a StackReference): each
management cluster as a `ReferencedCluster` that owns this stack's provider for it, each remote
as its kubeconfig only, since the main stack grants the environment on it
(`fleet:environments`); an environment's dedicated clusters are components of its own stack.
Everything a tenant needs on a cluster that Flux must not own (its namespaces and the Secrets
in them) is a `Tenant`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
from pulumi.runtime.sync_await import _sync_await

from components.azure_identity import FluxIdentity, administer, flux_identity, trust
from components.clusters import (
    ManagementCluster,
    ReferencedCluster,
    ReferencedClusterArgs,
    RemoteCluster,
    flux_kubeconfig_of,
)
from components.credentials import SecretConfig, SecretValues, remote_access
from components.github import (
    GitHubAccess,
    flux_deploy_key,
    protect_branch,
    protect_ring_branches,
)
from components.kubernetes_objects import ClusterTarget, apply_wiring
from fleet import names, outputs, reach
from fleet.access import github_commit_repository
from fleet.config import AksConfig
from fleet.model import ClusterSpec, EnvironmentSpec, TenantSpec
from fleet.wiring import environment_wiring, tenant_namespaces, tenant_wiring

ENVIRONMENT_TYPE = "fleet:environment:Environment"
TENANT_TYPE = "fleet:environment:Tenant"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"

Read = TypeVar("Read")


@dataclass(frozen=True)
class TenantArgs:
    environment: EnvironmentSpec
    tenant: TenantSpec
    clusters: Sequence[ClusterTarget]
    """The environment's management clusters."""
    values: SecretValues
    """Secret config and the kubeconfigs of the environment's remote clusters."""


class Tenant(pulumi.ComponentResource):
    """A tenant's namespaces on every management cluster of the environment, and their Secrets."""

    namespaces: list[str]

    def __init__(
        self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TENANT_TYPE, name, None, opts)
        env, tenant = args.environment, args.tenant
        for target in args.clusters:
            wiring = tenant_wiring(env, tenant, target.cluster)
            apply_wiring(f"{name}-{target.cluster.name}", wiring, target, args.values, self)
        self.namespaces = [namespace for namespace, _ in tenant_namespaces(env, tenant)]
        self.register_outputs({"namespaces": self.namespaces})


@dataclass(frozen=True)
class EnvironmentArgs:
    environment: EnvironmentSpec
    dedicated: Sequence[ManagementCluster | RemoteCluster]
    """The environment's own clusters, provisioned by its stack."""
    secrets: SecretConfig
    github: GitHubAccess | None
    """The fleet repository on GitHub, when the stack manages something there."""


class Environment(pulumi.ComponentResource):
    """Branch E and its rules, E's wiring on each management cluster, and the tenants."""

    branch_rules: list[pulumi.CustomResource]
    """The GitHub rulesets of branch E, which the first commit to it waits for; none when the
    program commits elsewhere than GitHub."""
    tenants: dict[str, Tenant]

    def __init__(
        self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ENVIRONMENT_TYPE, name, None, opts)
        env = args.environment
        repository = env.fleet.repository
        # Main's outputs first: an environment main does not grant stops before anything else
        # of it is registered.
        referenced, from_main = self._referenced(name, env, args.dedicated)
        self.branch_rules = []
        if (
            args.github is not None
            and github_commit_repository(repository.url, repository.push_url) is not None
        ):
            self.branch_rules = protect_branch(
                name, env.branch, env.required_approvals, env.writer_app_id, args.github, self
            )
            if env.held_branches:
                self.branch_rules += protect_ring_branches(
                    name, env.branch, env.writer_app_id, args.github, self
                )
        managers: dict[str, ManagementCluster | ReferencedCluster] = {
            c.cluster.name: c
            for c in (*args.dedicated, *referenced)
            if isinstance(c, ManagementCluster | ReferencedCluster)
        }
        own_remotes = [c for c in args.dedicated if isinstance(c, RemoteCluster)]
        remotes = {
            c.cluster.name: ReachedRemote(c.cluster, c.kubeconfig, c.flux_kubeconfig)
            for c in own_remotes
        } | from_main
        # A dedicated remote's binding is this stack's; the fleet's remotes have main's.
        bootstraps = {c.cluster.name: c.bootstrap for c in own_remotes}
        targets = [
            managers[member.name].target for c in env.management_clusters for member in c.physical
        ]
        # What Flux reaches each remote with, for its `R-kubeconfig` Secrets.
        kubeconfigs = {n: r.flux_kubeconfig for n, r in remotes.items()}
        secret_less = {n: r.azure_id for n, r in remotes.items() if r.azure_id is not None}
        access = {
            n: remote_access(azure_id, remotes[n].kubeconfig) for n, azure_id in secret_less.items()
        }
        for target in targets:
            owner = f"{name}-{target.cluster.name}"
            manager = managers[target.cluster.name]
            identity = None
            if isinstance(manager, ReferencedCluster) and manager.oidc_issuer is not None:
                identity = self._flux_identity(owner, env, manager, secret_less)
            values = SecretValues(
                args.secrets,
                kubeconfigs,
                deploy_key=flux_deploy_key(owner, repository, args.github, self),
                remote_access=access,
                flux_identity=identity,
            )
            wiring = environment_wiring(env, target.cluster)
            apply_wiring(owner, wiring, target, values, self, bootstraps)
        self.tenants = {
            tenant.name: Tenant(
                f"{name}-{tenant.name}",
                TenantArgs(env, tenant, targets, SecretValues(args.secrets, kubeconfigs)),
                pulumi.ResourceOptions(parent=self),
            )
            for tenant in env.tenants
        }
        self.register_outputs({"branch": env.branch, "tenants": list(self.tenants)})

    def _flux_identity(
        self,
        owner: str,
        env: EnvironmentSpec,
        manager: ReferencedCluster,
        secret_less: Mapping[str, pulumi.Output[str]],
    ) -> FluxIdentity:
        """The environment's own identity for Flux on `manager`: trusted for the environment's
        platform account, cluster-admin on the environment's secret-less remotes there. One
        per environment, so environments deployed side by side never write the same identity
        (Azure refuses concurrent writes of federated credentials on one identity)."""
        aks = manager.cluster.provisioning
        assert isinstance(aks, AksConfig) and manager.oidc_issuer is not None
        identity = flux_identity(owner, aks.resource_group, aks.location, manager.oidc_issuer, self)
        trust(owner, identity, names.environment_namespace(env.name), self)
        for remote in env.remotes_of(manager.cluster.folder):
            azure_id = secret_less.get(remote.name)
            if azure_id is not None:
                administer(f"{owner}-{remote.name}", identity, azure_id, self)
        return identity

    def _referenced(
        self,
        name: str,
        env: EnvironmentSpec,
        dedicated: Sequence[ManagementCluster | RemoteCluster],
    ) -> tuple[list[ReferencedCluster], dict[str, ReachedRemote]]:
        """The fleet's clusters taking part, reached through the main stack's outputs: each
        management cluster with this stack's provider for it, each remote as Flux reaches it.
        Main's outputs are read only once main has granted this environment."""
        own = {c.cluster.name for c in dedicated}
        clusters = [m for c in env.clusters for m in c.physical if m.name not in own]
        if not clusters:
            return [], {}
        main = pulumi.StackReference(env.main_stack, opts=pulumi.ResourceOptions(parent=self))
        _require_main(main, env, clusters)
        exported = main.require_output(outputs.CLUSTERS)
        managers, remotes = [], {}
        for cluster in clusters:
            kubeconfig = _referenced_kubeconfig(exported, cluster.name, env.main_stack)
            if not cluster.is_management:
                azure_id = None
                if reach.secret_less(cluster):
                    azure_id = _exported(exported, cluster.name, outputs.AZURE_ID, env)
                reached_with = flux_kubeconfig_of(cluster, kubeconfig)
                remotes[cluster.name] = ReachedRemote(cluster, kubeconfig, reached_with, azure_id)
                continue
            reached = ReferencedCluster(
                f"{name}-{cluster.name}",
                ReferencedClusterArgs(cluster, kubeconfig),
                pulumi.ResourceOptions(parent=self),
            )
            if any(reach.secret_less(r) for r in env.remotes_of(cluster.folder)):
                reached.oidc_issuer = _exported(exported, cluster.name, outputs.OIDC_ISSUER, env)
            managers.append(reached)
        return managers, remotes


@dataclass(frozen=True)
class ReachedRemote:
    """A remote as the environment's Flux reaches it; no resource of this stack."""

    cluster: ClusterSpec
    kubeconfig: pulumi.Output[str]
    """Its admin kubeconfig, as the stack that holds it exports it."""
    flux_kubeconfig: pulumi.Output[str]
    """What its management cluster's Flux reaches it with (`fleet.reach`)."""
    azure_id: pulumi.Output[str] | None = None
    """When Flux reaches it secret-less: its Azure resource id."""


def _exported(exported: pulumi.Output[Any], cluster: str, key: str, env: EnvironmentSpec) -> Any:
    """A field of the main stack's `clusters` output that is no secret (an Azure id, the
    identity's ids): the output as a whole is, for the kubeconfigs in it."""
    return pulumi.Output.unsecret(
        _read(
            exported,
            lambda clusters: outputs.exported_field(clusters, cluster, key, env.main_stack),
        )
    )


def _referenced_kubeconfig(
    exported: pulumi.Output[Any], cluster: str, main_stack: str
) -> pulumi.Output[str]:
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
        _read(exported, lambda clusters: outputs.kubeconfig_of(clusters, cluster, main_stack))
    )
    return kubeconfig


def _require_main(
    main: pulumi.StackReference, env: EnvironmentSpec, clusters: Sequence[ClusterSpec]
) -> None:
    """Main's outputs, awaited here: an environment main does not grant, or a cluster main
    does not export yet, stops the update with the reason, in preview, before anything of the
    environment is registered on a cluster."""
    granted = _sync_await(main.get_output_details(outputs.ENVIRONMENTS)).value
    details = _sync_await(main.get_output_details(outputs.CLUSTERS))
    exported = details.value if details.value is not None else details.secret_value
    try:
        outputs.check_granted(granted, env.name, env.main_stack)
        for cluster in clusters:
            outputs.kubeconfig_of(exported or {}, cluster.name, env.main_stack)
    except outputs.NotReady as error:
        raise pulumi.RunError(str(error)) from None


def _read(exported: pulumi.Output[Any], read: Callable[[Any], Read]) -> pulumi.Output[Read]:
    """`read` of the main stack's outputs; a main stack not yet deployed as this stack needs
    stops the update with its message, no traceback."""

    def guarded(value: Any) -> Read:
        try:
            return read(value)
        except outputs.NotReady as error:
            raise pulumi.RunError(str(error)) from None

    return exported.apply(guarded)
