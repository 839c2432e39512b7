"""An environment on its clusters: branch E, its Flux wiring on every cluster, tenant sandboxes.

The fleet's clusters are reached through the main stack's outputs (a StackReference), each as
a `ReferencedCluster` that owns this stack's provider for it; an environment's dedicated
clusters are components of its own stack. Everything a tenant needs on a cluster that Flux must
not own (its namespaces and the Secrets in them) is a `Tenant`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.azure_identity import FluxIdentity, administer, flux_identity, trust
from components.clusters import (
    ManagementCluster,
    ReferencedCluster,
    ReferencedClusterArgs,
    RemoteCluster,
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
from fleet.model import EnvironmentSpec, TenantSpec
from fleet.wiring import environment_wiring, tenant_namespaces, tenant_wiring

ENVIRONMENT_TYPE = "fleet:environment:Environment"
TENANT_TYPE = "fleet:environment:Tenant"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


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
        reached: list[ManagementCluster | RemoteCluster | ReferencedCluster] = [
            *args.dedicated,
            *self._referenced(name, env, args.dedicated),
        ]
        # What Flux reaches each remote with, for its `R-kubeconfig` Secrets.
        kubeconfigs = {
            c.cluster.name: c.flux_kubeconfig
            for c in reached
            if isinstance(c, RemoteCluster | ReferencedCluster)
        }
        bootstraps = {
            c.cluster.name: c.bootstrap
            for c in reached
            if not isinstance(c, ManagementCluster) and c.bootstrap is not None
        }
        managers = {
            c.cluster.name: c
            for c in reached
            if isinstance(c, ManagementCluster | ReferencedCluster) and c.cluster.is_management
        }
        targets = [
            managers[member.name].target for c in env.management_clusters for member in c.physical
        ]
        secret_less = {
            c.cluster.name: c
            for c in reached
            if isinstance(c, ReferencedCluster) and c.azure_id is not None
        }
        access = {
            n: remote_access(c.azure_id, c.kubeconfig)
            for n, c in secret_less.items()
            if c.azure_id is not None
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
        secret_less: Mapping[str, ReferencedCluster],
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
            reached = secret_less.get(remote.name)
            if reached is not None and reached.azure_id is not None:
                administer(f"{owner}-{remote.name}", identity, reached.azure_id, self)
        return identity

    def _referenced(
        self,
        name: str,
        env: EnvironmentSpec,
        dedicated: Sequence[ManagementCluster | RemoteCluster],
    ) -> list[ReferencedCluster]:
        """The fleet's clusters taking part, reached through the main stack's outputs, each
        with this stack's provider for it."""
        own = {c.cluster.name for c in dedicated}
        clusters = [m for c in env.clusters for m in c.physical if m.name not in own]
        if not clusters:
            return []
        main = pulumi.StackReference(env.main_stack, opts=pulumi.ResourceOptions(parent=self))
        exported = main.require_output(outputs.CLUSTERS)
        platform = names.environment_namespace(env.name)
        found = []
        for cluster in clusters:
            reached = ReferencedCluster(
                f"{name}-{cluster.name}",
                ReferencedClusterArgs(
                    cluster,
                    _referenced_kubeconfig(exported, cluster.name, env.main_stack),
                    platform,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            if reach.secret_less(cluster):
                reached.azure_id = _exported(exported, cluster.name, outputs.AZURE_ID, env)
            if any(reach.secret_less(r) for r in env.remotes_of(cluster.folder)):
                reached.oidc_issuer = _exported(exported, cluster.name, outputs.OIDC_ISSUER, env)
            found.append(reached)
        return found


def _exported(exported: pulumi.Output[Any], cluster: str, key: str, env: EnvironmentSpec) -> Any:
    """A field of the main stack's `clusters` output that is no secret (an Azure id, the
    identity's ids): the output as a whole is, for the kubeconfigs in it."""
    return pulumi.Output.unsecret(
        exported.apply(
            lambda clusters: outputs.exported_field(clusters, cluster, key, env.main_stack)
        )
    )


def _referenced_kubeconfig(
    exported: pulumi.Output[Any], cluster: str, main_stack: str
) -> pulumi.Output[str]:
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
        exported.apply(lambda clusters: outputs.kubeconfig_of(clusters, cluster, main_stack))
    )
    return kubeconfig
