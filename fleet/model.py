"""The resolved fleet: a stack's config validated, every default filled in, once.

`load_main` and `load_environment` are the only ways in; they either return a model that every
later step can trust, or raise one `ConfigError` listing every problem. The config schema
(`fleet.config`) is what users write; these `*Spec` classes are what the program builds from:
nothing here is optional where the program needs a value, and a cluster's kind is the type of
its provisioning settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import ValidationError

from fleet import access, names, rules, selection
from fleet.access import GitAccess, GitSource
from fleet.config import (
    STACK_KEYS,
    AksConfig,
    AttachedConfig,
    ClusterConfig,
    ClusterKind,
    ClusterRef,
    ClusterRole,
    ComponentConfig,
    ComponentOverride,
    EnvironmentStackConfig,
    FluxConfig,
    HelmConfig,
    K3dConfig,
    MainStackConfig,
    MemberConfig,
    NotificationConfig,
    PodSecurityLevel,
    RolloutConfig,
    Schema,
    SecretVar,
    TenantConfig,
    VarValue,
)
from fleet.errors import ConfigError, Problem


class Encrypted:
    """A config value stored encrypted (`secure:`), whose plain text this code never holds."""

    def __repr__(self) -> str:
        return "<encrypted>"


ENCRYPTED = Encrypted()
"""Stands for every encrypted value in raw config handed to the loaders."""


@dataclass(frozen=True)
class SecretKey:
    """A config key that must hold a secret (`pulumi config set --secret`), and what names it."""

    key: str
    named_at: str


# ---------------------------------------------------------------- the resolved entities

Provisioning = AksConfig | K3dConfig | AttachedConfig
"""How a cluster comes to exist: provisioned on Azure, created with k3d, or attached."""


@dataclass(frozen=True)
class MemberSpec:
    """One physical cluster of a group, and how it comes to exist."""

    name: str
    provisioning: Provisioning


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    role: ClusterRole
    managed_by: str | None
    """The management cluster whose Flux reconciles this one: set for remotes only."""
    labels: Mapping[str, str]
    vars: Mapping[str, VarValue]
    protect: bool
    provisioning: Provisioning
    members: tuple[MemberSpec, ...] = ()
    """A group's physical clusters; empty for a single cluster."""
    group: str | None = None
    """Set on a member of a group: the group's name, which its folders in git carry."""

    @property
    def physical(self) -> tuple[ClusterSpec, ...]:
        """The clusters that exist: this one, or each member of the group, which shares the
        group's configuration and folders (`group`)."""
        if not self.members:
            return (self,)
        return tuple(
            replace(self, name=m.name, provisioning=m.provisioning, members=(), group=self.name)
            for m in self.members
        )

    @property
    def folder(self) -> str:
        """The name of the cluster's folders in git: a group's members share the group's."""
        return self.group or self.name

    @property
    def kind(self) -> ClusterKind:
        match self.provisioning:
            case AksConfig():
                return "aks"
            case K3dConfig():
                return "k3d"
            case AttachedConfig():
                return "attached"

    @property
    def is_management(self) -> bool:
        return self.role == "management"


@dataclass(frozen=True)
class InfraSpec:
    """An infra component: one Helm chart or plain manifests, in its own namespace."""

    name: str
    namespace: str
    helm: HelmConfig | None
    """The chart; None for a component of plain manifests."""
    manifests: tuple[Mapping[str, Any], ...]
    clusters: tuple[str, ...]
    """The clusters it runs on, in the stack's order."""
    overrides: Mapping[str, ComponentOverride]
    cluster_scoped: bool
    """Its chart creates cluster-wide objects, so its account has cluster-wide rights."""

    def runs_on(self, cluster: str) -> bool:
        return cluster in self.clusters


@dataclass(frozen=True)
class AppSpec:
    name: str
    path: str
    """The path in the tenant's repository; `{cluster}` stands for the cluster's name."""
    paths: Mapping[str, str]
    """Per-cluster paths, by cluster name."""
    clusters: tuple[str, ...]
    """The clusters it runs on: the tenant's, or those of them it selects."""
    vars: Mapping[str, VarValue]
    substitute: bool
    """Flux substitutes variables in its manifests."""
    interval: str
    prune: bool

    def path_on(self, cluster: str) -> str:
        """The path the app's Kustomization reads on `cluster`."""
        return self.paths.get(cluster, self.path.replace("{cluster}", cluster))


