"""`fleet rollout`: status read from recorded API responses of Flux objects (`recorded/`, see
its README for the shapes they follow), and the gate end to end on the sample deployed offline:
a change reaches the canary ring, waits for the gate, then reaches the broad ring."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.model import EnvironmentSpec
from fleet.rollout import (
    Action,
    ClusterStatus,
    Verdict,
    cluster_findings,
    expected_objects,
    plan,
    rings,
)
from fleet_cli import rollout
from fleet_cli.main import main
from fleet_cli.simulation.simulation import Simulation, simulation
from tests.support.sample import PROJECT, SAMPLE_STACKS, sample_environment

RECORDED = Path(__file__).parent / "recorded"
NEW = "450796ddb2ab6724ee1cc32a4be56da032d1cca0"
OLD = "67e2c98a60dc92283531412a9e604dd4bae005a9"


def qa() -> EnvironmentSpec:
    return sample_environment("qa")


def recorded(name: str) -> ClusterStatus:
    return rollout.cluster_status(json.loads((RECORDED / f"{name}.json").read_text()), qa())


# ---------------------------------------------------------------- recorded statuses


def test_only_the_environments_objects_are_read_and_each_knows_its_source() -> None:
    status = recorded("canary-ready")
    assert status.error is None
    by_name = {(o.namespace, o.name): o for o in status.objects}
    assert set(by_name) == {
        ("qa-flux-system", "qa-flux-system"),
        ("qa-flux-system", "infrastructure"),
        ("qa-flux-system", "tenants"),
        ("qa-flux-system", "k3s-america-south-infrastructure"),
        ("qa-flux-system", "k3s-america-south-tenants"),
        ("qa-flux-system", "k3s-america-south-kaizentm-azure-vote"),
        ("qa-kaizentm", "kaizentm-manifests"),
        ("qa-kaizentm", "azure-vote"),
    }
    reading_fleet = {name for (_, name), o in by_name.items() if o.reads_fleet}
    assert reading_fleet == {
        "qa-flux-system",
        "infrastructure",
        "tenants",
        "k3s-america-south-infrastructure",
        "k3s-america-south-tenants",
    }
    tenants = by_name[("qa-flux-system", "tenants")]
    assert (tenants.ready, tenants.revision, tenants.generation) == (True, f"qa@sha1:{NEW}", 1)


def gate(canary: str, broad: str, positions: dict[str, str | None]) -> Any:
    env = qa()
    statuses = {"k3d-america": recorded(canary), "pacific-aks": recorded(broad)}
    return plan(rings(env), NEW, positions, statuses, expected_objects(env))


def test_canary_ready_at_the_commit_lets_broad_take_it() -> None:
    decided = gate("canary-ready", "broad-held", {"canary": NEW, "broad": OLD})
    assert (decided.action, decided.ring.name, decided.findings) == (Action.ADVANCE, "broad", ())


def test_once_broad_is_ready_at_it_the_rollout_is_done() -> None:
    decided = gate("canary-ready", "broad-ready", {"canary": NEW, "broad": NEW})
    assert decided.action is Action.DONE


def test_a_broad_ring_ready_at_the_old_commit_is_not_done() -> None:
    decided = gate("canary-ready", "broad-held", {"canary": NEW, "broad": NEW})
    assert (decided.action, decided.ring.name) == (Action.WAIT, "broad")
    assert all("not yet at 450796ddb2ab" in f.text for f in decided.findings)


def test_a_kustomization_that_failed_at_the_commit_stops_the_rollout() -> None:
    decided = gate("canary-tenants-failed", "broad-held", {"canary": NEW, "broad": OLD})
    assert (decided.action, decided.ring.name) == (Action.STOP, "canary")
    [failed] = [f for f in decided.findings if f.verdict is Verdict.FAILED]
    assert failed.cluster == "k3d-america"
    assert failed.text.startswith("Kustomization qa-flux-system/tenants failed: ArtifactFailed")
    assert "kustomization path not found" in failed.text


def test_a_stalled_release_of_a_tenant_stops_the_rollout() -> None:
    decided = gate("canary-release-stalled", "broad-held", {"canary": NEW, "broad": OLD})
    assert decided.action is Action.STOP
    assert decided.findings[0].text.startswith("HelmRelease qa-kaizentm/redis is stalled")


def test_a_canary_still_reconciling_holds_broad() -> None:
    decided = gate("canary-progressing", "broad-held", {"canary": NEW, "broad": OLD})
    assert (decided.action, decided.ring.name) == (Action.WAIT, "canary")
    assert [f.text for f in decided.findings] == [
        "Kustomization qa-flux-system/infrastructure is at 67e2c98a60dc, not yet at 450796ddb2ab",
        "Kustomization qa-flux-system/tenants is at 67e2c98a60dc, not yet at 450796ddb2ab",
    ]


def test_a_missing_object_pulumi_applies_holds_broad() -> None:
    listing = json.loads((RECORDED / "canary-ready.json").read_text())
    listing["items"] = [i for i in listing["items"] if i["metadata"]["name"] != "tenants"]
    env = qa()
    statuses = {
        "k3d-america": rollout.cluster_status(listing, env),
        "pacific-aks": recorded("broad-held"),
    }
    decided = plan(rings(env), NEW, {"canary": NEW, "broad": OLD}, statuses, expected_objects(env))
    assert decided.action is Action.WAIT
    assert decided.findings[0].text == "Kustomization qa-flux-system/tenants is not there yet"


def test_a_listing_that_is_not_one_is_no_status() -> None:
    assert rollout.cluster_status({"kind": "Status"}, qa()).error is not None


# ---------------------------------------------------------------- reading clusters


def test_kubeconfigs_come_from_the_stacks_clusters_output(tmp_path: Path) -> None:
    exported = tmp_path / "clusters.json"
    exported.write_text(
        json.dumps(
            {
                "k3d-america": {"role": "management", "kind": "k3d", "kubeconfig": "K1"},
                "k3s-america-south": {"role": "remote", "managedBy": "k3d-america"},
            }
        )
    )
    assert rollout.kubeconfigs([exported]) == {"k3d-america": "K1"}
    exported.write_text("[1, 2]")
    with pytest.raises(rollout.RolloutError, match="not a stack's `clusters` output"):
        rollout.kubeconfigs([exported])


UNREACHABLE = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def test_an_unreachable_cluster_is_a_status_error_not_a_crash() -> None:
    status = rollout.live({"k3d-america": UNREACHABLE}, qa())("k3d-america")
    assert status.error is not None and "127.0.0.1:9" in status.error
    assert rollout.live({}, qa())("pacific-aks").error == (
        "no kubeconfig for it in the --clusters files"
    )


def repository_at_one_commit(
    tmp_path: Path, env: EnvironmentSpec
) -> tuple[rollout.Repository, str]:
    """A bare repository whose branch E and held refs are all at one commit."""
    bare = tmp_path / "fleet.git"
    git = ["git", "--git-dir", str(bare)]
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    tree = subprocess.run([*git, "mktree"], input=b"", capture_output=True, check=True)
    author = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    committer = {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    commit = (
        subprocess.run(
            [*git, "commit-tree", tree.stdout.decode().strip(), "-m", "render"],
            capture_output=True,
            check=True,
            env={**os.environ, **author, **committer},
        )
        .stdout.decode()
        .strip()
    )
    for branch in (env.branch, *env.held_branches):
        subprocess.run([*git, "update-ref", f"refs/heads/{branch}", commit], check=True)
    return rollout.Repository(str(bare)), commit


def recorded_at(name: str, commit: str) -> ClusterStatus:
    """A recorded status, its new commit renamed to `commit`."""
    text = (RECORDED / f"{name}.json").read_text().replace(NEW, commit)
    return rollout.cluster_status(json.loads(text), qa())


def test_waiting_judges_again_until_every_ring_is_ready(tmp_path: Path) -> None:
    env = qa()
    repository, commit = repository_at_one_commit(tmp_path, env)
    looks: list[str] = []
    slept: list[float] = []

    def read(cluster: str) -> ClusterStatus:
        looks.append(cluster)
        if cluster == "pacific-aks":
            return recorded_at("broad-ready", commit)
        return recorded_at("canary-progressing" if len(looks) <= 2 else "canary-ready", commit)

    decided = rollout.run(
        env,
        repository,
        read,
        move=False,
        wait=600,
        interval=30,
        say=lambda _: None,
        sleep=slept.append,
    )
    assert decided.action is Action.DONE
    assert slept == [30]
    assert looks == ["k3d-america", "pacific-aks"] * 2


def test_waiting_gives_up_when_the_time_is_over(tmp_path: Path) -> None:
    env = qa()
    repository, commit = repository_at_one_commit(tmp_path, env)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    decided = rollout.run(
        env,
        repository,
        lambda c: recorded_at("canary-progressing", commit),
        move=True,
        wait=100,
        interval=30,
        say=lambda _: None,
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert decided.action is Action.WAIT and now[0] == 90
    assert rollout.exit_code(decided, moved=True) == 3


# ---------------------------------------------------------------- end to end, offline


def tenant_branch(sim: Simulation, cluster: str) -> str:
    """The branch of its repository that kaizentm's apps on `cluster` follow."""
    landed = sim.clusters[cluster].get(("GitRepository", "qa-kaizentm", "kaizentm-manifests"))
    assert landed is not None
    branch: str = landed.obj["spec"]["ref"]["branch"]
    return branch


