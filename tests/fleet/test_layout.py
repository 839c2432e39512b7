"""The repository layout: every path a Flux Kustomization reads is a folder its branch holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.fleets import Shape, generated
from fleet import layout, objects, tree, wiring, yamldoc
from fleet.model import EnvironmentSpec, FleetSpec
from tests.support.sample import load_sample


def _fleets() -> Iterator[tuple[FleetSpec, list[EnvironmentSpec]]]:
    fleet = load_sample("main")
    environments = [load_sample("dev"), load_sample("qa")]
    assert isinstance(fleet, FleetSpec) and all(
        isinstance(e, EnvironmentSpec) for e in environments
    )
    yield fleet, environments  # type: ignore[misc]
    yield generated(
        Shape(management=2, remotes_per_management=2, environments=2, releases_per_tenant=1)
    )


def _kustomizations(branch: str, files: dict[str, str], applied: list[Any]) -> Iterator[Any]:
    """Every Flux Kustomization of the branch: the wiring Pulumi applies, and those in its files."""
    yield from (o for o in applied if o["kind"] == "Kustomization")
    for path, text in files.items():
        if path.startswith(layout.CLUSTERS + "/"):
            continue  # the wiring again, for reference
        for document in yamldoc.load_all(text):
            is_flux = isinstance(document, dict) and document.get("apiVersion") == (
                objects.KUSTOMIZE_API
            )
            # A patch (`sync-patch.yaml`) names no source: the object it patches does.
            if is_flux and "sourceRef" in document.get("spec", {}):
                yield document


def test_every_kustomization_path_is_a_folder_the_tree_writes() -> None:
    checked = 0
    for fleet, environments in _fleets():
        branches = [
            (
                "main",
                tree.main_branch(fleet),
                [
                    o
                    for c in fleet.management_clusters
                    for o in wiring.main_wiring(fleet, c).objects
                ],
            )
        ]
        for env in environments:
            applied = [
                o
                for c in env.management_clusters
                for o in wiring.environment_wiring(env, c).objects
            ]
            branches.append((env.branch, tree.environment_branch(env), applied))
        for branch, files, applied in branches:
            for kustomization in _kustomizations(branch, files, applied):
                source = kustomization["spec"]["sourceRef"]["name"]
                if source.endswith("-manifests"):
                    continue  # a tenant's own repository
                folder = layout.folder_of(kustomization["spec"]["path"])
                assert layout.kustomization_file(folder) in files, (branch, kustomization)
                checked += 1
    assert checked > 30


@pytest.mark.parametrize(
    ("path", "folder"),
    [("./infra/a", "infra/a"), ("./", "."), ("infra/a/", "infra/a"), ("./a/../b", "b")],
)
def test_folder_of_a_kustomization_path(path: str, folder: str) -> None:
    assert layout.folder_of(path) == folder
    assert layout.folder_of(layout.kustomization_path(folder)) == folder