@dataclass(frozen=True)
class ReleaseSpec:
    """A release channel: a second copy of the tenant that follows another branch."""

    name: str
    source: GitSource
    clusters: tuple[str, ...]
    """The clusters the channel runs on: the tenant's, or those of them it selects."""


@dataclass(frozen=True)
class ChannelSpec:
    """One copy of a tenant: its own (`release` None) or a release channel's, each in a
    namespace of its own, reading its own source, on its clusters."""

    release: str | None
    namespace: str
    source: GitSource
    clusters: tuple[str, ...]


@dataclass(frozen=True)
class TenantSpec:
    name: str
    source: GitSource
    clusters: tuple[str, ...]
    """The clusters of the environment the tenant is on, in the environment's order."""
    apps: tuple[AppSpec, ...]
    releases: tuple[ReleaseSpec, ...]
    vars: Mapping[str, VarValue]
    image_pull_key: str | None
    """The secret config key holding a `.dockerconfigjson` for the tenant's namespaces."""
    pod_security: PodSecurityLevel
    isolate_network: bool
    resource_quota: Mapping[str, str | int]
    limit_range: tuple[Mapping[str, Any], ...]
    notifications: tuple[NotificationConfig, ...] = ()

    def channels(self, environment: str) -> tuple[ChannelSpec, ...]:
        """The tenant's own channel, then each release channel, in environment `environment`."""
        own = ChannelSpec(
            None, names.tenant_namespace(environment, self.name), self.source, self.clusters
        )
        releases = (
            ChannelSpec(
                r.name,
                names.release_namespace(environment, r.name, self.name),
                r.source,
                r.clusters,
            )
            for r in self.releases
        )
        return (own, *releases)

    def is_on(self, cluster: str) -> bool:
        """The tenant has a channel on `cluster`: its own clusters, since each release channel
        runs on some of them."""
        return cluster in self.clusters


@dataclass(frozen=True)
class Picked:
    """One item of a list of clusters in config, and the clusters it picked."""

    at: str
    """The list's config path, e.g. `fleet:tenants[0].clusters`."""
    item: str
    """The name, or the selector as `kubectl get -l` takes it."""
    clusters: tuple[str, ...]


@dataclass(frozen=True)
class FleetRepository:
    """The fleet's GitOps repository: what Flux reads, where the program commits, and how."""

    url: str
    push_url: str | None
    token_key: str | None
    """The secret config key holding the HTTPS token the program pushes (and Flux reads) with."""
    access: GitAccess
    """How Flux reads it (`access.fleet_access`)."""
    main_approvals: int = 1
    writer_app_id: int | None = None
    """The GitHub App that pushes branch main; None: the repository's write deploy keys."""

    @property
    def commit_url(self) -> str:
        return self.push_url or self.url


@dataclass(frozen=True)
class FleetSpec:
    """The main stack: the shared clusters, Flux settings, common infra and the repository."""

    stack: str
    repository: FleetRepository
    flux: FluxConfig
    clusters: tuple[ClusterSpec, ...]
    infra: tuple[InfraSpec, ...]
    vars: Mapping[str, VarValue]
    secret_keys: tuple[SecretKey, ...]
    max_removals: int
    selections: tuple[Picked, ...] = ()
    owners: tuple[str, ...] = ()
    """Who approves a change of the stack's settings file (CODEOWNERS)."""
    environments: tuple[str, ...] = ()
    """The environments whose platform accounts the stack grants on its remotes."""
    branch: str = names.MAIN_BRANCH
    """The branch the stack commits, which its clusters' Flux follows."""

    def cluster(self, name: str) -> ClusterSpec:
        return next(c for c in self.clusters if c.name == name)

    @property
    def management_clusters(self) -> tuple[ClusterSpec, ...]:
        return tuple(c for c in self.clusters if c.is_management)

    def remotes_of(self, management: str) -> tuple[ClusterSpec, ...]:
        return tuple(c for c in self.clusters if c.managed_by == management)


