"""`fleet rollout E`: the gate between the rings of environment E.

It reads where each ring's ref is (git), the Flux status of every cluster of the environment
(`kubectl get ... -o json` with each cluster's kubeconfig, or the same output recorded in
files), asks `fleet.rollout.plan` what comes next, and with `--advance` moves the next ring's
ref to the commit. The decision is `fleet.rollout`'s; this module only reads and writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from components.gitwriter import (
    BranchTarget,
    GitWriterError,
    SourceMoved,
    branch_tips,
    fast_forward,
)
from fleet import names
from fleet.model import EnvironmentSpec
from fleet.rollout import (
    Action,
    ClusterStatus,
    FluxObject,
    Plan,
    Verdict,
    environment_namespaces,
    expected_objects,
    plan,
    rings,
)
from fleet_cli.drift import local_repository
from fleet_cli.kustomize import kubectl

FLUX_RESOURCES = ",".join(
    [
        "gitrepositories.source.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        "helmrepositories.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "helmreleases.helm.toolkit.fluxcd.io",
    ]
)
"""What `kubectl get` lists: the Flux kinds that report `Ready`."""
READ_TIMEOUT = 30
"""Seconds one cluster may take to answer."""


class RolloutError(Exception):
    """The rollout cannot be judged or moved: a missing ref, an unreadable file."""


def _map(value: Any) -> Mapping[str, Any]:
    """A part of an object that should be a mapping; anything else reads as empty."""
    return value if isinstance(value, Mapping) else {}


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    conditions = status.get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket")
"""The sources whose revision a Kustomization records (`lastAppliedRevision`)."""


def flux_object(item: Mapping[str, Any], env_namespace: str) -> FluxObject:
    """One item of `kubectl get -o json`, as the API server returns a Flux object; a part of
    the wrong shape reads as absent."""
    metadata, spec, status = (_map(item.get(k)) for k in ("metadata", "spec", "status"))
    kind = str(item.get("kind", ""))
    namespace = str(metadata.get("namespace", ""))
    name = str(metadata.get("name", ""))
    ready = _condition(status, "Ready")
    stalled = _condition(status, "Stalled")
    reconciling = _condition(status, "Reconciling")
    reference = _map(spec.get("sourceRef"))
    source = None
    if kind == "Kustomization" and reference.get("kind") in SOURCE_KINDS:
        source_namespace = str(reference.get("namespace") or namespace)
        source = (str(reference["kind"]), source_namespace, str(reference.get("name")))
    reads_fleet = (kind == "GitRepository" and (namespace, name) == (env_namespace,) * 2) or (
        source == ("GitRepository", env_namespace, env_namespace)
    )
    revision = _text(status.get("lastAppliedRevision")) or _text(
        _map(status.get("artifact")).get("revision")
    )
    return FluxObject(
        kind=kind,
        namespace=namespace,
        name=name,
        generation=_int(metadata.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        ready=None
        if ready is None
        else {"True": True, "False": False}.get(str(ready.get("status"))),
        reason=str((ready or {}).get("reason", "")),
        message=" ".join(str((ready or {}).get("message", "")).split()),
        reconciling=str(reconciling.get("reason"))
        if reconciling is not None and reconciling.get("status") == "True"
        else None,
        stalled=stalled is not None and stalled.get("status") == "True",
        suspended=spec.get("suspend") is True,
        static=kind == "HelmRepository" and spec.get("type") == "oci",
        revision=revision,
        attempted=_text(status.get("lastAttemptedRevision")) if kind == "Kustomization" else None,
        attempted_generation=_int(status.get("lastAttemptedGeneration")),
        source=source,
        reads_fleet=reads_fleet,
    )


def cluster_status(
    listing: Any, env: EnvironmentSpec, skipped: Collection[str] = ()
) -> ClusterStatus:
    """The environment's Flux objects in a `kubectl get -o json` List of one cluster, but for
    those of the tenants `skipped`."""
    if not isinstance(listing, Mapping) or not isinstance(listing.get("items"), list):
        return ClusterStatus(error="the status is not a list of Kubernetes objects")
    namespaces = environment_namespaces(env) - {
        channel.namespace
        for tenant in env.tenants
        if tenant.name in skipped
        for channel in tenant.channels(env.name)
    }
    env_namespace = names.environment_namespace(env.name)
    return ClusterStatus(
        tuple(
            flux_object(item, env_namespace)
            for item in listing["items"]
            if isinstance(item, Mapping)
            and _map(item.get("metadata")).get("namespace") in namespaces
        )
    )


# ---------------------------------------------------------------- reading


StatusReader = Callable[[str], ClusterStatus]
"""The status of one physical cluster, by name."""


def recorded(directory: Path, env: EnvironmentSpec, skipped: Collection[str] = ()) -> StatusReader:
    """Statuses recorded as `DIR/CLUSTER.json` (`kubectl get ... -A -o json > CLUSTER.json`)."""
    if not directory.is_dir():
        raise RolloutError(f"--status {directory}: no such folder")

    def read(cluster: str) -> ClusterStatus:
        path = directory / f"{cluster}.json"
        if not path.exists():
            return ClusterStatus(error=f"no {path}")
        try:
            return cluster_status(json.loads(path.read_bytes()), env, skipped)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return ClusterStatus(error=f"{path}: not JSON ({error})")

    return read


def kubeconfigs(files: Sequence[Path]) -> dict[str, str]:
    """Each cluster's kubeconfig from stacks' `clusters` outputs, saved with
    `pulumi stack output --stack S --show-secrets --json clusters > FILE`."""
    found: dict[str, str] = {}
    for path in files:
        try:
            exported = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RolloutError(f"{path}: not JSON ({error})") from None
        if not isinstance(exported, Mapping):
            raise RolloutError(f"{path}: not a stack's `clusters` output (an object by cluster)")
        for name, access in exported.items():
            config = access.get("kubeconfig") if isinstance(access, Mapping) else None
            if isinstance(config, str) and config:
                found[str(name)] = config
    return found


def live(
    configs: Mapping[str, str], env: EnvironmentSpec, skipped: Collection[str] = ()
) -> StatusReader:
    """Statuses read from the clusters with kubectl, each through its own kubeconfig."""

    def read(cluster: str) -> ClusterStatus:
        config = configs.get(cluster)
        if config is None:
            return ClusterStatus(error="no kubeconfig for it in the --clusters files")
        with tempfile.TemporaryDirectory(prefix="fleet-rollout-") as folder:
            path = Path(folder) / "kubeconfig"
            path.touch(mode=0o600)
            path.write_text(config, encoding="utf-8")
            try:
                proc = subprocess.run(
                    [
                        kubectl(),
                        "--kubeconfig",
                        str(path),
                        f"--request-timeout={READ_TIMEOUT}s",
                        "get",
                        FLUX_RESOURCES,
                        "--all-namespaces",
                        "--output=json",
                    ],
                    capture_output=True,
                    timeout=READ_TIMEOUT * 2,
                    check=False,
                    env={**os.environ, "KUBECONFIG": str(path)},
                )
            except subprocess.TimeoutExpired:
                return ClusterStatus(error=f"no answer in {READ_TIMEOUT * 2} s")
        if proc.returncode != 0:
            return ClusterStatus(error=proc.stderr.decode(errors="replace").strip()[:300])
        try:
            return cluster_status(json.loads(proc.stdout), env, skipped)
        except json.JSONDecodeError:
            return ClusterStatus(error="kubectl printed no JSON")

    return read


@dataclass(frozen=True)
class Repository:
    """Where branch E and the rings' refs are: the URL the stack commits to."""

    url: str

    def target(self, branch: str) -> BranchTarget:
        return BranchTarget(self.url, branch, "fleet/rollout", os.environ.get("FLEET_GIT_TOKEN"))


