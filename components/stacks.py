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
    docker_networks,
    group_resource_group,
    user_kubeconfigs,
)
from components.credentials import SecretConfig
from components.environment import Environment, EnvironmentArgs
from components.github import GitHubAccess, github_access, protect_branch
from components.gitops_branch import GitOpsBranch, GitOpsBranchArgs
from fleet import names, outputs, tree
from fleet.access import github_commit_repository
from fleet.config import CONFIG_NAMESPACE, FluxConfig
from fleet.model import ClusterSpec, EnvironmentSpec, FleetRepository, FleetSpec, StackSpec
from fleet.safety import inventory
from fleet.summary import summary
from fleet.wiring import main_wiring

Exports = dict[str, Any]


def build(model: StackSpec, secrets: SecretConfig) -> Exports:
    """The running stack's resources, from its model and its secret config; returns its
    outputs."""
    if isinstance(model, FleetSpec):
        return build_main(model, secrets)
    return build_environment(model, secrets)


def commit_branch(
    stack: str,
    branch: str,
    files: Mapping[str, str],
    repository: FleetRepository,
    depends_on: Sequence[pulumi.Resource] = (),
    holds: Sequence[str] = (),
) -> GitOpsBranch:
    """The stack's branch as one commit per update; a new branch starts a history of its own.
    The URL stays as configured: a relative path is the project's wherever it is checked out."""
    return GitOpsBranch(
        f"gitops-{branch}",
        GitOpsBranchArgs(
            url=repository.commit_url,
            branch=branch,
            owner=f"fleet/{stack}",
            files=dict(files),
            message=f"fleet: render stack {stack}",
            token_config_key=(
                f"{CONFIG_NAMESPACE}:{repository.token_key}" if repository.token_key else None
            ),
            holds=tuple(holds),
        ),
        pulumi.ResourceOptions(depends_on=list(depends_on)),
    )


def build_main(fleet: FleetSpec, secrets: SecretConfig) -> Exports:
    """The shared clusters, Flux on each management cluster, branch main's wiring."""
    github = _github(fleet.repository, manages_branches=True)
    networks = docker_networks(fleet.clusters)
    remotes = _remote_clusters(
        fleet.clusters, secrets, names.FLUX_NAMESPACE, networks, fleet.environments
    )
    # A group's members each get the group's wiring; no remote is managed by a group.
    managements = []
    for cluster in fleet.management_clusters:
        resource_group = group_resource_group(cluster)
        for member in cluster.physical:
            branch_main = MainBranchArgs(
                main_wiring(fleet, member),
                fleet.repository,
                {r.cluster.name: r for r in remotes if r.cluster.managed_by == cluster.name},
                github,
            )
            managements.append(
                ManagementCluster(
                    member.name,
                    ManagementClusterArgs(
                        member,
                        fleet.flux,
                        secrets,
                        branch_main,
                        resource_group,
                        _network_of(member, networks),
                    ),
                )
            )
    rules = []
    repository = fleet.repository
    if github is not None and github_commit_repository(repository.url, repository.push_url):
        # Branch main's infra/C is applied as cluster-admin on every cluster: reviewed too.
        rules = protect_branch(
            fleet.branch,
            fleet.branch,
            repository.main_approvals,
            repository.writer_app_id,
            github,
        )
    branch = commit_branch(
        fleet.stack,
        fleet.branch,
        tree.main_branch(fleet),
        fleet.repository,
        depends_on=rules,
    )
    return {
        outputs.COMMIT: branch.commit,
        outputs.INVENTORY: inventory(fleet),
        "summary": summary(fleet),
        outputs.CLUSTERS: cluster_outputs([*managements, *remotes]),
        outputs.USER_KUBECONFIGS: user_kubeconfigs([*managements, *remotes]),
        outputs.ENVIRONMENTS: list(fleet.environments),
    }


def build_environment(env: EnvironmentSpec, secrets: SecretConfig) -> Exports:
    """Branch E, the environment on the fleet's clusters and on its own, and its tenants."""
    dedicated: list[ManagementCluster | RemoteCluster] = [
        *_management_clusters(env.dedicated_clusters, env.fleet.flux, secrets),
        *_remote_clusters(env.dedicated_clusters, secrets, names.environment_namespace(env.name)),
    ]
    github = _github(env.fleet.repository, manages_branches=True)
    environment = Environment(env.name, EnvironmentArgs(env, dedicated, secrets, github))
    branch = commit_branch(
        env.stack,
        env.branch,
        tree.environment_branch(env),
        env.fleet.repository,
        depends_on=environment.branch_rules,
        holds=env.held_branches,
    )
    return {
        outputs.COMMIT: branch.commit,
        outputs.INVENTORY: inventory(env),
        "summary": summary(env),
        outputs.CLUSTERS: cluster_outputs(dedicated),
    }


def _management_clusters(
    clusters: Iterable[ClusterSpec], flux: FluxConfig, secrets: SecretConfig
) -> list[ManagementCluster]:
    found = []
    for cluster in clusters:
        if not cluster.is_management:
            continue
        resource_group = group_resource_group(cluster)
        found += [
            ManagementCluster(
                member.name,
                ManagementClusterArgs(member, flux, secrets, resource_group=resource_group),
            )
            for member in cluster.physical
        ]
    return found


def _network_of(
    cluster: ClusterSpec, networks: Mapping[str, pulumi.Resource]
) -> list[pulumi.Resource]:
    """The Docker network a k3d cluster joins, to be made before it."""
    network = getattr(cluster.provisioning, "network", None)
    return [networks[network]] if isinstance(network, str) and network in networks else []


def _remote_clusters(
    clusters: Iterable[ClusterSpec],
    secrets: SecretConfig,
    platform_namespace: str,
    networks: Mapping[str, pulumi.Resource] | None = None,
    environments: Sequence[str] = (),
) -> list[RemoteCluster]:
    return [
        RemoteCluster(
            c.name,
            RemoteClusterArgs(
                c, secrets, platform_namespace, environments, _network_of(c, networks or {})
            ),
        )
        for c in clusters
        if not c.is_management
    ]


def _github(repository: FleetRepository, *, manages_branches: bool) -> GitHubAccess | None:
    """The GitHub provider, when the stack manages something there: Flux's deploy keys, or the
    rules of the branch it commits to, when that is the repository Flux reads."""
    uses_deploy_keys = repository.access == "deploy-key"
    committed_to = github_commit_repository(repository.url, repository.push_url)
    uses_branches = manages_branches and committed_to is not None
    return github_access(repository.url) if uses_deploy_keys or uses_branches else None
