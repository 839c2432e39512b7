"""The stack config schema: what users write in `Pulumi.<stack>.yaml`, with every default.

Keys are camelCase in YAML and snake_case here. Each default is defined once, on its field.
A stack is an environment stack when it names `fleet:mainStack`; otherwise it is the main stack.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

CONFIG_NAMESPACE = "fleet"

FluxComponent = Literal[
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
    "source-watcher",
]
FLUX_COMPONENTS: tuple[str, ...] = get_args(FluxComponent)
DEFAULT_FLUX_COMPONENTS: tuple[str, ...] = FLUX_COMPONENTS[:4]

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
"""A Go duration as Flux parses intervals: 30s, 5m, 1h30m."""
VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"
"""An exact X.Y.Z version, with an optional pre-release or build suffix: versions are pinned."""
CHART_VERSION_PATTERN = r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
"""An exact chart version: SemVer 2 with an optional pre-release and build, and the leading `v`
some charts publish (cert-manager's `v1.14.4`); never a range or a wildcard."""
CONFIG_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
NODE_POOL_PATTERN = r"^[a-z][a-z0-9]{0,11}$"
"""An AKS node pool name (Linux pools: at most 12 characters)."""
SECRET_DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]{1,253}$"
"""A key of a Secret's data, as Kubernetes validates it (`IsConfigMapKey`)."""
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]
Version = Annotated[str, Field(pattern=VERSION_PATTERN)]
ConfigKey = Annotated[str, Field(pattern=CONFIG_KEY_PATTERN)]
VAR_NAME_PATTERN = r"^[_A-Za-z][_A-Za-z0-9]*$"
"""A variable name as Flux's post-build substitution validates it:
https://fluxcd.io/flux/components/kustomize/kustomizations/#post-build-variable-substitution"""


def camel_case(name: str) -> str:
    """A field's key as users write it: `managed_by` is `managedBy`, `k3d` stays `k3d` (pydantic's
    `to_camel` would also capitalize after a digit: `k3D`)."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class Schema(BaseModel):
    """Base of every config block: camelCase keys, no unknown keys, no silent type coercion."""

    model_config = ConfigDict(
        alias_generator=camel_case,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )


# ---------------------------------------------------------------- the GitOps repository


class RepositoryConfig(Schema):
    """The fleet's GitOps repository: what Flux reads and where the program commits."""

    url: str
    """The URL Flux clones (https:// or ssh://, or git@host:org/repo.git)."""
    push_url: str | None = None
    """Where the program pushes its commits, when not `url`: a local path or file:// URL
    (relative paths are taken from the project folder), or another https/ssh URL."""
    token_secret: ConfigKey | None = None
    """Secret config key holding an HTTPS token: used to push, and by Flux to read."""
    deploy_key: bool = True
    """For a GitHub repository over SSH: give Flux a read-only deploy key made by Pulumi."""
    branch: str = "main"
    """The branch the main stack commits and its clusters' Flux follows. Several main stacks
    (a fleet split into shards) share one repository, each on a branch of its own."""
    main_approvals: Annotated[int, Field(ge=0, le=10)] = 1
    """Approvals a pull request to branch main of the fleet repository needs (a GitHub ruleset):
    its `infra/C` is applied as cluster-admin on every cluster."""
    writer_app_id: Annotated[int, Field(gt=0)] | None = None
    """A GitHub App that pushes the main stack's commits: then it, not every deploy key with
    write access, is the one identity that may push to branch main without a pull request."""


# ---------------------------------------------------------------- Flux


class FluxConfig(Schema):
    """How Flux is installed on every management cluster: pinned, never floating."""

    operator_version: Version = "0.58.1"
    """Version of the Flux Operator Helm chart."""
    version: Version = "2.9.4"
    """Flux distribution version the FluxInstance installs."""
    registry: str = "ghcr.io/fluxcd"
    components: Annotated[list[FluxComponent], Field(min_length=1)] = Field(
        default_factory=lambda: list(DEFAULT_FLUX_COMPONENTS)  # type: ignore[arg-type]
    )
    multitenant: bool = True
    """Multi-tenant lockdown: no cross-namespace references, every Kustomization impersonates."""
    interval: Duration = "10m"
    """Reconcile interval of the platform's Kustomizations."""
    wait: bool = True
    """The platform's infra Kustomizations are Ready only once what they applied is (Flux's
    health checks), so the tenants, which depend on them, wait for it."""
    timeout: Duration = "5m"
    """How long an infra Kustomization's apply and health checks may take."""
    retry_interval: Duration = "1m"
    """How soon a failed infra Kustomization is tried again."""
    source_interval: Duration = "1m"
    """Poll interval of the platform's GitRepositories."""


