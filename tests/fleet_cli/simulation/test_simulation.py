"""The deploy of the sample fleet, end to end, offline: its stacks in the documented order, then
a sequence of config changes replayed as transitions."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.gitops_branch import GITOPS_BRANCH_TYPE
from fleet.model import FleetSpec
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import Simulation, Step, simulation
from tests.support.deployments import committed
from tests.support.sample import PROJECT

STACKS = ("main", "dev", "qa")


def rendered_files(sim: Simulation, stack: str) -> dict[str, str]:
    (branch,) = [r for r in sim.runs[stack].resources if r.type == GITOPS_BRANCH_TYPE]
    return committed(branch)


def test_the_documented_order_lands_every_branch_and_a_second_run_changes_nothing() -> None:
    with simulation(PROJECT) as sim:
        for stack in STACKS:
            sim.step(f"pulumi up -s {stack}", stack)
        assert [f for f in sim.events if f.category == "deploy"] == []
        tips = sim.repository.tips()
        # qa rolls out by rings: its later ring's held ref starts at qa's first commit.
        assert set(tips) == {"main", "dev", "qa", "rollout/qa/broad"}
        assert tips["rollout/qa/broad"] == tips["qa"]
        for stack in STACKS:
            # Each branch holds exactly what its stack renders, and its ownership record.
            on_branch = sim.repository.files(tips[stack])
            assert set(on_branch) == {*rendered_files(sim, stack), ".fleet/owned-files.json"}
        for stack in STACKS:
            step = sim.step(f"pulumi up -s {stack} again", stack)
            assert step.branches == {} and step.clusters == {}
        assert sim.repository.tips() == tips


# ---------------------------------------------------------------- transitions


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.main.yaml", "Pulumi.dev.yaml", "__main__.py"):
        (tmp_path / name).write_bytes((PROJECT / name).read_bytes())
    return tmp_path


def edited(project: Path, stack: str, change: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the stack's settings file with `change` made to its config."""
    document = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
    config = copy.deepcopy(document["config"])
    change(config)
    path = project / "steps" / f"{len(list(project.glob('steps/*/*')))}" / f"Pulumi.{stack}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


@pytest.fixture
def deployed(project: Path) -> Iterator[tuple[Simulation, Path]]:
    with simulation(project) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        yield sim, sim.project


def landed(step: Step, cluster: str) -> set[tuple[str, str, str]]:
    return set(step.clusters[cluster].landed) if cluster in step.clusters else set()


def removed(step: Step, cluster: str) -> set[tuple[str, str, str]]:
    return set(step.clusters[cluster].removed) if cluster in step.clusters else set()


def test_a_sequence_of_changes_replays_as_transitions(deployed: tuple[Simulation, Path]) -> None:
    sim, project = deployed

    # A management cluster joins the fleet: its own infra on main, Flux and main's wiring on it.
    def add_europe(config: dict[str, Any]) -> None:
        config["fleet:clusters"].append({"name": "k3d-europe", "kind": "k3d"})

    step = sim.step("add k3d-europe", "main", edited(project, "main", add_europe))
    assert "infra/k3d-europe/kustomization.yaml" in step.branches["main"].added
    assert "clusters/k3d-europe/infra.yaml" in step.branches["main"].added
    assert step.branches["main"].removed == []
    europe = landed(step, "k3d-europe")
    assert ("FluxInstance", "flux-system", "flux") in europe
    assert ("Kustomization", "flux-system", "infrastructure") in europe
    assert ("HelmRelease", "nginx", "nginx") in europe  # from branch main, by Flux
    assert set(step.clusters) == {"k3d-europe"}

    # A remote joins, managed by k3d-america, and the environment takes it.
    def add_north(config: dict[str, Any]) -> None:
        config["fleet:clusters"].append(
            {
                "name": "k3s-america-north",
                "role": "remote",
                "kind": "attached",
                "managedBy": "k3d-america",
                "attached": {"kubeconfigSecret": "k3sAmericaNorthKubeconfig"},
            }
        )
        config["fleet:k3sAmericaNorthKubeconfig"] = {"secure": "v1:simulated"}

    sim.step("add k3s-america-north", "main", edited(project, "main", add_north))
    step = sim.step(
        "dev takes k3s-america-north",
        "dev",
        edited(project, "dev", lambda c: c["fleet:clusters"].append("k3s-america-north")),
    )
    north = "tenants/k3d-america/clusters/k3s-america-north/yakuza/katana-vote/kustomization.yaml"
    assert north in step.branches["dev"].added
    assert ("Secret", "dev-flux-system", "k3s-america-north-kubeconfig") in landed(
        step, "k3d-america"
    )
    assert (
        "Kustomization",
        "dev-flux-system",
        "k3s-america-north-tenants",
    ) in landed(step, "k3d-america")

    # A tenant joins: its files on branch dev, its namespaces on every management cluster.
    def add_ninja(config: dict[str, Any]) -> None:
        config["fleet:tenants"].append(
            {
                "name": "ninja",
                "repository": {"url": "https://github.com/example/ninja", "branch": "dev"},
                "apps": [{"name": "dojo"}],
            }
        )

    step = sim.step("add ninja", "dev", edited(project, "dev", add_ninja))
    assert "tenants/base/ninja/rbac.yaml" in step.branches["dev"].added
    assert all(p.startswith(("tenants/", "infra/")) for p in step.branches["dev"].added)
    for cluster in ("k3d-america", "pacific-aks"):
        assert ("Namespace", "", "dev-ninja") in landed(step, cluster)
        assert ("Kustomization", "dev-ninja", "dojo") in landed(step, cluster)

    # A remote leaves the environment: its files go, and what the environment put on it is
    # pruned, with the Kustomizations that put it there.
    step = sim.step(
        "dev drops k3s-america-south",
        "dev",
        edited(
            project,
            "dev",
            lambda c: c.update(
                {"fleet:clusters": [n for n in c["fleet:clusters"] if n != "k3s-america-south"]}
            ),
        ),
    )
    assert step.branches["dev"].added == []
    assert all("k3s-america-south" in p for p in step.branches["dev"].removed)
    assert ("Secret", "dev-flux-system", "k3s-america-south-kubeconfig") in removed(
        step, "k3d-america"
    )
    assert ("Kustomization", "dev-flux-system", "k3s-america-south-infrastructure") in removed(
        step, "k3d-america"
    )
    assert not any(i[1].startswith("qa-") for i in removed(step, "k3d-america"))

    # The environment is renamed: a new branch and new namespaces; the old branch keeps its
    # history but loses its files, the old namespaces go with all they held. The removal guard
    # stops it first, then lets it through once allowed. The main stack grants it first.
    sim.step(
        "main grants development",
        "main",
        edited(project, "main", lambda c: c["fleet:environments"].append("development")),
    )
    renamed = edited(
        project, "dev", lambda c: c.update({"fleet:environment": {"name": "development"}})
    )
    refused = sim.step("dev becomes development", "dev", renamed)
    assert "development" not in refused.branches
    (stopped,) = [e for e in sim.events if "fleet:maxRemovals" in e.message]
    assert "(environment dev on branch dev of" in stopped.message
    step = sim.step(
        "dev becomes development, allowed",
        "dev",
        edited(
            project,
            "dev",
            lambda c: c.update(
                {"fleet:environment": {"name": "development"}, "fleet:maxRemovals": 20}
            ),
        ),
    )
    assert "clusters/base/environment.yaml" in step.branches["development"].added
    assert "clusters/base/environment.yaml" in step.branches["dev"].removed
    assert set(sim.repository.files(sim.repository.tips()["dev"])) == set()
    for cluster in ("k3d-america", "pacific-aks"):
        assert ("Namespace", "", "dev-flux-system") in removed(step, cluster)
        assert ("Namespace", "", "development-flux-system") in landed(step, cluster)
        assert ("Namespace", "", "development-ninja") in landed(step, cluster)
        assert not any(i[1].startswith("dev-") for i in sim.clusters[cluster].objects)


