"""An environment on its clusters: branch E, its Flux wiring on every cluster, tenant sandboxes.

The fleet's clusters are reached through the main stack's outputs (a StackReference); an
environment's dedicated clusters are components of its own stack. Everything a tenant needs on
a cluster that Flux must not own (its namespaces and the Secrets in them) is a `Tenant`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.clusters import (
    ManagementCluster,
    RemoteCluster,
)
from components.credentials import SecretSources, flux_repository_credentials
from components.github import GitHubAccess, protect_environment_branch
from components.kubernetes_objects import ClusterTarget, apply_wiring, cluster_provider
from fleet import names
from fleet.config import ClusterConfig, TenantConfig
from fleet.model import Environment as EnvironmentModel
from fleet.wiring import (
    environment_wiring,
    github_commit_repository,
    tenant_namespaces,
    tenant_wiring,
)


@dataclass(frozen=True)
class TenantArgs:
    environment: EnvironmentModel
    tenant: TenantConfig
    clusters: Sequence[ClusterTarget]
    """The environment's management clusters."""
    kubeconfigs: Mapping[str, pulumi.Output[str]]
    """Kubeconfigs of the environment's remote clusters, by name."""


class Tenant(pulumi.ComponentResource):
    """A tenant's namespaces on every management cluster of the environment, and their Secrets."""

    namespaces: list[str]

    def __init__(
        self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:environment:Tenant", name, None, opts)
        env, tenant = args.environment, args.tenant
        sources = SecretSources(args.kubeconfigs, tenant_repository=tenant.repository)
        for target in args.clusters:
            wiring = tenant_wiring(env, tenant, target.cluster)
            apply_wiring(f"{name}-{target.cluster.name}", wiring, target, sources, self)
        self.namespaces = tenant_namespaces(env, tenant)
        self.register_outputs({"namespaces": self.namespaces})


@dataclass(frozen=True)
class EnvironmentArgs:
    environment: EnvironmentModel
    dedicated: Sequence[ManagementCluster | RemoteCluster]
    """The environment's own clusters, provisioned by its stack."""
    github: GitHubAccess | None
    """The fleet repository on GitHub, when the stack manages something there."""


class Environment(pulumi.ComponentResource):
    """Branch E and its review rule, E's wiring on each management cluster, and the tenants."""

    branch: pulumi.CustomResource | None
    """The GitHub branch E, which commits to it wait for; None when the program commits
    elsewhere than GitHub, where the git writer creates the branch from main."""
    tenants: dict[str, Tenant]

    def __init__(
        self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleet:environment:Environment", name, None, opts)
        env = args.environment
        self.branch = None
        if args.github is not None and github_commit_repository(env.fleet.repository) is not None:
            self.branch = protect_environment_branch(
                name, env.branch, env.required_approvals, args.github, self
            )
        kubeconfigs = self._kubeconfigs(env, args.dedicated)
        dedicated = {c.cluster.name: c for c in args.dedicated if isinstance(c, ManagementCluster)}
        targets = [
            dedicated[c.name].target if c.name in dedicated else self._target(name, c, kubeconfigs)
            for c in env.management_clusters
        ]
        for target in targets:
            owner = f"{name}-{target.cluster.name}"
            credentials = flux_repository_credentials(
                owner, env.fleet.repository, args.github, self
            )
            sources = SecretSources(kubeconfigs, repository=credentials)
            apply_wiring(owner, environment_wiring(env, target.cluster), target, sources, self)
        self.tenants = {
            tenant.name: Tenant(
                f"{name}-{tenant.name}",
                TenantArgs(env, tenant, targets, kubeconfigs),
                pulumi.ResourceOptions(parent=self),
            )
            for tenant in env.tenants
        }
        self.register_outputs({"branch": env.branch, "tenants": list(self.tenants)})

    def _kubeconfigs(
        self, env: EnvironmentModel, dedicated: Sequence[ManagementCluster | RemoteCluster]
    ) -> dict[str, pulumi.Output[str]]:
        """Every taking-part cluster's kubeconfig: the stack's own, or the main stack's."""
        kubeconfigs = {c.cluster.name: c.kubeconfig for c in dedicated}
        referenced = [c.name for c in env.clusters if c.name not in kubeconfigs]
        if referenced:
            main = pulumi.StackReference(env.main_stack, opts=pulumi.ResourceOptions(parent=self))
            clusters = main.require_output(names.CLUSTERS_OUTPUT)
            for cluster in referenced:
                kubeconfigs[cluster] = _referenced_kubeconfig(clusters, cluster, env.main_stack)
        return kubeconfigs

    def _target(
        self, name: str, cluster: ClusterConfig, kubeconfigs: Mapping[str, pulumi.Output[str]]
    ) -> ClusterTarget:
        """A fleet cluster as this stack sees it: its own provider; Flux is main's to install."""
        provider = cluster_provider(
            f"{name}-{cluster.name}-provider", cluster, kubeconfigs[cluster.name], self
        )
        return ClusterTarget(cluster, provider, flux=None)


def _referenced_kubeconfig(
    clusters: pulumi.Output[Any], cluster: str, main_stack: str
) -> pulumi.Output[str]:
    def pick(exported: Mapping[str, Any]) -> str:
        if cluster not in exported:
            raise ValueError(
                f"the main stack {main_stack} exports no cluster '{cluster}': "
                "run `pulumi up` on it first"
            )
        return str(exported[cluster][names.KUBECONFIG_OUTPUT])

    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(clusters.apply(pick))
    return kubeconfig
