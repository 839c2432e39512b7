"""The git writer against real git repositories in a temporary folder."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from components import gitwriter
from components.gitwriter import (
    MAX_ATTEMPTS,
    RECORD_PATH,
    BranchTarget,
    ChangeSet,
    GitWriterError,
    InvalidPathError,
    OwnershipConflict,
    PulumiState,
    Timings,
    apply,
    branch_tips,
    fast_forward,
    remove_all,
    strip_credentials,
)

OWNER = "fleet/dev"
PROJECT = Path(__file__).resolve().parents[2]


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries in these tests do not sleep."""
    monkeypatch.setattr(gitwriter, "TIMINGS", Timings(sleep=lambda _seconds: None))


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(path))
    return path


def target(remote: Path | str, branch: str = "main", **kwargs: Any) -> BranchTarget:
    return BranchTarget(url=str(remote), branch=branch, owner=kwargs.pop("owner", OWNER), **kwargs)


def push_files(remote: Path, branch: str, files: Mapping[str, str | None], tmp: Path) -> str:
    """A foreign commit made in a separate clone, as a person or another tool would."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    git("init", "--quiet", cwd=work)
    if git("ls-remote", str(remote), f"refs/heads/{branch}"):
        git("fetch", "--quiet", str(remote), branch, cwd=work)
        git("checkout", "--quiet", "FETCH_HEAD", cwd=work)
    for path, content in files.items():
        file = work / path
        if content is None:
            file.unlink()
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(content.encode())
    git("add", "--all", cwd=work)
    git("-c", "user.name=someone", "-c", "user.email=s@x", "commit", "-qm", "by hand", cwd=work)
    git("push", "--quiet", str(remote), f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def tip(remote: Path, branch: str = "main") -> str:
    return git("--git-dir", str(remote), "rev-parse", f"refs/heads/{branch}")


def count(remote: Path, branch: str = "main") -> int:
    return int(git("--git-dir", str(remote), "rev-list", "--count", f"refs/heads/{branch}"))


def tree(remote: Path, branch: str = "main") -> dict[str, str]:
    """path -> 'mode oid' on the branch, to compare files byte for byte."""
    out = git("--git-dir", str(remote), "ls-tree", "-r", f"refs/heads/{branch}")
    return {
        line.split("\t")[1]: " ".join(line.split("\t")[0].split()[::2]) for line in out.splitlines()
    }


def show(remote: Path, path: str, branch: str = "main") -> str:
    return git("--git-dir", str(remote), "show", f"refs/heads/{branch}:{path}")


def record(remote: Path, branch: str = "main") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(show(remote, RECORD_PATH, branch))
    return data


def message_of(remote: Path, branch: str = "main") -> str:
    return git("--git-dir", str(remote), "log", "-1", "--format=%B", branch)


def parents(remote: Path, commit: str) -> list[str]:
    return git("--git-dir", str(remote), "rev-list", "--parents", "-n1", commit).split()[1:]


# --- first commit ---------------------------------------------------------------------------


def test_first_apply_creates_the_branch_on_an_empty_remote(remote: Path) -> None:
    files = {"infra/base/nginx.yaml": "kind: HelmRelease\n", "clusters/a/infra.yaml": "a: 1\n"}
    commit, changes = apply(target(remote), files, "fleet: render main")
    assert commit == tip(remote)
    assert changes == ChangeSet(added=tuple(sorted(files)), changed=(), removed=())
    assert count(remote) == 1
    assert set(tree(remote)) == {*files, RECORD_PATH}
    assert show(remote, "infra/base/nginx.yaml") == "kind: HelmRelease"
    raw = git("--git-dir", str(remote), "cat-file", "blob", f"main:{RECORD_PATH}")
    expected = {"owner": OWNER, "files": {p: sha(c) for p, c in files.items()}}
    assert raw == json.dumps(expected, indent=2, sort_keys=True)
    log = git("--git-dir", str(remote), "log", "-1", "--format=%an <%ae>|%cn|%s", "main")
    assert log == "fleet <fleet@localhost>|fleet|fleet: render main"


def test_record_bytes_end_with_a_newline(remote: Path) -> None:
    apply(target(remote), {"a": "1"}, "m")
    out = subprocess.run(
        ["git", "--git-dir", str(remote), "cat-file", "blob", f"main:{RECORD_PATH}"],
        check=True,
        capture_output=True,
    ).stdout
    assert out.endswith(b"}\n")


def test_a_new_branch_starts_a_history_of_its_own(remote: Path, tmp_path: Path) -> None:
    """An environment branch inherits nothing of main: main's files would sit on it unowned,
    and the writer refuses to write where files it does not own are."""
    main_tip = push_files(remote, "main", {"README.md": "hello\n"}, tmp_path)
    apply(target(remote, "main", owner="fleet/main"), {"infra/x.yaml": "x\n"}, "m")
    commit, _ = apply(target(remote, "dev"), {"infra/x.yaml": "y\n", "a.yaml": "a\n"}, "m")
    assert commit is not None
    assert parents(remote, commit) == []
    assert set(tree(remote, "dev")) == {"infra/x.yaml", "a.yaml", RECORD_PATH}
    assert record(remote, "dev") == {
        "owner": OWNER,
        "files": {"a.yaml": sha("a\n"), "infra/x.yaml": sha("y\n")},
    }
    assert show(remote, "infra/x.yaml", "main") == "x"
    assert parents(remote, tip(remote, "main")) == [main_tip]


def test_a_branch_carrying_another_stacks_files_is_refused(remote: Path) -> None:
    """A branch made from main by hand (or by an earlier version) carries main's record: the
    writer names the stack that owns it rather than write over it."""
    apply(target(remote, "main", owner="fleet/main"), {"infra/x.yaml": "x\n"}, "m")
    git("--git-dir", str(remote), "branch", "dev", "main")
    with pytest.raises(GitWriterError, match="owned by stack 'fleet/main'"):
        apply(target(remote, "dev"), {"infra/x.yaml": "y\n"}, "m")


def test_nothing_to_write_on_a_missing_branch_creates_nothing(remote: Path) -> None:
    assert apply(target(remote), {}, "m") == (None, ChangeSet((), (), ()))
    assert git("--git-dir", str(remote), "for-each-ref") == ""


# --- updates -------------------------------------------------------------------------------


def test_update_changes_and_adds_files_in_one_commit(remote: Path) -> None:
    apply(target(remote), {"a": "1\n", "b": "2\n"}, "first")
    first = tip(remote)
    commit, changes = apply(target(remote), {"a": "1\n", "b": "22\n", "c": "3\n"}, "second")
    assert changes == ChangeSet(added=("c",), changed=("b",), removed=(), base=first)
    assert commit == tip(remote)
    assert count(remote) == 2
    assert show(remote, "b") == "22"
    assert record(remote)["files"] == {"a": sha("1\n"), "b": sha("22\n"), "c": sha("3\n")}


def test_file_no_longer_rendered_is_removed(remote: Path) -> None:
    apply(target(remote), {"a": "1\n", "dir/b": "2\n"}, "first")
    _, changes = apply(target(remote), {"a": "1\n"}, "second")
    assert changes.removed == ("dir/b",)
    assert set(tree(remote)) == {"a", RECORD_PATH}
    assert record(remote)["files"] == {"a": sha("1\n")}


def test_foreign_files_are_kept_byte_for_byte(remote: Path, tmp_path: Path) -> None:
    foreign = {"notes/crlf.txt": "one\r\ntwo", "infra/base/hand.yaml": "  spaced: true  \n\n"}
    push_files(remote, "main", foreign, tmp_path)
    before = tree(remote)
    apply(target(remote), {"infra/base/ours.yaml": "v1\n", "other.yaml": "o\n"}, "first")
    apply(target(remote), {"infra/base/ours.yaml": "v2\n"}, "second")
    after = tree(remote)
    assert {p: after[p] for p in before} == before
    assert set(after) == {*foreign, "infra/base/ours.yaml", RECORD_PATH}


def test_no_change_makes_no_commit(remote: Path) -> None:
    files = {"a": "1\n", "b/c": "2\n"}
    apply(target(remote), files, "first")
    before = tip(remote)
    assert apply(target(remote), dict(reversed(files.items())), "again") == (
        None,
        ChangeSet((), (), (), base=before),  # the commit that holds exactly these files
    )
    assert tip(remote) == before


def test_each_apply_is_exactly_one_commit(remote: Path) -> None:
    many = {f"apps/app{i}/deploy.yaml": f"replicas: {i}\n" for i in range(40)}
    apply(target(remote), many, "first")
    assert count(remote) == 1
    apply(target(remote), {p: c + "# v2\n" for p, c in list(many.items())[:30]}, "second")
    assert count(remote) == 2
    assert len(tree(remote)) == 31


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_push_is_retried_on_the_new_tip(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(target(remote), {"ours.yaml": "v1\n"}, "first")
    original = gitwriter._Git.push
    pushed: list[str] = []
    foreign: list[str] = []

    def racing_push(self: gitwriter._Git, commit: str) -> bool:
        pushed.append(commit)
        if len(pushed) == 1:
            foreign.append(push_files(remote, "main", {"theirs.yaml": "t\n"}, tmp_path))
        return original(self, commit)

    monkeypatch.setattr(gitwriter._Git, "push", racing_push)
    commit, _ = apply(target(remote), {"ours.yaml": "v2\n"}, "second")
    assert len(pushed) == 2
    assert commit == pushed[1] == tip(remote)
    assert parents(remote, commit) == foreign
    assert show(remote, "theirs.yaml") == "t"
    assert show(remote, "ours.yaml") == "v2"
    assert count(remote) == 3


def test_race_inside_the_remote_is_retried(remote: Path, tmp_path: Path) -> None:
    apply(target(remote), {"ours.yaml": "v1\n"}, "first")
    git("--git-dir", str(remote), "update-ref", "refs/heads/side", "refs/heads/main")
    theirs = push_files(remote, "side", {"theirs.yaml": "t\n"}, tmp_path)
    hook = remote / "hooks" / "pre-receive"
    # On the first push only, someone else's commit lands while the remote holds ours (git
    # forbids ref updates from a hook's quarantine, so the hook steps out of it).
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e {tmp_path}/raced ] && exit 0\n"
        f"touch {tmp_path}/raced\n"
        f"env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main {theirs}\n"
    )
    hook.chmod(0o755)
    commit, _ = apply(target(remote), {"ours.yaml": "v2\n"}, "second")
    assert (tmp_path / "raced").exists()
    assert commit is not None
    assert parents(remote, commit) == [theirs]
    assert show(remote, "theirs.yaml") == "t"
    assert show(remote, "ours.yaml") == "v2"


def test_gives_up_when_the_branch_keeps_moving(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(target(remote), {"ours.yaml": "v1\n"}, "first")
    original = gitwriter._Git.push
    attempts: list[str] = []

    def always_racing(self: gitwriter._Git, commit: str) -> bool:
        attempts.append(commit)
        push_files(remote, "main", {f"theirs{len(attempts)}": "t\n"}, tmp_path)
        return original(self, commit)

    monkeypatch.setattr(gitwriter._Git, "push", always_racing)
    with pytest.raises(GitWriterError, match=f"gave up after {MAX_ATTEMPTS} attempts"):
        apply(target(remote), {"ours.yaml": "v2\n"}, "second")
    assert len(attempts) == MAX_ATTEMPTS
    assert show(remote, "ours.yaml") == "v1"


def test_race_that_hand_edits_an_owned_file_stops_the_retry(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(target(remote), {"ours.yaml": "v1\n"}, "first")
    original = gitwriter._Git.push

    def racing_push(self: gitwriter._Git, commit: str) -> bool:
        push_files(remote, "main", {"ours.yaml": "edited\n"}, tmp_path)
        return original(self, commit)

    monkeypatch.setattr(gitwriter._Git, "push", racing_push)
    with pytest.raises(OwnershipConflict):
        apply(target(remote), {"ours.yaml": "v2\n"}, "second")
    assert show(remote, "ours.yaml") == "edited"


# --- ownership -----------------------------------------------------------------------------


def test_hand_edit_of_an_owned_file_is_a_conflict(remote: Path, tmp_path: Path) -> None:
    apply(target(remote), {"a": "1\n", "b": "2\n"}, "first")
    edited = push_files(remote, "main", {"a": "hand edit\n"}, tmp_path)
    with pytest.raises(OwnershipConflict) as caught:
        apply(target(remote), {"a": "1\n", "b": "3\n"}, "second")
    assert caught.value.paths == ("a",)
    assert "'a'" in str(caught.value) and "'main'" in str(caught.value)
    assert tip(remote) == edited
    assert show(remote, "a") == "hand edit"


def test_owned_file_deleted_by_someone_else_is_a_conflict(remote: Path, tmp_path: Path) -> None:
    apply(target(remote), {"a": "1\n", "b": "2\n"}, "first")
    deleted = push_files(remote, "main", {"b": None}, tmp_path)
    with pytest.raises(OwnershipConflict) as caught:
        apply(target(remote), {"a": "1\n", "b": "2\n"}, "second")
    assert caught.value.paths == ("b",)
    assert tip(remote) == deleted


def test_refuses_to_overwrite_a_foreign_file(remote: Path, tmp_path: Path) -> None:
    apply(target(remote), {"a": "1\n"}, "first")
    theirs = push_files(remote, "main", {"theirs.yaml": "t\n"}, tmp_path)
    with pytest.raises(GitWriterError, match=r"theirs\.yaml") as caught:
        apply(target(remote), {"a": "1\n", "theirs.yaml": "ours\n"}, "second")
    assert not isinstance(caught.value, OwnershipConflict)
    assert "does not own" in str(caught.value)
    assert tip(remote) == theirs


def test_refuses_a_file_where_a_folder_is(remote: Path, tmp_path: Path) -> None:
    push_files(remote, "main", {"infra/x.yaml": "x\n"}, tmp_path)
    before = tip(remote)
    with pytest.raises(GitWriterError, match="both a file and a folder"):
        apply(target(remote), {"infra": "oops\n"}, "m")
    assert tip(remote) == before


def test_branch_of_another_stack_is_refused(remote: Path) -> None:
    apply(target(remote, owner="fleet/qa"), {"a": "1\n"}, "first")
    before = tip(remote)
    with pytest.raises(GitWriterError, match="owned by stack 'fleet/qa'"):
        apply(target(remote), {"a": "1\n"}, "second")
    assert tip(remote) == before


def test_corrupt_record_is_refused(remote: Path, tmp_path: Path) -> None:
    apply(target(remote), {"a": "1\n"}, "first")
    push_files(remote, "main", {RECORD_PATH: "{not json"}, tmp_path)
    with pytest.raises(GitWriterError, match="not a valid ownership record"):
        apply(target(remote), {"a": "2\n"}, "second")


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../x",
        "a/../b",
        "./a",
        ".git/config",
        "sub/.GIT/x",
        "a//b",
        "a/",
        "",
        RECORD_PATH,
    ],
)
def test_unsafe_paths_are_rejected(remote: Path, path: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        apply(target(remote), {path: "x", "fine.yaml": "y"}, "m")
    assert isinstance(caught.value, ValueError)
    assert repr(path) in str(caught.value)
    assert git("--git-dir", str(remote), "for-each-ref") == ""


# --- failures ------------------------------------------------------------------------------


def test_unreachable_remote_names_url_and_branch(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.git"
    with pytest.raises(GitWriterError) as caught:
        apply(target(missing, "dev"), {"a": "1"}, "m")
    message = str(caught.value)
    assert f"branch 'dev' of {missing}" in message
    assert "cannot reach the git remote" in message
    assert "Check that the URL is right" in message


def test_push_refused_by_a_hook_reports_its_reason(remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy: fleet may not push here' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitWriterError) as caught:
        apply(target(remote), {"a": "1"}, "m")
    assert "policy: fleet may not push here" in str(caught.value)
    assert "pre-receive hook declined" in str(caught.value)
    assert git("--git-dir", str(remote), "for-each-ref") == ""


def test_credentials_in_the_url_never_reach_the_message() -> None:
    url = "https://x-access-token:SECRET123@127.0.0.1:9/repo.git"
    with pytest.raises(GitWriterError) as caught:
        apply(BranchTarget(url=url, branch="dev", owner=OWNER), {"a": "1"}, "m")
    assert "SECRET123" not in str(caught.value)
    assert "https://127.0.0.1:9/repo.git" in str(caught.value)


def test_token_never_reaches_the_message(tmp_path: Path) -> None:
    missing = tmp_path / "tok-SECRET456" / "repo.git"
    with pytest.raises(GitWriterError) as caught:
        apply(target(missing, token="tok-SECRET456"), {"a": "1"}, "m")
    assert "SECRET456" not in str(caught.value)
    assert "***" in str(caught.value)


def test_token_reaches_git_through_the_environment_only(
    remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv: list[str] = []
    original = subprocess.Popen

    def recording_popen(args: list[str], **kwargs: Any) -> Any:
        argv.extend(args)
        return original(args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    commit, _ = apply(target(remote, token="TOKEN789"), {"a": "1"}, "m")
    assert commit is not None
    assert "push" in argv
    assert not any("TOKEN789" in arg for arg in argv)


def test_token_is_what_the_credential_helper_answers(tmp_path: Path) -> None:
    session = gitwriter._Git(target("https://git.example/org/repo.git", token="TOKEN789"), tmp_path)
    session.start()
    proc = session.run("credential", "fill", stdin=b"protocol=https\nhost=git.example\n\n")
    answer = proc.stdout.decode().splitlines()
    assert "username=x-access-token" in answer
    assert "password=TOKEN789" in answer


def test_strip_credentials() -> None:
    assert strip_credentials("https://u:p@h.example/o/r.git") == "https://h.example/o/r.git"
    assert strip_credentials("git@h.example:o/r.git") == "git@h.example:o/r.git"
    assert strip_credentials("/srv/git/r.git") == "/srv/git/r.git"


# --- removal ------------------------------------------------------------------------------------


def test_remove_all_keeps_foreign_files_and_the_branch(remote: Path, tmp_path: Path) -> None:
    push_files(remote, "main", {"README.md": "hi\r\n"}, tmp_path)
    before = tree(remote)
    apply(target(remote), {"a": "1\n", "b/c": "2\n"}, "first")
    commits = count(remote)
    commit = remove_all(target(remote), "fleet: remove")
    assert commit == tip(remote)
    assert count(remote) == commits + 1
    assert tree(remote) == before
    assert remove_all(target(remote), "fleet: remove") is None
    assert tip(remote) == commit


def test_remove_all_tolerates_deleted_files_and_leaves_edited_ones(
    remote: Path, tmp_path: Path
) -> None:
    """An edited file is someone's work: it stays, and the commit says so."""
    apply(target(remote), {"a": "1\n", "b": "2\n", "c": "3\n"}, "first")
    push_files(remote, "main", {"a": None}, tmp_path)
    push_files(remote, "main", {"b": "edited\n"}, tmp_path)
    commit = remove_all(target(remote), "fleet: remove")
    assert commit == tip(remote)
    assert set(tree(remote)) == {"b"}
    assert show(remote, "b") == "edited"
    assert "- b: changed on the branch since fleet wrote it" in message_of(remote)


