"""The whole deploy, offline: each stack's `pulumi up`, its branch landed in a bare repository,
its objects applied to the clusters, then Flux reconciling every cluster from that repository.

A `Simulation` holds the state a real fleet would have between updates: the clusters' objects
and who applied them, the branches in git, each stack's last outputs, each Flux object's
inventory. `deploy` runs one stack's update (the real program under recording mocks; its branch
through the real `GitOpsBranch` provider and git writer), `reconcile` runs Flux until nothing
changes, and successive calls replay a sequence of config changes as transitions.

What it cannot know offline, it says so: the contents of tenants' repositories and of Helm
charts (a chart is checked for the objects every chart makes), secret-less cluster access, and
anything a cluster's own admission policies would refuse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill  # type: ignore[import-untyped]  # the Pulumi SDK's own pickler of dynamic providers
import pulumi
from pulumi.dynamic import Config, ConfigureRequest

from components import clusters as cluster_components
from components import gitops_branch
from components.gitwriter import GitWriterError
from fleet import layout, names, objects, reach
from fleet.config import AttachedConfig
from fleet.errors import ConfigError
from fleet.model import EnvironmentSpec, FleetSpec, StackSpec, fleet_of, main_stack_name
from fleet.objects import K8sObject, ObjectId
from fleet.stackfile import load_stack, main_stacks_of, stack_file
from fleet.wiring import remote_bootstrap
from fleet_cli.engine import (
    Registered,
    StackRun,
    applied_object,
    cluster_of_providers,
    copy_project,
    fake_kubeconfig,
    is_cluster_object,
    main_stack_outputs,
    run_stack,
)
from fleet_cli.kustomize import BranchBuilds
from fleet_cli.simulation import kinds
from fleet_cli.simulation.cluster import CLUSTER, PULUMI, ClusterState
from fleet_cli.simulation.findings import Finding, describe
from fleet_cli.simulation.flux import (
    EXTERNAL,
    Artifact,
    Reconciled,
    applier_of,
    generation,
    kubeconfig_server,
    prunable,
    reconcile_helm_release,
    reconcile_kustomization,
)
from fleet_cli.simulation.rbac import User
from fleet_cli.simulation.repository import Repository, folder_source

MAX_ROUNDS = 50
"""Flux retries every failed object at its interval; the simulation retries until a round
changes nothing, which a fleet reaches in a few rounds (each level of Kustomizations one)."""
FLUX_KINDS = ("Kustomization", "HelmRelease")


@dataclass
class BranchDelta:
    """The files one update added, changed and removed on a branch."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class ObjectDelta:
    """The objects that landed on a cluster, or left it, during one step."""

    landed: list[ObjectId] = field(default_factory=list)
    removed: list[ObjectId] = field(default_factory=list)


@dataclass
class Step:
    """One update of one stack and what it changed, Flux's reconciliation included."""

    label: str
    branches: dict[str, BranchDelta] = field(default_factory=dict)
    clusters: dict[str, ObjectDelta] = field(default_factory=dict)


@dataclass
class _Landing:
    """A GitOpsBranch resource as the engine keeps it between updates."""

    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any]
    provider: str


