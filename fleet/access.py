"""How each git repository is reached: decided here, once, for every source.

Flux reads the fleet repository and every tenant's repository; the program pushes to the fleet
repository. Whether a source is public, read with an HTTPS token, with an SSH key the user
gives, or with a deploy key Pulumi makes is decided by `fleet_access` and `source_access`, and
carried in the model (`GitSource.access`) to wherever a GitRepository or its Secret is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

GitAccess = Literal["public", "https-token", "ssh-key", "deploy-key"]
"""public: no Secret. https-token: user `git` and a token. ssh-key: a private key the user
gives, with the host's known_hosts. deploy-key: an SSH key pair Pulumi makes, whose public half
is a read-only GitHub deploy key."""

SSH_ACCESS: frozenset[GitAccess] = frozenset({"ssh-key", "deploy-key"})

_REMOTE_URL = re.compile(r"^(https?|ssh)://[^/\s]+/\S+$|^[\w.-]+@[\w.-]+:\S+$")
_LOCAL_URL = re.compile(r"^file://\S+$")
_GITHUB_URL = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com(?::22)?/|git@github\.com:)"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


@dataclass(frozen=True)
class GitSource:
    """A repository and branch Flux reads, and how."""

    url: str
    branch: str
    access: GitAccess
    credentials_key: str | None = None
    """The secret config key holding the token (https-token) or private key (ssh-key)."""
    known_hosts: str | None = None
    """The host keys Flux trusts (ssh-key); a deploy key brings GitHub's published ones."""
    commit: str | None = None
    """A commit of `branch` Flux checks out instead of the branch's tip."""


def is_ssh_url(url: str) -> bool:
    """Git over SSH (ssh:// or scp-like `git@host:org/repo`), as opposed to HTTP(S)."""
    return not url.startswith(("https://", "http://"))


def is_flux_git_url(url: str) -> bool:
    """A URL Flux can clone: https://, http://, ssh:// or scp-like `git@host:org/repo`."""
    return bool(_REMOTE_URL.match(url))


def _user_part(url: str) -> tuple[str, str, str] | None:
    """(`scheme://`, user part, the rest from `@` on) of a URL with a user part, else None."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return None
    authority = rest.split("/", 1)[0]
    if "@" not in authority:
        return None
    user = authority.rsplit("@", 1)[0]
    return f"{scheme}://", user, rest[len(user) :]


def has_credentials(url: str) -> bool:
    """The URL carries a credential in its user part: any user of an HTTP(S) URL (a token is
    often written as the user, `https://TOKEN@host/...`), a password for any other scheme.
    `ssh://git@host/...` and `git@host:org/repo` name the SSH user only."""
    found = _user_part(url)
    if found is None:
        return False
    scheme, user, _ = found
    return scheme.lower() in ("http://", "https://") or ":" in user


def redacted(url: str) -> str:
    """The URL for a message: a credential in its user part replaced by `***`."""
    found = _user_part(url)
    if found is None or not has_credentials(url):
        return url
    scheme, _, rest = found
    return f"{scheme}***{rest}"


def is_local_git_url(url: str) -> bool:
    """A path or file:// URL: somewhere the program can push, though no cluster can read it."""
    return bool(_LOCAL_URL.match(url)) or (bool(url) and "://" not in url and ":" not in url)


def fleet_access(url: str, token_key: str | None) -> GitAccess:
    """How Flux reads the fleet repository: SSH with a deploy key per cluster, an HTTPS token
    (the one the program pushes with), or nothing for a public repository."""
    if is_ssh_url(url):
        return "deploy-key"
    return "https-token" if token_key else "public"


def source_access(url: str, credentials_key: str | None) -> GitAccess:
    """How Flux reads a tenant's repository: with the credentials the config names, whose kind
    follows the URL (a private key for SSH, a token for HTTPS), or as a public one."""
    if credentials_key is None:
        return "public"
    return "ssh-key" if is_ssh_url(url) else "https-token"


@dataclass(frozen=True)
class GitHubRepository:
    """A repository on github.com, as the GitHub API names it."""

    owner: str
    name: str


def parse_github_url(url: str) -> GitHubRepository | None:
    """The owner and name of a github.com repository URL (https, ssh or scp-like); else None."""
    match = _GITHUB_URL.match(url)
    return GitHubRepository(match["owner"], match["name"]) if match else None


def github_commit_repository(url: str, push_url: str | None) -> GitHubRepository | None:
    """The GitHub repository the program commits to, when Flux reads that same repository.

    None when the program commits elsewhere (a local path, another host): the git writer
    then creates branches itself, and nothing on GitHub is the program's to manage.
    """
    read = parse_github_url(url)
    pushed = read if push_url is None else parse_github_url(push_url)
    return read if read is not None and pushed == read else None
