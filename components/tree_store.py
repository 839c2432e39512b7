"""Rendered trees by digest, kept on this machine between the program and the git writer.

Pulumi keeps every input of a resource in the stack's state, and a fleet's tree is megabytes
(the edge fleet's environment branch: 37,000 files, 13 MB). So the branch resource's input
names the tree by its digest (`components.gitwriter.tree_digest` of its file hashes), and the
files wait here: the program saves them when it registers the resource, and the provider,
which Pulumi runs on the same machine in the same `pulumi up`, loads them when it writes. A
tree read back must hash to its digest, so nothing here can slip other files into a commit.

The store is a cache folder (`FLEET_TREE_STORE`, default the user's cache folder); trees not
used for `KEEP_DAYS` are swept.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from components.gitwriter import GitWriterError, content_hash, tree_digest

STORE_ENV = "FLEET_TREE_STORE"
KEEP_DAYS = 14
_OURS = re.compile(r"^([0-9a-f]{64}\.json\.gz|\.tree-.*\.part)$")
"""The store's own files: trees, and trees being written. Nothing else there is swept."""
_swept: set[Path] = set()
"""Folders this process has swept already: once is enough."""


class TreeMissing(GitWriterError):
    """A tree the provider must write is not in this machine's store."""


def root() -> Path:
    """Where trees are kept: `FLEET_TREE_STORE`, else the user's cache folder."""
    setting = os.environ.get(STORE_ENV)
    if setting:
        return Path(setting)
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "fleet" / "trees"


def digest_of(files: Mapping[str, str]) -> str:
    return tree_digest({path: content_hash(text) for path, text in files.items()})


def save(files: Mapping[str, str]) -> str:
    """Keep the tree (once per digest, written whole or not at all); returns its digest."""
    digest = digest_of(files)
    folder = root()
    target = folder / f"{digest}.json.gz"
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.utime(target)
        return digest
    _sweep(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tree-", suffix=".part")
    try:
        with (
            os.fdopen(handle, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out,
        ):
            out.write(json.dumps(dict(files), separators=(",", ":")).encode())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest


def load(digest: str) -> dict[str, str]:
    """The tree saved under `digest`, checked against it."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise TreeMissing(f"{digest[:80]!r} does not name a rendered tree")
    path = root() / f"{digest}.json.gz"
    try:
        with gzip.open(path, "rb") as raw:
            files = json.loads(raw.read())
    except FileNotFoundError:
        raise TreeMissing(
            f"the rendered tree {digest[:16]} is not in {root()}: the program saves it there "
            "in the same `pulumi up` that writes it, so run `pulumi up` again (the program and "
            f"the provider must see the same {STORE_ENV})"
        ) from None
    except (OSError, EOFError, ValueError) as error:
        raise TreeMissing(
            f"the rendered tree {digest[:16]} in {root()} is damaged ({error}); "
            "delete it and run `pulumi up` again"
        ) from None
    if (
        not isinstance(files, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
        or digest_of(files) != digest
    ):
        raise TreeMissing(
            f"the rendered tree {digest[:16]} in {root()} does not match its digest; delete it "
            "and run `pulumi up` again"
        )
    return files


def _sweep(folder: Path) -> None:
    """Remove trees nobody saved or loaded for `KEEP_DAYS`, and stray partial writes; nothing
    else in the folder."""
    if folder in _swept:
        return
    _swept.add(folder)
    cutoff = time.time() - KEEP_DAYS * 86400
    for path in folder.iterdir():
        if not _OURS.match(path.name):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue
