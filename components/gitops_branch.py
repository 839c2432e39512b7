"""Pulumi dynamic resource that lands one branch's rendered tree through the git writer.

Each update becomes exactly one commit on the branch (see `components.gitwriter`), so Flux never
sees half a tree; destroying the resource commits the removal of the owned files and keeps the
branch.

Credentials: the HTTPS token is never a resource input, because inputs are stored in the state.
Store it as a secret stack config value (`pulumi config set --secret fleet:gitToken ...`) and
pass the key's NAME as `token_config_key`. Pulumi hands the stack configuration to `configure`
when it loads the provider, and the provider looks the key up there. When no key is given or the
key is unset it falls back to the `FLEET_GIT_TOKEN` environment variable; with neither, git uses
the user's own setup (ssh agent, credential helper) or nothing (local paths). A URL with an
embedded password is refused for the same reason.

State, kept small (Pulumi stores every input and output, and rewrites the checkpoint as it
goes): the input `tree` names the rendered tree by its digest, and the files wait in this
machine's tree store (`components.tree_store`) until the provider writes them. The outputs keep
`tree`, the digest of what fleet wrote, and `commit`, the commit fleet wrote last, whose
ownership record (`.fleet/owned-files.json`) lists what fleet wrote, file by file; it counts
only while it matches the digest (`gitwriter.KeptState`). `drift` lists the owned files a
refresh found changed on the branch (normally none), and `left` the files the last write left
on the branch rather than delete, with why. A state from before these outputs (the hash maps
`written` and `files`) is read as it was and rewritten in this form by the next update.

Ownership is decided by Pulumi's state: the record on the branch is anyone's to edit, the state
is not, and the record in fleet's own commit is tied to the state by the digest. So a file is
deleted only if fleet wrote it and its content is unchanged (a state that cannot say what
fleet wrote deletes nothing, and the next update records it; one whose commit is gone owns
nothing it cannot prove, and a refresh then reports a change). A hand edit of an owned file
shows after a refresh (`pulumi preview --refresh`, `pulumi refresh`): `read` lists it in
`drift`, `diff` then reports a change, and the update (`pulumi up --refresh`, or `pulumi up`
after `pulumi refresh`) overwrites the edit, which the commit message names. An edit no refresh
has seen still stops the update. The Python dynamic provider API has no per-property detailed
diff, so `pulumi preview` reports `tree` as a whole; `fleet diff` gives the per-file view.

Pulumi's dynamic providers: https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
(`read` is what `pulumi refresh` calls with the resource's current outputs; `diff` gets the old
outputs, refreshed or not, and the new inputs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from components import tree_store
from components.gitwriter import (
    RECORD_PATH,
    BranchTarget,
    Holds,
    KeptState,
    PulumiState,
    apply,
    current_hashes,
    drift,
    remove_all,
    strip_credentials,
    tree_digest,
)

GITOPS_BRANCH_TYPE = "pulumi-python:dynamic:GitOpsBranch"
"""The type token the SDK gives `GitOpsBranch` (a Python dynamic resource named so)."""
TOKEN_ENV = "FLEET_GIT_TOKEN"
"""Environment variable holding the HTTPS token when no config key provides one."""


@dataclass
class GitOpsBranchArgs:
    """What to write where; `token_config_key` names a secret config key, it is not the token."""

    url: str
    branch: str
    owner: str
    files: Mapping[str, str]
    """The rendered tree: saved in the tree store, named in the state by its digest only."""
    message: pulumi.Input[str]
    token_config_key: str | None = None
    holds: tuple[str, ...] = ()
    """Branches that hold the rings of a rollout back: created when missing, never moved
    (`fleet rollout` moves them)."""


def local_path_resolved(url: str) -> str:
    """A relative local path is the project's: Pulumi runs providers in the project folder."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url) or os.path.isabs(url):
        return url
    return os.path.abspath(url)


def _hash_map(value: object) -> dict[str, str] | None:
    """A path -> hash output as the state holds it, or None when it is absent or malformed."""
    if not isinstance(value, Mapping):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def _digest(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) == 64 else None


def _holds(props: Mapping[str, Any]) -> list[str]:
    """The held branches (none in a state from before they existed)."""
    holds = props.get("holds")
    return [str(h) for h in holds] if isinstance(holds, list) else []


def _state(outputs: Mapping[str, Any]) -> PulumiState:
    """What the resource's outputs say fleet wrote, and what the last refresh saw.

    Kept small, they name the commit fleet wrote and the digest of its hashes (the writer reads
    the hashes back from that commit's record); a state from before kept the hash maps
    themselves. One from before either says nothing about what fleet wrote: nothing is deleted
    on its word (its `files` may be a refresh's reading of a record someone edited)."""
    written = _hash_map(outputs.get("written"))
    seen = _hash_map(outputs.get("files"))
    if written is not None:
        return PulumiState(written=written, seen=seen)
    digest = _digest(outputs.get("tree"))
    if digest is None:
        return PulumiState(written=None, seen=seen)
    commit = str(outputs.get("commit") or "")
    return PulumiState(
        written=None, kept=KeptState(digest, commit, _hash_map(outputs.get("drift")) or {})
    )


