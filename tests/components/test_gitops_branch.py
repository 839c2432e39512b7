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

from components import gitwriter, tree_store
from components.gitops_branch import (
    TOKEN_ENV,
    GitOpsBranch,
    GitOpsBranchArgs,
    GitOpsBranchProvider,
    local_path_resolved,
)
from components.gitwriter import RECORD_PATH, GitWriterError, OwnershipConflict, content_hash
from components.tree_store import TreeMissing, digest_of
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
        "tree": tree_store.save(files),
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


def push_foreign(
    remote: Path, tmp_path: Path, files: dict[str, str], *, claim: bool = False
) -> None:
    """Someone else's files, pushed to the branch; with `claim`, also listed (with their
    hashes) in the ownership record, as anyone who may push could do."""
    work = tmp_path / "foreign"
    git("clone", "--quiet", "--branch", "dev", str(remote), str(work))
    for path, content in files.items():
        (work / path).write_text(content)
    if claim:
        record_file = work / RECORD_PATH
        data = json.loads(record_file.read_text())
        data["files"].update({p: content_hash(c) for p, c in files.items()})
        record_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    git("add", "--all", cwd=work)
    git("-c", "user.name=h", "-c", "user.email=h@x", "commit", "-qm", "theirs", cwd=work)
    git("push", "--quiet", "origin", "dev", cwd=work)


def show(remote: Path, path: str) -> str:
    return git("--git-dir", str(remote), "show", f"refs/heads/dev:{path}")


def last_message(remote: Path) -> str:
    return git("--git-dir", str(remote), "log", "-1", "--format=%B", "dev")


def branch_files(remote: Path) -> set[str]:
    return set(git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "dev").splitlines())


def tip(remote: Path) -> str:
    return git("--git-dir", str(remote), "rev-parse", "refs/heads/dev")


