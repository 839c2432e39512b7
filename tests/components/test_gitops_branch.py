"""The GitOpsBranch dynamic provider, called directly against real git repositories."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import dill  # type: ignore[import-untyped]  # the SDK's own pickler
import pytest
from pulumi.dynamic import Config, ConfigureRequest

from components.gitops_branch import (
    TOKEN_ENV,
    GitOpsBranch,
    GitOpsBranchArgs,
    GitOpsBranchProvider,
    local_path_resolved,
)
from components.gitwriter import RECORD_PATH, OwnershipConflict, content_hash
from fleet_cli.engine import RecordingMocks, run, stack_config

CONTENT = "kind: Secretless\nmarker: CONTENT-MUST-NOT-BE-IN-OUTPUTS\n"


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(path))
    return path


def inputs(remote: Path, files: dict[str, str], **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "url": str(remote),
        "branch": "dev",
        "owner": "fleet/dev",
        "files": files,
        "message": "fleet: render dev",
    }
    props.update(overrides)
    return props


def hand_edit(remote: Path, tmp_path: Path, path: str, content: str) -> None:
    work = tmp_path / "hand"
    git("clone", "--quiet", "--branch", "dev", str(remote), str(work))
    (work / path).write_text(content)
    git("-c", "user.name=h", "-c", "user.email=h@x", "commit", "-qam", "hand edit", cwd=work)
    git("push", "--quiet", "origin", "dev", cwd=work)


def branch_files(remote: Path) -> set[str]:
    return set(git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "dev").splitlines())


def tip(remote: Path) -> str:
    return git("--git-dir", str(remote), "rev-parse", "refs/heads/dev")


def test_create_writes_and_outputs_only_hashes(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    result = provider.create(inputs(remote, {"a.yaml": CONTENT}))
    assert result.id == f"{remote}#dev"
    assert result.outs == {
        "commit": tip(remote),
        "files": {"a.yaml": content_hash(CONTENT)},
        "url": str(remote),
        "branch": "dev",
        "owner": "fleet/dev",
    }
    assert "CONTENT-MUST-NOT-BE-IN-OUTPUTS" not in json.dumps(result.outs)
    assert branch_files(remote) == {"a.yaml", RECORD_PATH}


def test_diff_compares_hashes_and_replaces_only_on_a_new_branch(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    olds = provider.create(inputs(remote, {"a.yaml": CONTENT})).outs
    assert olds is not None
    same = provider.diff("id", olds, inputs(remote, {"a.yaml": CONTENT}))
    assert same.changes is False and same.replaces == []
    edited = provider.diff("id", olds, inputs(remote, {"a.yaml": CONTENT + "x: 1\n"}))
    assert edited.changes is True and edited.replaces == []
    added = provider.diff("id", olds, inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert added.changes is True
    moved = provider.diff("id", olds, inputs(remote, {"a.yaml": CONTENT}, branch="qa"))
    assert moved.changes is True and moved.replaces == ["branch"]
    rehomed = provider.diff("id", olds, inputs(remote, {"a.yaml": CONTENT}, url="/elsewhere"))
    assert rehomed.changes is True and rehomed.replaces == []
    owner = provider.diff("id", olds, inputs(remote, {"a.yaml": CONTENT}, owner="fleet/qa"))
    assert owner.changes is True and owner.replaces == []


def test_diff_with_unknown_files_reports_a_change(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    olds = provider.create(inputs(remote, {"a.yaml": CONTENT})).outs
    assert olds is not None
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert provider.diff("id", olds, {**inputs(remote, {}), "files": unknown}).changes is True


def test_update_commits_changes_and_keeps_the_commit_when_nothing_changed(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    olds = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"})).outs
    assert olds is not None
    news = inputs(remote, {"a.yaml": "v2\n"})
    outs = provider.update("id", olds, news).outs
    assert outs is not None
    assert outs["commit"] == tip(remote) != olds["commit"]
    assert outs["files"] == {"a.yaml": content_hash("v2\n")}
    assert branch_files(remote) == {"a.yaml", RECORD_PATH}
    again = provider.update("id", outs, news).outs
    assert again is not None
    assert again["commit"] == outs["commit"] == tip(remote)


def test_read_reports_hand_edits_as_drift(remote: Path, tmp_path: Path) -> None:
    provider = GitOpsBranchProvider(None)
    desired = inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"})
    created = provider.create(desired)
    assert created.outs is not None
    unchanged = provider.read(created.id, created.outs)
    assert unchanged.id == created.id and unchanged.outs == created.outs
    hand_edit(remote, tmp_path, "a.yaml", "by hand\n")
    refreshed = provider.read(created.id, created.outs)
    assert refreshed.outs is not None
    assert refreshed.outs["files"] == {
        "a.yaml": content_hash("by hand\n"),
        "b.yaml": content_hash("b\n"),
    }
    assert provider.diff(created.id, refreshed.outs, desired).changes is True
    with pytest.raises(OwnershipConflict):
        provider.update(created.id, refreshed.outs, desired)


def test_delete_removes_owned_files_and_keeps_the_branch(remote: Path, tmp_path: Path) -> None:
    provider = GitOpsBranchProvider(None)
    outs = provider.create(inputs(remote, {"a.yaml": CONTENT})).outs
    assert outs is not None
    work = tmp_path / "hand"
    git("clone", "--quiet", "--branch", "dev", str(remote), str(work))
    (work / "README.md").write_text("kept\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=h", "-c", "user.email=h@x", "commit", "-qm", "readme", cwd=work)
    git("push", "--quiet", "origin", "dev", cwd=work)
    provider.delete("id", outs)
    assert branch_files(remote) == {"README.md"}


def test_token_comes_from_the_named_config_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    props = {"url": "https://h.example/r.git", "branch": "dev", "owner": "o"}
    configured = GitOpsBranchProvider("fleet:gitToken")
    configured.configure(ConfigureRequest(Config({"fleet:gitToken": "from-config"}, "fleet")))
    assert configured._target(props).token == "from-config"
    unset = GitOpsBranchProvider("fleet:gitToken")
    unset.configure(ConfigureRequest(Config({}, "fleet")))
    assert unset._target(props).token == "from-env"
    monkeypatch.delenv(TOKEN_ENV)
    assert unset._target(props).token is None


def test_check_refuses_a_password_in_the_url(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    bad = provider.check({}, inputs(remote, {}, url="https://u:SECRET@h.example/r.git"))
    assert [f.property for f in bad.failures] == ["url"]
    assert "SECRET" not in bad.failures[0].reason
    assert provider.check({}, inputs(remote, {})).failures == []


def test_resource_inputs_carry_no_token() -> None:
    mocks = RecordingMocks()

    def program() -> dict[str, Any]:
        GitOpsBranch(
            "dev-branch",
            GitOpsBranchArgs(
                url="https://h.example/r.git",
                branch="dev",
                owner="fleet/dev",
                files={"a.yaml": CONTENT},
                message="m",
                token_config_key="fleet:gitToken",
            ),
        )
        return {}

    run("dev", mocks, program)
    [resource] = mocks.resources
    assert resource.type == "pulumi-python:dynamic:GitOpsBranch"
    assert resource.inputs["files"] == {"a.yaml": CONTENT}
    assert set(resource.inputs) == {
        "url",
        "branch",
        "owner",
        "files",
        "message",
        "__provider",
    }


def test_the_serialized_provider_holds_no_token_and_reads_it_once_configured(
    remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider is serialized into the resource's inputs, which the state keeps: the token
    must not be in it, however the stack provides one, until the provider's own process gets
    the stack config."""
    monkeypatch.setenv(TOKEN_ENV, "token-from-env")
    mocks = RecordingMocks()

    def program() -> dict[str, Any]:
        GitOpsBranch(
            "dev-branch",
            GitOpsBranchArgs(
                url=str(remote),
                branch="dev",
                owner="fleet/dev",
                files={"a.yaml": CONTENT},
                message="m",
                token_config_key="fleet:gitToken",
            ),
        )
        return {}

    with stack_config({"gitToken": "token-from-config"}, ["gitToken"]):
        run("dev", mocks, program)
    [resource] = mocks.resources
    pickled = base64.b64decode(resource.inputs["__provider"])
    assert b"token-from-config" not in pickled
    assert b"token-from-env" not in pickled
    provider = dill.loads(pickled)
    provider.configure(ConfigureRequest(Config({"fleet:gitToken": "from-config"}, "fleet")))
    assert provider._target(inputs(remote, {})).token == "from-config"
    created = provider.create(inputs(remote, {"a.yaml": CONTENT}))
    assert created.outs is not None and created.outs["commit"] == tip(remote)


def test_a_relative_local_path_is_the_project_folder_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert local_path_resolved(".gitops/fleet.git") == str(tmp_path / ".gitops" / "fleet.git")
    for url in ("/srv/fleet.git", "file:///srv/fleet.git", "git@github.com:o/r.git"):
        assert local_path_resolved(url) == url
    assert local_path_resolved("https://h.example/r.git") == "https://h.example/r.git"
