"""The fleet repository on GitHub: Flux's deploy keys and the review rule of environment branches.

The GitHub provider's token comes from `GITHUB_TOKEN`; its owner is the repository's owner,
taken from the repository URL so that no extra config is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_github as github
import pulumi_tls as tls

from fleet.access import GitHubRepository, parse_github_url
from fleet.model import FleetRepository
from fleet.names import ring_branch

PRIVATE_KEY_TYPE = "tls:index/privateKey:PrivateKey"
"""The type token of the key pairs made for Flux's deploy keys."""

_GITHUB_HOST_KEYS = {
    "ssh-ed25519": "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    "ecdsa-sha2-nistp256": (
        "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMj"
        "NuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
    ),
    "ssh-rsa": (
        "AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLV"
        "lOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqB"
        "ywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7G"
        "idjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT"
        "4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0Th"
        "S/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/w"
        "sjk="
    ),
}
GITHUB_KNOWN_HOSTS = "".join(
    f"github.com {kind} {key}\n" for kind, key in _GITHUB_HOST_KEYS.items()
)
"""GitHub's published SSH host keys: Flux checks the server against them."""


def writer(app_id: int | None) -> dict[str, str | int]:
    """Who may push to a protected branch without a pull request: the program's own identity.
    By default the repository's deploy keys with write access (see README; Flux's keys are
    read-only, so they cannot push at all); with a GitHub App, that App alone."""
    if app_id is None:
        return {"actor_type": "DeployKey", "bypass_mode": "always"}
    return {"actor_type": "Integration", "actor_id": app_id, "bypass_mode": "always"}


@dataclass(frozen=True)
class GitHubAccess:
    """The fleet repository on GitHub and the provider that manages it."""

    repository: GitHubRepository
    provider: pulumi.ProviderResource


def github_access(url: str) -> GitHubAccess | None:
    """The GitHub provider for the fleet repository, or None when it is not on github.com."""
    repository = parse_github_url(url)
    if repository is None:
        return None
    provider: pulumi.ProviderResource = github.Provider("github", owner=repository.owner)
    return GitHubAccess(repository, provider)


def flux_deploy_key(
    owner: str,
    repository: FleetRepository,
    access: GitHubAccess | None,
    parent: pulumi.Resource,
) -> pulumi.Output[str] | None:
    """A key pair for Flux of `owner` and its read-only deploy key, when Flux reads the fleet
    repository over SSH (`FleetRepository.access`); returns the private key (PEM), else None.

    The value depends on the deploy key, so the Secret holding it (and the GitRepository
    using it) wait until GitHub accepts the key.
    """
    if repository.access != "deploy-key":
        return None
    if access is None:
        raise ValueError(f"{repository.url}: deploy keys are made on github.com only")
    name = f"{owner}-deploy-key"
    key = tls.PrivateKey(
        name,
        algorithm="ECDSA",
        ecdsa_curve="P256",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    deploy_key = github.RepositoryDeployKey(
        name,
        repository=access.repository.name,
        title=f"flux {owner} ({pulumi.get_project()}/{pulumi.get_stack()})",
        key=key.public_key_openssh,
        read_only=True,
        opts=pulumi.ResourceOptions(parent=parent, provider=access.provider),
    )
    pem: pulumi.Output[str] = pulumi.Output.all(key.private_key_pem, deploy_key.id).apply(
        lambda values: str(values[0])
    )
    return pem


def _ruleset(
    name: str,
    title: str,
    refs: str,
    rules: Mapping[str, object],
    bypass: list[dict[str, str | int]],
    access: GitHubAccess,
    parent: pulumi.Resource | None,
) -> pulumi.CustomResource:
    """One active ruleset of the fleet repository on the branches `refs` names."""
    ruleset: pulumi.CustomResource = github.RepositoryRuleset(
        name,
        name=title,
        repository=access.repository.name,
        target="branch",
        enforcement="active",
        conditions={"ref_name": {"includes": [refs], "excludes": []}},
        rules=rules,
        bypass_actors=bypass or None,
        opts=pulumi.ResourceOptions(parent=parent, provider=access.provider),
    )
    return ruleset


def protect_branch(
    name: str,
    branch: str,
    required_approvals: int,
    writer_app_id: int | None,
    access: GitHubAccess,
    parent: pulumi.Resource | None = None,
) -> list[pulumi.CustomResource]:
    """The rules of a branch the program commits to (main, or an environment's); returns them.

    Two rulesets, because a bypass actor bypasses every rule of its ruleset: `NAME-review` asks
    for pull requests, which the program's writer (and nobody else) may bypass; `NAME-protect`
    forbids deleting the branch and moving it back, with no bypass at all, not even the writer.
    Ref: https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/about-rulesets

    The rules name the branch before it exists: the git writer creates the branch with its first
    commit, a history of its own (an environment branch made from main would carry main's files).
    The branch itself is never the stack's to delete: it holds the history.
    """
    refs = f"refs/heads/{branch}"
    review = {"pull_request": {"required_approving_review_count": required_approvals}}
    return [
        _ruleset(
            f"{name}-review",
            f"fleet branch {branch}: review",
            refs,
            review,
            [writer(writer_app_id)],
            access,
            parent,
        ),
        _ruleset(
            f"{name}-protect",
            f"fleet branch {branch}: no deletion, no force push",
            refs,
            {"deletion": True, "non_fast_forward": True},
            [],
            access,
            parent,
        ),
    ]


def protect_ring_branches(
    name: str, branch: str, writer_app_id: int | None, access: GitHubAccess, parent: pulumi.Resource
) -> list[pulumi.CustomResource]:
    """The held refs of a rollout's rings (`rollout/E/RING`); returns their rulesets.

    Only the program's writer (`pulumi up` creates them, `fleet rollout --advance` moves them)
    may create or move one: anyone else could run a ring on a commit nobody reviewed. Nobody at
    all may delete one or move it back: a ruleset of its own, with no bypass.
    """
    refs = f"refs/heads/{ring_branch(branch, '*')}"
    return [
        _ruleset(
            f"{name}-rings-writer",
            f"fleet rollout rings of {branch}: the writer moves them",
            refs,
            {"creation": True, "update": True},
            [writer(writer_app_id)],
            access,
            parent,
        ),
        _ruleset(
            f"{name}-rings",
            f"fleet rollout rings of {branch}",
            refs,
            {"deletion": True, "non_fast_forward": True},
            [],
            access,
            parent,
        ),
    ]
