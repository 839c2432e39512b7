"""Each distinct kustomization is built once, by content, and kept across runs: never a stale
build (an edited file is a new build), failures named by their own folder, one cache per
kubectl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_cli import kustomize
from fleet_cli.kustomize import CACHE_ENV, BranchBuilds

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: '{value}'\n"


def overlay(name: str, value: str = "1") -> dict[str, str]:
    """A folder `name` that builds one ConfigMap from a file of its own."""
    return {
        f"{name}/kustomization.yaml": "resources:\n- settings.yaml\n",
        f"{name}/settings.yaml": CONFIG_MAP.format(name="settings", value=value),
    }


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder of its own, and nothing of other tests' builds in memory."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    monkeypatch.setattr(kustomize, "_CACHE", {})
    yield folder


@pytest.fixture
def builds_run(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every folder kubectl builds, in order."""
    seen: list[Path] = []
    real = kustomize.build

    def counted(folder: Path) -> list[dict[str, object]]:
        seen.append(folder)
        return real(folder)

    monkeypatch.setattr(kustomize, "build", counted)
    return seen


def test_folders_alike_are_built_once(cache: Path, builds_run: list[Path]) -> None:
    files = {**overlay("infra/a"), **overlay("infra/b"), **overlay("infra/c", "2")}
    with BranchBuilds(files) as builds:
        builds.build(["infra/a", "infra/b", "infra/c"])
        assert builds.result("infra/a") == builds.result("infra/b") != builds.result("infra/c")
    assert len(builds_run) == 2


def test_a_build_is_kept_across_runs_and_an_edit_is_never_served_stale(
    cache: Path, builds_run: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {**overlay("infra/a"), **overlay("infra/b")}
    with BranchBuilds(files) as builds:
        first = builds.result("infra/a")
    assert len(builds_run) == 1
    # A new run: nothing in memory, the build read back from the cache folder.
    monkeypatch.setattr(kustomize, "_CACHE", {})
    with BranchBuilds(files) as builds:
        assert builds.result("infra/a") == first
    assert len(builds_run) == 1
    # One file of one overlay edited: that folder is built anew, the other is not.
    monkeypatch.setattr(kustomize, "_CACHE", {})
    edited = {**files, "infra/a/settings.yaml": CONFIG_MAP.format(name="settings", value="9")}
    with BranchBuilds(edited) as builds:
        changed = builds.result("infra/a")
        assert builds.result("infra/b") == first
    assert isinstance(changed, list) and changed[0]["data"] == {"a": "9"}
    assert len(builds_run) == 2


def test_a_failure_names_its_own_folder_and_is_not_kept(
    cache: Path, builds_run: list[Path]
) -> None:
    broken = {"resources": "- missing.yaml\n"}
    files = {
        "infra/a/kustomization.yaml": f"resources:\n{broken['resources']}",
        "infra/b/kustomization.yaml": f"resources:\n{broken['resources']}",
    }
    with BranchBuilds(files) as builds:
        a, b = builds.result("infra/a"), builds.result("infra/b")
    assert isinstance(a, str) and isinstance(b, str)
    assert "infra/a" in a and "infra/b" in b
    assert not any(cache.rglob("*.json"))


def test_another_kubectl_is_another_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kustomize._cache_folder()
    other = tmp_path / "kubectl"
    other.write_text("#!/bin/sh\n")
    monkeypatch.setattr(kustomize, "kubectl", lambda: str(other))
    second = kustomize._cache_folder()
    assert first is not None and second is not None and first != second
    assert first.parent == second.parent == cache
    monkeypatch.setenv(CACHE_ENV, "off")
    assert kustomize._cache_folder() is None
