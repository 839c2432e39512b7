"""A local folder standing in for a tenant's repository, built as Flux builds a plain folder."""

from __future__ import annotations

from pathlib import Path

from fleet_cli.kustomize import BranchBuilds
from fleet_cli.simulation.repository import folder_source


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
