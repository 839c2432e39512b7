"""Flux's controllers, as they reconcile one object: which source, which identity on which
cluster, and which objects land.

Modelled on kustomize-controller and helm-controller and the Flux runtime they share:
- a Kustomization applies the build of `spec.path` from its source; with `spec.kubeConfig` it
  applies to the cluster that kubeconfig reaches;
- it impersonates `system:serviceaccount:<its namespace>:<serviceAccountName, or the lockdown
  default>` on the cluster it applies to; without either it applies as the kubeconfig's user
  (or, on its own cluster, as the controller);
  Ref: https://github.com/fluxcd/pkg/blob/main/runtime/client/impersonator.go
  Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#kubeconfig-remote-clusters
- under lockdown, a reference into another namespace is refused, and so are remote bases;
  Ref: https://fluxcd.io/flux/installation/configuration/multitenancy/
- objects are applied in stages, each all or nothing after a dry run of every object in it:
  CRDs, Namespaces and ClusterRoles first, then classes, then the rest; a refused object fails
  its stage and every stage after it;
  Ref: https://github.com/fluxcd/pkg/blob/main/ssa/manager_apply.go (ApplyAllStaged)
- a server-side apply reads the object, then patches it, creating it if it is new, so the
  identity needs get, patch, and create for a new object; objects of a namespace that does not
  exist, or of a kind the cluster does not serve, fail their dry run;
- what a Kustomization applied before and no longer builds is pruned, unless the object says
  `kustomize.toolkit.fluxcd.io/prune: disabled`;
- a HelmRelease installs its chart as the same identity on its target cluster, into
  `targetNamespace`; a chart's own objects are not known offline, so it is checked for the
  objects every chart makes (its release Secret, a workload) and, unless its component says
  otherwise, for the cluster-scoped ones charts with CRDs and webhooks make.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from fleet import layout, objects, variables, yamldoc
from fleet.objects import K8sObject, ObjectId
from fleet_cli.kustomize import BranchBuilds
from fleet_cli.simulation import admission, kinds
from fleet_cli.simulation.cluster import CLUSTER, ClusterState, controller_account
from fleet_cli.simulation.findings import Category, describe
from fleet_cli.simulation.rbac import ADMIN, Request, User

SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket")
CHART_SOURCE_KINDS = ("HelmRepository", "GitRepository", "OCIRepository", "Bucket")


@dataclass(frozen=True)
class Artifact:
    """What a source holds at one revision: the files of a branch of a fleet repository."""

    revision: str
    files: Mapping[str, str]


EXTERNAL = "external"
"""The revision of a source the simulation cannot read: a tenant's own repository, a chart
repository. What it holds is not known offline."""


class World(Protocol):
    """What a reconciliation may look at beyond its own cluster."""

    clusters: dict[str, ClusterState]

    def artifact(self, url: str, branch: str) -> Artifact | str | None:
        """The branch's files, EXTERNAL for a repository that is not the fleet's, or None when
        the branch does not exist."""

    def cluster_reached_by(self, kubeconfig: str) -> str | None:
        """The cluster a kubeconfig's current context reaches."""

    def builds(self, artifact: Artifact) -> BranchBuilds: ...

    def cluster_scoped_chart(self, cluster: str, namespace: str, name: str) -> bool: ...


@dataclass(frozen=True)
class Reconciled:
    """A Flux object's last reconciliation."""

    ready: bool
    category: Category | None = None
    """Why it is not ready: `denied` (an object refused) or `not-reconciled`."""
    reason: str = ""
    target: str = ""
    identity: User | None = None
    inventory: tuple[ObjectId, ...] = ()
    revision: str = ""
    generation: str = ""
    """A digest of the object's spec: a new spec is reconciled anew."""
    external: bool = False
    """Its source is not the fleet's: applied, but what it applies is not known."""
    missing_accounts: tuple[str, ...] = ()
    """Impersonated accounts that do not exist where Flux's documentation says they must."""
    twice: tuple[tuple[ObjectId, str], ...] = ()
    """Objects it applied that another applier had applied too, with that applier."""


def generation(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj.get("spec"), sort_keys=True).encode()).hexdigest()


def applier_of(cluster: str, obj: Mapping[str, Any]) -> str:
    """How the simulation names a Flux object as the applier of what it applies."""
    kind, namespace, name = objects.object_id(obj)
    return (
        f"{cluster}:{namespace}/{name}"
        if kind == "Kustomization"
        else f"{cluster}:{kind}:{namespace}/{name}"
    )


