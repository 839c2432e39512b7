"""What Pulumi applies directly on each cluster: the objects that wire it to the repository.

Everything else reaches a cluster through Flux from git. Secrets are described here by name,
namespace and where their value comes from; the components fill in the values. The
non-secret objects also go to `clusters/` in git, for reference, from these same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from fleet import layout, names, objects
from fleet.config import ClusterConfig, RepositoryConfig, TenantConfig
from fleet.model import Environment, Fleet
from fleet.objects import K8sObject
from fleet.rules import is_ssh_url

RepositoryAccess = Literal["public", "token", "deploy-key"]
SecretKind = Literal["kubeconfig", "repository", "tenant-git", "image-pull"]


@dataclass(frozen=True)
class SecretSpec:
    """A Secret Pulumi creates; `source` is a cluster name (kubeconfig) or a config key."""

    name: str
    namespace: str
    kind: SecretKind
    source: str


@dataclass(frozen=True)
class Wiring:
    """What one stack applies directly on one cluster."""

    objects: list[K8sObject] = field(default_factory=list)
    secrets: list[SecretSpec] = field(default_factory=list)


def repository_access(repository: RepositoryConfig) -> RepositoryAccess:
    """How Flux reads the fleet repository: SSH with a deploy key, an HTTPS token, or public."""
    if is_ssh_url(repository.url):
        return "deploy-key"
    return "token" if repository.token_secret else "public"


@dataclass(frozen=True)
class GitHubRepository:
    """A repository on github.com, as the GitHub API names it."""

    owner: str
    name: str


_GITHUB_URL = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com(?::22)?/|git@github\.com:)"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


def github_repository(url: str) -> GitHubRepository | None:
    """The owner and name of a github.com repository URL (https, ssh or scp-like); else None."""
    match = _GITHUB_URL.match(url)
    return GitHubRepository(match["owner"], match["name"]) if match else None


def github_commit_repository(repository: RepositoryConfig) -> GitHubRepository | None:
    """The GitHub repository the program commits to, when Flux reads that same repository.

    None when the program commits elsewhere (a local path, another host): the git writer
    then creates branches itself, and nothing on GitHub is the program's to manage.
    """
    read = github_repository(repository.url)
    pushed = read if repository.push_url is None else github_repository(repository.push_url)
    return read if read is not None and pushed == read else None


def _repository_secret(
    repository: RepositoryConfig, name: str, namespace: str
) -> SecretSpec | None:
    access = repository_access(repository)
    if access == "public":
        return None
    return SecretSpec(name, namespace, "repository", repository.token_secret or "deploy-key")


def _platform(namespace: str) -> list[K8sObject]:
    """The account the platform's Kustomizations impersonate under multi-tenant lockdown."""
    return [
        objects.service_account(objects.PLATFORM_ACCOUNT, namespace),
        objects.platform_cluster_role_binding(namespace),
    ]


def main_wiring(fleet: Fleet, cluster: ClusterConfig) -> Wiring:
    """Branch main on management cluster `cluster`: its infra, and its remotes' infra."""
    namespace = names.FLUX_NAMESPACE
    secret = _repository_secret(fleet.repository, names.FLUX_NAMESPACE, namespace)
    wiring = Wiring(objects=_platform(namespace), secrets=[secret] if secret else [])
    wiring.objects.append(
        objects.git_repository(
            names.FLUX_NAMESPACE,
            namespace,
            fleet.repository.url,
            names.MAIN_BRANCH,
            fleet.flux.source_interval,
            secret=secret.name if secret else None,
        )
    )
    wiring.objects.append(
        objects.kustomization(
            names.INFRASTRUCTURE,
            namespace,
            layout.kustomization_path(layout.cluster_infra(cluster.name)),
            names.FLUX_NAMESPACE,
            fleet.flux.interval,
            service_account=objects.PLATFORM_ACCOUNT,
        )
    )
    for remote in fleet.remotes_of(cluster.name):
        wiring.secrets.append(
            SecretSpec(names.kubeconfig_secret(remote.name), namespace, "kubeconfig", remote.name)
        )
        wiring.objects.append(
            objects.kustomization(
                names.remote_infrastructure(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_infra(cluster.name, remote.name)),
                names.FLUX_NAMESPACE,
                fleet.flux.interval,
                service_account=objects.PLATFORM_ACCOUNT,
                kubeconfig_secret=names.kubeconfig_secret(remote.name),
            )
        )
    return wiring


