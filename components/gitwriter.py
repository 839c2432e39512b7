"""Land a rendered file tree on one branch of a git repository as exactly one commit.

Flux applies whatever a branch holds, and a half-written tree with `prune: true` can delete
running workloads, so the writer builds the whole new tree with git plumbing in a private
temporary repository (never a user's checkout) and pushes a single commit, without force.

The writer lists the files it owns in the ownership record `.fleet/owned-files.json` that it
commits with the tree, and checks that record against what the caller's state says it wrote
(`PulumiState`), since anyone who may push may edit the record. It never overwrites a file it
does not own; it overwrites a hand edit of a file it owns only once a refresh has seen it, and
stops otherwise; it deletes a file it no longer renders only if the state says it wrote it and
its content is unchanged, and leaves (and reports) any other; everything else on the branch
stays byte for byte, whatever its name. Waits on the remote are bounded and retries back off
(`Timings`); the scratch repository goes however a write ends, or with the next write if the
process was killed. Credentials never reach argv, logs or exception messages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import quote

FileTree = Mapping[str, str]
"""Repository-relative POSIX path -> text content (written as UTF-8)."""

RECORD_PATH = ".fleet/owned-files.json"
MAX_ATTEMPTS = 5
"""Attempts before giving up on a branch that keeps moving under us or a flaky remote."""
TIMEOUT_ENV = "FLEET_GIT_TIMEOUT"
"""Environment variable: seconds one fetch, push or ls-remote may take (default 300)."""

_NETWORK_COMMANDS = frozenset({"fetch", "push", "ls-remote", "clone"})
# Failures worth another attempt: the network or the host faltered. Checked after the
# permanent ones, since ssh says "hung up unexpectedly" after a refused key too.
_TRANSIENT = (
    "operation too slow",
    "timed out",
    "connection reset",
    "connection refused",
    "connection closed",
    "broken pipe",
    "hung up unexpectedly",
    "early eof",
    "unexpected disconnect",
    "could not resolve host",
    "temporary failure in name resolution",
    "rpc failed",
    "returned error: 5",
)
_PERMANENT = (
    "authentication failed",
    "permission denied",
    "could not read username",
    "could not read password",
    "host key verification failed",
    "returned error: 401",
    "returned error: 403",
    "returned error: 404",
    "not found",
    "does not appear to be a git repository",
)
_SESSION_PREFIX = "fleet-git-"
_LOCK_NAME = "in-use.lock"
_STALE_AFTER_SECONDS = 86400
"""A scratch folder without a lock in it (an earlier version's, or one killed in the instant
before it took its lock) is only swept once it is this old: no write lasts a day."""
_FILE_MODE = "100644"
_SUBMODULE_MODE = "160000"
_TOKEN_ENV = "FLEET_GITWRITER_TOKEN"
_DEFAULT_TOKEN_USER = "x-access-token"
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_MOVED_CLIENT_SIDE = ("fetch first", "non-fast-forward")
_GONE = ("not our ref", "no such remote ref", "couldn't find remote ref")
"""What git says when the remote does not have a commit asked for by its id."""
_REFUSED_BY_ID = ("unadvertised object",)
"""What a protocol v0 server says to a commit asked for by its id that no ref points at."""
_MOVED_SERVER_SIDE = ("cannot lock ref", "incorrect old value")
_REPOSITORY_ENV = (
    "GIT_WORK_TREE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


@dataclass(frozen=True)
class BranchTarget:
    """Where to write, as whom, and how to authenticate."""

    url: str
    branch: str
    owner: str
    token: str | None = None
    author_name: str = "fleet"
    author_email: str = "fleet@localhost"


@dataclass(frozen=True)
class Holds:
    """The branches that hold the rings of a rollout back: those wanted now, and those the
    last update held (Pulumi's state says which)."""

    wanted: Sequence[str] = ()
    known: Sequence[str] = ()


@dataclass(frozen=True)
class PulumiState:
    """What the caller's own state (the provider's outputs in Pulumi's state) says about the
    branch. The ownership record on the branch is anyone's to edit; this is not, so a file is
    deleted only when the state says fleet wrote it and its content is still what fleet wrote.
    """

    written: Mapping[str, str] | None
    """SHA-256 of each file fleet wrote, as it wrote it. None when the state does not know: a
    new resource, or a state from before the provider kept these. Ownership is then uncertain,
    and nothing is deleted."""
    seen: Mapping[str, str] | None = None
    """The owned files' hashes as the last refresh read them on the branch. A hand edit that a
    refresh saw (and `pulumi preview` therefore showed) is overwritten; one nobody saw stops
    the write, as it always has."""
    kept: KeptState | None = None
    """A state that keeps digests instead of hash maps: the writer reads what fleet wrote back
    from the commit it names."""


@dataclass(frozen=True)
class KeptState:
    """What fleet wrote, kept small: the digest of its hashes (`tree_digest`), which the
    ownership record in the commit fleet wrote last (`commit`, "" when it never committed) must
    match to count, and the owned files a refresh found changed on the branch (their hash
    there, "" when deleted). Git keeps the commit immutably; a record edited since, or a commit
    gone, says nothing."""

    digest: str
    commit: str
    drift: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeSet:
    """Owned paths an apply adds, changes and removes (each sorted), the hand edits it
    overwrote, and the files it left on the branch rather than delete, with why."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    overwritten: tuple[str, ...] = ()
    left: Mapping[str, str] = field(default_factory=dict)
    base: str | None = None
    """The branch's tip the change was worked out on (None: no branch yet): when nothing had to
    change, the commit whose record is exactly what fleet would write."""

    @property
    def empty(self) -> bool:
        """True when the branch already holds exactly the rendered files."""
        return not (self.added or self.changed or self.removed)


class GitWriterError(Exception):
    """A failure the user can fix; the message is safe to show (no credentials)."""


class TransientGitError(GitWriterError):
    """The remote or the network faltered; the same operation may well work a moment later."""


@dataclass(frozen=True)
class Timings:
    """How long the writer waits on git and how it retries. Tests pass short ones, and a
    `sleep` that records the pauses instead of sleeping."""

    network_timeout: float = 300.0
    """Seconds one fetch, push or ls-remote may take in all before it is stopped."""
    local_timeout: float = 600.0
    """Seconds a git command on the private repository may take."""
    connect_timeout: int = 30
    """ssh: seconds to set up the connection."""
    stall_time: int = 60
    """Seconds a transfer may stall (HTTP: below `stall_speed`; ssh: no answer to keepalives)."""
    stall_speed: int = 1000
    """HTTP: bytes per second below which a transfer counts as stalled."""
    attempts: int = MAX_ATTEMPTS
    """Attempts in all, on a branch that moved meanwhile or a transient failure."""
    backoff: float = 1.0
    """Seconds before the second attempt; doubled before each next one, up to `backoff_cap`."""
    backoff_cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def pause(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2 or more)."""
        return float(min(self.backoff_cap, self.backoff * 2 ** (attempt - 2)))


TIMINGS = Timings()
"""The timings when a caller gives none (`FLEET_GIT_TIMEOUT` overrides the network timeout)."""


class SourceMoved(GitWriterError):
    """The branch a held branch follows moved on meanwhile (`fast_forward`)."""


class OwnershipConflict(GitWriterError):
    """Someone else changed or removed owned files; writing would discard their change."""

    def __init__(self, message: str, paths: tuple[str, ...]) -> None:
        super().__init__(message)
        self.paths = paths


class InvalidPathError(GitWriterError, ValueError):
    """A rendered path could escape the repository or clash with git or the record."""


def strip_credentials(url: str) -> str:
    """The URL without its userinfo, fit for ids, state and messages."""
    return _USERINFO.sub(r"\g<scheme>", url)


def apply(
    target: BranchTarget,
    files: FileTree,
    message: str,
    *,
    state: PulumiState | None = None,
    timings: Timings | None = None,
    holds: Holds | None = None,
) -> tuple[str | None, ChangeSet]:
    """Make the owned files of the branch exactly `files` in one commit (None: nothing changed).

    `state` is what the caller's own state says fleet wrote; a caller that keeps one (the
    provider) must pass it. Without it the ownership record on the branch is the only
    evidence, which anyone who can push may edit. `holds` are the branches that hold the rings
    of a rollout back (`_Git.check_holds`, `_Git.hold`)."""
    _check_paths(target, files)
    return _write(target, files, message, remove=False, state=state, timings=timings, holds=holds)


def remove_all(
    target: BranchTarget,
    message: str,
    *,
    state: PulumiState | None = None,
    timings: Timings | None = None,
) -> str | None:
    """Remove every owned file and the record in one commit; the branch itself stays, and so
    do the files `apply` would leave rather than delete (the commit message lists them)."""
    return _write(target, {}, message, remove=True, state=state, timings=timings)[0]


def current_hashes(
    target: BranchTarget, *, also: Iterable[str] = (), timings: Timings | None = None
) -> dict[str, str]:
    """SHA-256 of each owned file, and of each of `also`, as it is on the branch now (deleted
    ones are absent)."""
    return _inspect(target, set(also), timings)


def branch_tips(
    target: BranchTarget, branches: Sequence[str], *, timings: Timings | None = None
) -> dict[str, str]:
    """The tip of each of `branches` on the remote; a missing branch is absent."""
    with _session(target, timings) as git:
        return git.remote_tips(branches)


def fast_forward(
    target: BranchTarget, source: str, commit: str, *, timings: Timings | None = None
) -> None:
    """Move `target.branch` forward to `commit`, which must be the tip of branch `source` (the
    branch it follows) right now; refuse to move it back or sideways. Creates the branch when
    it is missing."""
    with _session(target, timings) as git:
        refs = [f"+refs/heads/{source}:refs/fleet/source"]
        held = git.remote_tips([target.branch]).get(target.branch)
        if held is not None:
            refs.append(f"+refs/heads/{target.branch}:refs/fleet/held")
        proc = git.run("fetch", "--quiet", "--no-tags", "--", target.url, *refs, check=False)
        if proc.returncode != 0:
            raise git._unreachable(proc)
        tip = git.run("rev-parse", "refs/fleet/source").stdout.decode().strip()
        if tip != commit:
            raise SourceMoved(
                f"branch {source} moved to {tip[:12]} while its commit {commit[:12]} was "
                "judged; judge again"
            )
        if held is not None:
            ahead = git.run("merge-base", "--is-ancestor", held, commit, check=False)
            if ahead.returncode != 0:
                raise GitWriterError(
                    f"{target.branch} is at {held[:12]}, which is not behind {commit[:12]} on "
                    f"branch {source}: it was moved by hand. The rings' rulesets let nobody move "
                    "it back; an administrator of the repository turns ruleset 'fleet rollout "
                    f"rings of {source}' off, force-pushes a commit of {source} to it, and turns "
                    "the ruleset on again"
                )
        if not git.push(commit):
            raise SourceMoved(f"{target.branch} moved while fleet pushed")


def content_hash(content: str) -> str:
    """The hash the ownership record keeps for a file's text."""
    return hashlib.sha256(content.encode()).hexdigest()


def tree_digest(hashes: Mapping[str, str]) -> str:
    """One hash for a tree's file hashes (path -> `content_hash`): what a state keeps instead of
    the map, and what names a rendered tree (`components.tree_store`)."""
    canonical = json.dumps(dict(hashes), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def drift(
    target: BranchTarget, state: PulumiState, *, timings: Timings | None = None
) -> dict[str, str] | None:
    """The files fleet wrote that differ on the branch now (their hash there, "" when deleted),
    and the files the record there lists that fleet did not write (an edited record). None
    when the state cannot say what fleet wrote."""

    def read(git: _Git, snap: _Snapshot) -> dict[str, str] | None:
        known = _resolve(git, snap, state)
        if known is None or known.written is None:
            return None
        written = known.written
        claimed = set(snap.record.files) - set(written) if snap.record else set()
        current = git.hashes(snap, set(written) | claimed)
        return {
            path: current.get(path, "")
            for path in sorted(set(written) | claimed)
            if current.get(path) != written.get(path)
        }

    return _on_tip(target, timings, read)


@dataclass(frozen=True)
class _Record:
    owner: str
    files: Mapping[str, str]


@dataclass(frozen=True)
class _Snapshot:
    """The commit a new one builds on (None: the branch does not exist yet, and starts its own
    history with nothing on it but what the writer owns)."""

    parent: str | None
    exists: bool
    entries: Mapping[str, tuple[str, str]]
    record: _Record | None


class _Git:
    """A private bare repository in a temporary folder that talks to one remote."""

    def __init__(self, target: BranchTarget, root: Path, timings: Timings | None = None) -> None:
        self.target = target
        self.root = root
        self.timings = timings or TIMINGS
        self.where = _where(target)
        self._env = self._environment()

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV}
        env.update(
            GIT_DIR=str(self.root / "repo.git"),
            GIT_INDEX_FILE=str(self.root / "index"),
            GIT_TERMINAL_PROMPT="0",
            LC_ALL="C",
            GIT_AUTHOR_NAME=self.target.author_name,
            GIT_AUTHOR_EMAIL=self.target.author_email,
            GIT_COMMITTER_NAME=self.target.author_name,
            GIT_COMMITTER_EMAIL=self.target.author_email,
        )
        # A stalled HTTP transfer is aborted: below this many bytes/s for this many seconds
        # (http.lowSpeedLimit and http.lowSpeedTime, whose environment variables these are:
        # https://git-scm.com/docs/git-config#Documentation/git-config.txt-httplowSpeedLimit).
        # A user's own values win.
        env.setdefault("GIT_HTTP_LOW_SPEED_LIMIT", str(self.timings.stall_speed))
        env.setdefault("GIT_HTTP_LOW_SPEED_TIME", str(self.timings.stall_time))
        if self.target.token:
            # The helper reads the token from our environment, so it never appears in argv;
            # the empty helper first drops any user helper that might answer with stale creds.
            user = (
                ""
                if _USERINFO.search(self.target.url)
                else f"echo username={_DEFAULT_TOKEN_USER}; "
            )
            helper = (
                f'!f() {{ test "$1" = get || exit 0; {user}echo "password=${_TOKEN_ENV}"; }}; f'
            )
            count = int(env.get("GIT_CONFIG_COUNT") or 0)
            env[_TOKEN_ENV] = self.target.token
            env[f"GIT_CONFIG_KEY_{count}"] = "credential.helper"
            env[f"GIT_CONFIG_VALUE_{count}"] = ""
            env[f"GIT_CONFIG_KEY_{count + 1}"] = "credential.helper"
            env[f"GIT_CONFIG_VALUE_{count + 1}"] = helper
            env["GIT_CONFIG_COUNT"] = str(count + 2)
        return env

    def redact(self, text: str) -> str:
        """Text with the token and any URL userinfo replaced by ***."""
        if self.target.token:
            for secret in (self.target.token, quote(self.target.token, safe="")):
                text = text.replace(secret, "***")
        return _USERINFO.sub(r"\g<scheme>***@", text)

    def run(
        self, *args: str, stdin: bytes = b"", check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git, for a bounded time; a failure becomes a GitWriterError instead of a
        subprocess traceback."""
        network = args[0] in _NETWORK_COMMANDS
        timeout = self.timings.network_timeout if network else self.timings.local_timeout
        try:
            proc = _run_bounded(
                ["git", *args], stdin=stdin, env=self._env, cwd=self.root, timeout=timeout
            )
        except FileNotFoundError:
            raise GitWriterError("git is not installed or not on PATH; install git") from None
        except subprocess.TimeoutExpired:
            if not network:
                raise GitWriterError(
                    f"git {args[0]} for {self.where} took over {timeout:g}s and was stopped; "
                    "check that the machine is not out of disk or memory, and run the update "
                    "again"
                ) from None
            raise GitWriterError(
                f"git {args[0]} got no answer within {timeout:g}s from {self.where} and was "
                "stopped. Check that the remote is reachable from here (network, VPN, proxy, "
                "firewall, the host's status page) and run the update again; if it is only "
                f"slow, allow it more seconds with the {TIMEOUT_ENV} environment variable."
            ) from None
        if check and proc.returncode != 0:
            raise self.error(f"git {args[0]} failed", proc)
        return proc

    def error(self, summary: str, proc: subprocess.CompletedProcess[bytes]) -> GitWriterError:
        """A redacted error carrying git's own explanation."""
        detail = proc.stderr.decode(errors="replace").strip()
        return GitWriterError(self.redact(f"{summary} for {self.where}: {detail}"))

    def start(self) -> None:
        """Create the private repository and reject targets git would misread."""
        if self.target.url.startswith("-"):
            raise GitWriterError(f"invalid git URL for {self.where}")
        self.run("init", "--quiet", "--bare", str(self.root / "repo.git"))
        branch = self.target.branch
        if self.run("check-ref-format", f"refs/heads/{branch}", check=False).returncode:
            raise GitWriterError(f"{branch!r} is not a valid branch name ({self.where})")
        self._bound_ssh()

    def _bound_ssh(self) -> None:
        """Give OpenSSH a connect timeout and keepalives (a dead connection ends after
        `stall_time`), and forbid prompts, which nobody could answer: appended to the command
        git would run anyway, found as git finds it (GIT_SSH_COMMAND, then core.sshCommand,
        then GIT_SSH: https://git-scm.com/docs/git#Documentation/git.txt-GITSSHCOMMAND), so
        a user's key or config options stay. An ssh that is not OpenSSH (by GIT_SSH_VARIANT,
        or by its name, as git decides: https://git-scm.com/docs/git-config#Documentation/
        git-config.txt-sshvariant) runs unchanged. Options: https://man.openbsd.org/ssh_config
        """
        env = self._env
        command = env.get("GIT_SSH_COMMAND") or self._configured_ssh_command()
        if not command and env.get("GIT_SSH"):
            program = env["GIT_SSH"]
            command = shlex.quote(program) if _is_openssh(program, env) else None
        elif not command:
            command = "ssh"
        if command is None or not _is_openssh(_first_word(command), env):
            return
        t = self.timings
        keepalive = max(1, -(-t.stall_time // 4))
        env["GIT_SSH_COMMAND"] = (
            f"{command} -o ConnectTimeout={t.connect_timeout} -o ServerAliveInterval={keepalive}"
            " -o ServerAliveCountMax=4 -o BatchMode=yes"
        )

    def _configured_ssh_command(self) -> str | None:
        proc = self.run("config", "--get", "core.sshCommand", check=False)
        return proc.stdout.decode(errors="replace").strip() or None

    def load(self) -> _Snapshot:
        """Fetch the branch tip. A missing branch starts a history of its own: it inherits no
        other branch's files, which it would not own (an environment branch made from main
        would carry main's wiring and infra where its own must go)."""
        tips = self.remote_tips()
        exists = self.target.branch in tips
        parent = self.fetch(self.target.branch) if exists else None
        entries = self.entries(parent) if parent else {}
        record = self.record(entries) if RECORD_PATH in entries else None
        return _Snapshot(parent, exists, entries, record)

    def remote_tips(self, branches: Sequence[str] = ()) -> dict[str, str]:
        """The tip of the target branch (or of `branches`) on the remote; absent when missing."""
        refs = [f"refs/heads/{b}" for b in branches or [self.target.branch]]
        proc = self.run("ls-remote", "--", self.target.url, *refs, check=False)
        if proc.returncode != 0:
            raise self._unreachable(proc)
        tips: dict[str, str] = {}
        for line in proc.stdout.decode().splitlines():
            oid, ref = line.split("\t", 1)
            if ref in refs:
                tips[ref.removeprefix("refs/heads/")] = oid
        return tips

    def _unreachable(self, proc: subprocess.CompletedProcess[bytes]) -> GitWriterError:
        err = self.error("cannot reach the git remote", proc)
        kind = TransientGitError if _transient(proc) else GitWriterError
        return kind(
            f"{err}\nCheck that the URL is right, that the remote is reachable and that the "
            "credentials (token or ssh key) may read and write it."
        )

    def fetch(self, branch: str) -> str:
        """Fetch only the tip commit of a branch: the tree is all the writer needs."""
        refspec = f"+refs/heads/{branch}:refs/fleet/tip"
        proc = self.run(
            "fetch",
            "--quiet",
            "--depth=1",
            "--no-tags",
            "--",
            self.target.url,
            refspec,
            check=False,
        )
        if proc.returncode != 0:
            raise self._unreachable(proc)
        return self.run("rev-parse", "refs/fleet/tip").stdout.decode().strip()

    def record_at(self, commit: str | None) -> _Record | None:
        """The ownership record in `commit`, fetched by its id (git serves a commit the branch
        history reaches; a server that does not has the history fetched instead); None when
        the commit or its record is gone or damaged. A remote that does not answer is an
        error, never taken for a commit gone."""
        if not commit or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", commit):
            return None
        proc = self.run(
            "fetch", "--quiet", "--depth=1", "--no-tags", "--", self.target.url,
            f"+{commit}:refs/fleet/state", check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            said = proc.stderr.decode(errors="replace").lower()
            if any(words in said for words in _REFUSED_BY_ID):
                if not self.in_history(commit):
                    return None
            elif any(words in said for words in _GONE):
                return None
            else:
                raise self._unreachable(proc)
        entries = self.entries(commit)
        if RECORD_PATH not in entries:
            return None
        try:
            return self.record(entries)
        except GitWriterError:
            return None

    def in_history(self, commit: str) -> bool:
        """Whether `commit` is in the branch's history, fetched whole: for a server that serves
        no commit by its id (protocol v0 without `uploadpack.allowReachableSHA1InWant`)."""
        shallow = self.run("rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
        proc = self.run(
            "fetch", "--quiet", *(["--unshallow"] if shallow else []), "--no-tags", "--",
            self.target.url, f"+refs/heads/{self.target.branch}:refs/fleet/history",
            check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise self._unreachable(proc)
        found = self.run("cat-file", "-e", f"{commit}^{{commit}}", check=False)
        return found.returncode == 0

    def entries(self, commit: str) -> dict[str, tuple[str, str]]:
        """Every file of a commit's tree: path -> (mode, object id).

        Git stores names as bytes, and someone else may have committed one that is not UTF-8
        (https://git-scm.com/docs/i18n); such a name decodes with surrogate escapes, never
        matches a rendered path, and goes back byte for byte through `_name_bytes`."""
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode(
            errors="surrogateescape"
        )
        entries: dict[str, tuple[str, str]] = {}
        for item in filter(None, out.split("\0")):
            meta, path = item.split("\t", 1)
            mode, _kind, oid = meta.split(" ")
            entries[path] = (mode, oid)
        return entries

    def read_blobs(self, oids: list[str]) -> dict[str, bytes]:
        """Contents of many blobs in one git call."""
        if not oids:
            return {}
        out = self.run("cat-file", "--batch", stdin="".join(f"{o}\n" for o in oids).encode()).stdout
        blobs: dict[str, bytes] = {}
        pos = 0
        while pos < len(out):
            header_end = out.index(b"\n", pos)
            oid, _kind, size = out[pos:header_end].decode().split(" ")
            start = header_end + 1
            blobs[oid] = out[start : start + int(size)]
            pos = start + int(size) + 1
        return blobs

    def record(self, entries: Mapping[str, tuple[str, str]]) -> _Record:
        """Parse the ownership record; a damaged one stops the writer rather than guess."""
        oid = entries[RECORD_PATH][1]
        raw = self.read_blobs([oid])[oid]
        corrupt = GitWriterError(
            f"{RECORD_PATH} on {self.where} is not a valid ownership record; restore it from "
            "the branch history"
        )
        try:
            data = json.loads(raw)
        except ValueError:
            raise corrupt from None
        owner = data.get("owner") if isinstance(data, dict) else None
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(owner, str) or not isinstance(files, dict):
            raise corrupt
        if not all(isinstance(v, str) and _valid_path(k) for k, v in files.items()):
            raise corrupt
        return _Record(owner, files)

    def hashes(self, snap: _Snapshot, paths: Iterable[str]) -> dict[str, str]:
        """SHA-256 of those paths that are files in the snapshot (a submodule hashes to "")."""
        present = {p: snap.entries[p] for p in paths if p in snap.entries}
        blobs = self.read_blobs(
            sorted({oid for mode, oid in present.values() if mode != _SUBMODULE_MODE})
        )
        return {
            path: "" if mode == _SUBMODULE_MODE else hashlib.sha256(blobs[oid]).hexdigest()
            for path, (mode, oid) in present.items()
        }

    def write_blobs(self, contents: list[bytes]) -> list[str]:
        """Store contents as blobs, byte for byte (no filters), in one git call."""
        if not contents:
            return []
        folder = self.root / "blobs"
        folder.mkdir(exist_ok=True)
        paths = []
        for i, content in enumerate(contents):
            path = folder / str(i)
            path.write_bytes(content)
            paths.append(str(path))
        stdin = "".join(f"{p}\n" for p in paths).encode()
        out = self.run("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=stdin).stdout
        return out.decode().split()

    def commit(
        self, parent: str | None, updates: Mapping[str, bytes | None], message: str
    ) -> str | None:
        """Commit the parent's tree with `updates` (None removes); None if the tree is unchanged."""
        (self.root / "index").unlink(missing_ok=True)
        self.run("read-tree", *([parent] if parent else ["--empty"]))
        writes = {p: c for p, c in updates.items() if c is not None}
        oids = dict(zip(writes, self.write_blobs(list(writes.values())), strict=True))
        lines = [f"0 {'0' * 40}\t{p}\0" for p, c in updates.items() if c is None]
        lines += [f"{_FILE_MODE} {oid}\t{p}\0" for p, oid in oids.items()]
        self.run("update-index", "-z", "--index-info", stdin=_name_bytes("".join(lines)))
        tree = self.run("write-tree").stdout.decode().strip()
        if parent and tree == self.run("rev-parse", f"{parent}^{{tree}}").stdout.decode().strip():
            return None
        args = ["commit-tree", "--no-gpg-sign", tree, "-F", "-"] + (
            ["-p", parent] if parent else []
        )
        return self.run(*args, stdin=message.encode()).stdout.decode().strip()

    def check_holds(self, holds: Holds, before: str | None) -> None:
        """Refuse to change the set of rings while a rollout is under way: a ring added, put
        back or taken away moves clusters from one held ref to another, which then runs them
        ahead of the gate, or back (and Flux prunes what the newer commits added). Once every
        ring is where branch E is, nothing moves."""
        if before is None or set(holds.wanted) == set(holds.known):
            return
        tips = self.remote_tips(holds.known) if holds.known else {}
        behind = {b: c for b, c in tips.items() if c != before}
        if behind:
            branch, commit = sorted(behind.items())[0]
            raise GitWriterError(
                f"the rings of branch {self.target.branch} change while a rollout is under way: "
                f"{branch} is at {commit[:12]}, branch {self.target.branch} at {before[:12]}. "
                f"Finish it first (`fleet rollout` with --advance until every ring is there), "
                "then change the rings"
            )

    def hold(self, holds: Holds, before: str | None, head: str) -> list[str]:
        """Put each held branch that is new to the rollout where every cluster is: the commit
        the branch had before this update, or `head` for a new branch (`check_holds` made sure
        the rings that were held are there too). A held branch the rollout already had is never
        moved (`fleet rollout` moves it); one left over from an earlier rollout is brought
        forward to that commit. Returns those created or moved."""
        if not holds.wanted:
            return []
        tips = self.remote_tips(holds.wanted)
        placed = [b for b in holds.wanted if b not in holds.known or b not in tips]
        start = before or head
        placed = [b for b in placed if tips.get(b) != start]
        if not placed:
            return []
        # A ref left over from an earlier rollout is behind `start`; this scratch repository
        # has too little history to prove it, so the push is forced (on GitHub, the rings'
        # ruleset still refuses anything but a fast-forward).
        refspecs = [f"{'+' if b in tips else ''}{start}:refs/heads/{b}" for b in placed]
        proc = self.run("push", "--porcelain", "--", self.target.url, *refspecs, check=False)
        if proc.returncode != 0:
            now = self.remote_tips(holds.wanted)
            still = [b for b in placed if now.get(b) != start]
            if still:
                raise GitWriterError(
                    self.redact(
                        f"the git remote refused to put {', '.join(still)} at {start[:12]} "
                        f"({self.where}): {proc.stderr.decode(errors='replace').strip()}"
                    )
                )
        return placed

    def push(self, commit: str) -> bool:
        """Plain push; False when the branch moved meanwhile (fetch and retry)."""
        refspec = f"{commit}:refs/heads/{self.target.branch}"
        proc = self.run("push", "--porcelain", "--", self.target.url, refspec, check=False)
        if proc.returncode == 0:
            return True
        status = [line for line in proc.stdout.decode().splitlines() if line.startswith("!")]
        if not status:
            raise self._unreachable(proc)
        reason = status[0].split("\t")[-1]
        stderr = proc.stderr.decode(errors="replace").strip()
        if "[rejected]" in reason and any(m in reason for m in _MOVED_CLIENT_SIDE):
            return False
        if "[remote rejected]" in reason and any(m in reason + stderr for m in _MOVED_SERVER_SIDE):
            return False
        raise GitWriterError(
            self.redact(
                f"the git remote refused the push to {self.where}: {reason}\n{stderr}\n"
                "Check the branch protection rules and hooks of the repository, and that the "
                "credentials may push to this branch."
            )
        )


@contextmanager
def _session(target: BranchTarget, timings: Timings | None = None) -> Iterator[_Git]:
    """A fresh private repository per operation, so concurrent writers never share state.

    Its folder is removed however the operation ends (an error, KeyboardInterrupt); a process
    killed outright (SIGKILL, a runner that stops the job) cannot clean up, so each session
    first sweeps the folders of sessions whose process is gone: a session holds a lock on a
    file in its folder for as long as it runs, and the system drops the lock when the process
    dies, whatever killed it (flock(2): https://man7.org/linux/man-pages/man2/flock.2.html)."""
    root = _scratch_root()
    if root is not None:
        _sweep(root)
    with (
        tempfile.TemporaryDirectory(
            prefix=_SESSION_PREFIX, dir=root, ignore_cleanup_errors=True
        ) as tmp,
        _locked(Path(tmp) / _LOCK_NAME),
    ):
        git = _Git(target, Path(tmp), timings)
        git.start()
        yield git


def _scratch_root() -> Path | None:
    """This user's folder for sessions in the system's temporary folder (`TMPDIR` moves it),
    private to the user; None where it cannot be made so (the session then goes straight in
    the temporary folder, and nothing is swept)."""
    if sys.platform == "win32":
        return None
    base = Path(tempfile.gettempdir())
    _sweep_legacy(base)
    root = base / f"fleet-gitwriter-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    return root if private and not info.st_mode & 0o077 else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file at `path` while the block runs. The file is locked
    before it takes its name, so a sweep never finds it unlocked while its session runs."""
    with open(path.with_name(f".{path.name}"), "w") as file:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(file, fcntl.LOCK_EX)
        os.replace(file.name, path)
        yield


def _sweep(root: Path) -> None:
    """Remove the folders of sessions that are no longer running."""
    for folder in root.glob(f"{_SESSION_PREFIX}*"):
        lock = folder / _LOCK_NAME
        if lock.exists() and not _in_use(lock):
            shutil.rmtree(folder, ignore_errors=True)
        elif not lock.exists():
            _remove_if_stale(folder)


def _sweep_legacy(base: Path) -> None:
    """Remove what earlier versions, which kept their sessions straight in the temporary
    folder with no lock, left there a day ago or more."""
    for folder in base.glob(f"{_SESSION_PREFIX}*"):
        if (folder / "repo.git").is_dir():
            _remove_if_stale(folder)


def _remove_if_stale(folder: Path) -> None:
    try:
        info = folder.lstat()
    except OSError:
        return
    mine = sys.platform == "win32" or info.st_uid == os.getuid()
    if stat.S_ISDIR(info.st_mode) and mine and time.time() - info.st_mtime > _STALE_AFTER_SECONDS:
        shutil.rmtree(folder, ignore_errors=True)


def _in_use(lock: Path) -> bool:
    """True while the session that made `lock` still runs (holds its lock)."""
    if sys.platform == "win32":
        return True
    import fcntl

    try:
        with open(lock, "a") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(file, fcntl.LOCK_UN)
            return False
    except OSError:
        return True


def _run_bounded(
    argv: list[str], *, stdin: bytes, env: Mapping[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """`subprocess.run` that stops git with every helper it started (ssh, git-remote-https) when
    the time is up or the caller is interrupted: they share a process group of their own, and
    the whole group is killed. Killing git alone would leave a helper that keeps the pipes open
    (so the wait goes on) and keeps writing into the scratch folder."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except BaseException:
            _kill_group(proc)
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        if sys.platform == "win32":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def _transient(proc: subprocess.CompletedProcess[bytes]) -> bool:
    """True when git's complaint is one a later attempt may not meet."""
    text = (proc.stderr + proc.stdout).decode(errors="replace").lower()
    return not any(m in text for m in _PERMANENT) and any(m in text for m in _TRANSIENT)


def _first_word(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return words[0] if words else ""


def _is_openssh(program: str, env: Mapping[str, str]) -> bool:
    variant = env.get("GIT_SSH_VARIANT", "auto")
    if variant != "auto":
        return variant not in ("simple", "plink", "putty", "tortoiseplink")
    return os.path.basename(program).lower() in ("ssh", "ssh.exe")


def _default_timings() -> Timings:
    """`TIMINGS`, with the network timeout from `FLEET_GIT_TIMEOUT` when it is set."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    if not value:
        return TIMINGS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise GitWriterError(f"{TIMEOUT_ENV} must be a number of seconds, not {value!r}")
    return replace(TIMINGS, network_timeout=seconds)


def _attempts(timings: Timings) -> Iterator[int]:
    """Attempt numbers from 1, pausing before each after the first, longer each time."""
    for attempt in range(1, timings.attempts + 1):
        if attempt > 1:
            timings.sleep(timings.pause(attempt))
        yield attempt


def _where(target: BranchTarget) -> str:
    return f"branch {target.branch!r} of {strip_credentials(target.url)}"


def _name_bytes(text: str) -> bytes:
    """Text to bytes for git, names that were not UTF-8 on the branch included."""
    return text.encode(errors="surrogateescape")


def _is_text(path: str) -> bool:
    """True for a name that is valid UTF-8 (not one decoded with surrogate escapes)."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True


def _valid_path(path: str) -> bool:
    parts = path.split("/")
    return (
        path != RECORD_PATH
        and "\0" not in path
        and _is_text(path)
        and all(part not in ("", ".", "..") and part.lower() != ".git" for part in parts)
    )


def _check_paths(target: BranchTarget, files: FileTree) -> None:
    bad = sorted(path for path in files if not _valid_path(path))
    if bad:
        raise InvalidPathError(
            f"cannot write {bad} to {_where(target)}: paths must be relative, without '.', '..' "
            f"or '.git' parts, and not {RECORD_PATH}"
        )


def _record_bytes(owner: str, hashes: Mapping[str, str]) -> bytes:
    """Deterministic bytes, so an unchanged tree yields an unchanged record and no commit."""
    return (
        json.dumps({"owner": owner, "files": dict(hashes)}, indent=2, sort_keys=True) + "\n"
    ).encode()


def _prepare(
    git: _Git, snap: _Snapshot, files: FileTree, *, remove: bool, state: PulumiState | None
) -> tuple[ChangeSet, dict[str, bytes | None]]:
    """Check ownership on the snapshot and compute the index updates for the new commit.

    What fleet wrote is what the caller's state says (`state.written`), checked against the
    record; without a state, the record. A file leaves the branch only if fleet wrote it and
    it is unchanged since; any other file fleet no longer renders stays and is reported."""
    record = _owned(git, snap)
    if state is not None:
        # A kept state that cannot be read back (its commit gone, its record not the one the
        # digest names) says fleet owns nothing: the record on the branch, which anyone may
        # edit, never decides instead. Files that hold exactly what fleet renders are taken;
        # anything else is refused or left.
        state = _resolve(git, snap, state) or replace(state, written={}, seen={})
    written = record if state is None else state.written
    reference = record if written is None else written
    seen = None if state is None else state.seen
    wanted = {path: content.encode() for path, content in files.items()}
    new_hashes = {path: content_hash(content) for path, content in files.items()}
    current = git.hashes(snap, set(record) | set(reference) | set(wanted))

    def seen_by_refresh(path: str) -> bool:
        return seen is not None and seen.get(path) == current.get(path)

    edited = sorted(p for p in wanted if p in reference and current.get(p) != reference[p])
    conflicts = [p for p in edited if not seen_by_refresh(p)]
    if conflicts:
        raise OwnershipConflict(
            f"{conflicts} on {git.where} were changed or deleted by someone else since fleet "
            "wrote them; revert those changes on the branch (or move them into the fleet "
            "configuration) and run the update again, or run `pulumi up --refresh`: the "
            "preview then shows the edit, and the update overwrites it",
            tuple(conflicts),
        )
    present = {p for p in wanted if p in snap.entries and p not in reference}
    foreign = sorted(p for p in present if p not in record)
    if foreign:
        raise GitWriterError(
            f"{foreign} already exist on {git.where} but fleet does not own them; move or delete "
            "them on the branch, or render those files elsewhere"
        )
    # Listed by the record but not by the state: fleet takes such a file only where it
    # already holds exactly what fleet would write (a state lost after a push), never over
    # someone else's content.
    claimed = sorted(p for p in present if current.get(p) != new_hashes[p])
    if claimed:
        raise GitWriterError(
            f"{claimed} on {git.where} are listed in {RECORD_PATH} but Pulumi's state does not "
            "say fleet wrote them, and they differ from what fleet renders; move or delete "
            "them on the branch, or render those files elsewhere"
        )
    left: dict[str, str] = {}
    removed: list[str] = []
    for path in sorted((set(record) | set(reference)) - set(wanted)):
        if path not in current:
            continue
        if written is None:
            left[path] = (
                "Pulumi's state does not record what fleet wrote (a new resource, or a state "
                "from an earlier version)"
            )
        elif path not in written:
            left[path] = f"{RECORD_PATH} lists it, but Pulumi's state does not say fleet wrote it"
        elif current[path] != written[path]:
            left[path] = "changed on the branch since fleet wrote it"
        else:
            removed.append(path)
    changes = ChangeSet(
        added=tuple(sorted(p for p in wanted if p not in snap.entries)),
        changed=tuple(
            sorted(p for p in wanted if p in snap.entries and current.get(p) != new_hashes[p])
        ),
        removed=tuple(removed),
        overwritten=tuple(edited),
        left=left,
    )
    updates: dict[str, bytes | None] = {p: None for p in changes.removed}
    updates.update({p: wanted[p] for p in changes.added + changes.changed})
    if not remove:
        updates[RECORD_PATH] = _record_bytes(git.target.owner, new_hashes)
    elif snap.record is not None:
        updates[RECORD_PATH] = None
    _check_layout(git, snap, updates)
    return changes, updates


def _resolve(git: _Git, snap: _Snapshot, state: PulumiState) -> PulumiState | None:
    """A state that keeps digests, with `written` and `seen` read back from the record in the
    commit fleet wrote last; None when that record is gone or does not match the digest."""
    kept = state.kept
    if kept is None or state.written is not None:
        return state
    if not kept.commit:
        # Nothing was ever committed: fleet wrote an empty tree to a branch that did not exist.
        return replace(state, written={}, seen={}) if kept.digest == tree_digest({}) else None
    record = snap.record if kept.commit == snap.parent else git.record_at(kept.commit)
    if record is None or record.owner != git.target.owner:
        return None
    if tree_digest(record.files) != kept.digest:
        return None
    seen = {**record.files, **kept.drift}
    return replace(state, written=record.files, seen={p: h for p, h in seen.items() if h})


def _with_report(message: str, changes: ChangeSet) -> str:
    """The commit message, with the hand edits overwritten and the files left behind."""
    if not (changes.overwritten or changes.left):
        return message
    parts = [message.rstrip("\n")]
    if changes.overwritten:
        parts.append(
            "Overwrote hand edits that a refresh had shown: " + ", ".join(changes.overwritten)
        )
    if changes.left:
        lines = [f"- {path}: {why}" for path, why in changes.left.items()]
        parts.append(
            "Left on the branch rather than deleted (delete them by hand if they are stale):\n"
            + "\n".join(lines)
        )
    return "\n\n".join(parts) + "\n"


def _owned(git: _Git, snap: _Snapshot) -> Mapping[str, str]:
    """The record's files, after making sure this writer's stack owns the branch."""
    if snap.record is None:
        return {}
    if snap.record.owner != git.target.owner:
        raise GitWriterError(
            f"{git.where} is owned by stack {snap.record.owner!r}, not {git.target.owner!r}: "
            "two stacks must not write one branch; choose another branch, or delete "
            f"{RECORD_PATH} there if that stack is gone"
        )
    return snap.record.files


def _check_layout(git: _Git, snap: _Snapshot, updates: Mapping[str, bytes | None]) -> None:
    """Refuse a tree where one path would be both a file and a folder."""
    final = (set(snap.entries) | set(updates)) - {p for p, c in updates.items() if c is None}
    folders = {str(parent) for path in final for parent in PurePosixPath(path).parents}
    clashes = sorted(final & folders)
    if clashes:
        raise GitWriterError(
            f"{clashes} on {git.where} would be both a file and a folder; rename the rendered files"
        )


def _write(
    target: BranchTarget,
    files: FileTree,
    message: str,
    *,
    remove: bool,
    state: PulumiState | None,
    timings: Timings | None,
    holds: Holds | None = None,
) -> tuple[str | None, ChangeSet]:
    """Build and push one commit, rebuilding it on the new tip while the branch keeps moving,
    and trying again after a transient failure, with pauses that grow each time."""
    t = timings or _default_timings()
    failure: TransientGitError | None = None
    with _session(target, t) as git:
        for _ in _attempts(t):
            try:
                snap = git.load()
                changes, updates = _prepare(git, snap, files, remove=remove, state=state)
                changes = replace(changes, base=snap.parent)
                if not snap.exists and changes.empty:
                    return None, changes
                git.check_holds(holds or Holds(), snap.parent)
                commit = git.commit(snap.parent, updates, _with_report(message, changes))
                if commit is None:
                    if snap.parent is not None:
                        git.hold(holds or Holds(), snap.parent, snap.parent)
                    return None, changes
                if git.push(commit):
                    git.hold(holds or Holds(), snap.parent, commit)
                    return commit, changes
                failure = None
            except TransientGitError as error:
                failure = error
    if failure is not None:
        raise GitWriterError(
            f"{failure}\nThe remote kept failing: gave up after {t.attempts} attempts; run the "
            "update again once it answers."
        )
    raise GitWriterError(
        f"{_where(target)} kept moving while fleet pushed; gave up after {t.attempts} "
        "attempts: run the update again"
    )


def _inspect(target: BranchTarget, also: set[str], timings: Timings | None) -> dict[str, str]:
    """The current hashes of the owned files, and of `also`, on the branch."""
    return _on_tip(
        target, timings, lambda git, snap: git.hashes(snap, set(_owned(git, snap)) | also)
    )


_Read = TypeVar("_Read")


def _on_tip(
    target: BranchTarget, timings: Timings | None, read: Callable[[_Git, _Snapshot], _Read]
) -> _Read:
    """What `read` finds on the branch's tip, trying again after a transient failure."""
    t = timings or _default_timings()
    failure: TransientGitError | None = None
    with _session(target, t) as git:
        for _ in _attempts(t):
            try:
                return read(git, git.load())
            except TransientGitError as error:
                failure = error
    raise GitWriterError(
        f"{failure}\nThe remote kept failing: gave up after {t.attempts} attempts; run the "
        "command again once it answers."
    )