def test_a_remote_leaves_the_fleet_only_after_every_environment_let_it_go(
    deployed: tuple[Simulation, Path],
) -> None:
    """dev's Flux prunes the remote with the rights main grants there: main may not drop the
    remote (and that grant) while dev's last deployment still has it. qa, never deployed,
    holds nothing."""
    sim, project = deployed
    remote = "k3s-america-south"

    def without_remote(config: dict[str, Any]) -> None:
        config["fleet:clusters"] = [c for c in config["fleet:clusters"] if c["name"] != remote]

    refused = sim.step("main drops the remote", "main", edited(project, "main", without_remote))
    (stopped,) = [e for e in sim.events if "leaves the fleet" in e.message]
    assert stopped.where == "stack main"
    assert f"cluster {remote} leaves the fleet while environment stack dev still has it" in (
        stopped.message
    )
    assert "qa" not in stopped.message
    assert refused.clusters == {} and remote in sim.clusters
    # dev lets it go: its Kustomizations prune the remote, with main's grant still there.
    step = sim.step(
        "dev drops the remote",
        "dev",
        edited(project, "dev", lambda c: c["fleet:clusters"].remove(remote)),
    )
    assert ("Kustomization", "dev-flux-system", f"{remote}-infrastructure") in removed(
        step, "k3d-america"
    )
    assert not any(i[1].startswith("dev-") for i in sim.clusters[remote].objects)
    sim.step("main drops the remote, now", "main", edited(project, "main", without_remote))
    assert remote not in {c.name for c in sim.models["main"].clusters}
    # Nothing else went wrong, before or after: the first refusal is the only finding.
    assert [f.message for f in report(sim).findings] == [stopped.message]


def test_a_renamed_environment_keeps_its_old_grant_until_its_stack_runs_the_new_name(
    deployed: tuple[Simulation, Path],
) -> None:
    """Renaming dev in one change (its name, and main's list) would take dev's rights on the
    remote before dev's stack has pruned it: main refuses; with both names listed, dev's
    stack moves to the new name, then the old one may go."""
    sim, project = deployed

    def listing(*environments: str) -> Path:
        return edited(project, "main", lambda c: c.update({"fleet:environments": [*environments]}))

    renamed = edited(
        project,
        "dev",
        lambda c: c.update({"fleet:environment": {"name": "development"}, "fleet:maxRemovals": 20}),
    )
    # One pull request: dev's file renamed, main's list too; main deploys first.
    (project / "Pulumi.dev.yaml").write_bytes(renamed.read_bytes())
    sim.step("main lists development instead of dev", "main", listing("development", "qa"))
    (stopped,) = [e for e in sim.events if "leaves the list" in e.message]
    assert "environment dev leaves the list while stack dev still runs it" in stopped.message
    sim.step("main lists both", "main", listing("dev", "development", "qa"))
    step = sim.step("dev becomes development", "dev", renamed)
    remote = "k3s-america-south"
    assert not any(i[1].startswith("dev-") for i in sim.clusters[remote].objects)
    assert ("Namespace", "", "development-flux-system") in landed(step, "k3d-america")
    sim.step("main drops dev", "main", listing("development", "qa"))
    fleet = sim.models["main"]
    assert isinstance(fleet, FleetSpec) and fleet.environments == ("development", "qa")
    assert [f.message for f in report(sim).findings] == [stopped.message]