class Failed(Exception):
    """A reconciliation that stops, with its category and reason."""

    def __init__(self, category: Category, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason


@dataclass
class _Context:
    world: World
    cluster: ClusterState
    obj: K8sObject
    previous: Reconciled | None
    namespace: str = field(init=False)
    spec: Mapping[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.namespace = str(self.obj["metadata"].get("namespace", ""))
        spec = self.obj.get("spec")
        self.spec = spec if isinstance(spec, Mapping) else {}

    @property
    def settings(self) -> Any:
        return self.cluster.flux


# ---------------------------------------------------------------- shared steps


def _controller(ctx: _Context, controller: str) -> None:
    if ctx.cluster.flux is None:
        raise Failed(
            "not-reconciled",
            f"{ctx.cluster.name} runs no Flux: nothing there reconciles a {ctx.obj['kind']}",
        )
    if controller not in ctx.cluster.flux.controllers:
        raise Failed("not-reconciled", f"{controller} is not installed on {ctx.cluster.name}")


def _reference(ctx: _Context, reference: Any, allowed: tuple[str, ...], what: str) -> K8sObject:
    """The object a reference names, as the controllers resolve it: in the referrer's own
    namespace unless it says another, which lockdown refuses."""
    if not isinstance(reference, Mapping):
        raise Failed("not-reconciled", f"{what} is missing")
    kind, name = str(reference.get("kind")), str(reference.get("name"))
    namespace = str(reference.get("namespace") or ctx.namespace)
    if kind not in allowed:
        raise Failed("not-reconciled", f"{what} kind {kind} is not one of {', '.join(allowed)}")
    if (
        ctx.cluster.flux is not None
        and ctx.cluster.flux.no_cross_namespace_refs
        and (namespace != ctx.namespace)
    ):
        raise Failed(
            "not-reconciled",
            f"can't access '{kind}/{namespace}/{name}', cross-namespace references have been "
            "blocked (--no-cross-namespace-refs, multi-tenant lockdown)",
        )
    landed = ctx.cluster.get((kind, namespace, name))
    if landed is None:
        raise Failed("not-reconciled", f"{what} {kind} {namespace}/{name} not found")
    return landed.obj


def _artifact(ctx: _Context, source: K8sObject) -> Artifact | str:
    """The source's artifact: a fleet branch's files, or EXTERNAL."""
    spec = source.get("spec") or {}
    secret = (spec.get("secretRef") or {}).get("name")
    source_namespace = str(source["metadata"].get("namespace", ""))
    if secret and not ctx.cluster.has("Secret", source_namespace, str(secret)):
        raise Failed(
            "not-reconciled",
            f"{describe(objects.object_id(source))} reads with Secret {source_namespace}/{secret}"
            ", which does not exist",
        )
    if source.get("kind") != "GitRepository":
        return EXTERNAL
    branch = str((spec.get("ref") or {}).get("branch", ""))
    artifact = ctx.world.artifact(str(spec.get("url", "")), branch)
    if artifact is None:
        raise Failed(
            "not-reconciled",
            f"{describe(objects.object_id(source))}: branch {branch!r} does not exist in "
            f"{spec.get('url')}",
        )
    return artifact


def _dependencies(ctx: _Context, ready: Callable[[ObjectId], bool]) -> None:
    for dependency in ctx.spec.get("dependsOn") or ():
        if not isinstance(dependency, Mapping):
            continue
        wanted = (
            str(ctx.obj["kind"]),
            str(dependency.get("namespace") or ctx.namespace),
            str(dependency.get("name")),
        )
        if not ready(wanted):
            raise Failed("not-reconciled", f"dependency {describe(wanted)} is not ready")


@dataclass(frozen=True)
class _Target:
    cluster: ClusterState
    identity: User
    account: str | None
    """The service account impersonated, by name, in the object's namespace."""

    def missing_accounts(self, ctx: _Context) -> tuple[str, ...]:
        """The impersonated account where it must exist and does not (yet): on the target, as
        Flux's documentation requires, and, for a remote target, on Flux's own cluster too,
        where garbage collection checks it before it deletes anything."""
        if not self.account:
            return ()
        places = [self.cluster] if self.cluster is ctx.cluster else [self.cluster, ctx.cluster]
        return tuple(
            f"ServiceAccount {ctx.namespace}/{self.account} on {place.name}"
            for place in places
            if not place.has("ServiceAccount", ctx.namespace, self.account)
        )


def _target(ctx: _Context, controller: str) -> _Target:
    """The cluster the object applies to, and the identity it applies as there."""
    settings = ctx.cluster.flux
    account = ctx.spec.get("serviceAccountName") or (settings and settings.default_service_account)
    kubeconfig = ctx.spec.get("kubeConfig")
    if kubeconfig is None:
        target = ctx.cluster
        if account:
            identity = User.service_account(ctx.namespace, str(account))
        else:
            identity = User.service_account(*controller_account(controller))
    else:
        target = ctx.world.clusters[_remote(ctx, kubeconfig)]
        # Without an account to impersonate, Flux acts as the kubeconfig's own user: here,
        # the admin credentials Pulumi put in the Secret.
        identity = User.service_account(ctx.namespace, str(account)) if account else ADMIN
    return _Target(target, identity, str(account) if account else None)


def _remote(ctx: _Context, kubeconfig: Any) -> str:
    config_map = kubeconfig.get("configMapRef") if isinstance(kubeconfig, Mapping) else None
    if isinstance(config_map, Mapping):
        return _secret_less_remote(ctx, str(config_map.get("name")))
    reference = kubeconfig.get("secretRef") if isinstance(kubeconfig, Mapping) else None
    if not isinstance(reference, Mapping):
        raise Failed("not-reconciled", "spec.kubeConfig without a secretRef is not simulated")
    name = str(reference.get("name"))
    data = _kubeconfig_object(ctx, "Secret", name).get("stringData") or {}
    key = reference.get("key")
    text = data.get(key) if key else data.get("value", data.get("value.yaml"))
    reached = ctx.world.cluster_reached_by(str(text)) if text else None
    if reached is None or reached not in ctx.world.clusters:
        raise Failed(
            "not-reconciled",
            f"KubeConfig secret '{ctx.namespace}/{name}' reaches no cluster of the fleet",
        )
    return reached


AZURE_CLUSTER = "/providers/Microsoft.ContainerService/managedClusters/"


def _kubeconfig_object(ctx: _Context, kind: str, name: str) -> K8sObject:
    """The Secret or ConfigMap a `kubeConfig` names, beside the object, as kustomize-controller
    reads it; not there, the object is not reconciled."""
    landed = ctx.cluster.get((kind, ctx.namespace, name))
    if landed is None:
        raise Failed(
            "not-reconciled",
            f"unable to read KubeConfig {kind.lower()} '{ctx.namespace}/{name}': it does not "
            f"exist on {ctx.cluster.name}",
        )
    return landed.obj


def _secret_less_remote(ctx: _Context, name: str) -> str:
    """The remote a `kubeConfig.configMapRef` names, as kustomize-controller reads it: the
    ConfigMap beside the object (provider, cluster, serviceAccountName), and the account Flux
    signs in as, whose annotations name the Azure identity (fluxcd/pkg auth/azure). Whether
    Azure then grants the identity its role is Azure's to decide: not simulated.
    Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#secret-less-authentication"""
    data = _kubeconfig_object(ctx, "ConfigMap", name).get("data") or {}
    if data.get("provider") != "azure":
        raise Failed("not-reconciled", f"provider {data.get('provider')!r} is not simulated")
    settings = ctx.cluster.flux
    if settings is not None and not settings.object_level_workload_identity:
        raise Failed(
            "not-reconciled",
            "ObjectLevelWorkloadIdentity feature gate is not enabled: the FluxInstance sets no "
            "cluster.objectLevelWorkloadIdentity",
        )
    if not data.get("address") or not data.get("ca.crt"):
        # Without both, Flux describes the cluster through Azure first, which needs
        # `Microsoft.ContainerService/managedClusters/read`: a right the identity's role on the
        # remote (AKS RBAC Cluster Admin) does not give.
        raise Failed(
            "not-reconciled",
            f"KubeConfig configmap '{ctx.namespace}/{name}' has no address and ca.crt: Flux "
            "would describe the AKS cluster through Azure, as the identity may not",
        )
    account = str(data.get("serviceAccountName") or "")
    signed_in = ctx.cluster.get(("ServiceAccount", ctx.namespace, account)) if account else None
    if signed_in is None:
        raise Failed(
            "not-reconciled",
            f"the ServiceAccount '{ctx.namespace}/{account}' that Flux signs in to Azure as "
            f"does not exist on {ctx.cluster.name}",
        )
    annotations = signed_in.obj.get("metadata", {}).get("annotations") or {}
    for key, what in (
        ("azure.workload.identity/tenant-id", "tenant ID"),
        ("azure.workload.identity/client-id", "client ID"),
    ):
        if not annotations.get(key):
            raise Failed(
                "not-reconciled",
                f"azure {what} is not set in the service account annotation {key}",
            )
    cluster_id = str(data.get("cluster") or "")
    reached = cluster_id.partition(AZURE_CLUSTER)[2]
    if not reached or reached not in ctx.world.clusters:
        raise Failed(
            "not-reconciled",
            f"KubeConfig configmap '{ctx.namespace}/{name}' names no cluster of the fleet "
            f"({cluster_id or 'no cluster'})",
        )
    return reached


# ---------------------------------------------------------------- applying


STAGES: tuple[Callable[[K8sObject], bool], ...] = (
    lambda o: o.get("kind") in ("CustomResourceDefinition", "Namespace", "ClusterRole"),
    lambda o: str(o.get("kind", "")).endswith("Class"),
    lambda o: True,
)
"""Flux's apply stages: cluster definitions, then classes, then everything else."""


def staged(objs: list[K8sObject]) -> list[list[K8sObject]]:
    stages: list[list[K8sObject]] = [[] for _ in STAGES]
    for obj in objs:
        index = next(i for i, belongs in enumerate(STAGES) if belongs(obj))
        stages[index].append(obj)
    return stages


def refusal(target: ClusterState, obj: K8sObject, identity: User) -> tuple[Category, str] | None:
    """Why the API server would refuse a server-side apply of `obj` by `identity`, or None."""
    try:
        kind = kinds.kind_of_object(obj)
    except ValueError as error:
        return "not-reconciled", str(error)
    if not target.serves(kind):
        why = " (it runs no Flux)" if kind.group.endswith(kinds.EXTENSION_SUFFIX) else ""
        return (
            "not-reconciled",
            f'{describe(objects.object_id(obj))}: no matches for kind "{kind.kind}" in version '
            f'"{kind.api_version}" on {target.name}{why}',
        )
    namespace = str(obj.get("metadata", {}).get("namespace", ""))
    if kind.namespaced and not namespace:
        return "not-reconciled", f"{describe(objects.object_id(obj))} has no namespace"
    if kind.namespaced and not target.namespace_exists(namespace):
        return (
            "not-reconciled",
            f'{describe(objects.object_id(obj))}: namespaces "{namespace}" not found on '
            f"{target.name}",
        )
    exists = target.get(objects.object_id(obj)) is not None
    checks = [Request("get", kind.group, kind.resource, namespace if kind.namespaced else "")]
    decision = target.authorizer.authorize(identity, _named(checks[0], obj))
    if not decision.allowed:
        return "denied", f"{describe(objects.object_id(obj))} on {target.name}: {decision.reason}"
    for verb in ("patch",) if exists else ("patch", "create"):
        decision = target.authorizer.authorize_write(identity, obj, verb)
        if not decision.allowed:
            return (
                "denied",
                f"{describe(objects.object_id(obj))} on {target.name}: {decision.reason}",
            )
    namespace_object = target.get(("Namespace", "", namespace)) if kind.namespaced else None
    level = admission.level_of(namespace_object.obj if namespace_object else None)
    forbidden = admission.violations(obj, level)
    if forbidden:
        return (
            "denied",
            f'{describe(objects.object_id(obj))} on {target.name}: violates PodSecurity "{level}'
            f':latest": {"; ".join(forbidden)}',
        )
    return None


def _named(request: Request, obj: K8sObject) -> Request:
    name = str(obj.get("metadata", {}).get("name", ""))
    namespace = name if obj.get("kind") == "Namespace" else request.namespace
    return Request(request.verb, request.group, request.resource, namespace, name)


@dataclass
class Applied:
    objects: list[ObjectId]
    twice: list[tuple[ObjectId, str]]


def apply_staged(
    target: ClusterState, objs: list[K8sObject], identity: User, applier: str
) -> Applied:
    """Apply stage by stage; a refused object fails its stage and the stages after it."""
    applied = Applied([], [])
    for stage in staged(objs):
        for obj in stage:
            refused = refusal(target, obj, identity)
            if refused is not None:
                raise _StageFailed(refused[0], refused[1], applied)
        for obj in stage:
            object_id = objects.object_id(obj)
            before = target.get(object_id)
            if before is not None and if_not_present(obj):
                # `ssa: IfNotPresent`: an existing object is left as it is, yet stays in the
                # inventory (a skipped entry is one of the change set's); it is pruned only
                # if this Kustomization applied it (its owner labels are on it).
                applied.objects.append(object_id)
                continue
            if before is not None and before.applier not in (applier, CLUSTER):
                applied.twice.append((object_id, before.applier))
            target.put(obj, applier)
            applied.objects.append(object_id)
    return applied


class _StageFailed(Exception):
    def __init__(self, category: Category, reason: str, applied: Applied) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason
        self.applied = applied


def with_target_namespace(objs: list[K8sObject], namespace: str | None) -> list[K8sObject]:
    """`spec.targetNamespace`: kustomize's namespace for every namespaced object."""
    if not namespace:
        return objs
    result = []
    for obj in objs:
        try:
            namespaced = kinds.kind_of_object(obj).namespaced
        except ValueError:
            namespaced = False
        if namespaced:
            obj = {**obj, "metadata": {**obj.get("metadata", {}), "namespace": namespace}}
        result.append(obj)
    return result


# ---------------------------------------------------------------- Kustomization


def reconcile_kustomization(
    world: World,
    cluster: ClusterState,
    obj: K8sObject,
    previous: Reconciled | None,
    ready: Callable[[ObjectId], bool],
) -> tuple[Reconciled, list[ObjectId]]:
    """Reconcile one Kustomization; returns its state and what it prunes from its target."""
    ctx = _Context(world, cluster, obj, previous)
    applier = applier_of(cluster.name, obj)
    kept = previous.inventory if previous else ()
    try:
        _controller(ctx, "kustomize-controller")
        source = _reference(ctx, ctx.spec.get("sourceRef"), SOURCE_KINDS, "sourceRef")
        _dependencies(ctx, ready)
        artifact = _artifact(ctx, source)
        target = _target(ctx, "kustomize-controller")
    except Failed as failed:
        return _failed(failed.category, failed.reason, obj, kept), []
    if isinstance(artifact, str):
        return _external(ctx, target, artifact), []
    folder = layout.folder_of(str(ctx.spec.get("path", "")))
    builds = world.builds(artifact)
    settings = cluster.flux
    remote = builds.remote_bases(folder) if settings and settings.no_remote_bases else []
    if remote:
        reason = f"remote bases are refused under lockdown (--no-remote-bases): {remote[0]}"
        return _failed("not-reconciled", reason, obj, kept), []
    result = builds.result(folder)
    if isinstance(result, str):
        reason = f"kustomize build of ./{folder} failed: {result}"
        return _failed("not-reconciled", reason, obj, kept), []
    built = with_target_namespace(copy.deepcopy(result), ctx.spec.get("targetNamespace"))
    try:
        built = post_build(ctx.cluster, obj, built)
    except Failed as failed:
        return _failed(failed.category, failed.reason, obj, kept), []
    try:
        applied = apply_staged(target.cluster, built, target.identity, applier)
    except _StageFailed as failed:
        inventory = tuple(dict.fromkeys([*kept, *failed.applied.objects]))
        state = Reconciled(
            False,
            failed.category,
            failed.reason,
            target.cluster.name,
            target.identity,
            inventory,
            artifact.revision,
            generation(obj),
            missing_accounts=target.missing_accounts(ctx),
            twice=tuple(failed.applied.twice),
        )
        return state, []
    inventory = tuple(applied.objects)
    pruned = [i for i in kept if i not in set(inventory)] if ctx.spec.get("prune") else []
    unhealthy = _unhealthy(ctx, target, inventory, ready)
    state = Reconciled(
        unhealthy is None,
        None if unhealthy is None else "not-reconciled",
        unhealthy or "",
        target=target.cluster.name,
        identity=target.identity,
        inventory=inventory,
        revision=artifact.revision,
        generation=generation(obj),
        missing_accounts=target.missing_accounts(ctx),
        twice=tuple(applied.twice),
    )
    return state, pruned


def _substitution_values(cluster: ClusterState, obj: K8sObject) -> dict[str, str]:
    """A Kustomization's variables: each `substituteFrom` object's data, the later winning,
    then `substitute` over them; read from the Kustomization's own namespace with the
    controller's own rights, as kustomize-controller does. A missing object fails the
    reconciliation unless it is `optional`."""
    post = (obj.get("spec") or {}).get("postBuild") or {}
    namespace = str(obj["metadata"].get("namespace", ""))
    found: dict[str, str] = {}
    for reference in post.get("substituteFrom") or []:
        kind, name = str(reference.get("kind")), str(reference.get("name"))
        landed = cluster.get((kind, namespace, name))
        if landed is None:
            if reference.get("optional"):
                continue
            raise Failed(
                "not-reconciled", f"postBuild.substituteFrom: {kind} {namespace}/{name} not found"
            )
        found.update({str(k): str(v) for k, v in (landed.obj.get("stringData") or {}).items()})
        for key, value in (landed.obj.get("data") or {}).items():
            try:
                text = base64.b64decode(str(value)).decode() if kind == "Secret" else str(value)
            except (binascii.Error, UnicodeDecodeError):
                text = ""
            found[str(key)] = text
    found.update({str(k): str(v) for k, v in (post.get("substitute") or {}).items()})
    return found


def post_build(cluster: ClusterState, obj: K8sObject, built: list[K8sObject]) -> list[K8sObject]:
    """What Flux's post-build substitution leaves of `built`: nothing happens without a
    variable; an object marked `kustomize.toolkit.fluxcd.io/substitute: disabled` is left
    alone; each other object is substituted as YAML text and parsed again
    (`variables.substitute_object`); an undefined `${NAME}` becomes empty; `${NAME}` and its
    defaults are substituted, any other form is taken as the plain variable (an
    approximation)."""
    values = _substitution_values(cluster, obj)
    if not values:
        return built
    result = []
    for item in built:
        if variables.is_disabled(item):
            result.append(item)
            continue
        try:
            result.append(variables.substitute_object(item, values))
        except yaml.YAMLError as error:
            raise Failed(
                "not-reconciled",
                f"post-build substitution leaves {describe(objects.object_id(item))} "
                f"unparsable: {str(error).splitlines()[0]}",
            ) from None
    return result


HEALTH_CHECKED = ("HelmRelease", "Kustomization")
"""The kinds whose readiness `wait` checks here: Flux's own, whose status the simulation keeps.
Workloads (a Deployment's replicas) count as ready: nothing runs offline."""


def _unhealthy(
    ctx: _Context,
    target: _Target,
    inventory: tuple[ObjectId, ...],
    ready: Callable[[ObjectId], bool],
) -> str | None:
    """Why a Kustomization with `wait` is not Ready yet: the first Flux object it applied that
    is not (kustomize-controller's health checks of everything applied:
    https://fluxcd.io/flux/components/kustomize/kustomizations/#wait); None when healthy."""
    if not ctx.spec.get("wait") or target.cluster is not ctx.cluster:
        return None
    waiting = [i for i in inventory if i[0] in HEALTH_CHECKED and not ready(i)]
    if not waiting:
        return None
    return f"health check: {describe(waiting[0])} is not Ready"


def _external(ctx: _Context, target: _Target, revision: str) -> Reconciled:
    """A Kustomization of a repository that is not the fleet's: what it holds is not known
    offline, but whether anything can land is. With a target namespace, its identity must be
    able to apply there (a ConfigMap stands for whatever the repository holds)."""
    namespace = ctx.spec.get("targetNamespace")
    if namespace:
        probe = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "any-object", "namespace": str(namespace)},
        }
        refused = refusal(target.cluster, probe, target.identity)
        if refused is not None:
            return Reconciled(
                False,
                refused[0],
                f"nothing its repository holds can land: {refused[1]}",
                target.cluster.name,
                target.identity,
                revision=revision,
                generation=generation(ctx.obj),
                external=True,
                missing_accounts=target.missing_accounts(ctx),
            )
    return Reconciled(
        True,
        target=target.cluster.name,
        identity=target.identity,
        revision=revision,
        generation=generation(ctx.obj),
        external=True,
        missing_accounts=target.missing_accounts(ctx),
    )


