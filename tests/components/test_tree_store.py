"""The tree store: a tree comes back only as it was saved, and only its own files are swept."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

from components import tree_store
from components.tree_store import TreeMissing


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "store"
    monkeypatch.setenv(tree_store.STORE_ENV, str(folder))
    monkeypatch.setattr(tree_store, "_swept", set())
    return folder


def test_a_tree_comes_back_as_it_was_saved_once_per_digest(store: Path) -> None:
    files = {"a.yaml": "a: 1\n", "b/c.yaml": "ünïcode: ✓\n"}
    digest = tree_store.save(files)
    assert tree_store.save(dict(reversed(files.items()))) == digest
    assert tree_store.load(digest) == files
    assert [p.name for p in store.iterdir()] == [f"{digest}.json.gz"]
    assert tree_store.save({"a.yaml": "a: 2\n"}) != digest


def test_a_damaged_truncated_or_foreign_tree_is_refused(store: Path) -> None:
    digest = tree_store.save({"a.yaml": "a\n"})
    kept = store / f"{digest}.json.gz"
    kept.write_bytes(kept.read_bytes()[:10])
    with pytest.raises(TreeMissing, match="damaged"):
        tree_store.load(digest)
    kept.write_bytes(gzip.compress(b'{"a.yaml": "b\\n"}'))
    with pytest.raises(TreeMissing, match="does not match its digest"):
        tree_store.load(digest)
    with pytest.raises(TreeMissing, match="does not name a rendered tree"):
        tree_store.load("../../etc/passwd")


def test_the_sweep_removes_old_trees_only(store: Path) -> None:
    old = tree_store.save({"old.yaml": "o\n"})
    store.joinpath("notes.txt").write_text("mine\n")
    month_ago = time.time() - 30 * 86400
    for path in store.iterdir():
        os.utime(path, (month_ago, month_ago))
    tree_store._swept.clear()  # a process of its own sweeps again
    new = tree_store.save({"new.yaml": "n\n"})
    names = {p.name for p in store.iterdir()}
    assert names == {"notes.txt", f"{new}.json.gz"} and f"{old}.json.gz" not in names