def _written_digest(outputs: Mapping[str, Any]) -> str | None:
    """The digest of what fleet wrote, in either form of the state."""
    written = _hash_map(outputs.get("written"))
    return tree_digest(written) if written is not None else _digest(outputs.get("tree"))


class GitOpsBranchProvider(ResourceProvider):
    """CRUD of one branch's owned files; the token comes from stack config or the environment."""

    def __init__(self, token_config_key: str | None) -> None:
        super().__init__()
        self.token_config_key = token_config_key
        self._token: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        """Read the token at run time, so it never enters resource inputs or state."""
        value = req.config.get(self.token_config_key) if self.token_config_key else None
        self._token = str(value) if value else None

    def _target(self, props: Mapping[str, Any]) -> BranchTarget:
        return BranchTarget(
            url=local_path_resolved(props["url"]),
            branch=props["branch"],
            owner=props["owner"],
            token=self._token or os.environ.get(TOKEN_ENV) or None,
        )

    @staticmethod
    def _outputs(
        target: BranchTarget,
        commit: str,
        digest: str,
        left: Mapping[str, str],
        holds: list[str],
    ) -> dict[str, Any]:
        """Outputs carry digests, never contents or hash maps, so the state stays small."""
        return {
            "holds": holds,
            "commit": commit,
            "tree": digest,
            "drift": {},
            "left": dict(left),
            "url": target.url,
            "branch": target.branch,
            "owner": target.owner,
        }

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Refuse a password in the URL: it would land in the state."""
        url = news.get("url")
        if isinstance(url, str) and urlsplit(url).password is not None:
            failure = CheckFailure(
                "url",
                "the URL carries a password; remove it and put the token in a secret stack "
                "config key named by token_config_key (or FLEET_GIT_TOKEN)",
            )
            return CheckResult(news, [failure])
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare the tree's digest with what fleet wrote; a hand edit a refresh saw is a
        change too (the update overwrites it); another branch is a new resource.

        A new URL is an update, not a replacement: it is often the same repository spelt
        another way, and replacing would delete the files just written there.
        """
        replaces = ["branch"] if olds.get("branch") != news.get("branch") else []
        wanted = _digest(news.get("tree"))
        refreshed = _hash_map(olds.get("files"))
        drifted = (
            bool(_hash_map(olds.get("drift")))
            if refreshed is None
            else refreshed != _hash_map(olds.get("written"))
        )
        changes = (
            bool(replaces)
            or olds.get("url") != news.get("url")
            or olds.get("owner") != news.get("owner")
            or wanted is None
            or wanted != _written_digest(olds)
            or drifted
            or _holds(olds) != _holds(news)
        )
        return DiffResult(changes=changes, replaces=replaces)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Write the tree; the id names the repository and branch without credentials. A new
        resource has no state that says what fleet wrote: it deletes nothing already there."""
        target = self._target(props)
        holds = _holds(props)
        files = tree_store.load(props["tree"])
        commit, changes = apply(
            target, files, props["message"], state=PulumiState(written=None), holds=Holds(holds)
        )
        landed = commit or changes.base or ""
        outputs = self._outputs(target, landed, props["tree"], changes.left, holds)
        return CreateResult(f"{strip_credentials(target.url)}#{target.branch}", outputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Write the new tree; keep the previous commit when nothing had to change. `olds` are
        the outputs in the state (refreshed, if the update refreshed): they say what fleet
        wrote, and which hand edits a refresh saw."""
        target = self._target(news)
        holds = _holds(news)
        files = tree_store.load(news["tree"])
        commit, changes = apply(
            target,
            files,
            news["message"],
            state=_state(olds),
            holds=Holds(holds, _holds(olds)),
        )
        landed = commit or changes.base or ""
        return UpdateResult(self._outputs(target, landed, news["tree"], changes.left, holds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Report the owned files changed on the branch since fleet wrote them, so hand edits
        show as drift; what fleet wrote stays as it was. A state from before digests reads as
        it did: `files` becomes the branch's hashes."""
        target = self._target(props)
        outputs = dict(props)
        if _digest(props.get("tree")) is None:
            written = _hash_map(props.get("written")) or {}
            outputs["files"] = current_hashes(target, also=written)
        else:
            found = drift(target, _state(props))
            # Unknown (fleet's commit gone): a change, so that the next update puts back what
            # fleet renders, owning nothing until then (`gitwriter._prepare`).
            outputs["drift"] = {RECORD_PATH: ""} if found is None else found
        return ReadResult(id_, outputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Commit the removal of every file fleet wrote and still holds what it wrote; the
        branch, foreign files and edited ones stay (the commit message lists the latter)."""
        target = self._target(props)
        remove_all(target, f"fleet: remove the files of {target.owner}", state=_state(props))


class GitOpsBranch(Resource, name="GitOpsBranch"):
    """The owned files of one GitOps branch, landed as one commit per update."""

    commit: pulumi.Output[str]
    tree: pulumi.Output[str]
    url: pulumi.Output[str]
    branch: pulumi.Output[str]
    owner: pulumi.Output[str]

    def __init__(
        self, name: str, args: GitOpsBranchArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "url": args.url,
            "branch": args.branch,
            "owner": args.owner,
            "tree": tree_store.save(args.files),
            "message": args.message,
            "holds": list(args.holds),
            "commit": None,
        }
        super().__init__(GitOpsBranchProvider(args.token_config_key), name, props, opts)
