"""`fleet promote dev qa` on the sample deployed offline: exactly the expected edit of
Pulumi.qa.yaml (comments kept), the per-cluster diff and the dev commit in the description, and
the refusals: dev not deployed, dev not reconciled, an edit that would not be valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fleet_cli.main import EXIT_CONFIG, EXIT_OK, main
from fleet_cli.simulation.simulation import simulation
from tests.support.sample import PROJECT, SAMPLE_STACKS

RUNS = {
    "kaizentm-manifests": "a" * 40,
    "kaizentm-1-0-x-manifests": "b" * 40,
    "yakuza-manifests": "c" * 40,
}
"""The commit each tenant source of the simulated clusters reports."""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's stacks landed in a bare repository, with each cluster's Flux status."""
    folder = tmp_path_factory.mktemp("deployed")
    with simulation(PROJECT, folder / "fleet.git") as sim:
        for stack in SAMPLE_STACKS:
            sim.step(f"pulumi up -s {stack}", stack)
        (folder / "status").mkdir()
        for cluster in sim.clusters:
            listing = sim.flux_status(cluster)
            revisions = {}
            for item in listing["items"]:
                # The tenants' repositories are not known offline: their sources report the
                # commits below, as source-controller would (`artifact.revision`).
                if item["kind"] == "GitRepository" and item["metadata"]["name"] in RUNS:
                    branch = item["spec"]["ref"]["branch"]
                    revision = f"{branch}@sha1:{RUNS[item['metadata']['name']]}"
                    item["status"]["artifact"] = {"revision": revision}
                    revisions[item["metadata"]["name"]] = revision
            for item in listing["items"]:
                # ... and the apps that read them, Ready, applied it (`lastAppliedRevision`).
                source = item.get("spec", {}).get("sourceRef", {}).get("name")
                if item["kind"] == "Kustomization" and source in revisions:
                    item["status"]["lastAppliedRevision"] = revisions[source]
            (folder / "status" / f"{cluster}.json").write_text(json.dumps(listing))
        (folder / "dev").write_text(sim.repository.tips()["dev"])
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for path in [*PROJECT.glob("Pulumi*.yaml"), PROJECT / "__main__.py"]:
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def promote(project: Path, deployed: Path, *args: str) -> int:
    repository = ["--repository", str(deployed / "fleet.git")]
    return main(["--project", str(project), "promote", "dev", "qa", *repository, *args])


EDIT = """\
@@ -19,8 +19,13 @@
     - name: kaizentm
       repository:
         url: https://github.com/kaizentm/gitops-manifests
-        branch: qa
+        branch: dev
+        commit: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
       apps:
         - name: azure-vote
           paths:
             pacific-aks: ./azure-vote-manifests/manifest
+      releases:
+        - name: 1-0-x
+          branch: release/1-0-x/dev
+          commit: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
"""


def test_one_tenant_from_dev_to_qa_is_exactly_this_edit_with_its_diff_and_commit(
    project: Path, deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "Pulumi.qa.yaml").read_text()
    description = project / "pr.md"
    status = ["--status", str(deployed / "status")]
    code = promote(
        project,
        deployed,
        "--tenant",
        "kaizentm",
        "--write",
        "--description",
        str(description),
        *status,
    )
    assert code == EXIT_OK
    dev = (deployed / "dev").read_text()
    assert capsys.readouterr().out.endswith(f"Pulumi.qa.yaml: promoted from dev at {dev[:12]}\n")
    after = (project / "Pulumi.qa.yaml").read_text()
    # Every line of qa is still there, its comments too; the edit adds and changes these only.
    assert [line for line in before.splitlines() if line not in after.splitlines()] == [
        "        branch: qa"
    ]
    text = description.read_text()
    assert EDIT in text
    assert f"Taken from branch `dev` at commit `{dev}`" in text
    assert text.rstrip().endswith(f"Promoted-From: dev@{dev}")
    assert "| tenant kaizentm | updated | `fleet:tenants[0]` |" in text
    assert "+ k3d-america joins channel kaizentm/1-0-x" in text
    for cluster in ("k3d-america", "pacific-aks"):
        assert f"**cluster {cluster}**\n```diff\n+ Namespace qa-1-0-x-kaizentm\n```" in text
    assert main(["--project", str(project), "check", "qa"]) == EXIT_OK
    # Promoted once, the second time changes nothing.
    capsys.readouterr()
    assert promote(project, deployed, "--tenant", "kaizentm", *status) == EXIT_OK
    assert "qa already runs what dev runs for tenant kaizentm" in capsys.readouterr().out


def test_a_tenants_branch_is_not_promoted_without_the_commit_dev_runs(
    project: Path, deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "Pulumi.qa.yaml").read_text()
    assert promote(project, deployed, "--tenant", "kaizentm", "--write") == EXIT_CONFIG
    assert "give --clusters or --status" in capsys.readouterr().err
    assert (project / "Pulumi.qa.yaml").read_text() == before


