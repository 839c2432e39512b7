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

State: inputs keep the full file contents (the provider needs them to write); outputs keep only
SHA-256 hashes: `written`, what fleet wrote, and `files`, the owned files as they are on the
branch (the same until a refresh reads them back), plus `left`, the files the last write left on
the branch rather than delete, with why.

`written` is what ownership is decided by: the record on the branch (`.fleet/owned-files.json`)
is anyone's to edit, Pulumi's state is not, so a file is deleted only if `written` lists it and
its content is unchanged (a state from before `written` existed deletes nothing, and the next
update records it). A hand edit of an owned file shows after a refresh (`pulumi preview
--refresh`, `pulumi refresh`): `read` reports its new hash in `files`, `diff` then differs from
the rendered hashes, and the update (`pulumi up --refresh`, or `pulumi up` after `pulumi
refresh`) overwrites the edit, which the commit message names. An edit no refresh has seen
still stops the update. The Python dynamic provider API has no per-property detailed diff, so
`pulumi preview` reports `files` as a whole; `fleet diff` gives the per-file view.

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

from components.gitwriter import (
    BranchTarget,
    Holds,
    PulumiState,
    apply,
    content_hash,
    current_hashes,
    remove_all,
    strip_credentials,
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
    files: pulumi.Input[Mapping[str, str]]
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


def _hashes(files: object) -> dict[str, str] | None:
    """Hashes of rendered files, or None while Pulumi does not know them yet (preview)."""
    if not isinstance(files, dict) or not all(isinstance(c, str) for c in files.values()):
        return None
    return {path: content_hash(content) for path, content in files.items()}


def _hash_map(value: object) -> dict[str, str] | None:
    """A path -> hash output as the state holds it, or None when it is absent or malformed."""
    if not isinstance(value, Mapping):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def _holds(props: Mapping[str, Any]) -> list[str]:
    """The held branches (none in a state from before they existed)."""
    holds = props.get("holds")
    return [str(h) for h in holds] if isinstance(holds, list) else []


def _state(outputs: Mapping[str, Any]) -> PulumiState:
    """What the resource's outputs say fleet wrote, and what the last refresh saw. A state
    written before `written` existed says nothing about what fleet wrote: nothing is deleted
    on its word (its `files` may be a refresh's reading of a record someone edited)."""
    return PulumiState(
        written=_hash_map(outputs.get("written")), seen=_hash_map(outputs.get("files"))
    )


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
        hashes: Mapping[str, str],
        left: Mapping[str, str],
        holds: list[str],
    ) -> dict[str, Any]:
        """Outputs carry hashes, never contents, so the state does not duplicate the tree."""
        return {
            "holds": holds,
            "commit": commit,
            "files": dict(hashes),
            "written": dict(hashes),
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
        """Compare file hashes; another branch is a new resource.

        A new URL is an update, not a replacement: it is often the same repository spelt
        another way, and replacing would delete the files just written there.
        """
        replaces = ["branch"] if olds.get("branch") != news.get("branch") else []
        wanted = _hashes(news.get("files"))
        changes = (
            bool(replaces)
            or olds.get("url") != news.get("url")
            or olds.get("owner") != news.get("owner")
            or wanted is None
            or wanted != olds.get("files")
            or _holds(olds) != _holds(news)
        )
        return DiffResult(changes=changes, replaces=replaces)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Write the tree; the id names the repository and branch without credentials. A new
        resource has no state that says what fleet wrote: it deletes nothing already there."""
        target = self._target(props)
        state = PulumiState(written=None)
        holds = _holds(props)
        commit, changes = apply(
            target, props["files"], props["message"], state=state, holds=Holds(holds)
        )
        hashes = _hashes(props["files"]) or {}
        outputs = self._outputs(target, commit or "", hashes, changes.left, holds)
        return CreateResult(f"{strip_credentials(target.url)}#{target.branch}", outputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Write the new tree; keep the previous commit when nothing had to change. `olds` are
        the outputs in the state (refreshed, if the update refreshed): they say what fleet
        wrote, and which hand edits a refresh saw."""
        target = self._target(news)
        holds = _holds(news)
        commit, changes = apply(
            target,
            news["files"],
            news["message"],
            state=_state(olds),
            holds=Holds(holds, _holds(olds)),
        )
        hashes = _hashes(news["files"]) or {}
        commit = commit or olds.get("commit", "")
        return UpdateResult(self._outputs(target, commit, hashes, changes.left, holds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Report the owned files as they are on the branch, so hand edits show as drift:
        `files` becomes the branch's hashes, `written` stays what fleet wrote."""
        target = self._target(props)
        written = _hash_map(props.get("written"))
        outputs = self._outputs(target, props.get("commit", ""), {}, {}, _holds(props))
        outputs["files"] = current_hashes(target, also=written or {})
        for key in ("written", "left"):
            if key in props:
                outputs[key] = props[key]
            else:
                del outputs[key]
        return ReadResult(id_, outputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Commit the removal of every file fleet wrote and still holds what it wrote; the
        branch, foreign files and edited ones stay (the commit message lists the latter)."""
        target = self._target(props)
        remove_all(target, f"fleet: remove the files of {target.owner}", state=_state(props))


class GitOpsBranch(Resource, name="GitOpsBranch"):
    """The owned files of one GitOps branch, landed as one commit per update."""

    commit: pulumi.Output[str]
    files: pulumi.Output[dict[str, str]]
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
            "files": args.files,
            "message": args.message,
            "holds": list(args.holds),
            "commit": None,
        }
        super().__init__(GitOpsBranchProvider(args.token_config_key), name, props, opts)
