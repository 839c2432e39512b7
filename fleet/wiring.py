"""What Pulumi applies directly on each cluster: the objects that wire it to the repository.

Everything else reaches a cluster through Flux from git. A Secret is described here by its name,
namespace and what it holds (`SecretContent`); the components fill in the values, which never
leave Pulumi secrets. The non-secret objects also go to `clusters/` in git, for reference, from
these same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet import layout, names, objects
from fleet.access import GitSource
from fleet.model import ClusterSpec, EnvironmentSpec, FleetSpec, TenantSpec
from fleet.objects import K8sObject


@dataclass(frozen=True)
class Kubeconfig:
    """A cluster's kubeconfig, under the key Flux reads (`value`)."""

    cluster: str


@dataclass(frozen=True)
class GitCredentials:
    """What Flux needs to read `source`, in the shape its access calls for."""

    source: GitSource


@dataclass(frozen=True)
class DockerConfig:
    """A `.dockerconfigjson` from the secret config key `key`."""

    key: str


SecretContent = Kubeconfig | GitCredentials | DockerConfig


@dataclass(frozen=True)
class AppliedSecret:
    """A Secret Pulumi applies; its data is filled in only where it is applied."""

    name: str
    namespace: str
    content: SecretContent


@dataclass(frozen=True)
class Wiring:
    """What one stack applies directly on one cluster."""

    objects: list[K8sObject] = field(default_factory=list)
    secrets: list[AppliedSecret] = field(default_factory=list)


def fleet_source(fleet: FleetSpec, branch: str) -> GitSource:
    """Branch `branch` of the fleet repository, as Flux reads it."""
    repository = fleet.repository
    return GitSource(repository.url, branch, repository.access, repository.token_key)


def _credentials(source: GitSource, name: str, namespace: str) -> AppliedSecret | None:
    """The Secret a GitRepository of `source` names, unless the repository is public."""
    if source.access == "public":
        return None
    return AppliedSecret(name, namespace, GitCredentials(source))


def _platform(namespace: str) -> list[K8sObject]:
    """The account the platform's Kustomizations impersonate under multi-tenant lockdown."""
    return [
        objects.service_account(names.PLATFORM_ACCOUNT, namespace),
        objects.platform_cluster_role_binding(namespace),
    ]


def main_wiring(fleet: FleetSpec, cluster: ClusterSpec) -> Wiring:
    """Branch main on management cluster `cluster`: its infra, and its remotes' infra."""
    namespace = names.FLUX_NAMESPACE
    source = fleet_source(fleet, names.MAIN_BRANCH)
    secret = _credentials(source, names.FLUX_NAMESPACE, namespace)
    wiring = Wiring(objects=_platform(namespace), secrets=[secret] if secret else [])
    wiring.objects.append(
        objects.git_repository(
            names.FLUX_NAMESPACE,
            namespace,
            source.url,
            source.branch,
            fleet.flux.source_interval,
            secret_ref=secret.name if secret else None,
        )
    )
    wiring.objects.append(
        objects.kustomization(
            names.INFRASTRUCTURE,
            namespace,
            layout.kustomization_path(layout.cluster_infra(cluster.name)),
            names.FLUX_NAMESPACE,
            fleet.flux.interval,
            service_account=names.PLATFORM_ACCOUNT,
        )
    )
    for remote in fleet.remotes_of(cluster.name):
        wiring.secrets.append(
            AppliedSecret(names.kubeconfig_secret(remote.name), namespace, Kubeconfig(remote.name))
        )
        wiring.objects.append(
            objects.kustomization(
                names.remote_infrastructure(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_infra(cluster.name, remote.name)),
                names.FLUX_NAMESPACE,
                fleet.flux.interval,
                service_account=names.PLATFORM_ACCOUNT,
                kubeconfig_secret=names.kubeconfig_secret(remote.name),
            )
        )
    return wiring


def environment_source(env: EnvironmentSpec) -> list[K8sObject]:
    """The namespace and GitRepository of the environment: the same on every cluster."""
    namespace = names.environment_namespace(env.name)
    source = fleet_source(env.fleet, env.branch)
    secret = _credentials(source, namespace, namespace)
    return [
        objects.namespace(namespace),
        objects.git_repository(
            namespace,
            namespace,
            source.url,
            source.branch,
            env.fleet.flux.source_interval,
            secret_ref=secret.name if secret else None,
        ),
    ]


