"""Rings: which ring of an environment may take branch E's new commit next, decided from the
Flux status of the clusters. Pure: the status comes in as data (`fleet rollout` reads it with
kubectl, or from recorded `kubectl get -o json` output), the decision goes out as a `Plan`.

A later ring follows a held ref of branch E (`names.ring_branch`) that only `fleet rollout`
moves, so Flux alone never runs ahead: ring N+1's ref moves to the commit once every Flux
object of the environment on the clusters of rings 0..N is Ready at it, and a failure there
stops the rollout.

How a Flux object says it is done with a commit, as the controllers write their status:
- `Ready` True once the last reconciliation succeeded; `observedGeneration` is set to the
  object's `generation` only then, so a spec the controller has not finished is visible.
  Ref: kustomize-controller `finalizeStatus`,
  https://github.com/fluxcd/kustomize-controller/blob/main/internal/controller/kustomization_controller.go
- A Kustomization records `lastAttemptedRevision` when it tries a source revision and
  `lastAppliedRevision` when it applied it; a GitRepository's `artifact.revision` is what it
  fetched. Revisions read `<branch>@sha1:<commit>` (older Flux: `<branch>/<commit>`).
  Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#kustomization-status
- `Ready` False with reason `DependencyNotReady` or `ArtifactFailed` is waiting on something
  else; `HealthCheckCanceled` and `Progressing` mean a newer reconciliation is running; any
  other reason is a failure, retried every `retryInterval` (`Reconciling` then says
  `ProgressingWithRetry`). `Stalled` True is a failure that no retry fixes.
  Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#conditions
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from fleet import names, wiring
from fleet.model import EnvironmentSpec

WAITING_REASONS = frozenset(
    {"DependencyNotReady", "HealthCheckCanceled", "Progressing", "SourceNotReady"}
)
"""`Ready` False for one of these is not a failure: something else comes first (a dependency,
a newer reconciliation, or a source that has no artifact yet: helm-controller's
`SourceNotReady` while a new chart is fetched)."""
SOURCE_NOT_READY = "artifact not found"
"""`ArtifactFailed` is a failure (a path missing from the commit) unless the controller only
waits for its source to store the artifact, which it says in these words ("Source is not
ready, artifact not found, retrying in ...": kustomize-controller's `reconcile`)."""

_COMMIT = re.compile(r"(?:@sha1:|@sha256:|/)([0-9a-f]{40,64})$")


def commit_of(revision: str | None) -> str | None:
    """The commit of a Flux source revision (`main@sha1:abc...`, or `main/abc...`)."""
    if not revision:
        return None
    found = _COMMIT.search(revision)
    return found.group(1) if found else None


ObjectKey = tuple[str, str, str]
"""(kind, namespace, name) of a Flux object."""


@dataclass(frozen=True)
class FluxObject:
    """What the gate needs of one Flux object's status."""

    kind: str
    namespace: str
    name: str
    generation: int | None = None
    observed_generation: int | None = None
    ready: bool | None = None
    """The `Ready` condition: True, False, or None when absent or Unknown."""
    reason: str = ""
    message: str = ""
    reconciling: str | None = None
    """The reason of a `Reconciling` condition that is True: `Progressing` while a
    reconciliation runs, `ProgressingWithRetry` after one failed."""
    stalled: bool = False
    suspended: bool = False
    static: bool = False
    """An object no controller reconciles, so it reports no status: an OCI HelmRepository
    (source-controller 1.2 and later; `flux get sources helm` shows it Ready)."""
    revision: str | None = None
    """`lastAppliedRevision` (Kustomization) or `artifact.revision` (source)."""
    attempted: str | None = None
    """`lastAttemptedRevision` (Kustomization)."""
    attempted_generation: int | None = None
    """`lastAttemptedGeneration` (HelmRelease): which spec a failure is about."""
    source: ObjectKey | None = None
    """The source it reads (`sourceRef`), when that is a Git, OCI or Bucket source."""
    reads_fleet: bool = False
    """It reads the environment's own source (or is it): its revision must be the commit."""

    @property
    def title(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class Verdict(Enum):
    READY = "ready"
    PENDING = "pending"
    FAILED = "failed"


def _same(revision: str | None, wanted: str) -> bool:
    """Whether a revision is `wanted`: the same commit, or the same revision string (a source
    whose revisions are not commits: an OCI digest, a bucket's)."""
    found, expected = commit_of(revision), commit_of(wanted) or wanted
    return found == expected if found is not None else revision == wanted


def verdict(obj: FluxObject, wanted: str | None) -> tuple[Verdict, str]:
    """Whether `obj` is done with the revision `wanted` (for what reads the fleet's source, the
    commit being rolled out; for others, what their own source holds now; None: no revision
    to compare), and if not, why (one line for a person). As kustomize-controller judges a
    dependency: Ready, its generation observed, its `lastAppliedRevision` its source's
    current revision (`checkDependencies`)."""
    if obj.static:
        return Verdict.READY, "is Ready"
    if obj.suspended:
        return Verdict.PENDING, "is suspended: it reconciles nothing until resumed"
    if obj.stalled:
        return Verdict.FAILED, f"is stalled: {obj.reason}: {obj.message}".rstrip(": ")
    current = obj.generation is None or obj.observed_generation == obj.generation
    at_wanted = wanted is None or _same(obj.revision, wanted)
    if obj.ready is True and current and at_wanted:
        return Verdict.READY, "is Ready"
    waiting = obj.reason in WAITING_REASONS or (
        obj.reason == "ArtifactFailed" and SOURCE_NOT_READY in obj.message
    )
    if obj.ready is False and not waiting and _about(obj, wanted):
        return Verdict.FAILED, f"failed: {obj.reason}: {obj.message}".rstrip(": ")
    if not at_wanted and wanted is not None:
        at = commit_of(obj.revision) or obj.revision
        return Verdict.PENDING, f"is at {_short(at)}, not yet at {_short(wanted)}"
    if obj.ready is False:
        return Verdict.PENDING, f"waits: {obj.reason}: {obj.message}".rstrip(": ")
    return Verdict.PENDING, "has not finished reconciling its current spec"


def _about(obj: FluxObject, wanted: str | None) -> bool:
    """Whether a failure is about what is rolled out now, not one from before it.

    A source's failure is about now. A Kustomization records `lastAttemptedRevision` only once
    it got past fetching and building (a path missing from the commit fails earlier), so a
    failure is also about now when it is not reconciling anew (no `Reconciling`, or its reason
    `ProgressingWithRetry`): its source's new revision triggers a reconciliation at once. A
    HelmRelease says which spec it tried (`lastAttemptedGeneration`)."""
    if obj.kind.endswith("Repository") or obj.kind == "Bucket":
        return True
    if obj.kind == "HelmRelease":
        return obj.attempted_generation in (None, obj.generation)
    if wanted is not None and _same(obj.attempted, wanted):
        return True
    return obj.reconciling in (None, "ProgressingWithRetry")


def _short(revision: str | None) -> str:
    return (commit_of(revision) or revision)[:12] if revision else "no revision"


@dataclass(frozen=True)
class ClusterStatus:
    """The environment's Flux objects on one cluster, or why they could not be read."""

    objects: tuple[FluxObject, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Ring:
    name: str
    branch: str
    """The ref its clusters' environment source follows (branch E for the first ring)."""
    clusters: tuple[str, ...]
    """The clusters that run Flux on this ring (a remote is reconciled by its manager's)."""


@dataclass(frozen=True)
class Finding:
    cluster: str
    verdict: Verdict
    text: str
    final: bool = False
    """A failure no retry of Flux fixes (`Stalled`)."""


class Action(Enum):
    ADVANCE = "advance"
    """Move `ring`'s ref to the commit."""
    WAIT = "wait"
    """The rings at the commit are not all Ready yet."""
    STOP = "stop"
    """A ring at the commit failed: nothing moves until it is fixed (or reverted)."""
    DONE = "done"
    """Every ring is at the commit and Ready."""


@dataclass(frozen=True)
class Plan:
    action: Action
    commit: str
    ring: Ring | None = None
    """The ring to advance (ADVANCE), or the first ring that is not Ready (WAIT, STOP)."""
    findings: tuple[Finding, ...] = ()
    """What is not Ready on the rings that must be, failures first."""
    positions: Mapping[str, str | None] = field(default_factory=dict)
    """Each ring's ref as it was read."""


def rings(env: EnvironmentSpec) -> tuple[Ring, ...]:
    """The environment's rings in order with the physical clusters of each; without a rollout,
    one ring of every cluster on branch E."""
    flux_clusters = [c for c in env.clusters if c.is_management]
    if env.rollout is None:
        physical = tuple(p.name for c in flux_clusters for p in c.physical)
        return (Ring("all", env.branch, physical),)
    found = []
    for index, ring in enumerate(env.rollout.rings):
        members = tuple(
            p.name
            for c in flux_clusters
            if env.rollout.ring_of[c.folder] == ring
            for p in c.physical
        )
        branch = env.branch if index == 0 else names.ring_branch(env.branch, ring)
        found.append(Ring(ring, branch, members))
    return tuple(found)


def cluster_findings(
    cluster: str,
    status: ClusterStatus | None,
    commit: str,
    expected: Sequence[ObjectKey] = (),
) -> list[Finding]:
    """Everything on `cluster` that is not Ready at `commit`; `expected` are (kind, namespace,
    name) of objects that must be there (what Pulumi applies; the rest comes from them)."""
    if status is None or status.error is not None:
        why = status.error if status is not None and status.error else "no status was read"
        return [Finding(cluster, Verdict.PENDING, f"cannot tell: {why}")]
    found = []
    present = {(o.kind, o.namespace, o.name) for o in status.objects}
    for kind, namespace, name in expected:
        if (kind, namespace, name) not in present:
            text = f"{kind} {namespace}/{name} is not there yet"
            found.append(Finding(cluster, Verdict.PENDING, text))
    artifacts = {(o.kind, o.namespace, o.name): o.revision for o in status.objects}
    for obj in status.objects:
        if obj.reads_fleet:
            wanted: str | None = commit
        else:
            wanted = artifacts.get(obj.source) if obj.source is not None else None
        judged, text = verdict(obj, wanted)
        if judged is not Verdict.READY:
            found.append(Finding(cluster, judged, f"{obj.title} {text}", obj.stalled))
    return found


def plan(
    ordered: Sequence[Ring],
    commit: str,
    positions: Mapping[str, str | None],
    statuses: Mapping[str, ClusterStatus | None],
    expected: Mapping[str, Sequence[ObjectKey]] | None = None,
) -> Plan:
    """The next step of rolling `commit` (the tip of branch E) out over `ordered`.

    `positions` is each ring's ref by ring name (None: the ref does not exist yet, as for a
    ring added mid-rollout); the first ring's is branch E itself. Every ring before the first
    one behind must be Ready at the commit on every cluster; a failure on any of them stops.
    A later ring never moves before an earlier one, whatever the refs say."""
    wanted = expected or {}
    behind = next((i for i, r in enumerate(ordered) if positions.get(r.name) != commit), None)
    at_commit = ordered if behind is None else ordered[:behind]
    by_ring = [
        (
            ring,
            [
                f
                for cluster in ring.clusters
                for f in cluster_findings(
                    cluster, statuses.get(cluster), commit, wanted.get(cluster, ())
                )
            ],
        )
        for ring in at_commit
    ]
    findings = sorted(
        (f for _, found in by_ring for f in found), key=lambda f: f.verdict is not Verdict.FAILED
    )
    failed = [r for r, found in by_ring if any(f.verdict is Verdict.FAILED for f in found)]
    unready = [r for r, found in by_ring if found]
    if failed:
        action, ring = Action.STOP, failed[0]
    elif unready:
        action, ring = Action.WAIT, unready[0]
    elif behind is None:
        action, ring = Action.DONE, None
    else:
        action, ring = Action.ADVANCE, ordered[behind]
    return Plan(action, commit, ring, tuple(findings), dict(positions))


_STATUS_KINDS = frozenset(
    {"GitRepository", "OCIRepository", "HelmRepository", "Kustomization", "HelmRelease"}
)
"""The Flux kinds that report `Ready` (notification objects of v1beta3 report nothing)."""


def environment_namespaces(env: EnvironmentSpec) -> frozenset[str]:
    """Where the environment's Flux objects live: its own namespace, its infra components',
    and every channel of every tenant (a tenant's own Flux objects count: its apps are part
    of the environment)."""
    return frozenset(
        {
            names.environment_namespace(env.name),
            *(c.namespace for c in env.infra),
            *(ch.namespace for t in env.tenants for ch in t.channels(env.name)),
        }
    )


def expected_objects(env: EnvironmentSpec) -> dict[str, list[ObjectKey]]:
    """The Flux objects Pulumi applies on each physical cluster of the environment: until
    they are there, nothing they bring is either."""
    found: dict[str, list[ObjectKey]] = {}
    for cluster in env.management_clusters:
        applied = [
            (str(o["kind"]), str(o["metadata"].get("namespace", "")), str(o["metadata"]["name"]))
            for o in wiring.environment_wiring(env, cluster).objects
            if o["kind"] in _STATUS_KINDS
        ]
        for physical in cluster.physical:
            found[physical.name] = applied
    return found
