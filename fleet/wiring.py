"""What Pulumi applies directly on each cluster: the objects that wire it to the repository.

Everything else reaches a cluster through Flux from git. A Secret is described here by its name,
namespace and what it holds (`SecretContent`); the components fill in the values, which never
leave Pulumi secrets. The non-secret objects also go to `clusters/` in git, for reference, from
these same functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fleet import access, layout, names, objects, reach, variables
from fleet.access import GitSource
from fleet.config import NotificationConfig
from fleet.model import AppSpec, ClusterSpec, EnvironmentSpec, FleetSpec, InfraSpec, TenantSpec
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


@dataclass(frozen=True)
class SecretVariables:
    """Variables for Flux's `postBuild.substituteFrom`: (variable, secret config key) pairs."""

    keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HelmValues:
    """A chart's values from secret config: (name in the Secret, secret config key) pairs, read
    by the HelmRelease's `valuesFrom`."""

    keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NotificationAddress:
    """A Provider's webhook URL, from the secret config key `key`."""

    key: str


@dataclass(frozen=True)
class CommitStatusToken:
    """The GitHub token commit statuses are set with, from the secret config key `key`."""

    key: str


@dataclass(frozen=True)
class WorkloadIdentityAccess:
    """Not a Secret: the ConfigMap that names remote `cluster` (its Azure resource id) and the
    account Flux signs in to Azure as (the platform's, annotated with the managed identity that
    may administer the remote), for `kubeConfig.configMapRef`. Nothing in it is secret."""

    cluster: str


SecretContent = (
    Kubeconfig
    | WorkloadIdentityAccess
    | GitCredentials
    | DockerConfig
    | SecretVariables
    | HelmValues
    | NotificationAddress
    | CommitStatusToken
)


def notifications(
    channels: Sequence[NotificationConfig],
    namespace: str,
    tenant: str | None = None,
    match_labels: Mapping[str, str] | None = None,
) -> Wiring:
    """A Provider, an Alert and the Secret of the Provider's address for each channel, in
    `namespace`: the Alert sees that namespace's Kustomizations and HelmReleases only (those
    labelled `match_labels` where given), as the lockdown allows."""
    found = Wiring()
    for channel in channels:
        name = names.notification(channel.name, tenant)
        found.secrets.append(
            AppliedSecret(name, namespace, NotificationAddress(channel.address_secret))
        )
        found.objects.append(
            objects.notification_provider(name, namespace, channel.type, name, channel.channel)
        )
        found.objects.append(objects.alert(name, namespace, name, channel.severity, match_labels))
    return found


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


def _remote_access(remote: ClusterSpec, namespace: str) -> AppliedSecret:
    """How Flux in `namespace` reaches `remote`: its kubeconfig in a Secret, or, secret-less,
    a ConfigMap naming the cluster and the account Flux signs in as (`fleet.reach`)."""
    name = names.kubeconfig_secret(remote.name)
    if reach.secret_less(remote):
        return AppliedSecret(name, namespace, WorkloadIdentityAccess(remote.name))
    return AppliedSecret(name, namespace, Kubeconfig(remote.name))


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


def helm_values(component: InfraSpec) -> HelmValues | None:
    """What the Secret of a chart's values from secret config holds, or None without any."""
    if component.helm is None or not component.helm.values_from:
        return None
    return HelmValues(tuple((v.values_key, v.key) for v in component.helm.values_from))


def values_from(component: InfraSpec) -> list[dict[str, str]]:
    """A chart's HelmRelease's `valuesFrom`: each value in the Secret beside it.
    https://fluxcd.io/flux/components/helm/helmreleases/#values-references"""
    if component.helm is None:
        return []
    secret = names.helm_values_secret(component.name)
    references = []
    for value in component.helm.values_from:
        reference = {"kind": "Secret", "name": secret, "valuesKey": value.values_key}
        if value.target_path is not None:
            reference["targetPath"] = value.target_path
        references.append(reference)
    return references


def _helm_values_secrets(
    components: Sequence[InfraSpec],
    cluster: ClusterSpec,
    remotes: Sequence[ClusterSpec],
    platform_namespace: str,
) -> list[AppliedSecret]:
    """The Secrets of charts' values from secret config on management cluster `cluster`: in
    the component's namespace where it runs there, and in the platform's namespace, beside the
    HelmReleases that install it on the cluster's remotes, where it runs on any of them.

    The component's namespace comes from git (Flux creates it if it is missing, and never takes
    over or deletes one that exists): on a component's first deployment Pulumi may get there
    before Flux has created it, and the next `pulumi up` applies the Secret."""
    found = []
    for component in components:
        content = helm_values(component)
        if content is None:
            continue
        name = names.helm_values_secret(component.name)
        if component.runs_on(cluster.folder):
            found.append(AppliedSecret(name, component.namespace, content))
        if any(component.runs_on(remote.name) for remote in remotes):
            found.append(AppliedSecret(name, platform_namespace, content))
    return found


