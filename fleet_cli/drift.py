"""Hand edits on the branches: files the last render wrote that differ on the branch now.

Pulumi shows them on `pulumi preview --refresh` (the provider's `read`), and the next update
overwrites them; `fleet diff` shows them too, where it can read the branch offline: when the
stack commits to a repository on this machine (a path or `file://` URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from components.gitwriter import BranchTarget, GitWriterError, content_hash, current_hashes
from fleet.access import is_local_git_url


def local_repository(url: str, project: Path) -> str | None:
    """The repository the stack commits to, when it is on this machine; None otherwise."""
    if not is_local_git_url(url):
        return None
    path = url.removeprefix("file://")
    resolved = path if Path(path).is_absolute() else str(project / path)
    return resolved if Path(resolved).exists() else None


def hand_edits(
    repository: str, owner: str, branches: Mapping[str, Mapping[str, str]]
) -> dict[str, list[str]]:
    """For each branch, the files whose content on the branch differs from `branches` (what the
    render wrote); a branch that cannot be read is skipped."""
    found: dict[str, list[str]] = {}
    for branch, files in branches.items():
        target = BranchTarget(repository, branch, owner)
        try:
            now = current_hashes(target, also=files)
        except GitWriterError:
            continue
        edited = [
            path for path, text in files.items() if path in now and now[path] != content_hash(text)
        ]
        if edited:
            found[branch] = sorted(edited)
    return found