def _failed(
    category: Category, reason: str, obj: K8sObject, kept: tuple[ObjectId, ...]
) -> Reconciled:
    return Reconciled(False, category, reason, inventory=kept, generation=generation(obj))


def _annotation(obj: Mapping[str, Any], key: str) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(key, ""))


def prunable(obj: Mapping[str, Any]) -> bool:
    """Flux deletes it when it leaves its Kustomization, unless it says `prune: disabled`."""
    return _annotation(obj, objects.PRUNE_ANNOTATION).lower() != "disabled"


def if_not_present(obj: Mapping[str, Any]) -> bool:
    """Flux creates it if missing and leaves an existing one alone (`ssa: IfNotPresent`)."""
    return _annotation(obj, objects.SSA_ANNOTATION) == "IfNotPresent"


# ---------------------------------------------------------------- HelmRelease


def reconcile_helm_release(
    world: World,
    cluster: ClusterState,
    obj: K8sObject,
    previous: Reconciled | None,
    ready: Callable[[ObjectId], bool],
) -> Reconciled:
    """Install the chart on its target as its identity, checked for what a chart makes."""
    ctx = _Context(world, cluster, obj, previous)
    try:
        _controller(ctx, "helm-controller")
        chart = (ctx.spec.get("chart") or {}).get("spec") or {}
        _reference(ctx, chart.get("sourceRef"), CHART_SOURCE_KINDS, "chart sourceRef")
        _dependencies(ctx, ready)
        target = _target(ctx, "helm-controller")
    except Failed as failed:
        return _failed(failed.category, failed.reason, obj, ())
    release = str(obj["metadata"]["name"])
    namespace = str(ctx.spec.get("targetNamespace") or ctx.namespace)
    storage = str(ctx.spec.get("storageNamespace") or namespace)
    create_namespace = bool((ctx.spec.get("install") or {}).get("createNamespace"))
    scoped = world.cluster_scoped_chart(cluster.name, ctx.namespace, release)
    needs = chart_objects(release, namespace, storage, scoped=scoped)
    if create_namespace and not target.cluster.namespace_exists(namespace):
        needs.insert(0, objects.namespace(namespace))
    for needed in needs:
        refused = refusal(target.cluster, needed, target.identity)
        if refused is not None:
            return Reconciled(
                False,
                refused[0],
                f"the chart cannot be installed: {refused[1]}",
                target.cluster.name,
                target.identity,
                generation=generation(obj),
                missing_accounts=target.missing_accounts(ctx),
            )
        if needed.get("kind") == "Namespace":
            target.cluster.put(needed, applier_of(cluster.name, obj))
    return Reconciled(
        True,
        target=target.cluster.name,
        identity=target.identity,
        revision=EXTERNAL,
        generation=generation(obj),
        external=True,
        missing_accounts=target.missing_accounts(ctx),
    )