def infra_health(fleet: FleetSpec) -> objects.Health | None:
    """How the platform's infra Kustomizations wait for what they apply (`fleet:flux.wait`)."""
    flux = fleet.flux
    return objects.Health(flux.timeout, flux.retry_interval) if flux.wait else None


def main_wiring(fleet: FleetSpec, cluster: ClusterSpec) -> Wiring:
    """Branch main (the main stack's branch) on management cluster `cluster`: its infra, and
    its remotes' infra."""
    namespace = names.FLUX_NAMESPACE
    source = fleet_source(fleet, fleet.branch)
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
            layout.kustomization_path(layout.cluster_infra(cluster.folder)),
            names.FLUX_NAMESPACE,
            fleet.flux.interval,
            service_account=names.PLATFORM_ACCOUNT,
            post_build=objects.post_build(variables.of_platform(fleet, cluster)),
            health=infra_health(fleet),
        )
    )
    for remote in fleet.remotes_of(cluster.folder):
        wiring.secrets.append(_remote_access(remote, namespace))
        wiring.objects.append(
            objects.kustomization(
                names.remote_infrastructure(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_infra(cluster.folder, remote.name)),
                names.FLUX_NAMESPACE,
                fleet.flux.interval,
                service_account=names.PLATFORM_ACCOUNT,
                kube_config=reach.kube_config(remote),
                post_build=objects.post_build(variables.of_platform(fleet, remote)),
                health=infra_health(fleet),
            )
        )
    wiring.secrets.extend(
        _helm_values_secrets(fleet.infra, cluster, fleet.remotes_of(cluster.folder), namespace)
    )
    return wiring


def environment_source(env: EnvironmentSpec, branch: str) -> list[K8sObject]:
    """The namespace and GitRepository of the environment, following `branch`: branch E, or
    the held ref of a cluster's ring (`EnvironmentSpec.source_branch`)."""
    namespace = names.environment_namespace(env.name)
    source = fleet_source(env.fleet, branch)
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
        objects=[*environment_source(env, env.source_branch(cluster)), *_platform(namespace)],
        secrets=[secret] if secret else [],
    )
    infra_variables = variables.of_platform(env.fleet, cluster, env)
    wiring.objects.append(
        objects.kustomization(
            names.INFRASTRUCTURE,
            namespace,
            layout.kustomization_path(layout.cluster_infra(cluster.folder)),
            namespace,
            interval,
            service_account=names.PLATFORM_ACCOUNT,
            post_build=objects.post_build(infra_variables),
            health=infra_health(env.fleet),
        )
    )
    # The tenants' Flux objects, written by the fleet (nothing to substitute), once the
    # environment's infrastructure is Ready: what tenants run may need what it installs.
    wiring.objects.append(
        objects.kustomization(
            names.TENANTS,
            namespace,
            layout.kustomization_path(layout.cluster_tenants(cluster.folder)),
            namespace,
            interval,
            service_account=names.PLATFORM_ACCOUNT,
            depends_on=[names.INFRASTRUCTURE],
        )
    )
    for remote in env.remotes_of(cluster.folder):
        wiring.secrets.append(_remote_access(remote, namespace))
        wiring.objects.append(
            objects.kustomization(
                names.remote_infrastructure(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_infra(cluster.folder, remote.name)),
                namespace,
                interval,
                service_account=names.PLATFORM_ACCOUNT,
                kube_config=reach.kube_config(remote),
                post_build=objects.post_build(variables.of_platform(env.fleet, remote, env)),
                health=infra_health(env.fleet),
            )
        )
        # No kubeConfig: it creates the tenants' Flux objects on this cluster, which then
        # deploy to the remote. Deleted (the remote leaves), it waits until they have pruned
        # the remote: Pulumi deletes the remote's kubeconfig only after it.
        wiring.objects.append(
            objects.kustomization(
                names.remote_tenants(remote.name),
                namespace,
                layout.kustomization_path(layout.remote_tenants(cluster.folder, remote.name)),
                namespace,
                interval,
                service_account=names.PLATFORM_ACCOUNT,
                deletion_policy=objects.WAIT_FOR_TERMINATION,
                depends_on=[names.remote_infrastructure(remote.name)],
            )
        )
    wiring.secrets.extend(
        _helm_values_secrets(env.infra, cluster, env.remotes_of(cluster.folder), namespace)
    )
    notified = notifications(env.notifications, namespace)
    wiring.objects.extend(notified.objects)
    wiring.secrets.extend(notified.secrets)
    repository = access.parse_github_url(env.fleet.repository.url)
    if env.commit_status_key is not None and repository is not None:
        # Each cluster marks the commits of branch E its Kustomizations reconciled; the
        # cluster's name in the event tells the statuses apart.
        name = names.COMMIT_STATUS
        address = f"https://github.com/{repository.owner}/{repository.name}"
        wiring.secrets.append(
            AppliedSecret(name, namespace, CommitStatusToken(env.commit_status_key))
        )
        wiring.objects.append(objects.commit_status_provider(name, namespace, address, name))
        wiring.objects.append(
            objects.alert(
                name,
                namespace,
                name,
                "info",
                metadata={"cluster": cluster.folder},
                kinds=("Kustomization",),
            )
        )
    return wiring