# ---------------------------------------------------------------- selecting clusters, variables


class LabelRequirement(Schema):
    """One requirement of a label selector, as Kubernetes spells it:
    https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class ClusterSelector(Schema):
    """Clusters by their labels: every `matchLabels` pair and every `matchExpressions`
    requirement must hold. An empty selector selects every cluster in reach."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelRequirement] = Field(default_factory=list)


CLUSTER_DEFINITION_IN_A_LIST = (
    "a cluster's definition: list names here (or selectors {matchLabels: ...}); define clusters "
    "in Pulumi.main.yaml, or under fleet:dedicatedClusters"
)


def _not_a_definition(value: Any) -> Any:
    """A list of clusters names them; a mapping with a cluster's own keys is a definition put in
    the wrong place, which would otherwise read as a selector with unknown keys."""
    if isinstance(value, dict) and ("name" in value or "kind" in value):
        raise ValueError(CLUSTER_DEFINITION_IN_A_LIST)
    return value


ClusterRef = Annotated[str | ClusterSelector, BeforeValidator(_not_a_definition)]
"""An item of a list of clusters: a cluster's name, or a selector of clusters by label."""


class SecretVar(Schema):
    """A variable whose value is a secret config key's: handed to Flux from a Secret that
    Pulumi creates, never written to git."""

    secret: ConfigKey


VarValue = str | SecretVar
Vars = dict[Annotated[str, Field(pattern=VAR_NAME_PATTERN)], VarValue]
"""Variables Flux substitutes (`${NAME}`) in what a Kustomization applies."""


# ---------------------------------------------------------------- clusters


class MemberConfig(Schema):
    """One physical cluster of a group."""

    name: str
    kubeconfig_secret: ConfigKey | None = None
    """For a group of kind attached: the secret config key holding this member's kubeconfig."""
    context: str | None = None


class NodePoolConfig(Schema):
    name: Annotated[str, Field(pattern=NODE_POOL_PATTERN)]
    vm_size: str = "Standard_D2s_v5"
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    mode: Literal["System", "User"] = "System"


class AksConfig(Schema):
    location: str
    resource_group: str
    create_resource_group: bool = True
    """False: the resource group exists already and is only referenced."""
    kubernetes_version: str | None = None
    """None: the default version of the region."""
    node_pools: Annotated[list[NodePoolConfig], Field(min_length=1)] = Field(
        default_factory=lambda: [NodePoolConfig(name="system")]
    )
    local_accounts: bool = True
    """False: Microsoft Entra ID only, as an Azure Policy often requires: no admin kubeconfig,
    Kubernetes rights by Azure role assignments; Pulumi reaches it with kubelogin."""
    admin_groups: list[str] = Field(default_factory=list)
    """Entra group object ids whose members are cluster admins (with localAccounts false)."""
    login: Literal["azurecli", "spn", "workloadidentity", "msi"] = "azurecli"
    """How kubelogin signs Pulumi in (with localAccounts false): `azurecli` on a workstation,
    `spn` or `workloadidentity` in CI, `msi` on an Azure machine."""
    flux_access: Literal["kubeconfig", "workload-identity"] = "kubeconfig"
    """For a remote AKS cluster: how its management cluster's Flux reaches it. With
    `workload-identity`, no credential is stored: Flux signs in as a managed identity that
    Pulumi makes and gives the remote's cluster-admin role (Flux 2.7+,
    `kubeConfig.configMapRef`)."""