class Simulation:
    """A fleet's clusters and repository, and the stacks deployed onto them."""

    def __init__(self, project: Path, repository: Path, *, assume_main: bool = False) -> None:
        self.project = project
        self.assume_main = assume_main
        """Check an environment stack alone: its main stack's Flux is assumed installed."""
        self.repository = Repository(repository)
        self.clusters: dict[str, ClusterState] = {}
        self.models: dict[str, StackSpec] = {}
        self.runs: dict[str, StackRun] = {}
        self.events: list[Finding] = []
        """Findings that happen once: deploy failures, double appliers, stale objects."""
        self.status: dict[tuple[str, ObjectId], Reconciled] = {}
        self.steps: list[Step] = []
        self.fleet_urls: set[str] = set()
        self.credentials: dict[str, str] = {}
        """The secret config values that are the platform's credentials, with what each is: a
        Secret holding one, under any key, holds that credential."""
        self.sources: dict[str, Artifact] = {}
        """Repositories that are not the fleet's whose files are known (`--source`): by URL."""
        self._servers: dict[str, str] = {}
        self._pulumi: dict[str, dict[str, dict[ObjectId, K8sObject]]] = {}
        """stack -> cluster -> the objects it applied there."""
        self._landings: dict[str, dict[str, _Landing]] = {}
        """stack -> GitOpsBranch URN -> its state."""
        self._chart_scopes: dict[tuple[str, str, str], bool] = {}
        self._builds: dict[str, BranchBuilds] = {}
        self._deferred: list[tuple[str, K8sObject]] = []
        """Finalizers nobody waits for, run when the current update is done."""

    def close(self) -> None:
        for builds in self._builds.values():
            builds.close()

    def unbuildable(self) -> list[Finding]:
        """Every folder of every branch that kustomize cannot build, whether or not a
        Kustomization reads it yet: the deepest failing folders, each with kustomize's error."""
        found = []
        for branch, commit in sorted(self.repository.tips().items()):
            builds = self.builds(Artifact(commit, self.repository.files(commit)))
            tops = builds.tops()
            builds.build(tops)
            for top in tops:
                for folder, error in builds.culprits(top):
                    found.append(Finding(f"branch {branch}", "build", folder, error))
        return found

    # ---------------------------------------------------------------- the world Flux sees

    def artifact(self, url: str, branch: str) -> Artifact | str | None:
        if url in self.sources:
            return self.sources[url]
        if url not in self.fleet_urls:
            return EXTERNAL
        commit = self.repository.tips().get(branch)
        if commit is None:
            return None
        return Artifact(commit, self.repository.files(commit))

    def add_source(self, url: str, files: dict[str, str]) -> None:
        """Reconcile `files` as the repository at `url`, at every branch: a new content is a
        new revision."""
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        self.sources[url] = Artifact(f"source:{digest[:16]}", files)

    def cluster_reached_by(self, kubeconfig: str) -> str | None:
        server = kubeconfig_server(kubeconfig)
        return self._servers.get(server) if server else None

    def builds(self, artifact: Artifact) -> BranchBuilds:
        if artifact.revision not in self._builds:
            self._builds[artifact.revision] = BranchBuilds(artifact.files)
        return self._builds[artifact.revision]

    def cluster_scoped_chart(self, cluster: str, namespace: str, name: str) -> bool:
        return self._chart_scopes.get((cluster, namespace, name), True)

    # ---------------------------------------------------------------- steps

    def step(self, label: str, stack: str, settings: Path | None = None) -> Step:
        """Deploy one stack, then let Flux reconcile; record what changed in git and on the
        clusters."""
        files_before = self._branch_files()
        objects_before = {name: set(c.objects) for name, c in self.clusters.items()}
        self.deploy(stack, settings)
        self.reconcile()
        step = Step(label)
        files_after = self._branch_files()
        for branch in sorted(set(files_before) | set(files_after)):
            old, new = files_before.get(branch, {}), files_after.get(branch, {})
            delta = BranchDelta(
                added=sorted(set(new) - set(old)),
                changed=sorted(p for p in set(new) & set(old) if new[p] != old[p]),
                removed=sorted(set(old) - set(new)),
            )
            if delta.added or delta.changed or delta.removed:
                step.branches[branch] = delta
        for name, cluster in sorted(self.clusters.items()):
            before = objects_before.get(name, set())
            landed, removed = (
                sorted(set(cluster.objects) - before),
                sorted(before - set(cluster.objects)),
            )
            if landed or removed:
                step.clusters[name] = ObjectDelta(landed, removed)
        self.steps.append(step)
        return step

    def _branch_files(self) -> dict[str, dict[str, str]]:
        return {b: self.repository.files(c) for b, c in self.repository.tips().items()}

    # ---------------------------------------------------------------- deploying a stack

    def deploy(self, stack: str, settings: Path | None = None) -> None:
        """`pulumi up` of one stack: its program, its branch, its objects on every cluster.

        `settings` replaces the stack's settings file first (a step of a transition)."""
        path = settings or stack_file(stack, self.project)
        target = self.project / f"Pulumi.{stack}.yaml"
        if settings is not None and settings.resolve() != target.resolve():
            target.write_bytes(settings.read_bytes())
        where = f"stack {stack}"
        try:
            model = load_stack(target if settings is not None else path)
        except ConfigError as error:
            self.events.append(Finding(where, "deploy", "config", error.render()))
            return
        self._know(model)
        main = None if isinstance(model, FleetSpec) else _main_stack(model)
        if main is not None and main in self.runs:
            stack_outputs = self.runs[main].exports
        elif main is not None and self.assume_main:
            stack_outputs = main_stack_outputs(fleet_of(model))
            self._assume_main(fleet_of(model))
        elif main is not None:
            self.events.append(
                Finding(where, "deploy", "StackReference", f"stack {main} has not been deployed")
            )
            return
        else:
            stack_outputs = {}
        previous = self.runs[stack].exports if stack in self.runs else None
        # A main stack reads its environments' last deployments when clusters leave it.
        environments = [s for s, main in main_stacks_of(self.project).items() if main == stack]
        deployed = {s: self.runs[s].exports if s in self.runs else {} for s in environments}
        try:
            run = run_stack(
                self.project / f"Pulumi.{stack}.yaml",
                model,
                self._secrets(model),
                stack_outputs,
                previous,
                references=deployed,
            )
        except pulumi.RunError as error:
            self.events.append(Finding(where, "deploy", "pulumi up", str(error)))
            return
        self.models[stack] = model
        self.runs[stack] = run
        self._land_branches(stack, run.resources)
        self._apply_objects(stack, run.resources)

    def add_cluster(self, name: str) -> ClusterState:
        """A cluster of the fleet: new and empty the first time, reached by the kubeconfig the
        simulation makes for it (`fake_kubeconfig`)."""
        if name not in self.clusters:
            self.clusters[name] = ClusterState(name)
            server = kubeconfig_server(fake_kubeconfig(name))
            if server:
                self._servers[server] = name
        return self.clusters[name]

    def _assume_main(self, fleet: FleetSpec) -> None:
        """What the main stack installs, for an environment checked alone: on each management
        cluster the Flux Operator and its FluxInstance, Ready; on each remote the binding that
        grants the platform accounts of main and of the environments it lists."""
        instance = objects.flux_instance(
            fleet.flux.version,
            fleet.flux.registry,
            fleet.flux.components,
            multitenant=fleet.flux.multitenant,
            cluster_type="kubernetes",
        )
        for cluster in (m for c in fleet.management_clusters for m in c.physical):
            state = self.clusters[cluster.name]
            if state.flux is None:
                state.operator = True
                state.put(objects.namespace(names.FLUX_NAMESPACE), f"{PULUMI}:{fleet.stack}")
                state.put(instance, f"{PULUMI}:{fleet.stack}")
                state.install_flux(instance)
        for remote in fleet.clusters:
            if remote.is_management:
                continue
            state = self.clusters[remote.name]
            for binding in remote_bootstrap(names.FLUX_NAMESPACE, fleet.environments):
                if not state.has(*objects.object_id(binding)):
                    state.put(binding, f"{PULUMI}:{fleet.stack}")

    def _know(self, model: StackSpec) -> None:
        """The clusters a stack names exist; each kubeconfig the simulation makes reaches one."""
        fleet = fleet_of(model)
        self.fleet_urls.add(fleet.repository.url)
        clusters = [*fleet.clusters]
        if isinstance(model, EnvironmentSpec):
            clusters += model.dedicated_clusters
        for cluster in (m for c in clusters for m in c.physical):
            self.add_cluster(cluster.name)
            # A k3d cluster on a Docker network is also reached at its load balancer's name
            # there (`fleet.reach`); the rules make sure only its network's clusters use it.
            server = reach.in_network_server(cluster)
            if server is not None:
                self._servers[server] = cluster.name
        platform = (
            names.FLUX_NAMESPACE
            if isinstance(model, FleetSpec)
            else names.environment_namespace(model.name)
        )
        for component in model.infra:
            if component.helm is None:
                continue
            for cluster in model.clusters:
                if not component.runs_on(cluster.name):
                    continue
                if cluster.managed_by is None:
                    for member in cluster.physical:
                        key = (member.name, component.namespace, component.name)
                        self._chart_scopes[key] = component.cluster_scoped
                    continue
                else:
                    remote_release = names.remote_app(cluster.name, component.name)
                    key = (cluster.managed_by, platform, remote_release)
                self._chart_scopes[key] = component.cluster_scoped

    def _secrets(self, model: StackSpec) -> dict[str, str]:
        """Secret config as the simulation sets it: an attached cluster's key holds a kubeconfig
        that reaches that cluster, any other key a recognisable value."""
        clusters = [*fleet_of(model).clusters]
        if isinstance(model, EnvironmentSpec):
            clusters += model.dedicated_clusters
        kubeconfigs = {
            c.provisioning.kubeconfig_secret: c.name
            for group in clusters
            for c in group.physical
            if isinstance(c.provisioning, AttachedConfig)
        }
        values = {
            ref.key: fake_kubeconfig(kubeconfigs[ref.key])
            if ref.key in kubeconfigs
            else f"simulated-{ref.key}"
            for ref in model.secret_keys
        }
        for key, cluster in kubeconfigs.items():
            if key in values:
                self.credentials[values[key]] = f"the kubeconfig of cluster {cluster}"
        token = fleet_of(model).repository.token_key
        if token in values:
            self.credentials[values[token]] = "the fleet repository's token"
        return values

    # ---------------------------------------------------------------- branches

    def _land_branches(self, stack: str, resources: list[Registered]) -> None:
        """The engine's lifecycle of the stack's GitOpsBranch resources, through their own
        provider: create a new one, diff and update (or replace) a kept one, delete a gone one."""
        before = self._landings.get(stack, {})
        after: dict[str, _Landing] = {}
        branches = [r for r in resources if r.type == gitops_branch.GITOPS_BRANCH_TYPE]
        for resource in branches:
            inputs = {k: v for k, v in resource.inputs.items() if k != "__provider"}
            inputs["url"] = str(self.repository.path)
            provider = str(resource.inputs["__provider"])
            old_urn = next((u for u in [resource.urn, *resource.aliases] if u in before), None)
            try:
                after[resource.urn] = self._land(provider, inputs, before.get(old_urn or ""))
            except GitWriterError as error:
                self.events.append(
                    Finding(f"stack {stack}", "deploy", f"branch {inputs['branch']}", str(error))
                )
                if old_urn is not None:
                    after[resource.urn] = before[old_urn]
        for urn, landing in before.items():
            kept = any(urn == u or urn in r.aliases for r in branches for u in [r.urn])
            if not kept:
                try:
                    _provider(landing.provider).delete(landing.id, landing.outputs)
                except GitWriterError as error:
                    branch = landing.inputs["branch"]
                    self.events.append(
                        Finding(f"stack {stack}", "deploy", f"branch {branch}", str(error))
                    )
        self._landings[stack] = after

    def _land(self, provider: str, inputs: dict[str, Any], old: _Landing | None) -> _Landing:
        live = _provider(provider)
        if old is None:
            created = live.create(inputs)
            return _Landing(str(created.id), dict(created.outs or {}), inputs, provider)
        diff = live.diff(old.id, old.outputs, inputs)
        if diff.replaces:
            created = live.create(inputs)
            _provider(old.provider).delete(old.id, old.outputs)
            return _Landing(str(created.id), dict(created.outs or {}), inputs, provider)
        if not diff.changes:
            return _Landing(old.id, old.outputs, inputs, provider)
        updated = live.update(old.id, old.outputs, inputs)
        return _Landing(old.id, dict(updated.outs or {}), inputs, provider)

    # ---------------------------------------------------------------- Pulumi's objects

    def _apply_objects(self, stack: str, resources: list[Registered]) -> None:
        """Create and update what the stack applies, then delete what it no longer does, as
        the engine does: dependents first, so a Kustomization is gone (its finalizer has run)
        before the account and namespace it used."""
        cluster_of = cluster_of_providers(resources)
        wanted: dict[str, dict[ObjectId, K8sObject]] = {}
        operators: set[str] = set()
        for resource in resources:
            cluster = cluster_of.get(resource.provider)
            if cluster is None:
                continue
            if resource.type == cluster_components.FLUX_OPERATOR_RELEASE_TYPE:
                operators.add(cluster)
            elif is_cluster_object(resource):
                obj = applied_object(resource)
                wanted.setdefault(cluster, {})[objects.object_id(obj)] = obj
        applier = f"{PULUMI}:{stack}"
        for cluster in sorted(operators):
            state = self.clusters[cluster]
            state.operator = True
            if not state.namespace_exists(names.FLUX_NAMESPACE):
                state.put(objects.namespace(names.FLUX_NAMESPACE), applier)
        for cluster, applied in sorted(wanted.items()):
            state = self.clusters[cluster]
            for obj in sorted(applied.values(), key=_creation_order):
                self._apply_one(stack, state, obj, applier)
        before = self._pulumi.get(stack, {})
        gone = [
            (cluster, object_id)
            for cluster, applied in before.items()
            for object_id in applied
            if object_id not in wanted.get(cluster, {})
        ]
        for cluster, object_id in sorted(gone, key=_deletion_order):
            landed = self.clusters[cluster].get(object_id)
            if landed is not None and landed.applier == applier:
                self.delete(cluster, object_id)
        self._pulumi[stack] = wanted
        self._run_deferred()

    def _apply_one(self, stack: str, state: ClusterState, obj: K8sObject, applier: str) -> None:
        object_id = objects.object_id(obj)
        kind = kinds.kind_of_object(obj)
        namespace = str(obj["metadata"].get("namespace", ""))
        problem = None
        if not state.serves(kind):
            problem = f'no matches for kind "{kind.kind}" in version "{kind.api_version}"'
        elif kind.namespaced and not state.namespace_exists(namespace):
            problem = f'namespaces "{namespace}" not found'
        if problem is not None:
            self.events.append(
                Finding(
                    f"stack {stack}", "deploy", f"{describe(object_id)} on {state.name}", problem
                )
            )
            return
        before = state.get(object_id)
        if before is not None and before.applier not in (applier, CLUSTER):
            self._twice(state.name, object_id, before.applier, applier)
        state.put(obj, applier)
        if obj["kind"] == "FluxInstance":
            state.install_flux(obj)

    def _twice(self, cluster: str, object_id: ObjectId, first: str, second: str) -> None:
        who = " and ".join(sorted({first, second}))
        finding = Finding(cluster, "applied-twice", describe(object_id), f"applied by {who}")
        if finding not in self.events:
            self.events.append(finding)

    # ---------------------------------------------------------------- deleting

    def delete(self, cluster: str, object_id: ObjectId, *, wait: bool = True) -> None:
        """Delete an object as the API server does: a Namespace takes its contents along; a
        Flux object's finalizer then prunes what it applied, if its account still exists.

        Without `wait`, the deleter does not wait for finalizers: they run once the current
        update is done (Pulumi has moved on, deleting what comes next)."""
        for landed in self.clusters[cluster].remove(object_id):
            if landed.obj.get("kind") not in FLUX_KINDS:
                continue
            if wait:
                self._finalize(cluster, landed.obj)
            else:
                self._deferred.append((cluster, landed.obj))

    def _run_deferred(self) -> None:
        while self._deferred:
            cluster, obj = self._deferred.pop(0)
            self._finalize(cluster, obj)

    def _finalize(self, cluster: str, obj: K8sObject) -> None:
        """kustomize-controller's finalizer: with prune (the default deletion policy), it
        deletes the inventory as the object's identity, but only when the account it
        impersonates still exists in the object's namespace on its own cluster
        (`Impersonator.CanImpersonate`); otherwise it logs the objects and lets go (`finalize`).
        Ref: https://github.com/fluxcd/kustomize-controller/blob/main/internal/controller/kustomization_controller.go
        """
        object_id = objects.object_id(obj)
        state = self.status.pop((cluster, object_id), None)
        spec = obj.get("spec") or {}
        if state is None or not state.inventory or obj["kind"] != "Kustomization":
            return
        if not spec.get("prune") and spec.get("deletionPolicy") != "Delete":
            return
        flux = self.clusters[cluster].flux
        namespace = object_id[1]
        account = spec.get("serviceAccountName") or (flux and flux.default_service_account)
        applier = applier_of(cluster, obj)
        target = self.clusters.get(state.target)
        left = [
            i
            for i in state.inventory
            if target is not None and (landed := target.get(i)) and landed.applier == applier
        ]
        if not left or target is None:
            return
        secret = ((spec.get("kubeConfig") or {}).get("secretRef") or {}).get("name")
        if secret and not self.clusters[cluster].has("Secret", namespace, str(secret)):
            self.events.append(
                Finding(
                    state.target,
                    "stale",
                    describe(object_id),
                    f"deleted after its kubeconfig Secret {namespace}/{secret} on {cluster}: "
                    f"Flux cannot reach {state.target} to prune {len(left)} objects (its "
                    "finalizer fails until the Secret is back): "
                    + ", ".join(describe(i) for i in left[:5])
                    + (" ..." if len(left) > 5 else ""),
                )
            )
            return
        if account and not self.clusters[cluster].has("ServiceAccount", namespace, str(account)):
            self.events.append(
                Finding(
                    state.target,
                    "stale",
                    describe(object_id),
                    f"deleted after its account {namespace}/{account} on {cluster}, so Flux "
                    f"skipped pruning and left {len(left)} objects: "
                    + ", ".join(describe(i) for i in left[:5])
                    + (" ..." if len(left) > 5 else ""),
                )
            )
            return
        wait = spec.get("deletionPolicy") == objects.WAIT_FOR_TERMINATION
        self._prune(state, applier, left, describe(object_id), wait=wait)

    def _prune(
        self,
        state: Reconciled,
        applier: str,
        ids: list[ObjectId],
        owner: str,
        *,
        wait: bool = True,
    ) -> None:
        target = self.clusters[state.target]
        for object_id in ids:
            landed = target.get(object_id)
            if landed is None or landed.applier != applier or not prunable(landed.obj):
                continue
            identity = state.identity or User("unknown")
            decision = target.authorizer.authorize_write(identity, landed.obj, "delete")
            if not decision.allowed:
                self.events.append(
                    Finding(
                        target.name,
                        "stale",
                        describe(object_id),
                        f"{owner} cannot prune it: {decision.reason}",
                    )
                )
                continue
            self.delete(target.name, object_id, wait=wait)

    # ---------------------------------------------------------------- Flux

    def reconcile(self) -> None:
        """Every Flux object on every cluster, until a round changes nothing."""
        for _ in range(MAX_ROUNDS):
            if not self._round():
                return

    def _round(self) -> bool:
        self._prebuild()
        changed = False
        for name in sorted(self.clusters):
            cluster = self.clusters[name]
            for object_id, _ in cluster.by_kind(*FLUX_KINDS):
                landed = cluster.get(object_id)
                if landed is None:
                    continue  # deleted by an earlier reconciliation of this round
                key = (name, object_id)
                previous = self.status.get(key)
                if (
                    previous
                    and previous.ready
                    and previous.generation == generation(landed.obj)
                    and previous.revision in (EXTERNAL, self._revision(cluster, landed.obj))
                ):
                    continue
                early = self._infrastructure_not_ready(cluster, landed.obj)
                state = self._reconcile(cluster, landed.obj, previous)
                self.status[key] = state
                if early is not None and state.ready:
                    self.events.append(
                        Finding(
                            name,
                            "ordering",
                            f"{describe(object_id)} on {name}",
                            f"applied while {describe(early)} was not Ready: what the tenants "
                            "run may need what it installs (CRDs, namespaces, webhooks); give "
                            "it dependsOn",
                        )
                    )
                for object_id_twice, other in state.twice:
                    self._twice(state.target, object_id_twice, other, applier_of(name, landed.obj))
                if previous is None or _summary(previous) != _summary(state):
                    changed = True
        return changed

    def flux_status(self, cluster: str) -> dict[str, Any]:
        """The cluster's Flux objects as `kubectl get ... -A -o json` would list them, with the
        status fields the controllers write (`fleet.rollout` reads them): what `fleet rollout
        --status` reads offline. Generation 2 is the current spec; observedGeneration is 2
        once it was reconciled, as the controllers set it only on success."""
        state = self.clusters[cluster]
        items = []
        for object_id, landed in state.by_kind("GitRepository", "HelmRepository", *FLUX_KINDS):
            obj = landed.obj
            item = {**obj, "metadata": {**obj["metadata"], "generation": 2}}
            if obj["kind"].endswith("Repository"):
                item["status"] = self._source_status(obj)
            else:
                item["status"] = self._reconciled_status(
                    state, obj, self.status.get((cluster, object_id))
                )
            items.append(item)
        return {"apiVersion": "v1", "kind": "List", "items": items}

    def _source_status(self, obj: K8sObject) -> dict[str, Any]:
        spec = obj.get("spec") or {}
        branch = str((spec.get("ref") or {}).get("branch"))
        found = (
            self.artifact(str(spec.get("url")), branch)
            if obj["kind"] == "GitRepository"
            else EXTERNAL
        )
        if found is None:
            return {
                "observedGeneration": 2,
                "conditions": [
                    _condition("Ready", False, "GitOperationFailed", f"no branch {branch}")
                ],
            }
        status: dict[str, Any] = {
            "observedGeneration": 2,
            "conditions": [_condition("Ready", True, "Succeeded", "stored artifact")],
        }
        if isinstance(found, Artifact):
            status["artifact"] = {"revision": f"{branch}@sha1:{found.revision}"}
        return status

    def _reconciled_status(
        self, cluster: ClusterState, obj: K8sObject, state: Reconciled | None
    ) -> dict[str, Any]:
        if state is None:
            return {
                "observedGeneration": 1,
                "conditions": [_condition("Ready", None, "Progressing", "")],
            }
        current = state.generation == generation(obj)
        status: dict[str, Any] = {"observedGeneration": 2 if state.ready and current else 1}
        reason = (
            "ReconciliationSucceeded"
            if state.ready
            else (
                "DependencyNotReady"
                if state.reason.startswith("dependency")
                else "ReconciliationFailed"
            )
        )
        status["conditions"] = [_condition("Ready", state.ready, reason, state.reason)]
        reference = (obj.get("spec") or {}).get("sourceRef") or {}
        source = cluster.get(
            (
                "GitRepository",
                str(reference.get("namespace") or obj["metadata"].get("namespace")),
                str(reference.get("name")),
            )
        )
        if (
            obj["kind"] == "Kustomization"
            and source is not None
            and state.revision not in ("", EXTERNAL)
        ):
            branch = ((source.obj.get("spec") or {}).get("ref") or {}).get("branch")
            revision = f"{branch}@sha1:{state.revision}"
            status["lastAttemptedRevision"] = revision
            if state.ready:
                status["lastAppliedRevision"] = revision
        return status

    def _infrastructure_not_ready(self, cluster: ClusterState, obj: K8sObject) -> ObjectId | None:
        """The infrastructure a tenants Kustomization (`tenants`, `R-tenants`) comes after, when
        it is on the cluster, not Ready, and not among its `dependsOn`; None otherwise."""
        name = str(obj["metadata"]["name"])
        if obj["kind"] != "Kustomization" or not (
            name == names.TENANTS or name.endswith(f"-{names.TENANTS}")
        ):
            return None
        infrastructure = name.removesuffix(names.TENANTS) + names.INFRASTRUCTURE
        namespace = str(obj["metadata"].get("namespace", ""))
        infra_id: ObjectId = ("Kustomization", namespace, infrastructure)
        waits_for = {d.get("name") for d in (obj.get("spec") or {}).get("dependsOn") or ()}
        state = self.status.get((cluster.name, infra_id))
        if not cluster.has(*infra_id) or infrastructure in waits_for:
            return None
        return None if state is not None and state.ready else infra_id

    def _prebuild(self) -> None:
        """Build every folder a Kustomization reads, all at once: kustomize runs in parallel,
        where each Kustomization alone would wait for its own build."""
        wanted: dict[str, tuple[Artifact, set[str]]] = {}
        for cluster in self.clusters.values():
            for _, landed in cluster.by_kind("Kustomization"):
                artifact = self._source_artifact(cluster, landed.obj)
                if isinstance(artifact, Artifact):
                    folder = layout.folder_of(str((landed.obj.get("spec") or {}).get("path", "")))
                    wanted.setdefault(artifact.revision, (artifact, set()))[1].add(folder)
        for artifact, folders in wanted.values():
            builds = self.builds(artifact)
            builds.build(sorted(f for f in folders if f in builds.children))

    def _reconcile(
        self, cluster: ClusterState, obj: K8sObject, previous: Reconciled | None
    ) -> Reconciled:
        def ready(object_id: ObjectId) -> bool:
            state = self.status.get((cluster.name, object_id))
            return state is not None and state.ready

        if obj["kind"] == "HelmRelease":
            return reconcile_helm_release(self, cluster, obj, previous, ready)
        state, pruned = reconcile_kustomization(self, cluster, obj, previous, ready)
        if pruned:
            self._prune(
                state, applier_of(cluster.name, obj), pruned, describe(objects.object_id(obj))
            )
        return state

    def _revision(self, cluster: ClusterState, obj: K8sObject) -> str:
        """The revision a Kustomization's source is at now: a new commit is reconciled anew."""
        artifact = self._source_artifact(cluster, obj)
        return artifact.revision if isinstance(artifact, Artifact) else artifact or ""

    def _source_artifact(self, cluster: ClusterState, obj: K8sObject) -> Artifact | str | None:
        """What a Flux object's source holds now, as `artifact` says; None without a source."""
        reference = (obj.get("spec") or {}).get("sourceRef") or {}
        namespace = reference.get("namespace") or obj["metadata"].get("namespace", "")
        source = cluster.get(
            (str(reference.get("kind")), str(namespace), str(reference.get("name")))
        )
        if source is None:
            return None
        spec = source.obj.get("spec") or {}
        return self.artifact(str(spec.get("url")), str((spec.get("ref") or {}).get("branch")))