def statuses(sim: Simulation, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for cluster in sim.clusters:
        (folder / f"{cluster}.json").write_text(json.dumps(sim.flux_status(cluster)))
    return folder


def gate_cli(folder: Path, repository: Path, *extra: str) -> int:
    argv = ["--project", str(PROJECT), "rollout", "qa", "--status", str(folder)]
    return main([*argv, "--repository", str(repository), *extra])


def test_a_change_reaches_the_broad_ring_only_when_the_gate_moves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = tmp_path / "fleet.git"
    changed = tmp_path / "then" / "Pulumi.qa.yaml"
    changed.parent.mkdir()
    document = yaml.safe_load((PROJECT / "Pulumi.qa.yaml").read_text())
    document["config"]["fleet:tenants"][0]["repository"]["branch"] = "qa-next"
    changed.write_text(yaml.safe_dump(document))
    with simulation(PROJECT, repository) as sim:
        for stack in SAMPLE_STACKS:
            sim.step(f"pulumi up -s {stack}", stack)
        sim.step("a reviewed change to qa", "qa", changed)
        tips = sim.repository.tips()
        assert tips["rollout/qa/broad"] != tips["qa"]
        # The canary ring runs the change; broad, and only broad, still runs the commit before.
        assert tenant_branch(sim, "k3d-america") == "qa-next"
        assert tenant_branch(sim, "pacific-aks") == "qa"

        folder = statuses(sim, tmp_path / "status")
        assert gate_cli(folder, repository) == 3
        assert "next: ring broad may take it" in capsys.readouterr().out

        # A failure on the canary ring at the commit: nothing moves, even when asked to.
        failing = json.loads((folder / "k3d-america.json").read_text())
        [tenants] = [
            i
            for i in failing["items"]
            if (i["metadata"]["namespace"], i["metadata"]["name"]) == ("qa-flux-system", "tenants")
        ]
        tenants["status"]["conditions"][0].update(
            status="False", reason="HealthCheckFailed", message="timeout waiting for: [...]"
        )
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "k3d-america.json").write_text(json.dumps(failing))
        (broken / "pacific-aks.json").write_text((folder / "pacific-aks.json").read_text())
        assert gate_cli(broken, repository, "--advance") == 1
        assert "FAILED k3d-america: Kustomization qa-flux-system/tenants failed" in (
            capsys.readouterr().out
        )
        assert sim.repository.tips() == tips

        # A cluster the gate cannot read holds the rollout too.
        (broken / "k3d-america.json").unlink()
        assert gate_cli(broken, repository, "--advance") == 3
        assert sim.repository.tips() == tips
        capsys.readouterr()

        assert gate_cli(folder, repository, "--advance") == 0
        assert "ring broad: rollout/qa/broad moved to" in capsys.readouterr().out
        assert sim.repository.tips()["rollout/qa/broad"] == tips["qa"]
        sim.reconcile()
        assert tenant_branch(sim, "pacific-aks") == "qa-next"
        assert gate_cli(statuses(sim, tmp_path / "after"), repository, "--json", "-") == 0
        captured = capsys.readouterr()
        assert "every ring runs it and is Ready" in captured.err
        plan_json = json.loads(captured.out)
        assert plan_json["action"] == "done" and plan_json["commit"] == tips["qa"]


