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
        """Each branch with its tip commit, read from the refs as git stores them (a loose ref
        file overrides the packed one): Flux asks at every reconciliation, and a `git`
        process each time would cost more than the rest of it.
        Ref: https://git-scm.com/docs/gitrepository-layout (refs, packed-refs)"""
        tips: dict[str, str] = {}
        packed = self.path / "packed-refs"
        if packed.exists():
            for line in packed.read_text(encoding="utf-8").splitlines():
                oid, _, ref = line.partition(" ")
                if ref.startswith("refs/heads/") and not line.startswith(("#", "^")):
                    tips[ref.removeprefix("refs/heads/")] = oid
        heads = self.path / "refs" / "heads"
        for loose in heads.rglob("*") if heads.exists() else ():
            if loose.is_file() and not loose.name.endswith(".lock"):
                name = loose.relative_to(heads).as_posix()
                tips[name] = loose.read_text(encoding="utf-8").strip()
        return dict(sorted(tips.items()))

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


MANIFEST_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def folder_source(folder: Path) -> dict[str, str]:
    """A local folder standing in for a repository that is not the fleet's (a tenant's, at
    any branch): its text files, and a `kustomization.yaml` in each folder that has none,
    listing the manifests below it, as kustomize-controller generates one for a plain folder
    of manifests (fluxcd/pkg `kustomize/kustomize_generator.go`, `findOrGenerateKustomization`:
    every YAML file, and every subfolder that holds a kustomization)."""
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            try:
                files[relative.as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return {**files, **_generated_kustomizations(files)}


def _generated_kustomizations(files: dict[str, str]) -> dict[str, str]:
    folders: dict[str, set[str]] = {}
    """Each folder with manifests below it, and its entries that lead to them."""
    for path in files:
        if not path.endswith(MANIFEST_SUFFIXES) or path.rsplit("/", 1)[-1] in KUSTOMIZATION_FILES:
            continue
        parts = path.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth]) or "."
            folders.setdefault(folder, set()).add(parts[depth])
    generated = {}
    for folder, entries in folders.items():
        prefix = "" if folder == "." else f"{folder}/"
        if any(f"{prefix}{name}" in files for name in KUSTOMIZATION_FILES):
            continue
        resources = "".join(f"  - {entry}\n" for entry in sorted(entries))
        generated[f"{prefix}kustomization.yaml"] = (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources:\n{resources}"
        )
    return generated