@dataclass(frozen=True)
class RolloutSpec:
    """The rings of an environment in rollout order, and each management cluster's (by its
    folder: a group's members share their group's ring)."""

    label: str
    rings: tuple[str, ...]
    ring_of: Mapping[str, str]

    def clusters_of(self, ring: str) -> tuple[str, ...]:
        return tuple(c for c, r in self.ring_of.items() if r == ring)


@dataclass(frozen=True)
class EnvironmentSpec:
    """An environment stack, with the fleet it runs on."""

    stack: str
    name: str
    branch: str
    required_approvals: int
    main_stack: str
    fleet: FleetSpec
    clusters: tuple[ClusterSpec, ...]
    """Every cluster taking part: the listed fleet clusters, then the dedicated ones."""
    dedicated_clusters: tuple[ClusterSpec, ...]
    infra: tuple[InfraSpec, ...]
    tenants: tuple[TenantSpec, ...]
    vars: Mapping[str, VarValue]
    secret_keys: tuple[SecretKey, ...]
    max_removals: int
    selections: tuple[Picked, ...] = ()
    """What each list of clusters in the stack's config picked, for showing a user."""
    notifications: tuple[NotificationConfig, ...] = ()
    commit_status_key: str | None = None
    """The secret config key of the token each cluster sets commit statuses with."""
    rollout: RolloutSpec | None = None
    writer_app_id: int | None = None
    """The GitHub App that pushes branch E; None: the repository's write deploy keys."""
    owners: tuple[str, ...] = ()
    """Who approves a change of the stack's settings file (CODEOWNERS)."""

    @property
    def management_clusters(self) -> tuple[ClusterSpec, ...]:
        return tuple(c for c in self.clusters if c.is_management)

    def remotes_of(self, management: str) -> tuple[ClusterSpec, ...]:
        return tuple(c for c in self.clusters if c.managed_by == management)

    @property
    def held_branches(self) -> tuple[str, ...]:
        """The refs that hold the rings after the first, in rollout order."""
        if self.rollout is None:
            return ()
        return tuple(names.ring_branch(self.branch, r) for r in self.rollout.rings[1:])

    def source_branch(self, cluster: ClusterSpec) -> str:
        """What the environment's GitRepository on management cluster `cluster` follows: branch
        E itself on the first ring (and without rings), the ring's held ref on the others."""
        if self.rollout is None:
            return self.branch
        ring = self.rollout.ring_of[cluster.folder]
        if ring == self.rollout.rings[0]:
            return self.branch
        return names.ring_branch(self.branch, ring)


StackSpec = FleetSpec | EnvironmentSpec


def _common_namespaces(fleet: FleetSpec) -> dict[str, str]:
    return {c.namespace: f"the main stack's component {c.name}'s namespace" for c in fleet.infra}


def claimed_namespaces(raw: Mapping[str, Any], stack: str, source: str) -> dict[str, str]:
    """The namespaces an environment stack has on its clusters, each with whose it is, from its
    config alone (its rules may fail for the very clash this is used to find). Another
    environment of the fleet must not have them too: a tenant there would be admin in them."""
    config = _parse(EnvironmentStackConfig, raw, source)
    env = config.environment.name or stack
    claimed = {names.environment_namespace(env): f"environment {env}'s namespace"}
    for component in config.infra:
        namespace = rules.environment_component_namespace(env, component)
        claimed[namespace] = f"component {component.name} of environment {env}"
    for tenant in config.tenants:
        for namespace in [
            names.tenant_namespace(env, tenant.name),
            *(names.release_namespace(env, r.name, tenant.name) for r in tenant.releases),
        ]:
            claimed[namespace] = f"a namespace of tenant {tenant.name} of environment {env}"
    return claimed


def fleet_of(model: StackSpec) -> FleetSpec:
    """The fleet a stack runs on: the main stack's own, or an environment's."""
    return model if isinstance(model, FleetSpec) else model.fleet


# ---------------------------------------------------------------- resolving config