class K3dConfig(Schema):
    servers: Annotated[int, Field(ge=1, le=9)] = 1
    agents: Annotated[int, Field(ge=0, le=99)] = 0
    image: str | None = None
    """None: the k3s image of the installed k3d."""
    ports: list[str] = Field(default_factory=list)
    """k3d port mappings, for example `8080:80@loadbalancer`."""
    network: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")] | None = None
    """A Docker network the cluster joins (`k3d cluster create --network`): a k3d remote and its
    k3d management cluster share one, so Flux there reaches the remote's API server by name."""


class AttachedConfig(Schema):
    kubeconfig_secret: ConfigKey
    """Secret config key holding the cluster's kubeconfig."""
    context: str | None = None


ClusterKind = Literal["aks", "k3d", "attached"]
ClusterRole = Literal["management", "remote"]


class ClusterConfig(Schema):
    name: str
    role: ClusterRole = "management"
    kind: ClusterKind
    managed_by: str | None = None
    """For a remote cluster: the management cluster whose Flux reconciles it."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels that selectors in config (`{matchLabels: ...}`) select the cluster by."""
    vars: Vars = Field(default_factory=dict)
    """Variables for what Flux applies on this cluster (plain values only: every tenant on the
    cluster reads them)."""
    members: list[str | MemberConfig] = Field(default_factory=list)
    """A group: physical management clusters with this one configuration and one folder in
    git, each provisioned or attached and given Flux. Empty: the entry is one cluster."""
    protect: bool = True
    """Provisioned clusters (aks, k3d) are protected from deletion unless this is false."""
    aks: AksConfig | None = None
    k3d: K3dConfig | None = None
    attached: AttachedConfig | None = None


# ---------------------------------------------------------------- infra components


class ValuesFrom(Schema):
    """Helm values from a secret config key, through a Secret Pulumi makes beside the
    HelmRelease (Flux's `valuesFrom`): secret values never reach git.
    https://fluxcd.io/flux/components/helm/helmreleases/#values-references"""

    key: ConfigKey
    """The secret config key holding the value (`pulumi config set --secret`)."""
    values_key: Annotated[str, Field(pattern=SECRET_DATA_KEY_PATTERN)] = "values.yaml"
    """Its name in the Secret; without `targetPath`, the value is YAML of values to merge."""
    target_path: str | None = None
    """Where in the values the value goes, as `helm --set` writes a path: `auth.password`."""


class HelmConfig(Schema):
    repository: str
    """The chart repository URL (https:// or oci://)."""
    chart: str
    version: str
    values: dict[str, Any] = Field(default_factory=dict)
    values_from: list[ValuesFrom] = Field(default_factory=list)
    """Values from secret config keys; `values` win over them where both set a value."""


class PatchTarget(Schema):
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    group: str | None = None
    version: str | None = None
    label_selector: str | None = None


def _patch_body(value: Any) -> Any:
    is_mapping = isinstance(value, dict)
    is_operations = isinstance(value, list) and all(isinstance(op, dict) for op in value)
    if not (is_mapping or is_operations) or not value:
        raise ValueError("a patch is a strategic-merge mapping or a list of JSON 6902 operations")
    return value


class PatchConfig(Schema):
    """A kustomize patch: a strategic-merge mapping or a JSON 6902 list, with a target."""

    patch: Annotated[Any, AfterValidator(_patch_body)]
    target: PatchTarget | None = None


class ComponentOverride(Schema):
    """What one cluster changes in a component: Helm values merged over the base's, or patches."""

    values: dict[str, Any] = Field(default_factory=dict)
    patches: list[PatchConfig] = Field(default_factory=list)


class ComponentConfig(Schema):
    """An infra component: one Helm chart, or plain manifests, in its own namespace."""

    name: str
    namespace: str | None = None
    """Default: the name in the main stack, `E-<name>` in an environment stack."""
    helm: HelmConfig | None = None
    manifests: list[dict[str, Any]] = Field(default_factory=list)
    clusters: list[ClusterRef] | None = None
    """Only these clusters (names or selectors) get the component; default: every cluster of
    the stack."""
    overrides: dict[str, ComponentOverride] = Field(default_factory=dict)
    """Per-cluster changes, by cluster name."""
    cluster_scoped: bool = True
    """A chart that creates cluster-wide objects (CRDs, ClusterRoles, webhooks): its account
    is bound to cluster-admin. False: rights in its own namespace only."""


# ---------------------------------------------------------------- tenants