def repository_of(env: EnvironmentSpec, project: Path, given: str | None = None) -> Repository:
    """The repository `--repository` names (a folder taken from the current one), else the
    one the stack commits to (a folder taken from the project)."""
    if given is not None:
        return Repository(str(Path(given).resolve()) if Path(given).exists() else given)
    url = env.fleet.repository.commit_url
    return Repository(local_repository(url, project) or url)


def judge(env: EnvironmentSpec, repository: Repository, read: StatusReader) -> Plan:
    """One look: where the refs are, what every cluster says, and what comes next."""
    ordered = rings(env)
    branches = [env.branch, *(r.branch for r in ordered)]
    try:
        tips = branch_tips(repository.target(env.branch), sorted(set(branches)))
    except GitWriterError as error:
        raise RolloutError(str(error)) from None
    commit = tips.get(env.branch)
    if commit is None:
        raise RolloutError(
            f"branch {env.branch} is not in {repository.url}: run `pulumi up -s {env.stack}` first"
        )
    positions = {r.name: tips.get(r.branch) for r in ordered}
    statuses = {c: read(c) for r in ordered for c in r.clusters}
    return plan(ordered, commit, positions, statuses, expected_objects(env))


class BranchMoved(RolloutError):
    """Branch E moved on while its commit was judged: judge the new one."""


