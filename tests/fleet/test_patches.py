"""A component's patches against real kustomize: what the check accepts patches the object it
names, and what it refuses kustomize would stop at or apply to nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fleet import layout, tree
from fleet.config import ComponentOverride, PatchConfig
from fleet.model import EnvironmentSpec, FleetSpec, StackSpec
from fleet_cli.kustomize import KustomizeError, build
from tests.support.sample import Raw, load_sample

MANAGEMENT = "k3d-america"
REMOTE = "k3s-america-south"


def patch_on(raw: Raw, cluster: str, *patches: dict[str, Any]) -> None:
    raw["infra"][0]["overrides"][cluster] = {"patches": list(patches)}


def built(model: StackSpec, folder: str, tmp_path: Path) -> list[dict[str, Any]]:
    files = tree.main_branch(model) if isinstance(model, FleetSpec) else None
    if files is None:
        assert isinstance(model, EnvironmentSpec)
        files = tree.environment_branch(model)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return build(tmp_path / folder)


def the(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o["kind"] == kind]
    return found


REDIS = layout.component_overlay(layout.cluster_infra(MANAGEMENT), "redis")

ACCEPTED: dict[str, dict[str, Any]] = {
    "untargeted, naming its object": {
        "patch": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "redis"},
            "spec": {"replicas": 3},
        }
    },
    "targeted by a name pattern and the component's namespace": {
        "target": {"kind": "Deployment", "name": "red.*", "namespace": "dev-redis"},
        "patch": {"spec": {"replicas": 3}},
    },
    "JSON 6902 with a target": {
        "target": {"group": "apps", "version": "v1", "kind": "Deployment", "name": "redis"},
        "patch": [{"op": "replace", "path": "/spec/replicas", "value": 3}],
    },
}


@pytest.mark.parametrize("patch", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_an_accepted_patch_changes_its_object(patch: dict[str, Any], tmp_path: Path) -> None:
    env = load_sample("dev", lambda raw: patch_on(raw, MANAGEMENT, patch))
    deployment = the(built(env, REDIS, tmp_path), "Deployment")
    assert deployment["spec"]["replicas"] == 3


def test_a_charts_release_is_patched_by_its_name_on_each_cluster(tmp_path: Path) -> None:
    def patches(raw: Raw) -> None:
        timeout = {"spec": {"timeout": "10m"}}
        here = {"kind": "HelmRelease", "name": "nginx"}
        patch_on(raw, MANAGEMENT, {"target": here, "patch": timeout})
        remote = {"kind": "HelmRelease", "name": f"{REMOTE}-nginx"}
        patch_on(raw, REMOTE, {"target": remote, "patch": timeout})

    fleet = load_sample("main", patches)
    folders = {
        layout.component_overlay(layout.cluster_infra(MANAGEMENT), "nginx"): "nginx",
        layout.remote_chart(MANAGEMENT, REMOTE, "nginx"): f"{REMOTE}-nginx",
    }
    for index, (folder, name) in enumerate(folders.items()):
        release = the(built(fleet, folder, tmp_path / str(index)), "HelmRelease")
        assert (release["metadata"]["name"], release["spec"]["timeout"]) == (name, "10m")


def test_what_the_check_refuses_kustomize_stops_at_or_applies_to_nothing(
    tmp_path: Path,
) -> None:
    """The refused patches, put past the check into a valid model: an untargeted body naming
    no object stops kustomize at a placeholder the user never wrote; a target naming no object
    leaves the build as it was."""
    env = load_sample("dev")
    assert isinstance(env, EnvironmentSpec)

    def with_patch(*patches: PatchConfig) -> EnvironmentSpec:
        (redis,) = env.infra
        overrides = {MANAGEMENT: ComponentOverride(patches=list(patches))}
        return replace(env, infra=(replace(redis, overrides=overrides),))

    before = built(with_patch(), REDIS, tmp_path / "before")

    nameless = PatchConfig(patch={"spec": {"replicas": 3}})
    with pytest.raises(KustomizeError, match=r"[Pp]laceholder"):
        built(with_patch(nameless), REDIS, tmp_path / "nameless")
    elsewhere = PatchConfig.model_validate(
        {"target": {"kind": "Deployment", "name": "redis-master"}, "patch": {"spec": {"x": 1}}}
    )
    assert built(with_patch(elsewhere), REDIS, tmp_path / "elsewhere") == before
