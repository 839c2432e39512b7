"""CODEOWNERS from the stacks' owners: each settings file with its approvers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fleet import codeowners
from fleet_cli.main import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, main
from tests.support.sample import PROJECT, SAMPLE_STACKS


def test_each_stack_file_gets_its_owners_and_the_platform_everything_else() -> None:
    owners = {"main": ["@acme/platform"], "qa": ["@acme/qa", "lead@acme.example"], "dev": []}
    assert codeowners.block("", owners, ["@acme/platform"]) == (
        "# fleet project /\n"
        "* @acme/platform\n"
        "/Pulumi.main.yaml @acme/platform\n"
        "/Pulumi.qa.yaml @acme/qa lead@acme.example\n"
        "# end of fleet project /\n"
    )
    # A project in a folder owns its own files only: the repository's root project owns `*`.
    assert codeowners.block("deploy/fleet", {"qa": ["@acme/qa"]}, ["@acme/platform"]) == (
        "# fleet project /deploy/fleet/\n"
        "/deploy/fleet/Pulumi.qa.yaml @acme/qa\n"
        "# end of fleet project /deploy/fleet/\n"
    )


def test_projects_keep_each_others_blocks_the_catch_all_first_and_lines_of_their_own() -> None:
    root = codeowners.block("", {"main": ["@a/p"]}, ["@a/p"])
    other = codeowners.block("examples/k3d", {"k3d-dev": ["@a/dev"]}, [])
    text = codeowners.merged("docs/ @a/writers\n", "examples/k3d", other)
    text = codeowners.merged(text, "", root)
    assert text == codeowners.HEADER + root + other + "\ndocs/ @a/writers\n"
    assert codeowners.current(text, "examples/k3d") == other
    changed = codeowners.block("", {"main": ["@a/q"]}, ["@a/q"])
    assert codeowners.merged(text, "", changed) == (
        codeowners.HEADER + changed + other + "\ndocs/ @a/writers\n"
    )


def test_the_committed_file_is_what_the_sample_stacks_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--project", str(PROJECT), "codeowners", "--check"]) == EXIT_OK
    assert main(["--project", str(PROJECT / "examples" / "k3d"), "codeowners", "--check"]) == 0
    lines = (PROJECT / ".github" / "CODEOWNERS").read_text().splitlines()
    assert lines[2:8] == [
        "# fleet project /",
        "* @kaizentm/platform",
        "/Pulumi.dev.yaml @kaizentm/dev-approvers",
        "/Pulumi.main.yaml @kaizentm/platform",
        "/Pulumi.qa.yaml @kaizentm/qa-approvers",
        "# end of fleet project /",
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
    # Its project is not at the repository's root: it owns its own files, not `*`.
    assert "\n* " not in written.read_text()
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