COMMIT_PATTERN = r"^[0-9a-f]{40}$"
Commit = Annotated[str, Field(pattern=COMMIT_PATTERN)]
"""A full git commit id (SHA-1)."""


class TenantRepositoryConfig(Schema):
    url: str
    branch: str
    commit: Commit | None = None
    """Pin the tenant to this commit of `branch` (what `fleet promote` writes: pushes to the
    branch then do not reach the environment)."""
    credentials_secret: ConfigKey | None = None
    """Secret config key with an HTTPS token (https URLs) or an SSH private key (ssh URLs)."""
    known_hosts: str | None = None
    """For ssh URLs with credentials: the host's known_hosts line."""


class AppConfig(Schema):
    name: str
    path: str | None = None
    """Path in the tenant's repository; `{cluster}` is replaced by the cluster's name.
    Default: `./<app>/{cluster}`."""
    paths: dict[str, str] = Field(default_factory=dict)
    """Per-cluster path overrides, by cluster name."""
    clusters: list[ClusterRef] | None = None
    """Only these of the tenant's clusters run the app; default: all of them."""
    vars: Vars = Field(default_factory=dict)
    """Variables of this app, over the tenant's."""
    substitute: bool = True
    """False: Flux substitutes no `${...}` in the app's manifests."""
    interval: Duration = "5m"
    prune: bool = True


class ReleaseConfig(Schema):
    """A release channel: a second copy of the tenant that follows another branch."""

    name: str
    branch: str
    commit: Commit | None = None
    """Pin the channel to this commit of `branch` (as the tenant's `repository.commit`)."""
    repository: str | None = None
    """Default: the tenant's repository URL."""
    clusters: list[ClusterRef] | None = None
    """Only these of the tenant's clusters run the channel; default: all of them."""


class NotificationConfig(Schema):
    """Where Flux tells about the reconciliations: a chat channel or a webhook."""

    name: str
    type: Literal["slack", "msteams", "generic"]
    address_secret: ConfigKey
    """Secret config key holding the webhook URL (it carries the channel's credential)."""
    channel: str | None = None
    """For Slack: the channel, when the webhook does not fix it."""
    severity: Literal["info", "error"] = "error"
    """`error`: failures only; `info`: every reconciliation too."""


PodSecurityLevel = Literal["restricted", "baseline", "privileged"]


class TenantConfig(Schema):
    name: str
    repository: TenantRepositoryConfig
    apps: list[AppConfig] = Field(default_factory=list)
    releases: list[ReleaseConfig] = Field(default_factory=list)
    clusters: list[ClusterRef] | None = None
    """Only these clusters of the environment get the tenant; default: all of them."""
    notifications: list[NotificationConfig] = Field(default_factory=list)
    """Alerts on the tenant's own Flux objects only, to the tenant's channels."""
    vars: Vars = Field(default_factory=dict)
    """Variables of the tenant's apps, over the environment's; `{secret: KEY}` values go to
    a Secret in the tenant's namespaces."""
    image_pull_secret: ConfigKey | None = None
    """Secret config key holding a `.dockerconfigjson`, placed in each tenant namespace."""
    pod_security: PodSecurityLevel = "restricted"
    """The Pod Security Standard enforced in the tenant's namespaces, on every cluster."""
    isolate_network: bool = False
    """A default-deny NetworkPolicy in the tenant's namespaces that lets in only the namespace
    itself, and out only to it and to the cluster's DNS."""
    resource_quota: dict[str, str | int] = Field(default_factory=dict)
    """A ResourceQuota's `hard` limits in each tenant namespace, e.g. `{requests.cpu: "4"}`."""
    limit_range: list[dict[str, Any]] = Field(default_factory=list)
    """A LimitRange's `limits` in each tenant namespace (defaults for containers)."""


# ---------------------------------------------------------------- stacks


OWNER_PATTERN = r"^(@[A-Za-z0-9-]+(/[A-Za-z0-9._-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+)$"
Owner = Annotated[str, Field(pattern=OWNER_PATTERN)]
"""A GitHub user (`@name`), team (`@org/team`) or e-mail, as CODEOWNERS names them."""

RING_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"
Ring = Annotated[str, Field(pattern=RING_PATTERN)]


