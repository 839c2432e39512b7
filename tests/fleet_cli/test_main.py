"""`fleet check`: exit codes and messages a user sees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fleet_cli.main import EXIT_CONFIG, EXIT_OK, main
from tests.support.sample import PROJECT, SAMPLE_STACKS


def copy_project(tmp_path: Path) -> Path:
    for stack in SAMPLE_STACKS:
        shutil.copy(PROJECT / f"Pulumi.{stack}.yaml", tmp_path)
    return tmp_path


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_check_sample_stack(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(PROJECT), "check", stack]) == EXIT_OK
    out = capsys.readouterr().out
    # Shown as the user would write it from the current folder.
    assert out.startswith(f"{os.path.relpath(PROJECT / f'Pulumi.{stack}.yaml')}: ok: ")
    assert "3 clusters (2 management, 1 remote)" in out


def test_check_names_the_environments_main_grants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(PROJECT), "check", "main"]) == EXIT_OK
    assert ", environments granted: dev, qa, repository " in capsys.readouterr().out


def test_an_environment_main_does_not_list_exits_2_naming_mains_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    main_file = project / "Pulumi.main.yaml"
    main_file.write_text(main_file.read_text().replace("[dev, qa]", "[dev]"))
    assert main(["--project", str(project), "check", "qa"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"{main_file}: 1 problem\n")
    assert "fleet:environments: environment 'qa' (Pulumi.qa.yaml) runs on this fleet" in err
    # And the main stack itself refuses to take qa's rights away while its stack is there.
    assert main(["--project", str(project), "check", "main"]) == EXIT_CONFIG
    assert "environment 'qa' (Pulumi.qa.yaml)" in capsys.readouterr().err


def test_check_summarises_an_environment(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--project", str(PROJECT), "check", "dev"])
    out = capsys.readouterr().out
    assert "environment 'dev' (branch dev)" in out
    assert "2 tenants, 2 apps, 1 release channel, 1 infra component" in out


def test_check_shows_what_each_selector_picks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(PROJECT), "check", "qa"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "  environment qa: 3 clusters: k3d-america, pacific-aks, k3s-america-south",
        "  tenant kaizentm: 3 clusters: k3d-america, pacific-aks, k3s-america-south",
        "  app kaizentm/azure-vote: 3 clusters: k3d-america, pacific-aks, k3s-america-south",
        "  fleet:clusters: selector region picks 3 clusters: k3d-america, pacific-aks, "
        "k3s-america-south",
        "  ring 0 canary (follows qa): 2 clusters: k3d-america, k3s-america-south",
        "  ring 1 broad (follows rollout/qa/broad): 1 cluster: pacific-aks",
    ]


def test_check_accepts_a_settings_file_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(PROJECT / "Pulumi.qa.yaml")]) == EXIT_OK
    assert "environment 'qa'" in capsys.readouterr().out


def test_check_lists_problems_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    settings = project / "Pulumi.main.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:clusters"][2]["managedBy"] = "k3d-europe"
    settings.write_text(yaml.safe_dump(document))

    assert main(["--project", str(project), "check", "main"]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{settings}: 1 problem",
        "  fleet:clusters[2].managedBy: 'k3d-europe' is not a management cluster of this fleet",
    ]


def test_check_an_environment_reports_a_missing_main_stack_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    (project / "Pulumi.main.yaml").unlink()
    assert main(["--project", str(project), "check", "dev"]) == EXIT_CONFIG
    assert "fleet:mainStack: the main stack's settings file Pulumi.main.yaml is not beside" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config: [unclosed", "not valid YAML"),
        ("- a list", "expected a mapping with a 'config' key"),
    ],
)
def test_check_reports_a_broken_file(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Pulumi.main.yaml").write_text(content)
    assert main(["--project", str(tmp_path), "check", "main"]) == EXIT_CONFIG
    assert message in capsys.readouterr().err


def test_check_reports_a_missing_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(tmp_path), "check", "prod"]) == EXIT_CONFIG
    assert f"no Pulumi.yaml in {tmp_path} or above it" in capsys.readouterr().err
    (tmp_path / "Pulumi.yaml").write_text("name: fleet\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    assert main(["--project", str(tmp_path), "check", "prod"]) == EXIT_CONFIG
    assert f"no stack 'prod' in {tmp_path} (its stacks: dev)" in capsys.readouterr().err


def test_secure_values_count_as_set_secrets(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    settings = project / "Pulumi.main.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:k3sAmericaSouthKubeconfig"] = {"secure": "v1:abc"}
    settings.write_text(yaml.safe_dump(document))
    assert main(["--project", str(project), "check", "main"]) == EXIT_OK


def test_console_module_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fleet_cli", "--project", str(PROJECT), "check", "qa"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "environment 'qa'" in result.stdout
