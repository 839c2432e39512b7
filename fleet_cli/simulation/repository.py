"""The bare git repository the simulation lands branches in, read back as Flux's source
controller would: the tree at a branch's tip."""

from __future__ import annotations

import subprocess
from pathlib import Path


class RepositoryError(Exception):
    """The repository cannot be created or read."""


class Repository:
    """A bare repository on disk; branches are read at their tip, one tree per commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._trees: dict[str, dict[str, str]] = {}
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", "--bare", str(path))

    def _git(self, *args: str, stdin: bytes = b"") -> bytes:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=stdin,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip()
            raise RepositoryError(f"git {args[0]} in {self.path}: {detail}")
        return proc.stdout

    def tips(self) -> dict[str, str]:
        """Each branch with its tip commit."""
        out = self._git("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads")
        return dict(line.split(" ", 1) for line in out.decode().splitlines() if line)

    def files(self, commit: str) -> dict[str, str]:
        """Every file of a commit, as text."""
        if commit not in self._trees:
            listing = self._git("ls-tree", "-r", "-z", "--full-tree", commit).decode()
            entries = []
            for item in filter(None, listing.split("\0")):
                meta, path = item.split("\t", 1)
                _mode, kind, oid = meta.split(" ")
                if kind == "blob":
                    entries.append((path, oid))
            self._trees[commit] = dict(
                zip([p for p, _ in entries], self._blobs(entries), strict=True)
            )
        return self._trees[commit]

    def _blobs(self, entries: list[tuple[str, str]]) -> list[str]:
        if not entries:
            return []
        out = self._git("cat-file", "--batch", stdin="".join(f"{o}\n" for _, o in entries).encode())
        texts = []
        pos = 0
        while pos < len(out):
            header_end = out.index(b"\n", pos)
            _oid, _kind, size = out[pos:header_end].decode().split(" ")
            start = header_end + 1
            texts.append(out[start : start + int(size)].decode("utf-8", errors="replace"))
            pos = start + int(size) + 1
        return texts
