"""CODEOWNERS from the stacks' owners: each settings file with its approvers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fleet.codeowners import HEADER, codeowners
from fleet_cli.main import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, main
from tests.support.sample import PROJECT, SAMPLE_STACKS


def test_each_stack_file_gets_its_owners_and_a_stack_without_none() -> None:
    owners = {"main": ["@acme/platform"], "qa": ["@acme/qa", "lead@acme.example"], "dev": []}
    assert codeowners("", owners) == HEADER + (
        "/Pulumi.main.yaml @acme/platform\n/Pulumi.qa.yaml @acme/qa lead@acme.example\n"
    )
    assert codeowners("deploy/fleet", {"qa": ["@acme/qa"]}).endswith(
        "/deploy/fleet/Pulumi.qa.yaml @acme/qa\n"
    )


def test_the_committed_file_is_what_the_sample_stacks_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--project", str(PROJECT), "codeowners", "--check"]) == EXIT_OK
    assert (PROJECT / ".github" / "CODEOWNERS").read_text().splitlines()[2:] == [
        "/Pulumi.dev.yaml @kaizentm/dev-approvers",
        "/Pulumi.main.yaml @kaizentm/platform",
        "/Pulumi.qa.yaml @kaizentm/qa-approvers",
    ]


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository holding the sample project in a folder of its own."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    project = tmp_path / "fleet"
    project.mkdir()
    for stack in SAMPLE_STACKS:
        shutil.copy(PROJECT / f"Pulumi.{stack}.yaml", project)
    shutil.copy(PROJECT / "Pulumi.yaml", project)
    return project


def test_a_changed_owner_makes_the_file_stale_until_written_again(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--project", str(repository), "codeowners"]
    assert main([*argv, "--check"]) == EXIT_PROBLEMS
    assert "run `fleet codeowners --write`" in capsys.readouterr().err
    assert main([*argv, "--write"]) == EXIT_OK
    written = repository.parent / ".github" / "CODEOWNERS"
    assert "/fleet/Pulumi.qa.yaml @kaizentm/qa-approvers\n" in written.read_text()
    assert main([*argv, "--check"]) == EXIT_OK
    settings = repository / "Pulumi.qa.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:environment"]["owners"] = ["@kaizentm/release-managers"]
    settings.write_text(yaml.safe_dump(document))
    assert main([*argv, "--check"]) == EXIT_PROBLEMS


def test_an_owner_github_would_not_know_is_refused_at_its_path(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = repository / "Pulumi.qa.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:environment"]["owners"] = ["qa team"]
    settings.write_text(yaml.safe_dump(document))
    assert main(["--project", str(repository), "codeowners"]) == EXIT_CONFIG
    assert "fleet:environment.owners[0]" in capsys.readouterr().err