def test_remove_all_of_a_missing_branch_does_nothing(remote: Path) -> None:
    assert remove_all(target(remote, "dev"), "m") is None
    assert git("--git-dir", str(remote), "for-each-ref") == ""


def test_works_with_file_urls(remote: Path) -> None:
    commit, _ = apply(target(f"file://{remote}"), {"a": "1\n"}, "m")
    assert commit == tip(remote)


# --- file names that are not UTF-8 ------------------------------------------------------------

LATIN1_NAME = b"notes/caf\xe9.txt"
"""A name git stores as bytes, as a tool on a Latin-1 system would commit it."""


def push_bytes_named(remote: Path, branch: str, name: bytes, tmp: Path) -> str:
    """A foreign commit adding a file whose name is not valid UTF-8."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    git("init", "--quiet", cwd=work)
    if git("ls-remote", str(remote), f"refs/heads/{branch}"):
        git("fetch", "--quiet", str(remote), branch, cwd=work)
        git("checkout", "--quiet", "FETCH_HEAD", cwd=work)
    folder = work / name.rsplit(b"/", 1)[0].decode()
    folder.mkdir(parents=True, exist_ok=True)
    with open(bytes(work) + b"/" + name, "wb") as file:
        file.write(b"latin-1 bytes\n")
    git("add", "--all", cwd=work)
    git("-c", "user.name=someone", "-c", "user.email=s@x", "commit", "-qm", "by hand", cwd=work)
    git("push", "--quiet", str(remote), f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def raw_names(remote: Path, branch: str = "main") -> set[bytes]:
    out = subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "-r", "-z", "--name-only", branch],
        check=True,
        capture_output=True,
    ).stdout
    return set(filter(None, out.split(b"\0")))


def test_file_names_that_are_not_utf8_are_kept(remote: Path, tmp_path: Path) -> None:
    """Someone else's file named in Latin-1 neither stops the writer nor is deleted."""
    push_bytes_named(remote, "main", LATIN1_NAME, tmp_path)
    commit, changes = apply(target(remote), {"a.yaml": "1\n", "notes/b.txt": "2\n"}, "first")
    assert commit == tip(remote)
    assert changes.added == ("a.yaml", "notes/b.txt")
    assert raw_names(remote) == {LATIN1_NAME, b"a.yaml", b"notes/b.txt", RECORD_PATH.encode()}
    apply(target(remote), {"a.yaml": "2\n"}, "second")
    assert raw_names(remote) == {LATIN1_NAME, b"a.yaml", RECORD_PATH.encode()}
    assert remove_all(target(remote), "fleet: remove") is not None
    assert raw_names(remote) == {LATIN1_NAME}