def test_the_gate_takes_environment_stacks_and_a_status_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(PROJECT), "rollout", "main", "--status", str(tmp_path)]) == 2
    assert "takes an environment stack" in capsys.readouterr().err
    assert main(["--project", str(PROJECT), "rollout", "qa"]) == 2
    assert "--clusters FILE" in capsys.readouterr().err
    bad = tmp_path / "clusters.json"
    bad.write_text("{not json")
    assert main(["--project", str(PROJECT), "rollout", "qa", "--clusters", str(bad)]) == 2
    assert "clusters.json: not JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["--project", str(PROJECT), "rollout", "qa", "--wait", "soon"])
    assert exited.value.code == 2
    missing = tmp_path / "nothing.git"
    status = ["--status", str(tmp_path), "--repository", str(missing)]
    code = main(["--project", str(PROJECT), "rollout", "qa", *status])
    assert code == 2
    assert "cannot reach the git remote" in capsys.readouterr().err


# ---------------------------------------------------------------- odd input


def test_an_oci_helm_repository_reports_nothing_and_is_ready() -> None:
    item = {
        "kind": "HelmRepository",
        "metadata": {"namespace": "qa-flux-system", "name": "charts", "generation": 1},
        "spec": {"type": "oci", "url": "oci://ghcr.io/acme/charts", "interval": "10m"},
    }
    obj = rollout.flux_object(item, "qa-flux-system")
    assert obj.static and obj.ready is None
    assert cluster_findings("k3d-america", ClusterStatus((obj,)), NEW) == []