def _cluster(config: ClusterConfig) -> ClusterSpec:
    """The rules guarantee the kind's settings where they are required (for a group of attached
    clusters, each member's kubeconfig); k3d's are optional."""
    members = tuple(config.members)
    return ClusterSpec(
        name=config.name,
        role=config.role,
        managed_by=config.managed_by,
        labels=dict(config.labels),
        vars=dict(config.vars),
        protect=config.protect,
        provisioning=_provisioning(config, _as_member(members[0]) if members else None),
        members=tuple(
            MemberSpec(_as_member(m).name, _provisioning(config, _as_member(m))) for m in members
        ),
    )


def _as_member(member: str | MemberConfig) -> MemberConfig:
    return MemberConfig(name=member) if isinstance(member, str) else member


def _provisioning(config: ClusterConfig, member: MemberConfig | None) -> Provisioning:
    """How the cluster (or a group's `member`) comes to exist: the group's settings, with a
    member's own kubeconfig when the group is attached (a group's own is its first member's)."""
    match config.kind:
        case "aks":
            assert config.aks is not None
            return config.aks
        case "k3d":
            return config.k3d or K3dConfig()
        case "attached":
            if config.attached is not None:
                return config.attached
            assert member is not None and member.kubeconfig_secret is not None
            return AttachedConfig(
                kubeconfig_secret=member.kubeconfig_secret, context=member.context
            )


class _Picker:
    """Resolves the lists of clusters of one stack (validated by the rules already) and keeps
    what each item picked."""

    def __init__(self) -> None:
        self.picked: list[Picked] = []

    def __call__(
        self, at: str, refs: Sequence[ClusterRef] | None, scope: Sequence[selection.Labelled]
    ) -> tuple[str, ...]:
        if refs is None:
            return tuple(c.name for c in scope)
        found = selection.select(refs, scope, "", lambda name: name)
        self.picked += [Picked(at, item, clusters) for item, clusters in found.picked]
        return found.names


def _infra(
    config: ComponentConfig,
    namespace: str,
    clusters: Sequence[ClusterSpec],
    pick: _Picker,
    at: str,
) -> InfraSpec:
    return InfraSpec(
        name=config.name,
        namespace=namespace,
        helm=config.helm,
        manifests=tuple(config.manifests),
        clusters=pick(f"{at}.clusters", config.clusters, clusters),
        overrides=dict(config.overrides),
        cluster_scoped=config.cluster_scoped,
    )


def _tenant(
    config: TenantConfig, clusters: Sequence[ClusterSpec], pick: _Picker, at: str
) -> TenantSpec:
    repository = config.repository
    own = pick(f"{at}.clusters", config.clusters, clusters)
    own_clusters = [c for c in clusters if c.name in own]

    def source(url: str, branch: str, commit: str | None) -> GitSource:
        return GitSource(
            url=url,
            branch=branch,
            access=access.source_access(url, repository.credentials_secret),
            credentials_key=repository.credentials_secret,
            known_hosts=repository.known_hosts,
            commit=commit,
        )

    return TenantSpec(
        name=config.name,
        source=source(repository.url, repository.branch, repository.commit),
        clusters=tuple(c.name for c in own_clusters),
        apps=tuple(
            AppSpec(
                name=app.name,
                path=app.path or names.default_app_path(app.name, "{cluster}"),
                paths=dict(app.paths),
                clusters=pick(f"{at}.apps[{index}].clusters", app.clusters, own_clusters),
                vars=dict(app.vars),
                substitute=app.substitute,
                interval=app.interval,
                prune=app.prune,
            )
            for index, app in enumerate(config.apps)
        ),
        releases=tuple(
            ReleaseSpec(
                release.name,
                source(release.repository or repository.url, release.branch, release.commit),
                pick(f"{at}.releases[{index}].clusters", release.clusters, own_clusters),
            )
            for index, release in enumerate(config.releases)
        ),
        vars=dict(config.vars),
        image_pull_key=config.image_pull_secret,
        pod_security=config.pod_security,
        isolate_network=config.isolate_network,
        resource_quota=dict(config.resource_quota),
        limit_range=tuple(config.limit_range),
        notifications=tuple(config.notifications),
    )