def tenant_namespaces(env: EnvironmentSpec, tenant: TenantSpec) -> list[tuple[str, GitSource]]:
    """The tenant's namespace on a management cluster, then one per release channel, each with
    the source its GitRepository reads."""
    return [(c.namespace, c.source) for c in tenant.channels(env.name)]


def app_variables(tenant: TenantSpec, app: AppSpec) -> SecretVariables | None:
    """The secret variables of an app (its tenant's and its own, the app's winning), or None."""
    merged = variables.resolve([tenant.vars, app.vars], {}).secret
    return SecretVariables(tuple(merged.items())) if merged else None


def tenant_wiring(env: EnvironmentSpec, tenant: TenantSpec, cluster: ClusterSpec) -> Wiring:
    """A tenant's namespaces on management cluster `cluster` where it runs there, labelled for
    its Pod Security, and the Secrets its sources and apps need, never a cluster's
    credentials. Where it runs on the cluster's remotes, their Flux objects are in the
    environment's namespace, so their Secrets are there too."""
    wiring = Wiring()
    labels = tenant_namespace_labels(tenant)
    for channel in tenant.channels(env.name):
        namespace, source = channel.namespace, channel.source
        if cluster.folder not in channel.clusters:
            continue
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
        wiring.secrets.extend(_app_variables(tenant, namespace, [cluster.folder]))
        notified = notifications(tenant.notifications, namespace)
        wiring.objects.extend(notified.objects)
        wiring.secrets.extend(notified.secrets)
    remotes = [r.name for r in env.remotes_of(cluster.folder) if tenant.is_on(r.name)]
    if remotes:
        platform = names.environment_namespace(env.name)
        credentials = _credentials(
            tenant.source, names.tenant_git_credentials(tenant.name), platform
        )
        if credentials is not None:
            wiring.secrets.append(credentials)
        wiring.secrets.extend(_app_variables(tenant, platform, remotes))
        # Its apps on the remotes are Kustomizations in the platform's namespace, labelled
        # with the tenant: its Alerts there see those, and nothing of another tenant's.
        notified = notifications(
            tenant.notifications, platform, tenant.name, objects.tenant_labels(tenant.name)
        )
        wiring.objects.extend(notified.objects)
        wiring.secrets.extend(notified.secrets)
    return wiring


def _app_variables(tenant: TenantSpec, namespace: str, clusters: list[str]) -> list[AppliedSecret]:
    """The Secrets of the secret variables of the tenant's apps running on any of `clusters`."""
    found = []
    for app in tenant.apps:
        content = app_variables(tenant, app)
        if content is not None and app.substitute and any(c in app.clusters for c in clusters):
            found.append(
                AppliedSecret(names.app_variables_secret(tenant.name, app.name), namespace, content)
            )
    return found


def tenant_namespace_labels(tenant: TenantSpec) -> dict[str, str]:
    """A tenant namespace's labels, on every cluster: whose it is, and its Pod Security level."""
    return {
        **objects.tenant_labels(tenant.name),
        **objects.pod_security_labels(tenant.pod_security),
    }


def remote_bootstrap(platform_namespace: str, environments: Sequence[str] = ()) -> list[K8sObject]:
    """What Pulumi applies on a remote with its admin credentials: the binding that makes the
    platform's account (of `platform_namespace`, the namespace of the Kustomizations that
    reach the remote) cluster-admin there, and with it the platform accounts of the
    `environments` the main stack lists. Nothing from git could grant it: Flux impersonates
    that very account on the remote, through the remote's kubeconfig
    (https://github.com/fluxcd/pkg/blob/main/runtime/client/impersonator.go)."""
    granted = [names.environment_namespace(e) for e in environments]
    return [objects.platform_cluster_role_binding(platform_namespace, granted)]