def chart_objects(release: str, namespace: str, storage: str, *, scoped: bool) -> list[K8sObject]:
    """What installing a chart creates, as far as it is known without the chart: Helm's release
    record (a Secret in the storage namespace) and a workload in the release namespace; for a
    chart with cluster-scoped objects, a CRD, a ClusterRole granting what its controller needs
    (any right: offline it is not known which), its binding, and a webhook configuration."""
    found: list[K8sObject] = [
        {**objects.secret(f"sh.helm.release.v1.{release}.v1", storage), "stringData": {}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": release, "namespace": namespace},
        },
        objects.service_account(release, namespace),
    ]
    if scoped:
        found += [
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"things.{release}.example"},
                "spec": {"group": f"{release}.example", "names": {"kind": "Thing"}},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": release},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": release},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": release,
                },
                "subjects": [{"kind": "ServiceAccount", "name": release, "namespace": namespace}],
            },
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": release},
            },
        ]
    return found


def kubeconfig_server(text: str) -> str | None:
    """The server URL of a kubeconfig's current context."""
    try:
        config = yamldoc.load(text)
    except Exception:
        return None
    if not isinstance(config, Mapping):
        return None
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or ()}
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or ()}
    context = contexts.get(config.get("current-context"))
    cluster = clusters.get(context.get("cluster")) if context else None
    if cluster is None and len(clusters) == 1:
        cluster = next(iter(clusters.values()))
    server = cluster.get("server") if isinstance(cluster, Mapping) else None
    return str(server) if server else None
