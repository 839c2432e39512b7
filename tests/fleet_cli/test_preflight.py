"""`fleet preflight`: each thing `pulumi up` needs, checked against real git repositories (the
fleet's GitHub URL resolved to a local one by git's own `url.<base>.insteadOf`), and against a
Pulumi CLI stand-in that answers `pulumi whoami --json` as the real one does."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from fleet_cli.main import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, main
from tests.support.sample import PROJECT

URL = "https://github.com/acme/fleet-gitops"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The laptop example, made its own: a repository (a local one stands in for GitHub)."""
    folder = tmp_path / "project"
    shutil.copytree(PROJECT / "examples" / "k3d", folder)
    (folder / "Pulumi.yaml").write_text(
        (folder / "Pulumi.yaml").read_text().replace("main: ../..", f"main: {PROJECT}")
    )
    remote = tmp_path / "fleet-gitops.git"
    git("init", "--quiet", "--bare", str(remote))
    settings = folder / "Pulumi.k3d-main.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:repository"] = {"url": URL, "pushUrl": str(remote)}
    settings.write_text(yaml.safe_dump(document))
    # git reads this URL as the local repository (git-config `url.<base>.insteadOf`).
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{remote}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", URL)
    monkeypatch.setenv("GITHUB_TOKEN", "a-token")
    return folder


def preflight(project: Path, *args: str) -> int:
    return main(["--project", str(project), "preflight", "k3d-main", *args])


def test_a_repository_of_ones_own_that_both_can_reach_is_deployable(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = preflight(project, "--try-push")
    out = capsys.readouterr().out
    assert f"ok    Flux can reach {URL}" in out
    assert f"ok    `pulumi up` can write to {tmp_path / 'fleet-gitops.git'} (test push)" in out
    # The throwaway branch is gone again.
    assert git("--git-dir", str(tmp_path / "fleet-gitops.git"), "branch", "--list") == ""
    tools_missing = shutil.which("k3d") is None or shutil.which("docker") is None
    assert code == (EXIT_PROBLEMS if tools_missing else EXIT_OK)


def test_the_examples_placeholder_and_the_samples_repository_are_not_ones_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--project", str(PROJECT / "examples" / "k3d"), "preflight", "k3d-main"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  fleet:repository.url is the example's placeholder" in out
    assert "fix: create your own repository and set fleet:repository.url" in out
    assert main(["--project", str(PROJECT), "preflight", "main"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "is the original sample's" in out
    assert "FAIL  fleet:k3sAmericaSouthKubeconfig: not set" in out


def test_an_unreachable_repository_and_an_https_push_to_github_say_what_to_do(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "0")
    settings = project / "Pulumi.k3d-main.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:repository"] = {"url": "https://127.0.0.1:9/acme/fleet.git"}
    settings.write_text(yaml.safe_dump(document))
    assert preflight(project) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "FAIL  cannot read https://127.0.0.1:9/acme/fleet.git" in out
    assert "fix: make the repository public, or give Flux access" in out
    document["config"]["fleet:repository"] = {"url": URL}
    settings.write_text(yaml.safe_dump(document))
    preflight(project)
    out = capsys.readouterr().out
    assert f"pushes go over HTTPS to {URL}, but the branch rules let only" in out
    assert "fix: push over SSH as a deploy key with write access" in out


def pulumi_stand_in(folder: Path, whoami: dict[str, object]) -> None:
    """A `pulumi` on PATH that answers `pulumi whoami --json` with `whoami`."""
    folder.mkdir()
    script = folder / "pulumi"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(whoami)}\nEOF\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize(
    ("whoami", "expected"),
    [
        (
            {"user": "alice", "organizations": ["acme"], "url": "https://api.pulumi.com"},
            "fix: set fleet:mainStack to acme/fleet-k3d/k3d-main",
        ),
        (
            {"user": "alice", "organizations": [], "url": "file:///home/alice"},
            "ok    fleet:mainStack organization/fleet-k3d/k3d-main fits this backend",
        ),
    ],
)
def test_the_main_stacks_name_fits_the_backend_the_cli_is_logged_in_to(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    whoami: dict[str, object],
    expected: str,
) -> None:
    pulumi_stand_in(tmp_path / "bin", whoami)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    main(["--project", str(project), "preflight", "k3d-dev"])
    assert expected in capsys.readouterr().out


def test_a_stack_that_does_not_exist_is_a_config_problem(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(project), "preflight", "prod"]) == EXIT_CONFIG