# ---------------------------------------------------------------- loading

SchemaT = TypeVar("SchemaT", bound=Schema)


def load_main(
    raw: Mapping[str, Any], stack: str, *, source: str, secrets_required: bool = False
) -> FleetSpec:
    """The main stack from its raw config (keys without the `fleet:` prefix)."""
    config = _parse(MainStackConfig, raw, source)
    secret_keys = _kubeconfig_keys("clusters", config.clusters)
    patched = _patched_objects(names.FLUX_NAMESPACE, config.flux.interval)
    problems = rules.check_main_stack(config, patched)
    platform_keys = {k.key: f"the kubeconfig named by {k.named_at}" for k in secret_keys}
    if config.repository.token_secret:
        secret_keys.append(
            SecretKey(config.repository.token_secret, "fleet:repository.tokenSecret")
        )
        platform_keys[config.repository.token_secret] = "the fleet repository's token"
    values_keys = _values_keys(config.infra)
    problems += _values_keys_of_the_platform(values_keys, platform_keys)
    secret_keys += [key for key, _ in values_keys]
    problems += _check_secret_keys(raw, MainStackConfig, secret_keys, secrets_required)
    if problems:
        raise ConfigError(problems, source)
    clusters = tuple(_cluster(c) for c in config.clusters)
    pick = _Picker()
    repository = config.repository
    return FleetSpec(
        stack=stack,
        repository=FleetRepository(
            url=repository.url,
            push_url=repository.push_url,
            token_key=repository.token_secret,
            access=access.fleet_access(repository.url, repository.token_secret),
            main_approvals=repository.main_approvals,
            writer_app_id=repository.writer_app_id,
        ),
        flux=config.flux,
        clusters=clusters,
        infra=tuple(
            _infra(c, rules.main_component_namespace(c), clusters, pick, f"fleet:infra[{i}]")
            for i, c in enumerate(config.infra)
        ),
        vars=dict(config.vars),
        secret_keys=tuple(secret_keys),
        max_removals=config.max_removals,
        owners=tuple(config.owners),
        selections=tuple(pick.picked),
        environments=tuple(config.environments),
        branch=repository.branch,
    )