def test_a_rendered_path_that_is_not_text_is_refused(remote: Path) -> None:
    """A name only reachable through surrogate escapes is not one the writer may render."""
    with pytest.raises(InvalidPathError):
        apply(target(remote), {LATIN1_NAME.decode(errors="surrogateescape"): "x"}, "m")


# --- scratch folders -----------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary folder, as the writer sees it, for this test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def sessions(folder: Path) -> list[Path]:
    """The writer's scratch folders (each a private repository) anywhere under `folder`."""
    return sorted(p for p in folder.rglob("fleet-git-*") if p.is_dir())


KILLED_WRITE = """
import os, signal, sys
from components import gitwriter

def killed(self, commit):
    os.kill(os.getpid(), signal.SIGKILL)

gitwriter._Git.push = killed
target = gitwriter.BranchTarget(url=sys.argv[1], branch="main", owner="fleet/dev")
gitwriter.apply(target, {"a.yaml": "1\\n"}, "m")
"""


def test_a_killed_write_leaves_nothing_once_the_next_one_runs(remote: Path, scratch: Path) -> None:
    """SIGKILL runs no clean-up: the folder it leaves is swept by the next write."""
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(remote)],
        env={**os.environ, "TMPDIR": str(scratch)},
        cwd=PROJECT,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert len(sessions(scratch)) == 1
    commit, _ = apply(target(remote), {"a.yaml": "1\n"}, "m")
    assert commit == tip(remote)
    assert sessions(scratch) == []


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_write_leaves_no_scratch_folder(
    remote: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch, interruption: type[BaseException]
) -> None:
    def interrupted(self: gitwriter._Git, *args: object) -> None:
        assert sessions(scratch) == [self.root]
        raise interruption("stopped midway")

    monkeypatch.setattr(gitwriter._Git, "commit", interrupted)
    with pytest.raises(interruption):
        apply(target(remote), {"a.yaml": "1\n"}, "m")
    assert sessions(scratch) == []
    assert git("--git-dir", str(remote), "for-each-ref") == ""