def environment_wiring(env: EnvironmentSpec, cluster: ClusterSpec) -> Wiring:
    """Branch E on management cluster `cluster`: infra and tenants, for it and its remotes."""
    namespace = names.environment_namespace(env.name)
    interval = env.fleet.flux.interval
    secret = _credentials(fleet_source(env.fleet, env.branch), namespace, namespace)
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
                service_account=names.PLATFORM_ACCOUNT,
            )
        )
    for remote in env.remotes_of(cluster.name):
        secret_name = names.kubeconfig_secret(remote.name)
        wiring.secrets.append(AppliedSecret(secret_name, namespace, Kubeconfig(remote.name)))
        wiring.objects.append(
            objects.kustomization(
                names.remote_infrastructure(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_infra(cluster.name, remote.name)),
                namespace,
                interval,
                service_account=names.PLATFORM_ACCOUNT,
                kubeconfig_secret=secret_name,
            )
        )
        # No kubeConfig: it creates the tenants' Flux objects on this cluster, which then
        # deploy to the remote. Deleted (the remote leaves), it waits until they have pruned
        # the remote: Pulumi deletes the remote's kubeconfig only after it.
        wiring.objects.append(
            objects.kustomization(
                names.remote_tenants(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_tenants(cluster.name, remote.name)),
                namespace,
                interval,
                service_account=names.PLATFORM_ACCOUNT,
                deletion_policy=objects.WAIT_FOR_TERMINATION,
            )
        )
    return wiring


def tenant_namespaces(env: EnvironmentSpec, tenant: TenantSpec) -> list[tuple[str, GitSource]]:
    """The tenant's namespace on a management cluster, then one per release channel, each with
    the source its GitRepository reads."""
    return [
        (names.tenant_namespace(env.name, tenant.name), tenant.source),
        *(
            (names.release_namespace(env.name, r.name, tenant.name), r.source)
            for r in tenant.releases
        ),
    ]


def tenant_wiring(env: EnvironmentSpec, tenant: TenantSpec, cluster: ClusterSpec) -> Wiring:
    """A tenant's namespaces on management cluster `cluster`, labelled for its Pod Security,
    and the Secrets its sources need, never a cluster's credentials. Where the cluster manages
    remotes, the tenant's remote sources read from the environment's namespace, so their
    credentials are there too."""
    wiring = Wiring()
    labels = tenant_namespace_labels(tenant)
    for namespace, source in tenant_namespaces(env, tenant):
        wiring.objects.append(objects.namespace(namespace, labels))
        credentials = _credentials(source, names.tenant_git_credentials(tenant.name), namespace)
        if credentials is not None:
            wiring.secrets.append(credentials)
        if tenant.image_pull_key:
            wiring.secrets.append(
                AppliedSecret(
                    names.tenant_image_pull_secret(tenant.name),
                    namespace,
                    DockerConfig(tenant.image_pull_key),
                )
            )
    if env.remotes_of(cluster.name):
        platform = names.environment_namespace(env.name)
        credentials = _credentials(
            tenant.source, names.tenant_git_credentials(tenant.name), platform
        )
        if credentials is not None:
            wiring.secrets.append(credentials)
    return wiring


def tenant_namespace_labels(tenant: TenantSpec) -> dict[str, str]:
    """A tenant namespace's labels, on every cluster: whose it is, and its Pod Security level."""
    return {
        **objects.tenant_labels(tenant.name),
        **objects.pod_security_labels(tenant.pod_security),
    }


def remote_bootstrap(platform_namespace: str) -> list[K8sObject]:
    """What Pulumi applies on a remote with its admin credentials: the binding that makes the
    platform's account (of `platform_namespace`, the namespace of the Kustomizations that
    reach the remote) cluster-admin there. Nothing from git could grant it: Flux applies to a
    remote as that very account."""
    return [objects.platform_cluster_role_binding(platform_namespace)]