def load_environment(
    raw: Mapping[str, Any],
    stack: str,
    fleet: FleetSpec,
    *,
    source: str,
    secrets_required: bool = False,
    others: Mapping[str, str] | None = None,
) -> EnvironmentSpec:
    """An environment stack from its raw config, on the fleet of its main stack; `others` are
    the namespaces the fleet's other environments have, with whose they are."""
    config = _parse(EnvironmentStackConfig, raw, source)
    name = config.environment.name or stack
    branch = config.environment.branch or name
    fleet_clusters = {c.name: c for c in fleet.clusters}
    secret_keys = _kubeconfig_keys("dedicatedClusters", config.dedicated_clusters)
    fleet_kubeconfigs = {
        c.provisioning.kubeconfig_secret: f"the kubeconfig of cluster {c.name}"
        for group in fleet.clusters
        for c in group.physical
        if isinstance(c.provisioning, AttachedConfig)
    }
    platform_keys = {
        **{k.key: f"the kubeconfig named by {k.named_at}" for k in secret_keys},
        **fleet_kubeconfigs,
    }
    if fleet.repository.token_key:
        platform_keys[fleet.repository.token_key] = "the fleet repository's token"
        # The environment stack pushes branch E and gives Flux read access with the same token.
        secret_keys.append(
            SecretKey(
                fleet.repository.token_key,
                f"fleet:repository.tokenSecret of the main stack '{fleet.stack}'",
            )
        )
    for index, tenant in enumerate(config.tenants):
        at = f"fleet:tenants[{index}]"
        if tenant.repository.credentials_secret:
            secret_keys.append(
                SecretKey(
                    tenant.repository.credentials_secret, f"{at}.repository.credentialsSecret"
                )
            )
        if tenant.image_pull_secret:
            secret_keys.append(SecretKey(tenant.image_pull_secret, f"{at}.imagePullSecret"))
        secret_keys += [
            SecretKey(n.address_secret, f"{at}.notifications[{k}].addressSecret")
            for k, n in enumerate(tenant.notifications)
        ]
        secret_keys += [
            SecretKey(key, f"{where}.{name}") for where, name, key in _secret_vars(tenant, at)
        ]
    secret_keys += [
        SecretKey(n.address_secret, f"fleet:notifications[{k}].addressSecret")
        for k, n in enumerate(config.notifications)
    ]
    status_key = config.environment.commit_status_secret
    if status_key is not None:
        secret_keys.append(SecretKey(status_key, "fleet:environment.commitStatusSecret"))
        platform_keys[status_key] = "the token that sets the fleet repository's commit statuses"
    problems = rules.check_environment_stack(
        config,
        name,
        branch,
        fleet_clusters,
        {**(others or {}), **_common_namespaces(fleet)},
        lockdown=fleet.flux.multitenant,
        fleet_vars=fleet.vars,
        fleet_members=[m.name for c in fleet.clusters if c.members for m in c.physical],
        patched=_patched_objects(names.environment_namespace(name), fleet.flux.interval),
        main_branch=fleet.branch,
    )
    values_keys = _values_keys(config.infra)
    problems += _values_keys_of_the_platform(values_keys, platform_keys)
    secret_keys += [key for key, _ in values_keys]
    problems += _check_secret_keys(raw, EnvironmentStackConfig, secret_keys, secrets_required)
    if status_key is not None and access.parse_github_url(fleet.repository.url) is None:
        problems.append(
            Problem(
                "fleet:environment.commitStatusSecret",
                "commit statuses are set through GitHub, and the fleet repository "
                f"{access.redacted(fleet.repository.url)} is not on github.com",
            )
        )
    notified = bool(config.notifications) or any(t.notifications for t in config.tenants)
    notified = notified or status_key is not None
    if notified and "notification-controller" not in fleet.flux.components:
        problems.append(
            Problem(
                "fleet:notifications",
                "notifications need Flux's notification-controller: add it to "
                f"fleet:flux.components of the main stack '{fleet.stack}'",
            )
        )
    problems += _tenant_keys_of_the_platform(
        config,
        {
            **platform_keys,
            **{k.key: f"the values of component {c}" for k, c in values_keys},
        },
    )
    problems += _variable_keys_of_other_tenants(config)
    problems += [
        Problem(k.named_at, f"'{k.key}' holds {platform_keys[k.key]}: one cluster, one kubeconfig")
        for k in _kubeconfig_keys("dedicatedClusters", config.dedicated_clusters)
        if k.key in fleet_kubeconfigs
    ]
    if problems:
        raise ConfigError(problems, source)
    pick = _Picker()
    listed = pick("fleet:clusters", config.clusters, fleet.clusters)
    clusters = tuple(fleet_clusters[n] for n in listed) + tuple(
        _cluster(c) for c in config.dedicated_clusters
    )
    return EnvironmentSpec(
        stack=stack,
        name=name,
        branch=branch,
        required_approvals=config.environment.required_approvals,
        main_stack=config.main_stack,
        fleet=fleet,
        clusters=clusters,
        dedicated_clusters=clusters[len(listed) :],
        infra=tuple(
            _infra(
                c,
                rules.environment_component_namespace(name, c),
                clusters,
                pick,
                f"fleet:infra[{i}]",
            )
            for i, c in enumerate(config.infra)
        ),
        tenants=tuple(
            _tenant(t, clusters, pick, f"fleet:tenants[{i}]") for i, t in enumerate(config.tenants)
        ),
        vars=dict(config.vars),
        secret_keys=tuple(secret_keys),
        max_removals=config.max_removals,
        owners=tuple(config.environment.owners),
        selections=tuple(pick.picked),
        notifications=tuple(config.notifications),
        commit_status_key=config.environment.commit_status_secret,
        rollout=_rollout(config.environment.rollout, clusters),
        writer_app_id=config.environment.writer_app_id,
    )


def _rollout(config: RolloutConfig | None, clusters: Sequence[ClusterSpec]) -> RolloutSpec | None:
    """Each management cluster's ring, from its label (the rules made sure it has one)."""
    if config is None:
        return None
    ring_of = {c.folder: c.labels[config.label] for c in clusters if c.is_management}
    return RolloutSpec(config.label, tuple(config.rings), ring_of)