def test_the_sweep_leaves_a_running_write_alone(remote: Path, scratch: Path) -> None:
    """Another writer's folder is in use while its process holds the lock in it."""
    with gitwriter._session(target(remote)) as running:
        apply(target(remote), {"a.yaml": "1\n"}, "m")
        assert sessions(scratch) == [running.root]
    assert sessions(scratch) == []


def test_folders_left_by_earlier_versions_are_swept_after_a_day(
    remote: Path, scratch: Path
) -> None:
    """Earlier versions left their folders straight in the temporary folder."""
    old, recent = scratch / "fleet-git-old1", scratch / "fleet-git-new1"
    for folder in (old, recent):
        (folder / "repo.git").mkdir(parents=True)
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    apply(target(remote), {"a.yaml": "1\n"}, "m")
    assert sessions(scratch) == [recent]


# --- bounded waits and retries ----------------------------------------------------------------


def no_sleep(pauses: list[float], **kwargs: Any) -> Timings:
    """Timings whose pauses between attempts are recorded instead of slept."""
    return Timings(sleep=pauses.append, **kwargs)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port on this machine that accepts connections and never answers (the kernel completes
    the handshake for the listening socket's backlog)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def test_an_http_remote_that_stops_answering_is_retried_then_named(tmp_path: Path) -> None:
    """git's low-speed limit ends a stalled transfer; the writer backs off and tries again,
    then names the remote, without its credentials, and says what to do."""
    pauses: list[float] = []
    timings = no_sleep(pauses, network_timeout=30, stall_time=1, attempts=3, backoff=0.5)
    with silent_server() as port:
        url = f"http://x-access-token:SECRET77@127.0.0.1:{port}/org/repo.git"
        started = time.monotonic()
        with pytest.raises(GitWriterError) as caught:
            apply(
                BranchTarget(url=url, branch="dev", owner=OWNER), {"a": "1"}, "m", timings=timings
            )
        elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "SECRET77" not in message
    assert f"branch 'dev' of http://127.0.0.1:{port}/org/repo.git" in message
    assert "too slow" in message.lower()
    assert "gave up after 3 attempts" in message
    assert "run the update again" in message
    assert pauses == [0.5, 1.0]
    assert elapsed < 20


FAKE_SSH = """#!/bin/sh
echo "$@" > "{argv}"
echo $$ > "{pid}"
exec sleep 30
"""


def test_a_hung_ssh_is_stopped_at_the_timeout_with_its_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound holds even when a helper git started (here ssh) hangs: the whole process group
    goes, and a timeout is reported at once rather than retried."""
    ssh = tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    argv, pid = tmp_path / "argv", tmp_path / "pid"
    ssh.write_text(FAKE_SSH.format(argv=argv, pid=pid))
    ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(ssh))
    pauses: list[float] = []
    timings = no_sleep(pauses, network_timeout=1, connect_timeout=7)
    url = "ssh://git@fleet.example/org/repo.git"
    started = time.monotonic()
    with pytest.raises(GitWriterError) as caught:
        apply(target(url, "dev"), {"a": "1"}, "m", timings=timings)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "branch 'dev' of ssh://fleet.example/org/repo.git" in message
    assert "no answer within 1s" in message
    assert "FLEET_GIT_TIMEOUT" in message
    assert pauses == []
    options = argv.read_text()
    assert "-o ConnectTimeout=7" in options and "-o BatchMode=yes" in options
    deadline = time.monotonic() + 5
    while alive(int(pid.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(pid.read_text()))


def test_pushes_racing_a_moving_branch_back_off(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(target(remote), {"ours.yaml": "v1\n"}, "first")
    original = gitwriter._Git.push
    racing = {"left": 3}

    def racing_push(self: gitwriter._Git, commit: str) -> bool:
        if racing["left"]:
            racing["left"] -= 1
            push_files(remote, "main", {f"theirs{racing['left']}": "t\n"}, tmp_path)
        return original(self, commit)

    monkeypatch.setattr(gitwriter._Git, "push", racing_push)
    pauses: list[float] = []
    timings = no_sleep(pauses, backoff=1.0, backoff_cap=3.0, attempts=5)
    commit, _ = apply(target(remote), {"ours.yaml": "v2\n"}, "second", timings=timings)
    assert commit == tip(remote)
    assert pauses == [1.0, 2.0, 3.0]


def test_a_remote_that_is_not_there_is_not_retried(tmp_path: Path) -> None:
    pauses: list[float] = []
    with pytest.raises(GitWriterError, match="cannot reach the git remote"):
        apply(target(tmp_path / "nowhere.git"), {"a": "1"}, "m", timings=no_sleep(pauses))
    assert pauses == []


def test_ssh_gets_bounded_options_without_losing_the_users_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ssh_command(**env: str) -> str | None:
        for name in ("GIT_SSH_COMMAND", "GIT_SSH", "GIT_SSH_VARIANT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        session = gitwriter._Git(target("git@h.example:o/r.git"), tmp_path, Timings())
        session.start()
        return session._env.get("GIT_SSH_COMMAND")

    config = tmp_path / "gitconfig"
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    bounded = "-o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
    assert ssh_command() == f"ssh {bounded} -o BatchMode=yes"
    assert ssh_command(GIT_SSH_COMMAND="ssh -i /k/id") == f"ssh -i /k/id {bounded} -o BatchMode=yes"
    assert str(ssh_command(GIT_SSH="/opt/my ssh/ssh")).startswith("'/opt/my ssh/ssh' -o Connect")
    assert ssh_command(GIT_SSH_COMMAND="plink -batch") == "plink -batch"
    assert ssh_command(GIT_SSH="/usr/bin/plink") is None
    assert ssh_command(GIT_SSH_COMMAND="wrapper", GIT_SSH_VARIANT="ssh") == (
        f"wrapper {bounded} -o BatchMode=yes"
    )
    config.write_text("[core]\n\tsshCommand = ssh -F /k/config\n")
    assert ssh_command() == f"ssh -F /k/config {bounded} -o BatchMode=yes"


def test_http_stalls_are_bounded_unless_the_user_set_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GIT_HTTP_LOW_SPEED_LIMIT", raising=False)
    monkeypatch.setenv("GIT_HTTP_LOW_SPEED_TIME", "120")
    env = gitwriter._Git(target("https://h.example/r.git"), tmp_path, Timings())._env
    assert env["GIT_HTTP_LOW_SPEED_LIMIT"] == "1000"
    assert env["GIT_HTTP_LOW_SPEED_TIME"] == "120"


def test_the_network_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_GIT_TIMEOUT", "45")
    assert gitwriter._default_timings().network_timeout == 45
    monkeypatch.setenv("FLEET_GIT_TIMEOUT", "soon")
    with pytest.raises(GitWriterError, match="FLEET_GIT_TIMEOUT"):
        gitwriter._default_timings()


# --- ownership checked against Pulumi's state ------------------------------------------------


def written(files: Mapping[str, str], seen: Mapping[str, str] | None = None) -> PulumiState:
    """The state of a resource that wrote `files` (and, with `seen`, was refreshed since)."""
    return PulumiState(written={p: sha(c) for p, c in files.items()}, seen=seen)


def claim(remote: Path, tmp_path: Path, files: Mapping[str, str | None]) -> None:
    """Edit the ownership record on the branch, as anyone who may push can: list a path with
    a hash, or (None) drop it."""
    data = record(remote)
    for path, content in files.items():
        if content is None:
            del data["files"][path]
        else:
            data["files"][path] = sha(content)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    push_files(remote, "main", {RECORD_PATH: text}, tmp_path)


def test_a_file_the_record_claims_but_pulumi_never_wrote_is_kept(
    remote: Path, tmp_path: Path
) -> None:
    first = {"a.yaml": "1\n"}
    apply(target(remote), first, "first")
    push_files(remote, "main", {"theirs.yaml": "t\n"}, tmp_path)
    claim(remote, tmp_path, {"theirs.yaml": "t\n"})
    commit, changes = apply(target(remote), {"a.yaml": "2\n"}, "second", state=written(first))
    assert commit == tip(remote)
    assert show(remote, "theirs.yaml") == "t"
    assert changes.removed == ()
    assert changes.left == {
        "theirs.yaml": f"{RECORD_PATH} lists it, but Pulumi's state does not say fleet wrote it"
    }
    assert record(remote)["files"] == {"a.yaml": sha("2\n")}
    assert "- theirs.yaml: " in message_of(remote)


def test_without_written_hashes_nothing_is_deleted(remote: Path, tmp_path: Path) -> None:
    """A state that does not say what fleet wrote (a new resource, or an earlier version's):
    the files fleet no longer renders stay, reported, and the write goes on."""
    apply(target(remote), {"a.yaml": "1\n", "b.yaml": "2\n"}, "first")
    commit, changes = apply(
        target(remote), {"a.yaml": "1\n"}, "second", state=PulumiState(written=None)
    )
    assert commit == tip(remote)
    assert show(remote, "b.yaml") == "2"
    assert list(changes.left) == ["b.yaml"] and changes.removed == ()
    assert record(remote)["files"] == {"a.yaml": sha("1\n")}


def test_an_edited_file_no_longer_rendered_is_left_not_deleted(
    remote: Path, tmp_path: Path
) -> None:
    first = {"a.yaml": "1\n", "b.yaml": "2\n"}
    apply(target(remote), first, "first")
    push_files(remote, "main", {"b.yaml": "mine now\n"}, tmp_path)
    _, changes = apply(target(remote), {"a.yaml": "1\n"}, "second", state=written(first))
    assert show(remote, "b.yaml") == "mine now"
    assert changes.left == {"b.yaml": "changed on the branch since fleet wrote it"}


def test_a_file_pulumi_wrote_goes_even_when_the_record_forgot_it(
    remote: Path, tmp_path: Path
) -> None:
    first = {"a.yaml": "1\n", "b.yaml": "2\n"}
    apply(target(remote), first, "first")
    claim(remote, tmp_path, {"b.yaml": None})
    _, changes = apply(target(remote), {"a.yaml": "1\n"}, "second", state=written(first))
    assert changes.removed == ("b.yaml",)
    assert set(tree(remote)) == {"a.yaml", RECORD_PATH}


def test_remove_all_deletes_only_what_pulumi_wrote(remote: Path, tmp_path: Path) -> None:
    first = {"a.yaml": "1\n"}
    apply(target(remote), first, "first")
    push_files(remote, "main", {"theirs.yaml": "t\n"}, tmp_path)
    claim(remote, tmp_path, {"theirs.yaml": "t\n"})
    assert remove_all(target(remote), "fleet: remove", state=written(first)) == tip(remote)
    assert set(tree(remote)) == {"theirs.yaml"}


def test_a_claimed_file_is_taken_only_where_it_holds_what_fleet_writes(
    remote: Path, tmp_path: Path
) -> None:
    """The record lists a file the state does not (its update was pushed, then Pulumi died
    before it saved the state): the same content is taken over, other content is refused."""
    first = {"a.yaml": "1\n"}
    apply(target(remote), {**first, "b.yaml": "2\n"}, "first")
    with pytest.raises(GitWriterError, match=r"'b\.yaml'.*Pulumi's state does not say"):
        apply(target(remote), {**first, "b.yaml": "3\n"}, "second", state=written(first))
    commit, changes = apply(
        target(remote), {**first, "b.yaml": "2\n"}, "again", state=written(first)
    )
    assert commit is None and changes.empty


def test_a_hand_edit_a_refresh_saw_is_overwritten(remote: Path, tmp_path: Path) -> None:
    first = {"a.yaml": "1\n", "b.yaml": "2\n"}
    apply(target(remote), first, "first")
    push_files(remote, "main", {"a.yaml": "by hand\n"}, tmp_path)
    push_files(remote, "main", {"b.yaml": None}, tmp_path)
    refreshed = written(first, seen={"a.yaml": sha("by hand\n")})
    commit, changes = apply(target(remote), first, "second", state=refreshed)
    assert commit == tip(remote)
    assert (changes.added, changes.changed) == (("b.yaml",), ("a.yaml",))
    assert changes.overwritten == ("a.yaml", "b.yaml")
    assert show(remote, "a.yaml") == "1" and show(remote, "b.yaml") == "2"
    assert "Overwrote hand edits that a refresh had shown: a.yaml, b.yaml" in message_of(remote)


def test_a_hand_edit_nobody_saw_still_stops_the_write(remote: Path, tmp_path: Path) -> None:
    first = {"a.yaml": "1\n"}
    apply(target(remote), first, "first")
    edited = push_files(remote, "main", {"a.yaml": "by hand\n"}, tmp_path)
    with pytest.raises(OwnershipConflict, match=r"pulumi up --refresh"):
        apply(target(remote), {"a.yaml": "2\n"}, "second", state=written(first, seen=None))
    # A refresh that read an earlier edit did not see this one.
    stale = written(first, seen={"a.yaml": sha("an earlier edit\n")})
    with pytest.raises(OwnershipConflict):
        apply(target(remote), {"a.yaml": "2\n"}, "second", state=stale)
    assert tip(remote) == edited


# ---------------------------------------------------------------- held refs of a rollout


def test_fast_forward_moves_a_held_ref_only_forward_to_the_tip(remote: Path) -> None:
    first, _ = apply(target(remote, "qa"), {"a.yaml": "a: 1\n"}, "one")
    assert first is not None
    git("--git-dir", str(remote), "update-ref", "refs/heads/rollout/qa/broad", first)
    second, _ = apply(target(remote, "qa"), {"a.yaml": "a: 2\n"}, "two")
    assert second is not None
    held = target(remote, "rollout/qa/broad")
    with pytest.raises(GitWriterError, match="branch qa moved to"):
        fast_forward(held, "qa", first)
    assert tip(remote, "rollout/qa/broad") == first
    fast_forward(held, "qa", second)
    assert tip(remote, "rollout/qa/broad") == second
    assert branch_tips(held, ["qa", "rollout/qa/broad", "rollout/qa/none"]) == {
        "qa": second,
        "rollout/qa/broad": second,
    }


def test_fast_forward_refuses_a_held_ref_moved_off_the_branch(remote: Path, tmp_path: Path) -> None:
    commit, _ = apply(target(remote, "qa"), {"a.yaml": "a: 1\n"}, "one")
    elsewhere = push_files(remote, "rollout/qa/broad", {"b.yaml": "b: 1\n"}, tmp_path)
    with pytest.raises(GitWriterError, match="not behind"):
        fast_forward(target(remote, "rollout/qa/broad"), "qa", str(commit))
    assert tip(remote, "rollout/qa/broad") == elsewhere


def test_fast_forward_creates_a_missing_held_ref(remote: Path) -> None:
    commit, _ = apply(target(remote, "qa"), {"a.yaml": "a: 1\n"}, "one")
    fast_forward(target(remote, "rollout/qa/early"), "qa", str(commit))
    assert tip(remote, "rollout/qa/early") == commit