class RolloutConfig(Schema):
    """Roll a change out ring by ring: the clusters of the first ring reconcile branch E's new
    commit at once, each later ring follows a ref of its own that `fleet rollout` advances once
    every Flux object of the environment on the ring before is Ready at that commit."""

    label: str = "ring"
    """The cluster label that names a cluster's ring (in `Pulumi.<main>.yaml`)."""
    rings: Annotated[list[Ring], Field(min_length=2)]
    """The rings in rollout order, for example `[canary, early, broad]`."""


class EnvironmentConfig(Schema):
    name: str | None = None
    """Default: the stack name."""
    branch: str | None = None
    """Default: the environment name."""
    required_approvals: Annotated[int, Field(ge=0, le=10)] = 1
    """Approvals a pull request to the branch needs (a GitHub ruleset)."""
    commit_status_secret: ConfigKey | None = None
    """Secret config key holding a GitHub token that may write commit statuses of the fleet
    repository: each cluster then marks the branch's commits it reconciled (or failed)."""
    rollout: RolloutConfig | None = None
    """Without it every cluster reconciles branch E's commits as they land."""
    owners: list[Owner] = Field(default_factory=list)
    """Who must approve a change of `Pulumi.<env>.yaml` in the program's repository (the
    generated `.github/CODEOWNERS`): the environment's approvers."""
    writer_app_id: Annotated[int, Field(gt=0)] | None = None
    """A GitHub App of this environment's own that pushes its commits: then it alone may push to
    branch E without a pull request (GitHub rulesets cannot tell one deploy key from another)."""


class MainStackConfig(Schema):
    """`Pulumi.main.yaml`: the shared clusters, Flux, and the `main` branch."""

    repository: RepositoryConfig
    owners: list[Owner] = Field(default_factory=list)
    """Who must approve a change of `Pulumi.main.yaml` (the generated `.github/CODEOWNERS`): it
    changes every cluster, and every environment reads it."""
    flux: FluxConfig = Field(default_factory=FluxConfig)
    clusters: Annotated[list[ClusterConfig], Field(min_length=1)]
    infra: list[ComponentConfig] = Field(default_factory=list)
    vars: Vars = Field(default_factory=dict)
    """Variables for what Flux applies on every cluster (plain values only)."""
    environments: list[str] = Field(default_factory=list)
    """The environments that run on this fleet, by name. The main stack makes each one's
    platform account cluster-admin on every remote it holds (Flux impersonates that account
    there too), so an environment stack needs no credential of its own for a remote; one not
    listed is refused."""
    max_removals: Annotated[int, Field(ge=0)] = 1
    """How many clusters one update may remove; more stops the update before it changes
    anything. Raise it for the one update that means it."""


class EnvironmentStackConfig(Schema):
    """`Pulumi.<env>.yaml`: one environment on the clusters it lists."""

    main_stack: str
    """The main stack's StackReference name (`org/fleet/main`); the fleet's cluster definitions
    are read from `Pulumi.<last part>.yaml` beside this file, cluster access from the reference."""
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)
    clusters: list[ClusterRef] = Field(default_factory=list)
    """The fleet's clusters that take part in the environment: names, or selectors of the main
    stack's clusters by label (a new cluster with matching labels joins with no edit here)."""
    dedicated_clusters: list[ClusterConfig] = Field(default_factory=list)
    """Clusters that this stack provisions and owns; they take part in the environment."""
    infra: list[ComponentConfig] = Field(default_factory=list)
    notifications: list[NotificationConfig] = Field(default_factory=list)
    """Alerts on the environment's platform Flux objects (infra, the tenants' wiring)."""
    tenants: list[TenantConfig] = Field(default_factory=list)
    vars: Vars = Field(default_factory=dict)
    """Variables for what Flux applies in the environment, over the clusters' (plain only)."""
    max_removals: Annotated[int, Field(ge=0)] = 1
    """How many clusters and tenants one update may remove, together."""


STACK_KEYS: dict[type[Schema], frozenset[str]] = {
    schema: frozenset(field.alias or name for name, field in schema.model_fields.items())
    for schema in (MainStackConfig, EnvironmentStackConfig)
}