def _patched_objects(platform_namespace: str, interval: str) -> rules.PatchedObjects:
    """What a cluster's patches of a component apply to, from the functions that write the
    component's folders: a patch is checked against what the branch will hold."""
    # The tree renders from this model, so it is imported where it is used.
    from fleet import tree

    def patched(
        component: ComponentConfig, namespace: str, cluster: str, role: ClusterRole | None
    ) -> list[Mapping[str, Any]]:
        spec = InfraSpec(
            name=component.name,
            namespace=namespace,
            helm=component.helm,
            manifests=tuple(component.manifests),
            clusters=(),
            overrides=dict(component.overrides),
            cluster_scoped=component.cluster_scoped,
        )
        return tree.patched_objects(spec, cluster, role, platform_namespace, interval)

    return patched


def is_environment_stack(raw: Mapping[str, Any]) -> bool:
    """Environment stacks name their main stack; the main stack does not."""
    return "mainStack" in raw


def main_stack_name(reference: str) -> str:
    """`org/fleet/main` -> `main`: the stack whose settings file holds the fleet's clusters."""
    return reference.rstrip("/").rsplit("/", 1)[-1]


ENCRYPTED_INSIDE = (
    "an encrypted value here would be decrypted into what the fleet writes (git, Kubernetes "
    "objects, Pulumi's inputs): a secret is a top-level key of its own (`pulumi config set "
    "--secret KEY`) that a key such as kubeconfigSecret, credentialsSecret, {secret: KEY} or "
    "helm.valuesFrom names"
)


def _parse(schema: type[SchemaT], raw: Mapping[str, Any], source: str) -> SchemaT:
    known = STACK_KEYS[schema]
    encrypted = {
        rules.config_path(*at) for key in known if key in raw for at in _encrypted(raw[key], (key,))
    }
    problems = [Problem(at, ENCRYPTED_INSIDE) for at in sorted(encrypted)]
    try:
        config = schema.model_validate({k: v for k, v in raw.items() if k in known})
    except ValidationError as error:
        problems += [p for p in rules.schema_problems(error, schema) if p.path not in encrypted]
        # A secret key holds an encrypted value; any other unknown key is a mistake.
        unknown = [k for k in raw if k not in known and not isinstance(raw[k], Encrypted)]
        problems += rules.unknown_key_problems(sorted(unknown), known)
        raise ConfigError(problems, source) from None
    if problems:
        raise ConfigError(problems, source)
    return config