def test_create_writes_and_outputs_only_the_trees_digest(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    result = provider.create(inputs(remote, {"a.yaml": CONTENT}))
    assert result.id == f"{remote}#dev"
    assert result.outs == {
        "commit": tip(remote),
        "tree": digest_of({"a.yaml": CONTENT}),
        "drift": {},
        "left": {},
        "url": str(remote),
        "branch": "dev",
        "owner": "fleet/dev",
        "holds": [],
    }
    assert "CONTENT-MUST-NOT-BE-IN-OUTPUTS" not in json.dumps(result.outs)
    assert "a.yaml" not in json.dumps(result.outs)  # no file by file list either
    assert branch_files(remote) == {"a.yaml", RECORD_PATH}


def test_a_tree_missing_from_the_store_stops_the_write_with_how_to_fix_it(
    remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    props = inputs(remote, {"a.yaml": CONTENT})
    monkeypatch.setenv(tree_store.STORE_ENV, str(tmp_path / "elsewhere"))
    with pytest.raises(TreeMissing, match="run `pulumi up` again"):
        GitOpsBranchProvider(None).create(props)
    assert ref(remote, "dev") is None


def test_a_tree_that_does_not_match_its_digest_is_refused(
    remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A tree swapped in the store never reaches the branch: it must hash to its name."""
    monkeypatch.setenv(tree_store.STORE_ENV, str(tmp_path / "store"))
    props = inputs(remote, {"a.yaml": CONTENT})
    other = tree_store.save({"a.yaml": "kind: Swapped\n"})
    kept = tmp_path / "store" / f"{props['tree']}.json.gz"
    kept.write_bytes((tmp_path / "store" / f"{other}.json.gz").read_bytes())
    with pytest.raises(TreeMissing, match="does not match its digest"):
        GitOpsBranchProvider(None).create(props)
    assert ref(remote, "dev") is None


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
    assert provider.diff("id", olds, {**inputs(remote, {}), "tree": unknown}).changes is True


def test_update_commits_changes_and_keeps_the_commit_when_nothing_changed(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    olds = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"})).outs
    assert olds is not None
    news = inputs(remote, {"a.yaml": "v2\n"})
    outs = provider.update("id", olds, news).outs
    assert outs is not None
    assert outs["commit"] == tip(remote) != olds["commit"]
    assert outs["tree"] == digest_of({"a.yaml": "v2\n"})
    assert branch_files(remote) == {"a.yaml", RECORD_PATH}
    again = provider.update("id", outs, news).outs
    assert again is not None
    assert again["commit"] == outs["commit"] == tip(remote)


def test_refresh_shows_a_hand_edit_and_the_next_update_overwrites_it(
    remote: Path, tmp_path: Path
) -> None:
    """`pulumi up --refresh`: read, then diff against the refreshed outputs, then update."""
    provider = GitOpsBranchProvider(None)
    desired = inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"})
    created = provider.create(desired)
    assert created.outs is not None
    unchanged = provider.read(created.id, created.outs)
    assert unchanged.id == created.id and unchanged.outs == created.outs
    assert provider.diff(created.id, unchanged.outs, desired).changes is False
    hand_edit(remote, tmp_path, "a.yaml", "by hand\n")
    refreshed = provider.read(created.id, created.outs)
    assert refreshed.outs is not None
    assert refreshed.outs["drift"] == {"a.yaml": content_hash("by hand\n")}
    assert refreshed.outs["tree"] == created.outs["tree"]
    assert provider.diff(created.id, refreshed.outs, desired).changes is True
    updated = provider.update(created.id, refreshed.outs, desired).outs
    assert updated is not None
    assert show(remote, "a.yaml") == CONTENT.rstrip("\n")
    assert updated["drift"] == {} and updated["tree"] == created.outs["tree"]
    assert "Overwrote hand edits that a refresh had shown: a.yaml" in last_message(remote)
    assert provider.diff(created.id, updated, desired).changes is False


def test_an_update_no_refresh_preceded_still_stops_at_a_hand_edit(
    remote: Path, tmp_path: Path
) -> None:
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT}))
    assert created.outs is not None
    hand_edit(remote, tmp_path, "a.yaml", "by hand\n")
    with pytest.raises(OwnershipConflict, match="--refresh"):
        provider.update(created.id, created.outs, inputs(remote, {"a.yaml": "v2\n"}))
    assert show(remote, "a.yaml") == "by hand"


def test_an_edited_record_does_not_make_an_update_delete_a_foreign_file(
    remote: Path, tmp_path: Path
) -> None:
    """Listing someone's file in .fleet/owned-files.json does not make it fleet's: Pulumi's
    state never said fleet wrote it, so it stays, reported."""
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT}))
    assert created.outs is not None
    push_foreign(remote, tmp_path, {"theirs.yaml": "t\n"}, claim=True)
    updated = provider.update(created.id, created.outs, inputs(remote, {"a.yaml": "v2\n"})).outs
    assert updated is not None
    assert show(remote, "theirs.yaml") == "t"
    assert list(updated["left"]) == ["theirs.yaml"]
    assert json.loads(show(remote, RECORD_PATH))["files"] == {"a.yaml": content_hash("v2\n")}


def test_a_refresh_shows_an_edited_record_and_the_update_puts_it_right(
    remote: Path, tmp_path: Path
) -> None:
    provider = GitOpsBranchProvider(None)
    desired = inputs(remote, {"a.yaml": CONTENT})
    created = provider.create(desired)
    assert created.outs is not None
    push_foreign(remote, tmp_path, {"theirs.yaml": "t\n"}, claim=True)
    refreshed = provider.read(created.id, created.outs).outs
    assert refreshed is not None and refreshed["drift"] == {"theirs.yaml": content_hash("t\n")}
    assert provider.diff(created.id, refreshed, desired).changes is True
    provider.update(created.id, refreshed, desired)
    assert branch_files(remote) == {"a.yaml", "theirs.yaml", RECORD_PATH}
    assert json.loads(show(remote, RECORD_PATH))["files"] == {"a.yaml": content_hash(CONTENT)}


def test_a_state_from_before_written_hashes_still_works_and_deletes_nothing(
    remote: Path, tmp_path: Path
) -> None:
    """An early version's outputs have only the branch's hashes (`files`): ownership is
    uncertain, so the update writes, deletes nothing, reports what it left, and keeps the
    digest of what it wrote for next time."""
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert created.outs is not None
    hashes = {"a.yaml": content_hash(CONTENT), "b.yaml": content_hash("b\n")}
    old = {k: v for k, v in created.outs.items() if k not in ("tree", "drift", "left")}
    old["files"] = hashes
    assert provider.read(created.id, old).outs == old
    updated = provider.update(created.id, old, inputs(remote, {"a.yaml": "v2\n"})).outs
    assert updated is not None
    assert show(remote, "a.yaml") == "v2" and show(remote, "b.yaml") == "b"
    assert list(updated["left"]) == ["b.yaml"]
    assert updated["tree"] == digest_of({"a.yaml": "v2\n"}) and "files" not in updated
    provider.update(created.id, updated, inputs(remote, {}))
    assert branch_files(remote) == {"b.yaml", RECORD_PATH}


def test_a_state_with_the_written_hash_map_is_read_as_before_and_kept_small_after(
    remote: Path, tmp_path: Path
) -> None:
    """The previous version's outputs kept `written` and `files` maps: they still decide what
    fleet may delete, a refresh still reports the branch's hashes in `files`, and the update
    writes the small form."""
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert created.outs is not None
    hashes = {"a.yaml": content_hash(CONTENT), "b.yaml": content_hash("b\n")}
    old = {k: v for k, v in created.outs.items() if k not in ("tree", "drift")}
    old |= {"files": hashes, "written": hashes}
    desired = inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"})
    assert provider.diff(created.id, old, desired).changes is False
    hand_edit(remote, tmp_path, "a.yaml", "by hand\n")
    refreshed = provider.read(created.id, old).outs
    assert refreshed is not None and refreshed["files"]["a.yaml"] == content_hash("by hand\n")
    assert provider.diff(created.id, refreshed, desired).changes is True
    updated = provider.update(created.id, refreshed, inputs(remote, {"a.yaml": CONTENT})).outs
    assert updated is not None
    assert branch_files(remote) == {"a.yaml", RECORD_PATH}  # b.yaml: written, unchanged
    assert show(remote, "a.yaml") == CONTENT.rstrip("\n")
    assert set(updated) >= {"tree", "drift"} and "written" not in updated


def test_a_record_that_does_not_match_the_states_digest_says_nothing(remote: Path) -> None:
    """The record in fleet's commit counts only as what the state's digest names: a state
    that does not match deletes nothing, and says why."""
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert created.outs is not None
    forged = {**created.outs, "tree": "0" * 64}
    updated = provider.update(created.id, forged, inputs(remote, {"a.yaml": CONTENT})).outs
    assert updated is not None
    assert "b.yaml" in branch_files(remote) and list(updated["left"]) == ["b.yaml"]
    gone = {**created.outs, "commit": "f" * 40}
    provider.update(created.id, gone, inputs(remote, {}))
    assert "a.yaml" in branch_files(remote)


def test_what_fleet_wrote_is_read_back_from_its_commit_when_others_pushed_since(
    remote: Path, tmp_path: Path
) -> None:
    """The branch moved on (someone else's commit on top): fleet's own commit, fetched by its
    id, still says what fleet wrote, so what it no longer renders is deleted."""
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert created.outs is not None
    push_foreign(remote, tmp_path, {"theirs.yaml": "t\n"})
    assert tip(remote) != created.outs["commit"]
    updated = provider.update(created.id, created.outs, inputs(remote, {"a.yaml": CONTENT})).outs
    assert updated is not None and updated["left"] == {}
    assert branch_files(remote) == {"a.yaml", "theirs.yaml", RECORD_PATH}


def test_delete_keeps_what_pulumi_did_not_write(remote: Path, tmp_path: Path) -> None:
    provider = GitOpsBranchProvider(None)
    outs = provider.create(inputs(remote, {"a.yaml": CONTENT})).outs
    assert outs is not None
    push_foreign(remote, tmp_path, {"theirs.yaml": "t\n"}, claim=True)
    provider.delete("id", outs)
    assert branch_files(remote) == {"theirs.yaml"}


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
    assert tree_store.load(resource.inputs["tree"]) == {"a.yaml": CONTENT}
    assert CONTENT not in str(resource.inputs)
    assert set(resource.inputs) == {
        "url",
        "branch",
        "owner",
        "tree",
        "message",
        "holds",
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


# ---------------------------------------------------------------- held branches of a rollout


def ref(remote: Path, branch: str) -> str | None:
    proc = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


RINGS = ["rollout/dev/early", "rollout/dev/broad"]


def created(provider: GitOpsBranchProvider, props: dict[str, Any]) -> dict[str, Any]:
    outs = provider.create(props).outs
    assert outs is not None
    return outs


def updated(
    provider: GitOpsBranchProvider, olds: dict[str, Any], props: dict[str, Any]
) -> dict[str, Any]:
    outs = provider.update("id", olds, props).outs
    assert outs is not None
    return outs


def test_a_new_branch_creates_its_held_branches_at_its_first_commit(remote: Path) -> None:
    outs = created(GitOpsBranchProvider(None), inputs(remote, {"a.yaml": CONTENT}, holds=RINGS))
    assert outs["holds"] == RINGS
    assert ref(remote, RINGS[0]) == ref(remote, RINGS[1]) == tip(remote) == outs["commit"]


def test_held_branches_stay_where_they_are_when_the_branch_moves(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    first = created(provider, inputs(remote, {"a.yaml": CONTENT}, holds=RINGS))
    second = updated(provider, first, inputs(remote, {"a.yaml": "b: 2\n"}, holds=RINGS))
    assert second["commit"] != first["commit"] == ref(remote, RINGS[0]) == ref(remote, RINGS[1])


def test_turning_rings_on_holds_them_at_what_clusters_ran_before_the_update(
    remote: Path,
) -> None:
    provider = GitOpsBranchProvider(None)
    before = created(provider, inputs(remote, {"a.yaml": CONTENT}))
    assert provider.diff("id", before, inputs(remote, {"a.yaml": CONTENT}, holds=RINGS)).changes
    after = updated(provider, before, inputs(remote, {"a.yaml": "b: 2\n"}, holds=RINGS))
    assert after["commit"] == tip(remote) != before["commit"]
    assert ref(remote, RINGS[0]) == ref(remote, RINGS[1]) == before["commit"]


def test_the_rings_change_only_once_the_rollout_is_over(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    first = created(provider, inputs(remote, {"a.yaml": CONTENT}, holds=RINGS[:1]))
    second = updated(provider, first, inputs(remote, {"a.yaml": "b: 2\n"}, holds=RINGS[:1]))
    # Early still runs the first commit: a new ring now would move clusters ahead or back.
    with pytest.raises(GitWriterError, match="change while a rollout is under way"):
        updated(provider, second, inputs(remote, {"a.yaml": "c: 3\n"}, holds=RINGS))
    assert tip(remote) == second["commit"] and ref(remote, RINGS[1]) is None
    # `fleet rollout` moved early to the second commit: every cluster runs it, rings may change.
    git("--git-dir", str(remote), "update-ref", f"refs/heads/{RINGS[0]}", second["commit"])
    third = updated(provider, second, inputs(remote, {"a.yaml": "c: 3\n"}, holds=RINGS))
    assert ref(remote, RINGS[0]) == ref(remote, RINGS[1]) == second["commit"] != third["commit"]


def test_rings_turned_off_and_on_again_start_where_every_cluster_is(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    first = created(provider, inputs(remote, {"a.yaml": CONTENT}, holds=RINGS))
    off = updated(provider, first, inputs(remote, {"a.yaml": "b: 2\n"}))
    # Without rings every cluster ran the second commit; the refs left behind hold the first.
    assert ref(remote, RINGS[0]) == first["commit"] != off["commit"]
    on = updated(provider, off, inputs(remote, {"a.yaml": "c: 3\n"}, holds=RINGS))
    assert ref(remote, RINGS[0]) == ref(remote, RINGS[1]) == off["commit"] != on["commit"]


def test_an_existing_held_branch_is_never_moved_even_when_nothing_changed(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    outs = created(provider, inputs(remote, {"a.yaml": CONTENT}))
    held = updated(provider, outs, inputs(remote, {"a.yaml": CONTENT}, holds=RINGS))
    moved = updated(provider, held, inputs(remote, {"a.yaml": "b: 2\n"}, holds=RINGS))
    again = updated(provider, moved, inputs(remote, {"a.yaml": "b: 2\n"}, holds=RINGS))
    assert again["commit"] == moved["commit"] == tip(remote)
    assert ref(remote, RINGS[0]) == ref(remote, RINGS[1]) == outs["commit"] != tip(remote)


# ---------------------------------------------------------------- a state kept small, attacked


def protocol(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Git speaking only this protocol version, as a user's config or an old server would."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "protocol.version")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", version)


@pytest.mark.parametrize("version", ["2", "0"])
def test_a_forged_record_never_makes_fleet_overwrite_a_foreign_file(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """Someone's file, claimed in the record by whoever may push, is not fleet's to overwrite:
    fleet's own commit (fetched by id, or from the history where the server serves no commit
    by id) says what fleet wrote."""
    protocol(monkeypatch, version)
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert created.outs is not None
    push_foreign(remote, tmp_path, {"theirs.yaml": "theirs\n"}, claim=True)
    wanted = {"a.yaml": CONTENT, "theirs.yaml": "fleet's\n"}
    with pytest.raises(GitWriterError, match=r"theirs\.yaml"):
        provider.update(created.id, created.outs, inputs(remote, wanted))
    assert show(remote, "theirs.yaml") == "theirs"
    outs = provider.update(created.id, created.outs, inputs(remote, {"a.yaml": CONTENT})).outs
    assert outs is not None and "b.yaml" not in branch_files(remote)  # fleet's, deleted


def test_a_network_failure_reading_fleets_commit_is_an_error_not_a_commit_gone(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT, "b.yaml": "b\n"}))
    assert created.outs is not None
    push_foreign(remote, tmp_path, {"theirs.yaml": "t\n"})  # the branch moved on
    real = gitwriter._Git.run

    def unreachable(self: Any, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        if args[0] == "fetch" and args[-1].endswith(":refs/fleet/state"):
            said = b"fatal: unable to access 'https://h.example/r.git/': Couldn't connect\n"
            return subprocess.CompletedProcess(["git", *args], 128, b"", said)
        return real(self, *args, **kw)

    monkeypatch.setattr(gitwriter._Git, "run", unreachable)
    with pytest.raises(GitWriterError, match="cannot reach"):
        provider.update(created.id, created.outs, inputs(remote, {"a.yaml": CONTENT}))
    assert "b.yaml" in branch_files(remote)


def force_push_and_collect(remote: Path, tmp_path: Path) -> None:
    """Branch dev replaced by an unrelated commit, and the old history collected."""
    work = tmp_path / "reset"
    git("init", "--quiet", "-b", "dev", str(work))
    (work / "README.md").write_text("reset\n")
    git("add", "--all", cwd=work)
    git("-c", "user.name=h", "-c", "user.email=h@x", "commit", "-qm", "reset", cwd=work)
    git("push", "--quiet", "--force", str(remote), "dev", cwd=work)
    git("--git-dir", str(remote), "reflog", "expire", "--expire=now", "--all")
    git("--git-dir", str(remote), "gc", "--quiet", "--prune=now")


def test_when_fleets_commit_is_gone_a_refresh_shows_a_change_and_the_update_restores(
    remote: Path, tmp_path: Path
) -> None:
    """Fleet's commit collected after a force push: the refresh cannot say what changed, so it
    reports a change; the update then writes what fleet renders where nothing is in the way,
    owning nothing it cannot prove, and never touches the files it finds."""
    provider = GitOpsBranchProvider(None)
    desired = inputs(remote, {"a.yaml": CONTENT})
    created = provider.create(desired)
    assert created.outs is not None
    force_push_and_collect(remote, tmp_path)
    refreshed = provider.read(created.id, created.outs).outs
    assert refreshed is not None and refreshed["drift"] == {RECORD_PATH: ""}
    assert provider.diff(created.id, refreshed, desired).changes is True
    restored = provider.update(created.id, refreshed, desired).outs
    assert restored is not None and restored["drift"] == {} and restored["commit"] == tip(remote)
    assert branch_files(remote) == {"a.yaml", "README.md", RECORD_PATH}
    assert provider.diff(created.id, restored, desired).changes is False


def test_the_commit_kept_is_the_tip_the_write_was_worked_out_on(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to change: the state keeps the commit the writer found, never one pushed after
    it (whose record, claiming someone's file, would not match the digest)."""
    provider = GitOpsBranchProvider(None)
    desired = inputs(remote, {"a.yaml": CONTENT})
    created = provider.create(desired)
    assert created.outs is not None
    fleets = tip(remote)
    real = gitwriter._write

    def then_someone_pushes(*args: Any, **kw: Any) -> Any:
        found = real(*args, **kw)
        push_foreign(remote, tmp_path, {"theirs.yaml": "theirs\n"}, claim=True)
        return found

    monkeypatch.setattr(gitwriter, "_write", then_someone_pushes)
    outs = provider.update(created.id, created.outs, desired).outs
    monkeypatch.setattr(gitwriter, "_write", real)
    assert outs is not None and outs["commit"] == fleets != tip(remote)
    with pytest.raises(GitWriterError, match=r"theirs\.yaml"):
        provider.update(
            created.id, outs, inputs(remote, {**{"a.yaml": CONTENT}, "theirs.yaml": "f\n"})
        )
    assert show(remote, "theirs.yaml") == "theirs"


def test_a_files_only_state_overwrites_an_edit_a_refresh_saw_as_before(
    remote: Path, tmp_path: Path
) -> None:
    provider = GitOpsBranchProvider(None)
    created = provider.create(inputs(remote, {"a.yaml": CONTENT}))
    assert created.outs is not None
    old = {k: v for k, v in created.outs.items() if k not in ("tree", "drift", "left")}
    old["files"] = {"a.yaml": content_hash(CONTENT)}
    hand_edit(remote, tmp_path, "a.yaml", "by hand\n")
    refreshed = provider.read(created.id, old).outs
    assert refreshed is not None and refreshed["files"]["a.yaml"] == content_hash("by hand\n")
    provider.update(created.id, refreshed, inputs(remote, {"a.yaml": CONTENT}))
    assert show(remote, "a.yaml") == CONTENT.rstrip("\n")
    assert "Overwrote hand edits that a refresh had shown: a.yaml" in last_message(remote)


def test_an_empty_tree_on_no_branch_is_known_and_refreshes_clean(remote: Path) -> None:
    provider = GitOpsBranchProvider(None)
    desired = inputs(remote, {})
    created = provider.create(desired)
    assert created.outs is not None and created.outs["commit"] == ""
    refreshed = provider.read(created.id, created.outs).outs
    assert refreshed is not None and refreshed["drift"] == {}
    assert provider.diff(created.id, refreshed, desired).changes is False
