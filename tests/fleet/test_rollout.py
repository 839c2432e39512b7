"""Rings: the config rules, what each cluster's source follows, and the ring planner over
status snapshots (every combination of a few clusters, plus the named cases of the issue)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet import names, tree, wiring
from fleet.model import EnvironmentSpec
from fleet.rollout import (
    Action,
    ClusterStatus,
    FluxObject,
    Ring,
    Verdict,
    cluster_findings,
    commit_of,
    environment_namespaces,
    expected_objects,
    plan,
    rings,
    verdict,
)
from fleet_cli.kustomize import build
from tests.support.sample import Edit, Raw, cluster, load_sample, problems_of, sample_environment

NEW = "450796ddb2ab6724ee1cc32a4be56da032d1cca0"
OLD = "67e2c98a60dc92283531412a9e604dd4bae005a9"


def qa() -> EnvironmentSpec:
    return sample_environment("qa")


# ---------------------------------------------------------------- config


def test_the_sample_qa_rolls_out_canary_then_broad() -> None:
    env = qa()
    assert env.rollout is not None and env.rollout.rings == ("canary", "broad")
    assert env.held_branches == ("rollout/qa/broad",)
    by_name = {c.name: c for c in env.clusters}
    assert env.source_branch(by_name["k3d-america"]) == "qa"
    assert env.source_branch(by_name["pacific-aks"]) == "rollout/qa/broad"
    assert [(r.name, r.branch, r.clusters) for r in rings(env)] == [
        ("canary", "qa", ("k3d-america",)),
        ("broad", "rollout/qa/broad", ("pacific-aks",)),
    ]


def test_without_a_rollout_every_cluster_is_one_ring_on_branch_e() -> None:
    env = load_sample("dev")
    assert isinstance(env, EnvironmentSpec)
    assert env.held_branches == ()
    assert rings(env) == (Ring("all", "dev", ("k3d-america", "pacific-aks")),)


def unlabel(name: str) -> Edit:
    def edit(raw: Raw) -> None:
        del cluster(raw, name)["labels"]["ring"]

    return edit


def test_a_management_cluster_without_a_ring_is_refused() -> None:
    assert problems_of("qa", None, unlabel("pacific-aks")) == [
        "fleet:environment.rollout.label: cluster 'pacific-aks' has no label 'ring': give every "
        "management cluster of the environment one of the rings ['canary', 'broad'] in its "
        "labels (fleet:clusters of the main stack, or fleet:dedicatedClusters)"
    ]


def test_a_ring_that_is_not_listed_is_refused() -> None:
    def elsewhere(raw: Raw) -> None:
        cluster(raw, "pacific-aks")["labels"]["ring"] = "early"

    [problem] = problems_of("qa", None, elsewhere)
    assert problem.startswith("fleet:environment.rollout.rings: cluster 'pacific-aks' is ")
    assert "ring=early, which is not a ring of this environment" in problem


def test_a_remote_cannot_be_on_another_ring_than_its_management_cluster() -> None:
    def remote_on_broad(raw: Raw) -> None:
        cluster(raw, "k3s-america-south")["labels"]["ring"] = "broad"

    [problem] = problems_of("qa", None, remote_on_broad)
    assert "remote cluster 'k3s-america-south' is labelled ring=broad" in problem
    assert "'k3d-america' is on ring canary" in problem


def test_rings_are_named_once_and_are_at_least_two() -> None:
    def twice(raw: Raw) -> None:
        raw["environment"]["rollout"]["rings"] = ["canary", "broad", "canary"]

    assert any("ring 'canary'" in p for p in problems_of("qa", twice))

    def one(raw: Raw) -> None:
        raw["environment"]["rollout"]["rings"] = ["canary"]

    assert any(p.startswith("fleet:environment.rollout.rings") for p in problems_of("qa", one))


def test_an_environment_branch_under_the_rollout_refs_is_refused() -> None:
    def branch(raw: Raw) -> None:
        raw["environment"]["branch"] = "rollout/qa"

    assert any("hold the rings of rollouts" in p for p in problems_of("qa", branch))


# ---------------------------------------------------------------- what the clusters follow


def test_a_later_ring_reads_its_held_ref_and_the_first_ring_branch_e() -> None:
    env = qa()
    by_name = {c.name: c for c in env.clusters}
    namespace = names.environment_namespace("qa")

    def followed(name: str) -> str:
        [source] = [
            o
            for o in wiring.environment_wiring(env, by_name[name]).objects
            if o["kind"] == "GitRepository" and o["metadata"]["name"] == namespace
        ]
        branch: str = source["spec"]["ref"]["branch"]
        return branch

    assert followed("k3d-america") == "qa"
    assert followed("pacific-aks") == "rollout/qa/broad"


def test_the_clusters_folders_in_git_build_with_the_source_each_cluster_follows(
    tmp_path: Path,
) -> None:
    for path, content in tree.environment_branch(qa()).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    namespace = names.environment_namespace("qa")

    def branch_in(folder: str) -> str:
        [source] = [
            o
            for o in build(tmp_path / "clusters" / folder)
            if o["kind"] == "GitRepository" and o["metadata"]["name"] == namespace
        ]
        branch: str = source["spec"]["ref"]["branch"]
        return branch

    assert branch_in("k3d-america") == "qa"
    assert branch_in("pacific-aks") == "rollout/qa/broad"


def test_the_gate_looks_at_the_environments_namespaces_and_its_applied_objects() -> None:
    env = qa()
    assert environment_namespaces(env) == {"qa-flux-system", "qa-kaizentm"}
    expected = expected_objects(env)
    assert set(expected) == {"k3d-america", "pacific-aks"}
    assert ("Kustomization", "qa-flux-system", "tenants") in expected["pacific-aks"]
    assert ("Kustomization", "qa-flux-system", "k3s-america-south-tenants") in expected[
        "k3d-america"
    ]
    assert not any("k3s-america-south" in key[2] for key in expected["pacific-aks"])


# ---------------------------------------------------------------- one object's verdict


def kustomization(**fields: object) -> FluxObject:
    base: dict[str, object] = dict(
        kind="Kustomization",
        namespace="qa-flux-system",
        name="tenants",
        generation=2,
        observed_generation=2,
        ready=True,
        reason="ReconciliationSucceeded",
        revision=f"qa@sha1:{NEW}",
        attempted=f"qa@sha1:{NEW}",
        reads_fleet=True,
    )
    base.update(fields)
    return FluxObject(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Verdict.READY),
        ({"revision": f"qa@sha1:{OLD}"}, Verdict.PENDING),
        ({"revision": f"qa/{NEW}"}, Verdict.READY),
        ({"observed_generation": 1}, Verdict.PENDING),
        ({"ready": None, "reason": "Progressing"}, Verdict.PENDING),
        ({"ready": False, "reason": "DependencyNotReady"}, Verdict.PENDING),
        ({"ready": False, "reason": "HealthCheckFailed"}, Verdict.FAILED),
        # Failed on the commit before, reconciling the new one now: not a failure yet.
        (
            {
                "ready": False,
                "reason": "BuildFailed",
                "attempted": f"qa@sha1:{OLD}",
                "reconciling": "Progressing",
            },
            Verdict.PENDING,
        ),
        # Not reconciling anew although its source has the commit: it failed on it (a path
        # missing from the commit fails before the attempted revision is recorded).
        (
            {
                "ready": False,
                "reason": "ArtifactFailed",
                "message": "kustomization path not found",
                "attempted": f"qa@sha1:{OLD}",
                "reconciling": "ProgressingWithRetry",
            },
            Verdict.FAILED,
        ),
        ({"ready": False, "reason": "SourceNotReady", "kind": "HelmRelease"}, Verdict.PENDING),
        (
            {"ready": False, "reason": "ArtifactFailed", "message": "path not found"},
            Verdict.FAILED,
        ),
        (
            {
                "ready": False,
                "reason": "ArtifactFailed",
                "message": "Source is not ready, artifact not found, retrying in 30s",
            },
            Verdict.PENDING,
        ),
        ({"stalled": True, "ready": False, "reason": "RetriesExceeded"}, Verdict.FAILED),
        ({"suspended": True}, Verdict.PENDING),
        # A tenant's own object: its revision is its own repository's (the test's wanted is
        # the fleet's commit, which it is not judged by).
        ({"reads_fleet": False, "revision": "main@sha1:" + "1" * 40}, Verdict.READY),
        ({"kind": "HelmRepository", "static": True, "ready": None}, Verdict.READY),
        ({"reads_fleet": False, "ready": False, "reason": "InstallFailed"}, Verdict.FAILED),
        (
            {
                "kind": "HelmRelease",
                "reads_fleet": False,
                "ready": False,
                "reason": "UpgradeFailed",
                "attempted_generation": 1,
            },
            Verdict.PENDING,
        ),
    ],
)
def test_an_object_is_done_with_a_commit_as_the_controllers_say(
    fields: dict[str, object], expected: Verdict
) -> None:
    obj = kustomization(**fields)
    assert verdict(obj, NEW if obj.reads_fleet else None)[0] is expected


def test_an_app_is_done_once_it_applied_what_its_own_source_holds_now() -> None:
    """A tenant's branch changed (a promotion): its source fetched the new revision, the app
    still runs the old one; Ready as it is, it is not done yet."""
    source = FluxObject(
        "GitRepository",
        "qa-kaizentm",
        "kaizentm-manifests",
        generation=2,
        observed_generation=2,
        ready=True,
        revision="qa-next@sha1:" + "1" * 40,
    )
    app = kustomization(
        namespace="qa-kaizentm",
        name="azure-vote",
        reads_fleet=False,
        revision="qa@sha1:" + "2" * 40,
        source=("GitRepository", "qa-kaizentm", "kaizentm-manifests"),
    )
    [finding] = cluster_findings("k3d-america", ClusterStatus((source, app)), NEW)
    assert finding.verdict is Verdict.PENDING
    assert finding.text == (
        "Kustomization qa-kaizentm/azure-vote is at 222222222222, not yet at 111111111111"
    )
    applied = replace(app, revision=source.revision)
    assert cluster_findings("k3d-america", ClusterStatus((source, applied)), NEW) == []


def test_revisions_of_every_flux_format_give_their_commit() -> None:
    assert commit_of(f"main@sha1:{NEW}") == NEW
    assert commit_of(f"main/{NEW}") == NEW
    assert commit_of("15.14.0") is None
    assert commit_of(None) is None


# ---------------------------------------------------------------- the planner

CANARY = Ring("canary", "qa", ("a1", "a2"))
EARLY = Ring("early", "rollout/qa/early", ("b1",))
BROAD = Ring("broad", "rollout/qa/broad", ("c1", "c2"))
ORDER = (CANARY, EARLY, BROAD)


def ready_at(commit: str) -> ClusterStatus:
    return ClusterStatus((kustomization(revision=f"qa@sha1:{commit}"),))


FAILED = ClusterStatus((kustomization(ready=False, reason="HealthCheckFailed"),))


def everyone(status: ClusterStatus) -> dict[str, ClusterStatus | None]:
    return {c: status for r in ORDER for c in r.clusters}


def test_all_ready_on_the_rings_at_the_commit_moves_the_next_ring() -> None:
    positions = {"canary": NEW, "early": OLD, "broad": OLD}
    statuses = {**everyone(ready_at(OLD)), "a1": ready_at(NEW), "a2": ready_at(NEW)}
    decided = plan(ORDER, NEW, positions, statuses)
    assert (decided.action, decided.ring) == (Action.ADVANCE, EARLY)


def test_one_failing_cluster_stops_the_rollout() -> None:
    positions = {"canary": NEW, "early": NEW, "broad": OLD}
    statuses = {**everyone(ready_at(NEW)), "b1": FAILED}
    decided = plan(ORDER, NEW, positions, statuses)
    assert (decided.action, decided.ring) == (Action.STOP, EARLY)
    assert [(f.cluster, f.verdict) for f in decided.findings] == [("b1", Verdict.FAILED)]


def test_a_failure_on_an_earlier_ring_stops_it_too() -> None:
    positions = {"canary": NEW, "early": NEW, "broad": OLD}
    statuses = {**everyone(ready_at(NEW)), "a2": FAILED}
    assert plan(ORDER, NEW, positions, statuses).action is Action.STOP


def test_a_cluster_missing_from_the_status_holds_the_next_ring() -> None:
    positions = {"canary": NEW, "early": OLD, "broad": OLD}
    statuses: dict[str, ClusterStatus | None] = {"a1": ready_at(NEW)}
    decided = plan(ORDER, NEW, positions, statuses)
    assert (decided.action, decided.ring) == (Action.WAIT, CANARY)
    assert [f.text for f in decided.findings] == ["cannot tell: no status was read"]
    unreachable = {"a1": ready_at(NEW), "a2": ClusterStatus(error="connection refused")}
    assert plan(ORDER, NEW, positions, unreachable).findings[0].text.endswith("connection refused")


def test_an_object_pulumi_applies_that_is_not_there_yet_holds_the_next_ring() -> None:
    positions = {"canary": NEW, "early": OLD, "broad": OLD}
    statuses = everyone(ready_at(NEW))
    expected = {"a1": [("Kustomization", "qa-flux-system", "infrastructure")]}
    decided = plan(ORDER, NEW, positions, statuses, expected)
    assert decided.action is Action.WAIT
    assert (
        "Kustomization qa-flux-system/infrastructure is not there yet" in decided.findings[0].text
    )


def test_a_ring_added_mid_rollout_comes_in_its_place() -> None:
    positions: dict[str, str | None] = {"canary": NEW, "early": None, "broad": NEW}
    statuses = everyone(ready_at(NEW))
    decided = plan(ORDER, NEW, positions, statuses)
    assert (decided.action, decided.ring) == (Action.ADVANCE, EARLY)
    assert plan(ORDER, NEW, {**positions, "early": NEW}, statuses).action is Action.DONE


def test_a_ring_is_not_judged_before_it_has_the_commit() -> None:
    positions = {"canary": NEW, "early": OLD, "broad": OLD}
    statuses = {**everyone(FAILED), "a1": ready_at(NEW), "a2": ready_at(NEW)}
    assert plan(ORDER, NEW, positions, statuses).action is Action.ADVANCE


def test_a_ring_without_clusters_passes_at_once() -> None:
    empty = Ring("early", "rollout/qa/early", ())
    positions = {"canary": NEW, "early": NEW, "broad": OLD}
    decided = plan((CANARY, empty, BROAD), NEW, positions, everyone(ready_at(NEW)))
    assert (decided.action, decided.ring) == (Action.ADVANCE, BROAD)


STATES = {
    "ready": ready_at(NEW),
    "old": ready_at(OLD),
    "failed": FAILED,
    "missing": None,
}


@pytest.mark.parametrize("behind", range(4))
def test_every_combination_of_two_clusters_on_the_rings_at_the_commit(behind: int) -> None:
    """Rings 0..behind-1 have the commit; every state of two of their clusters."""
    ordered = (Ring("r0", "qa", ("x",)), Ring("r1", "h1", ("y",)), Ring("r2", "h2", ()))
    positions = {r.name: (NEW if i < behind else OLD) for i, r in enumerate(ordered)}
    for x, y in itertools.product(STATES, repeat=2):
        decided = plan(ordered, NEW, positions, {"x": STATES[x], "y": STATES[y]})
        judged = [s for s, r in ((x, ordered[0]), (y, ordered[1])) if positions[r.name] == NEW]
        if "failed" in judged:
            assert decided.action is Action.STOP, (x, y, behind)
        elif any(s != "ready" for s in judged):
            assert decided.action is Action.WAIT, (x, y, behind)
        elif behind < len(ordered):
            assert (decided.action, decided.ring) == (Action.ADVANCE, ordered[behind])
        else:
            assert decided.action is Action.DONE


@given(
    st.lists(st.sampled_from(sorted(STATES)), min_size=5, max_size=5),
    st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_a_ring_moves_only_when_every_ring_before_it_is_ready(
    states: list[str], at_commit: list[bool]
) -> None:
    clusters = dict(zip(["a1", "a2", "b1", "c1", "c2"], states, strict=True))
    positions = {r.name: (NEW if a else OLD) for r, a in zip(ORDER, at_commit, strict=True)}
    decided = plan(ORDER, NEW, positions, {c: STATES[s] for c, s in clusters.items()})
    if decided.action is Action.ADVANCE:
        assert decided.ring is not None
        index = ORDER.index(decided.ring)
        assert positions[decided.ring.name] != NEW
        assert all(positions[r.name] == NEW for r in ORDER[:index])
        assert all(clusters[c] == "ready" for r in ORDER[:index] for c in r.clusters)
    if any(clusters[c] == "failed" for r in ORDER if positions[r.name] == NEW for c in r.clusters):
        first_behind = next((r for r in ORDER if positions[r.name] != NEW), None)
        judged = ORDER if first_behind is None else ORDER[: ORDER.index(first_behind)]
        if any(clusters[c] == "failed" for r in judged for c in r.clusters):
            assert decided.action is Action.STOP
