"""The two kinds of stack, built from the fleet model: what `__main__.py` calls."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components.clusters import (
    CLUSTERS_OUTPUT,
    MainBranchArgs,
    ManagementCluster,
    ManagementClusterArgs,
    RemoteCluster,
    RemoteClusterArgs,
    cluster_outputs,
)
from components.environment import Environment, EnvironmentArgs
from components.github_repository import GitHubAccess, github_access
from fleet.cli import summary
from fleet.config import ClusterConfig, FluxConfig, RepositoryConfig
from fleet.model import Environment as EnvironmentModel
from fleet.model import Fleet
from fleet.wiring import github_commit_repository, main_wiring, repository_access

Exports = dict[str, Any]


def build(model: Fleet | EnvironmentModel) -> Exports:
    """The running stack's resources; returns its outputs."""
    return build_main(model) if isinstance(model, Fleet) else build_environment(model)


def build_main(fleet: Fleet) -> Exports:
    """The shared clusters, Flux on each management cluster, branch main's wiring."""
    github = _github(fleet.repository, manages_branches=False)
    remotes = _remote_clusters(fleet.clusters)
    kubeconfigs = {r.cluster.name: r.kubeconfig for r in remotes}
    managements = [
        ManagementCluster(
            cluster.name,
            ManagementClusterArgs(
                cluster,
                fleet.flux,
                MainBranchArgs(main_wiring(fleet, cluster), fleet.repository, kubeconfigs, github),
            ),
        )
        for cluster in fleet.management_clusters
    ]
    return {"summary": summary(fleet), CLUSTERS_OUTPUT: cluster_outputs([*managements, *remotes])}


def build_environment(env: EnvironmentModel) -> Exports:
    """Branch E, the environment on the fleet's clusters and on its own, and its tenants."""
    dedicated: list[ManagementCluster | RemoteCluster] = [
        *_management_clusters(env.dedicated_clusters, env.fleet.flux),
        *_remote_clusters(env.dedicated_clusters),
    ]
    github = _github(env.fleet.repository, manages_branches=True)
    Environment(env.name, EnvironmentArgs(env, dedicated, github))
    return {"summary": summary(env), CLUSTERS_OUTPUT: cluster_outputs(dedicated)}


def _management_clusters(
    clusters: Iterable[ClusterConfig], flux: FluxConfig
) -> list[ManagementCluster]:
    return [
        ManagementCluster(c.name, ManagementClusterArgs(c, flux))
        for c in clusters
        if c.role == "management"
    ]


def _remote_clusters(clusters: Iterable[ClusterConfig]) -> list[RemoteCluster]:
    return [RemoteCluster(c.name, RemoteClusterArgs(c)) for c in clusters if c.role == "remote"]


def _github(repository: RepositoryConfig, *, manages_branches: bool) -> GitHubAccess | None:
    """The GitHub provider, when the stack manages something there: Flux's deploy keys, or
    (environment stacks) branch E of the repository the program commits to."""
    uses_deploy_keys = repository_access(repository) == "deploy-key"
    uses_branches = manages_branches and github_commit_repository(repository) is not None
    return github_access(repository.url) if uses_deploy_keys or uses_branches else None
