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


def seed(remote: Path, tmp_path: Path) -> None:
    """One commit on branch main: the repository is no longer empty."""
    work = tmp_path / "seed"
    git("init", "--quiet", "-b", "main", str(work))
    git(
        "-C",
        str(work),
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "seed",
    )
    git("-C", str(work), "push", "--quiet", str(remote), "main")


def test_an_empty_repository_is_not_pushed_to(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preflight(project, "--try-push")
    assert "is empty: the first `pulumi up` makes its branches" in capsys.readouterr().out


def test_a_repository_of_ones_own_that_both_can_reach_is_deployable(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(tmp_path / "fleet-gitops.git", tmp_path)
    code = preflight(project, "--try-push")
    out = capsys.readouterr().out
    assert f"ok    Flux can reach {URL}" in out
    assert f"ok    `pulumi up` can write to {tmp_path / 'fleet-gitops.git'} (test push)" in out
    # The throwaway branch is gone again.
    branches = git("--git-dir", str(tmp_path / "fleet-gitops.git"), "branch", "--list")
    assert branches.split() == ["main"]
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
            # What `pulumi whoami --json` prints for Pulumi Cloud: its console address.
            {"user": "alice", "organizations": ["acme"], "url": "https://app.pulumi.com/alice"},
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


def fake_ssh(folder: Path, greeting: str) -> str:
    """An `ssh` that answers as GitHub does to `ssh -T git@github.com` (on stderr, exit 1)."""
    folder.mkdir(exist_ok=True)
    script = folder / "ssh"
    script.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{greeting}\nEOF\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("greeting", "expected"),
    [
        (
            "Hi acme/fleet-gitops! You've successfully authenticated, but GitHub does not "
            "provide shell access.",
            "ok    pushes go as a deploy key of acme/fleet-gitops",
        ),
        (
            "Hi alice! You've successfully authenticated, but GitHub does not provide shell "
            "access.",
            "FAIL  pushes go as alice, a person's key",
        ),
    ],
)
def test_github_says_whether_the_key_is_the_repositorys_deploy_key(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    greeting: str,
    expected: str,
) -> None:
    settings = project / "Pulumi.k3d-main.yaml"
    document = yaml.safe_load(settings.read_text())
    push = "git@github.com:acme/fleet-gitops.git"
    document["config"]["fleet:repository"] = {"url": URL, "pushUrl": push}
    settings.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    monkeypatch.setenv("GIT_CONFIG_KEY_1", f"url.{tmp_path / 'fleet-gitops.git'}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_1", push)
    monkeypatch.setenv("GIT_SSH_COMMAND", fake_ssh(tmp_path / "bin", greeting))
    preflight(project)
    assert expected in capsys.readouterr().out


def test_a_key_named_by_a_relative_path_is_not_found_where_git_runs(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i fleet-writer -o IdentitiesOnly=yes")
    preflight(project)
    out = capsys.readouterr().out
    assert "GIT_SSH_COMMAND names the key fleet-writer by a relative path" in out
    assert 'fix: give its full path: -i "$PWD/fleet-writer"' in out
