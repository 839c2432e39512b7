"""The two kinds of stack, built from the fleet model: what `__main__.py` calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pulumi

from components.clusters import (
    MainBranchArgs,
    ManagementCluster,
    ManagementClusterArgs,
    RemoteCluster,
    RemoteClusterArgs,
    cluster_outputs,
)
from components.environment import Environment, EnvironmentArgs
from components.github import GitHubAccess, github_access
from components.gitops_branch import GitOpsBranch, GitOpsBranchArgs
from fleet import names, tree
from fleet.config import CONFIG_NAMESPACE, ClusterConfig, FluxConfig, RepositoryConfig
from fleet.model import Environment as EnvironmentModel
from fleet.model import Fleet
from fleet.safety import inventory
from fleet.summary import summary
from fleet.wiring import github_commit_repository, main_wiring, repository_access

Exports = dict[str, Any]


def build(model: Fleet | EnvironmentModel) -> Exports:
    """The running stack's resources; returns its outputs."""
    return build_main(model) if isinstance(model, Fleet) else build_environment(model)


def commit_branch(
    stack: str,
    branch: str,
    files: Mapping[str, str],
    repository: RepositoryConfig,
    depends_on: Sequence[pulumi.Resource] = (),
) -> GitOpsBranch:
    """The stack's branch as one commit per update. Branch main starts its own history; an
    environment branch starts from main. The URL stays as configured: a relative path is the
    project's wherever it is checked out."""
    return GitOpsBranch(
        f"gitops-{branch}",
        GitOpsBranchArgs(
            url=repository.push_url or repository.url,
            branch=branch,
            owner=f"fleet/{stack}",
            files=dict(files),
            message=f"fleet: render stack {stack}",
            base_branch=names.MAIN_BRANCH,
            token_config_key=(
                f"{CONFIG_NAMESPACE}:{repository.token_secret}" if repository.token_secret else None
            ),
        ),
        pulumi.ResourceOptions(depends_on=list(depends_on)),
    )


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
    branch = commit_branch(
        fleet.stack, names.MAIN_BRANCH, tree.main_branch(fleet), fleet.repository
    )
    return {
        "commit": branch.commit,
        names.INVENTORY_OUTPUT: inventory(fleet),
        "summary": summary(fleet),
        names.CLUSTERS_OUTPUT: cluster_outputs([*managements, *remotes]),
    }


def build_environment(env: EnvironmentModel) -> Exports:
    """Branch E, the environment on the fleet's clusters and on its own, and its tenants."""
    dedicated: list[ManagementCluster | RemoteCluster] = [
        *_management_clusters(env.dedicated_clusters, env.fleet.flux),
        *_remote_clusters(env.dedicated_clusters),
    ]
    github = _github(env.fleet.repository, manages_branches=True)
    environment = Environment(env.name, EnvironmentArgs(env, dedicated, github))
    branch = commit_branch(
        env.stack,
        env.branch,
        tree.environment_branch(env),
        env.fleet.repository,
        depends_on=[environment.branch] if environment.branch is not None else [],
    )
    return {
        "commit": branch.commit,
        names.INVENTORY_OUTPUT: inventory(env),
        "summary": summary(env),
        names.CLUSTERS_OUTPUT: cluster_outputs(dedicated),
    }


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
