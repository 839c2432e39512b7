"""Placement end to end: the sample deployed offline with one app folder serving every
cluster through Flux's substitution, and with a group of identical management clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet import names
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import simulation
from tests.support.sample import PROJECT

TENANT_REPOSITORY = "https://github.com/kaizentm/gitops-manifests"
CLUSTERS = {
    "k3d-america": "db.america.example",
    "pacific-aks": "db.pacific.example",
    "k3s-america-south": "db.america-south.example",
}


def project_with(folder: Path, **edits: Any) -> Path:
    """The sample project in `folder`, each `stack=edit` applied to its settings' config."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in PROJECT.glob("Pulumi*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "__main__.py").write_bytes((PROJECT / "__main__.py").read_bytes())
    for stack, edit in edits.items():
        settings = folder / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(settings.read_text())
        edit(document["config"])
        settings.write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def one_folder(config: dict[str, Any]) -> None:
    (yakuza,) = [t for t in config["fleet:tenants"] if t["name"] == "yakuza"]
    yakuza["apps"][0]["path"] = "./katana-vote"
    yakuza["vars"] = {"DB_PASSWORD": {"secret": "yakuzaDbPassword"}}
    config["fleet:yakuzaDbPassword"] = {"secure": "v1:test"}


def test_one_app_folder_gets_each_clusters_values_from_flux(tmp_path: Path) -> None:
    """The original's use case 1: one folder, three clusters, three connection strings; the
    password from secret config reaches the clusters and never the branch."""
    project = project_with(tmp_path / "project", dev=one_folder)
    repository = tmp_path / "tenant"
    (repository / "katana-vote").mkdir(parents=True)
    (repository / "katana-vote" / "settings.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "katana-db"},
                "data": {
                    "url": "postgres://app:${DB_PASSWORD}@${DB_HOST}/katana",
                    "cluster": "${CLUSTER_NAME} (${ENVIRONMENT}, ${CLUSTER_LABEL_REGION})",
                    "literal": "$${NOT_SUBSTITUTED}",
                },
            }
        )
    )
    with simulation(project, sources={TENANT_REPOSITORY: repository}) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        findings = report(sim).findings
        # Only the other tenant, on the same repository, finds nothing at its own paths.
        assert all("./azure-vote" in f.message for f in findings), findings
        namespace = names.tenant_namespace("dev", "yakuza")
        for cluster, host in CLUSTERS.items():
            landed = sim.clusters[cluster].get(("ConfigMap", namespace, "katana-db"))
            assert landed is not None, cluster
            region = "pacific" if cluster == "pacific-aks" else "america"
            assert landed.obj["data"] == {
                "url": f"postgres://app:simulated-yakuzaDbPassword@{host}/katana",
                "cluster": f"{cluster} (dev, {region})",
                "literal": "${NOT_SUBSTITUTED}",
            }
        branch = sim.runs["dev"].resources
        committed = [r for r in branch if r.type.endswith("GitOpsBranch")]
        assert committed and "simulated-yakuzaDbPassword" not in str(committed[0].inputs)


def america_group(members: list[str]) -> Any:
    def edit(config: dict[str, Any]) -> None:
        clusters = config["fleet:clusters"]
        config["fleet:clusters"] = [c for c in clusters if c.get("role") != "remote"]
        config.pop("fleet:k3sAmericaSouthKubeconfig", None)
        america = next(c for c in config["fleet:clusters"] if c["name"] == "k3d-america")
        america["members"] = members
        america["k3d"].pop("ports")  # members cannot share host ports

    return edit


def without_remote(config: dict[str, Any]) -> None:
    config["fleet:clusters"] = ["k3d-america", "pacific-aks"]


@pytest.mark.parametrize("members", [2, 3])
def test_every_member_of_a_group_gets_flux_and_the_same_wiring(
    tmp_path: Path, members: int
) -> None:
    member_names = [f"k3d-america-{i}" for i in range(1, members + 1)]
    project = project_with(tmp_path, main=america_group(member_names), dev=without_remote)
    with simulation(project) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        findings = report(sim).findings
        assert all("kustomization path not found" in f.message for f in findings), findings
        assert "k3d-america" not in sim.clusters
        for member in member_names:
            state = sim.clusters[member]
            assert state.flux is not None
            infra = sim.status[(member, ("Kustomization", "flux-system", "infrastructure"))]
            assert infra.ready and infra.target == member
            assert state.has("Namespace", "", "nginx")
            assert state.has("Namespace", "", names.tenant_namespace("dev", "yakuza"))
        # The same objects on every member: one configuration.
        first, *others = (set(sim.clusters[m].objects) for m in member_names)
        assert all(other == first for other in others)


def test_every_finding_names_the_config_key_it_comes_from(tmp_path: Path) -> None:
    """The sample's tenants' repository holds nothing at their apps' paths: each finding says
    which app of which stack file to look at."""
    (tmp_path / "empty").mkdir()
    with simulation(PROJECT, sources={TENANT_REPOSITORY: tmp_path / "empty"}) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        findings = report(sim).findings
    assert findings
    by_app = {
        "azure-vote": "Pulumi.dev.yaml fleet:tenants[0].apps[0]",
        "katana-vote": "Pulumi.dev.yaml fleet:tenants[1].apps[0]",
    }
    for finding in findings:
        app = next(a for a in by_app if a in finding.subject)
        assert finding.config == by_app[app], finding
        assert str(finding).endswith(f"(from {by_app[app]})")