def advance(env: EnvironmentSpec, repository: Repository, decided: Plan) -> None:
    """Move the ring the plan names to the plan's commit, forward only."""
    assert decided.action is Action.ADVANCE and decided.ring is not None
    try:
        fast_forward(repository.target(decided.ring.branch), env.branch, decided.commit)
    except SourceMoved as error:
        raise BranchMoved(str(error)) from None
    except GitWriterError as error:
        raise RolloutError(str(error)) from None


def describe(env: EnvironmentSpec, decided: Plan, *, most: int = 20) -> str:
    """The plan for a person: each ring with its ref and clusters, then what holds it."""
    lines = [f"environment {env.name}: branch {env.branch} is at {decided.commit[:12]}"]
    for ring in rings(env):
        at = decided.positions.get(ring.name)
        where = "at it" if at == decided.commit else (f"at {at[:12]}" if at else "not created")
        clusters = ", ".join(ring.clusters) or "no clusters"
        lines.append(f"  ring {ring.name} ({ring.branch}): {where}; {clusters}")
    name = decided.ring.name if decided.ring else ""
    lines.append(
        {
            Action.DONE: "every ring runs it and is Ready",
            Action.ADVANCE: (
                f"ring {name} took it; run again to see it reconciled"
                if decided.positions.get(name) == decided.commit
                else f"next: ring {name} may take it (--advance moves it)"
            ),
            Action.WAIT: f"waiting: ring {name} is not Ready at it yet",
            Action.STOP: f"stopped: ring {name} failed at it; fix it (or revert) and run again",
        }[decided.action]
    )
    for finding in decided.findings[:most]:
        mark = "FAILED" if finding.verdict is Verdict.FAILED else "waits "
        lines.append(f"  {mark} {finding.cluster}: {finding.text}")
    if len(decided.findings) > most:
        lines.append(f"  ... and {len(decided.findings) - most} more")
    return "\n".join(lines)


def as_json(env: EnvironmentSpec, decided: Plan) -> dict[str, Any]:
    return {
        "environment": env.name,
        "commit": decided.commit,
        "action": decided.action.value,
        "ring": decided.ring.name if decided.ring else None,
        "rings": [
            {
                "name": r.name,
                "ref": r.branch,
                "at": decided.positions.get(r.name),
                "clusters": list(r.clusters),
            }
            for r in rings(env)
        ],
        "findings": [
            {"cluster": f.cluster, "verdict": f.verdict.value, "text": f.text}
            for f in decided.findings
        ],
    }


def run(
    env: EnvironmentSpec,
    repository: Repository,
    read: StatusReader,
    *,
    move: bool,
    wait: float,
    interval: float,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Plan:
    """Judge; with `move`, advance the next ring; with `wait`, keep going (judging again every
    `interval` seconds) until every ring is Ready at the commit or `wait` seconds have passed.
    A failure ends it at once without `wait`; with it, only when no retry can fix it
    (`Stalled`) or the time is over: Flux retries a failed reconciliation every
    `retryInterval`, and a flaky health check or fetch may pass the next time. Returns the last
    plan."""
    deadline = clock() + wait
    while True:
        decided = judge(env, repository, read)
        if decided.action is Action.ADVANCE and move:
            assert decided.ring is not None
            try:
                advance(env, repository, decided)
            except BranchMoved as moved:
                if wait <= 0:
                    raise RolloutError(str(moved)) from None
                say(f"{moved}: judging again")
                continue
            say(f"ring {decided.ring.name}: {decided.ring.branch} moved to {decided.commit[:12]}")
            if wait <= 0:
                positions = {**decided.positions, decided.ring.name: decided.commit}
                return replace(decided, positions=positions)
            continue
        final = decided.action is Action.STOP and any(f.final for f in decided.findings)
        if decided.action in (Action.DONE, Action.ADVANCE) or final:
            return decided
        if clock() + interval > deadline:
            return decided
        say(describe(env, decided, most=5))
        sleep(interval)


def exit_code(decided: Plan, *, moved: bool) -> int:
    """0: done (or, with --advance and no --wait, a ring moved); 1: stopped by a failure;
    3: not finished (waiting, or a ring may move and --advance was not given)."""
    if decided.action is Action.STOP:
        return 1
    if decided.action is Action.DONE or (decided.action is Action.ADVANCE and moved):
        return 0
    return 3
