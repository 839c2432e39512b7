"""The simulation's repositories: the bare one its branches land in, read as git does, and a
local folder standing in for a tenant's repository, built as Flux builds a plain folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fleet_cli.kustomize import BranchBuilds
from fleet_cli.simulation.repository import Repository, folder_source


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def test_a_plain_folder_builds_every_manifest_below_it(tmp_path: Path) -> None:
    (tmp_path / "app" / "deep").mkdir(parents=True)
    (tmp_path / "app" / "own").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "app" / "a.yaml").write_text(config_map("a"))
    (tmp_path / "app" / "deep" / "b.yml").write_text(config_map("b"))
    (tmp_path / "app" / "README.md").write_text("not a manifest")
    (tmp_path / "app" / "own" / "c.yaml").write_text(config_map("c"))
    (tmp_path / "app" / "own" / "skipped.yaml").write_text(config_map("skipped"))
    (tmp_path / "app" / "own" / "kustomization.yaml").write_text("resources: [c.yaml]\n")
    (tmp_path / ".git" / "config.yaml").write_text(config_map("hidden"))

    files = folder_source(tmp_path)

    assert ".git/config.yaml" not in files
    assert files["app/own/kustomization.yaml"] == "resources: [c.yaml]\n"  # kept as written
    with BranchBuilds(files) as builds:
        built = builds.result("app")
        assert not isinstance(built, str), built
        assert sorted(o["metadata"]["name"] for o in built) == ["a", "b", "c"]
        assert builds.result("app/deep") != builds.result("app")


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def test_the_tips_are_what_git_says_packed_or_loose(tmp_path: Path) -> None:
    repository = Repository(tmp_path / "fleet.git")
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for branch in ("main", "dev", "release/1-0-x/dev"):
        git("checkout", "-q", "-B", branch, cwd=work)
        (work / "file").write_text(branch)
        git("add", ".", cwd=work)
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", branch, cwd=work)
        git("push", "-q", str(repository.path), branch, cwd=work)

    def by_git() -> dict[str, str]:
        listing = git(
            "--git-dir",
            str(repository.path),
            "for-each-ref",
            "--format=%(refname:lstrip=2) %(objectname)",
            "refs/heads",
            cwd=tmp_path,
        )
        return dict(line.split(" ", 1) for line in listing.splitlines())

    assert repository.tips() == by_git()
    assert set(repository.tips()) == {"main", "dev", "release/1-0-x/dev"}
    git("--git-dir", str(repository.path), "pack-refs", "--all", cwd=tmp_path)
    assert repository.tips() == by_git()
    # A push after packing leaves a loose ref, which wins over the packed one.
    (work / "file").write_text("again")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "again", cwd=work)
    git("push", "-q", str(repository.path), "release/1-0-x/dev", cwd=work)
    assert repository.tips() == by_git()
    assert repository.tips()["release/1-0-x/dev"] == git("rev-parse", "HEAD", cwd=work).strip()