@pytest.mark.parametrize(
    "item",
    [
        {"kind": "Kustomization", "metadata": "x"},
        {"kind": "Kustomization", "metadata": {"namespace": "qa-flux-system"}, "status": [1]},
        {
            "kind": "Kustomization",
            "metadata": {"namespace": "qa-flux-system", "name": "k"},
            "spec": {"sourceRef": "qa-flux-system"},
            "status": {"artifact": "x", "conditions": ["Ready"]},
        },
    ],
)
def test_an_object_of_the_wrong_shape_is_read_as_not_ready_never_a_crash(item: Any) -> None:
    listing = {"kind": "List", "items": [item]}
    status = rollout.cluster_status(listing, qa())
    assert status.error is None
    assert all(not o.ready for o in status.objects)


def test_a_status_saved_as_utf16_is_read_and_a_missing_folder_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "k3d-america.json").write_text(
        (RECORDED / "canary-ready.json").read_text(), encoding="utf-16"
    )
    read = rollout.recorded(tmp_path, qa())
    assert read("k3d-america").error is None and read("k3d-america").objects
    (tmp_path / "pacific-aks.json").write_bytes(b"\xff\xfe\x00garbage")
    assert "not JSON" in str(read("pacific-aks").error)
    missing = tmp_path / "typo"
    assert main(["--project", str(PROJECT), "rollout", "qa", "--status", str(missing)]) == 2
    assert f"--status {missing}: no such folder" in capsys.readouterr().err


def test_a_tenant_left_out_of_the_judgement_does_not_hold_the_rollout() -> None:
    listing = json.loads((RECORDED / "canary-release-stalled.json").read_text())
    env = qa()
    stalled = rollout.cluster_status(listing, env)
    assert any(o.stalled for o in stalled.objects)
    skipped = rollout.cluster_status(listing, env, skipped=["kaizentm"])
    assert {o.namespace for o in skipped.objects} == {"qa-flux-system"}


def test_with_wait_a_failure_is_retried_until_the_time_is_over_but_a_stall_is_final(
    tmp_path: Path,
) -> None:
    env = qa()
    repository, commit = repository_at_one_commit(tmp_path, env)
    now = [0.0]
    looks = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def flaky(cluster: str) -> ClusterStatus:
        looks.append(cluster)
        if cluster == "pacific-aks":
            return recorded_at("broad-ready", commit)
        # A health check that fails once, then passes on Flux's retry.
        return recorded_at("canary-tenants-failed" if len(looks) <= 2 else "canary-ready", commit)

    common = dict(move=False, wait=600, interval=30, say=lambda _: None, sleep=sleep)
    decided = rollout.run(env, repository, flaky, clock=lambda: now[0], **common)  # type: ignore[arg-type]
    assert decided.action is Action.DONE and now[0] == 30

    now[0] = 0.0
    stalled = rollout.run(
        env,
        repository,
        lambda c: recorded_at("canary-release-stalled", commit),
        clock=lambda: now[0],
        **common,  # type: ignore[arg-type]
    )
    assert stalled.action is Action.STOP and now[0] == 0