def _condition(kind: str, status: bool | None, reason: str, message: str) -> dict[str, Any]:
    """A status condition as the Flux controllers write it (`metav1.Condition`)."""
    value = {True: "True", False: "False", None: "Unknown"}[status]
    return {"type": kind, "status": value, "reason": reason, "message": message}


def _summary(state: Reconciled) -> tuple[Any, ...]:
    return (state.ready, state.reason, state.inventory, state.target, state.revision)


def _main_stack(model: EnvironmentSpec) -> str:
    return main_stack_name(model.main_stack)


def _provider(serialized: str) -> gitops_branch.GitOpsBranchProvider:
    """The resource's own provider, as the engine loads it, configured with no token: the
    simulation's repository is a local path."""
    provider: gitops_branch.GitOpsBranchProvider = dill.loads(base64.b64decode(serialized))
    provider.configure(ConfigureRequest(Config({}, "fleet")))
    return provider


_ORDER = {"Namespace": 0, "CustomResourceDefinition": 0, "FluxInstance": 1}


def _creation_order(obj: K8sObject) -> tuple[int, str]:
    kind = str(obj["kind"])
    rank = _ORDER.get(kind, 3 if kind in FLUX_KINDS else 2)
    return rank, str(objects.object_id(obj))


def _deletion_order(placed: tuple[str, ObjectId]) -> tuple[int, str, ObjectId]:
    """Dependents first, on every cluster: Flux objects, then the Secrets they read (a remote's
    kubeconfig), then the rest (a remote's bootstrap binding, accounts), namespaces last."""
    cluster, object_id = placed
    kind = object_id[0]
    rank = {"Secret": 1, "Namespace": 3}.get(kind, 0 if kind in FLUX_KINDS else 2)
    return rank, cluster, object_id


@contextmanager
def simulation(
    project: Path,
    repository: Path | None = None,
    *,
    assume_main: bool = False,
    sources: Mapping[str, Path] | None = None,
) -> Iterator[Simulation]:
    """A simulation of `project` in a copy of it (transitions rewrite its settings files), with
    `repository` as its bare repository (a temporary one by default), and `sources`: local
    folders standing in for repositories that are not the fleet's, by URL."""
    with tempfile.TemporaryDirectory(prefix="fleet-simulate-") as scratch:
        copy = Path(scratch) / "project"
        copy.mkdir()
        copy_project(project, copy)
        sim = Simulation(copy, repository or Path(scratch) / "fleet.git", assume_main=assume_main)
        for url, folder in (sources or {}).items():
            sim.add_source(url, folder_source(folder))
        try:
            yield sim
        finally:
            sim.close()