def environment_source(env: Environment) -> list[K8sObject]:
    """The namespace and GitRepository of the environment: the same on every cluster."""
    namespace = names.environment_namespace(env.name)
    secret = _repository_secret(env.fleet.repository, namespace, namespace)
    return [
        objects.namespace(namespace),
        objects.git_repository(
            namespace,
            namespace,
            env.fleet.repository.url,
            env.branch,
            env.fleet.flux.source_interval,
            secret=secret.name if secret else None,
        ),
    ]


def environment_wiring(env: Environment, cluster: ClusterConfig) -> Wiring:
    """Branch E on management cluster `cluster`: infra and tenants, for it and its remotes."""
    namespace = names.environment_namespace(env.name)
    interval = env.fleet.flux.interval
    secret = _repository_secret(env.fleet.repository, namespace, namespace)
    wiring = Wiring(
        objects=[*environment_source(env), *_platform(namespace)],
        secrets=[secret] if secret else [],
    )
    for name, path in (
        (names.INFRASTRUCTURE, layout.kustomization_path(layout.cluster_infra(cluster.name))),
        (names.TENANTS, layout.kustomization_path(layout.cluster_tenants(cluster.name))),
    ):
        wiring.objects.append(
            objects.kustomization(
                name,
                namespace,
                path,
                namespace,
                interval,
                service_account=objects.PLATFORM_ACCOUNT,
            )
        )
    for remote in env.remotes_of(cluster.name):
        secret_name = names.kubeconfig_secret(remote.name)
        wiring.secrets.append(SecretSpec(secret_name, namespace, "kubeconfig", remote.name))
        wiring.objects.append(
            objects.kustomization(
                names.remote_infrastructure(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_infra(cluster.name, remote.name)),
                namespace,
                interval,
                service_account=objects.PLATFORM_ACCOUNT,
                kubeconfig_secret=secret_name,
            )
        )
        # No kubeConfig: it creates the tenants' Flux objects on this cluster, which then
        # deploy to the remote.
        wiring.objects.append(
            objects.kustomization(
                names.remote_tenants(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_tenants(cluster.name, remote.name)),
                namespace,
                interval,
                service_account=objects.PLATFORM_ACCOUNT,
            )
        )
    return wiring


def tenant_namespaces(env: Environment, tenant: TenantConfig) -> list[str]:
    """The tenant's namespace on a management cluster, then one per release channel."""
    return [
        names.tenant_namespace(env.name, tenant.name),
        *(names.release_namespace(env.name, r.name, tenant.name) for r in tenant.releases),
    ]


def tenant_wiring(env: Environment, tenant: TenantConfig, cluster: ClusterConfig) -> Wiring:
    """A tenant's sandboxes on management cluster `cluster` and the secrets they need."""
    wiring = Wiring()
    labels = objects.tenant_labels(tenant.name)
    for index, namespace in enumerate(tenant_namespaces(env, tenant)):
        wiring.objects.append(objects.namespace(namespace, labels))
        if index == 0:
            for remote in env.remotes_of(cluster.name):
                wiring.secrets.append(
                    SecretSpec(
                        names.kubeconfig_secret(remote.name), namespace, "kubeconfig", remote.name
                    )
                )
        if tenant.repository.credentials_secret:
            wiring.secrets.append(
                SecretSpec(
                    names.tenant_git_credentials(tenant.name),
                    namespace,
                    "tenant-git",
                    tenant.repository.credentials_secret,
                )
            )
        if tenant.image_pull_secret:
            wiring.secrets.append(
                SecretSpec(
                    names.tenant_image_pull_secret(tenant.name),
                    namespace,
                    "image-pull",
                    tenant.image_pull_secret,
                )
            )
    return wiring