def test_without_write_the_settings_stay_and_the_description_is_printed(
    project: Path, deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "Pulumi.qa.yaml").read_text()
    status = ["--status", str(deployed / "status")]
    args = ["--app", "kaizentm/azure-vote", "--tenant", "yakuza", *status]
    assert promote(project, deployed, *args) == EXIT_OK
    out = capsys.readouterr().out
    assert "## Promote tenant yakuza, app kaizentm/azure-vote from dev to qa" in out
    assert "| tenant yakuza | added | `fleet:tenants[1]` |" in out
    assert "| app kaizentm/azure-vote | unchanged | `fleet:tenants[0].apps[0]` |" in out
    assert out.endswith("Pulumi.qa.yaml)\n") and "(not written: --write edits " in out
    assert (project / "Pulumi.qa.yaml").read_text() == before


def test_what_dev_has_not_deployed_is_not_promoted(
    project: Path, deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = project / "Pulumi.dev.yaml"
    settings.write_text(settings.read_text().replace("branch: multi-dev", "branch: multi-next"))
    before = (project / "Pulumi.qa.yaml").read_text()
    assert promote(project, deployed, "--tenant", "yakuza", "--write") == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "branch dev does not hold what Pulumi.dev.yaml renders" in err
    assert "deploy dev first" in err
    assert (project / "Pulumi.qa.yaml").read_text() == before


def test_what_dev_has_not_reconciled_everywhere_is_not_promoted(
    project: Path, deployed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = deployed / "status"
    assert promote(project, deployed, "--tenant", "yakuza", "--status", str(status)) == EXIT_OK
    capsys.readouterr()
    failing = tmp_path / "failing"
    shutil.copytree(status, failing)
    listing = json.loads((failing / "pacific-aks.json").read_text())
    [tenants] = [
        i
        for i in listing["items"]
        if (i["metadata"]["namespace"], i["metadata"]["name"]) == ("dev-flux-system", "tenants")
    ]
    tenants["status"]["conditions"][0].update(status="False", reason="BuildFailed")
    (failing / "pacific-aks.json").write_text(json.dumps(listing))
    before = (project / "Pulumi.qa.yaml").read_text()
    args = ["--tenant", "yakuza", "--status", str(failing), "--write"]
    assert promote(project, deployed, *args) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "dev has not reconciled" in err
    assert "FAILED pacific-aks: Kustomization dev-flux-system/tenants failed: BuildFailed" in err
    assert (project / "Pulumi.qa.yaml").read_text() == before


def test_an_edit_that_would_not_be_valid_is_not_written(
    project: Path, deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = project / "Pulumi.qa.yaml"
    # qa has a component whose namespace is the one tenant yakuza would get there.
    settings.write_text(
        settings.read_text()
        + "  fleet:infra:\n    - name: yakuza\n      manifests:\n"
        + "        - {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}}\n"
    )
    before = settings.read_text()
    assert main(["--project", str(project), "check", "qa"]) == EXIT_OK
    capsys.readouterr()
    status = ["--status", str(deployed / "status")]
    assert promote(project, deployed, "--tenant", "yakuza", "--write", *status) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "the promoted Pulumi.qa.yaml would not be valid, so nothing was written" in err
    assert "qa-yakuza" in err
    assert settings.read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "choose what to promote"),
        (("--app", "kaizentm"), "expected TENANT/APP"),
        (("--tenant", "nobody"), "tenant 'nobody' is not in"),
    ],
)
def test_bad_choices_are_named(
    project: Path,
    deployed: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    assert promote(project, deployed, *args) == EXIT_CONFIG
    assert message in capsys.readouterr().err


def test_promotion_is_between_environments_of_one_fleet(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(project), "promote", "main", "qa", "--tenant", "x"]) == 2
    assert "main is a main stack" in capsys.readouterr().err
    assert main(["--project", str(project), "promote", "prod", "qa", "--tenant", "x"]) == 2
    assert "no stack 'prod'" in capsys.readouterr().err
    edge = (project / "Pulumi.main.yaml").read_text()
    (project / "Pulumi.edge.yaml").write_text(edge.replace("[dev, qa]", "[stage]"))
    other = (project / "Pulumi.qa.yaml").read_text().replace("fleet/main", "fleet/edge")
    (project / "Pulumi.stage.yaml").write_text(other.replace("qa-approvers", "stage"))
    assert main(["--project", str(project), "promote", "dev", "stage", "--tenant", "x"]) == 2
    assert "promotion is between environments of one fleet" in capsys.readouterr().err


def test_a_file_in_another_layout_keeps_it_and_its_comments(
    project: Path, deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pulumi's own layout puts a list's dashes at its key's indent."""
    settings = project / "Pulumi.qa.yaml"
    head = (
        "config:\n"
        "  fleet:mainStack: organization/fleet/main\n"
        "  fleet:clusters:\n"
        "  - k3d-america  # the canary\n"
        "  - k3s-america-south\n"
        "  fleet:tenants:\n"
        "  - name: kaizentm  # owner: team-a\n"
        "    repository:\n"
        "      url: https://github.com/kaizentm/gitops-manifests\n"
        "      branch: qa\n"
        "    apps:\n"
        "    # the vote app\n"
        "    - name: azure-vote\n"
    )
    settings.write_text(head + "      path: ./old\n")
    assert promote(project, deployed, "--app", "kaizentm/azure-vote", "--write") == EXIT_OK
    assert settings.read_text() == (
        head + "      paths:\n        pacific-aks: ./azure-vote-manifests/manifest\n"
    )
