"""The render of another revision, kept by what that revision holds: rendered once, read back
after, and never for a revision that holds something else."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet_cli import revisions
from fleet_cli.revisions import render_at
from tests.fleet_cli.test_commands import copy_project
from tests.support.sample import commit_all


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """The `fleet render` processes started, in a cache of this test's own."""
    monkeypatch.setenv(revisions.CACHE_ENV, str(tmp_path / "cache"))
    started: list[list[str]] = []
    real = subprocess.run

    def run(command: list[str], *args: Any, **kwargs: Any) -> Any:
        if "render" in command:
            started.append(command)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    return started


def test_a_revision_is_rendered_once_and_read_back_after(
    tmp_path: Path, renders: list[list[str]]
) -> None:
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    stack = project / "Pulumi.dev.yaml"
    first = render_at("HEAD", stack)
    again = render_at("HEAD", stack)
    assert len(renders) == 1
    assert again == first and again.stack == "dev" and again.branches["dev"]


def test_another_revision_or_no_cache_renders_again(
    tmp_path: Path, renders: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    stack = project / "Pulumi.dev.yaml"
    before = render_at("HEAD", stack)
    document = yaml.safe_load(stack.read_text())
    document["config"]["fleet:tenants"][1]["apps"].append({"name": "shuriken"})
    stack.write_text(yaml.safe_dump(document, sort_keys=False))
    commit_all(project, "an app more")
    after = render_at("HEAD", stack)
    assert len(renders) == 2 and after != before
    assert render_at("HEAD~1", stack) == before and len(renders) == 2
    monkeypatch.setenv(revisions.CACHE_ENV, "off")
    assert render_at("HEAD", stack) == after and len(renders) == 3