def _encrypted(value: Any, at: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    """Where an encrypted value is within a key of the schema (a `secure:` value nested in
    structured config, which Pulumi decrypts for the program)."""
    if isinstance(value, Encrypted):
        return [at]
    if isinstance(value, Mapping):
        return [found for k, v in value.items() for found in _encrypted(v, (*at, str(k)))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _encrypted(v, (*at, i))]
    return []


def _secret_vars(tenant: TenantConfig, at: str) -> list[tuple[str, str, str]]:
    """(where, variable, secret config key) of each secret variable of a tenant and its apps."""
    levels = [(f"{at}.vars", tenant.vars)] + [
        (f"{at}.apps[{i}].vars", app.vars) for i, app in enumerate(tenant.apps)
    ]
    return [
        (where, name, value.secret)
        for where, level in levels
        for name, value in level.items()
        if isinstance(value, SecretVar)
    ]


def _variable_keys_of_other_tenants(config: EnvironmentStackConfig) -> list[Problem]:
    """A tenant reads its secret variables (they are in its namespaces): none may be a key
    another tenant's credentials, image pull secret or variables come from."""
    users: dict[str, set[str]] = {}
    for tenant in config.tenants:
        keys = [tenant.repository.credentials_secret, tenant.image_pull_secret]
        keys += [key for _, _, key in _secret_vars(tenant, "")]
        for key in keys:
            if key is not None:
                users.setdefault(key, set()).add(tenant.name)
    problems = []
    for index, tenant in enumerate(config.tenants):
        for where, name, key in _secret_vars(tenant, f"fleet:tenants[{index}]"):
            others = sorted(users[key] - {tenant.name})
            if others:
                problems.append(
                    Problem(
                        f"{where}.{name}",
                        f"'{key}' holds a secret of tenant {', '.join(others)} too: a tenant "
                        "reads its variables; give it a key of its own",
                    )
                )
    return problems


def _tenant_keys_of_the_platform(
    config: EnvironmentStackConfig, platform_keys: Mapping[str, str]
) -> list[Problem]:
    """A tenant's secret keys end up in its namespaces, where it reads them: none may be a key
    that holds the platform's credentials (a cluster's kubeconfig, the fleet's token)."""
    problems = []
    for index, tenant in enumerate(config.tenants):
        at = f"fleet:tenants[{index}]"
        for where, key in (
            (f"{at}.repository.credentialsSecret", tenant.repository.credentials_secret),
            (f"{at}.imagePullSecret", tenant.image_pull_secret),
            *((f"{w}.{n}", k) for w, n, k in _secret_vars(tenant, at)),
            *(
                (f"{at}.notifications[{k}].addressSecret", n.address_secret)
                for k, n in enumerate(tenant.notifications)
            ),
        ):
            if key is not None and key in platform_keys:
                problems.append(
                    Problem(
                        where,
                        f"'{key}' holds {platform_keys[key]}: a tenant can read what its keys "
                        "hold; give it a key of its own",
                    )
                )
    return problems


def _values_keys(infra: Sequence[ComponentConfig]) -> list[tuple[SecretKey, str]]:
    """The secret keys of charts' values from secret config, each with its component."""
    return [
        (SecretKey(value.key, f"fleet:infra[{i}].helm.valuesFrom[{j}].key"), component.name)
        for i, component in enumerate(infra)
        if component.helm is not None
        for j, value in enumerate(component.helm.values_from)
    ]


def _values_keys_of_the_platform(
    values_keys: Sequence[tuple[SecretKey, str]], platform_keys: Mapping[str, str]
) -> list[Problem]:
    """A chart's values land in a Secret in its namespace, which the chart's own account reads:
    none may come from a key of the platform's credentials."""
    return [
        Problem(
            key.named_at,
            f"'{key.key}' holds {platform_keys[key.key]}: the chart's values would carry it into "
            "its namespace; give the values a key of their own",
        )
        for key, _ in values_keys
        if key.key in platform_keys
    ]


def _kubeconfig_keys(key: str, clusters: list[ClusterConfig]) -> list[SecretKey]:
    """The secret keys holding attached clusters' kubeconfigs, a group's members' included."""
    found = []
    for i, c in enumerate(clusters):
        if c.attached is not None:
            found.append(
                SecretKey(
                    c.attached.kubeconfig_secret, f"fleet:{key}[{i}].attached.kubeconfigSecret"
                )
            )
        for m, member in enumerate(c.members):
            if isinstance(member, MemberConfig) and member.kubeconfig_secret is not None:
                at = f"fleet:{key}[{i}].members[{m}].kubeconfigSecret"
                found.append(SecretKey(member.kubeconfig_secret, at))
    return found


def _check_secret_keys(
    raw: Mapping[str, Any],
    schema: type[Schema],
    secret_keys: list[SecretKey],
    required: bool,
) -> list[Problem]:
    """Secret keys must be set as secrets; other top-level keys must be known."""
    problems = []
    for ref in secret_keys:
        value = raw.get(ref.key)
        if value is None:
            if required:
                problems.append(
                    Problem(
                        f"fleet:{ref.key}",
                        f"not set (named by {ref.named_at}); run "
                        f"`pulumi config set --secret {ref.key} <value>`",
                    )
                )
        elif not isinstance(value, Encrypted):
            problems.append(
                Problem(
                    f"fleet:{ref.key}",
                    f"holds a secret in plain text; run `pulumi config set --secret {ref.key} ...`",
                )
            )
    allowed = STACK_KEYS[schema] | {ref.key for ref in secret_keys}
    problems += rules.unknown_key_problems(sorted(set(raw) - allowed), STACK_KEYS[schema])
    return problems
