"""Stable identities in git: adding one entity leaves every other committed file alone."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.fleets import Shape, environment_config, main_config
from fleet import tree
from fleet.model import ENCRYPTED, load_environment, load_main

Raw = dict[str, Any]
Edit = Callable[[Raw, Raw], None]
"""Changes (main raw, environment raw) in place."""


def add_management_cluster(main: Raw, env: Raw) -> None:
    main["clusters"].append({"name": "added-mgmt", "kind": "k3d"})
    env["clusters"].append("added-mgmt")


def add_remote_cluster(main: Raw, env: Raw) -> None:
    main["clusters"].append(
        {
            "name": "added-edge",
            "role": "remote",
            "kind": "attached",
            "managedBy": "mgmt-00",
            "attached": {"kubeconfigSecret": "addedEdgeKubeconfig"},
        }
    )
    main["addedEdgeKubeconfig"] = ENCRYPTED
    env["clusters"].append("added-edge")


def add_component(main: Raw, env: Raw) -> None:
    main["infra"].append(
        {"name": "added-config", "manifests": [_config_map("added")]},
    )


def add_environment_component(main: Raw, env: Raw) -> None:
    env.setdefault("infra", []).append(
        {"name": "added-cache", "manifests": [_config_map("cache")]},
    )


def add_tenant(main: Raw, env: Raw) -> None:
    env["tenants"].append(
        {
            "name": "added-team",
            "repository": {"url": "https://github.com/example/added", "branch": "main"},
            "apps": [{"name": "added-app"}],
        }
    )


def add_app(main: Raw, env: Raw) -> None:
    env["tenants"][0]["apps"].append({"name": "added-app"})


def add_release_channel(main: Raw, env: Raw) -> None:
    env["tenants"][0].setdefault("releases", []).append(
        {"name": "added-rc", "branch": "release/added"}
    )


def _config_map(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


EDITS: dict[str, Edit] = {
    "management cluster": add_management_cluster,
    "remote cluster": add_remote_cluster,
    "component": add_component,
    "environment component": add_environment_component,
    "tenant": add_tenant,
    "app": add_app,
    "release channel": add_release_channel,
}


def render(main_raw: Raw, env_raw: Raw) -> dict[str, str]:
    fleet = load_main(main_raw, "main", source="main")
    env = load_environment(env_raw, "env-0", fleet, source="env-0")
    files = {f"main/{p}": t for p, t in tree.main_branch(fleet).items()}
    files.update({f"env/{p}": t for p, t in tree.environment_branch(env).items()})
    return files


def only_additions(before: str, after: str) -> bool:
    """A listing file may gain entries: old documents, resources and patches all survive."""
    old_docs = list(yaml.safe_load_all(before))
    new_docs = list(yaml.safe_load_all(after))
    if old_docs and isinstance(old_docs[0], dict) and old_docs[0].get("resources") is not None:
        old, new = old_docs[0], new_docs[0]
        return set(old["resources"]) <= set(new["resources"]) and all(
            patch in new.get("patches", []) for patch in old.get("patches", [])
        )
    return all(doc in new_docs for doc in old_docs)


shapes = st.builds(
    Shape,
    management=st.integers(1, 3),
    remotes_per_management=st.integers(0, 2),
    environments=st.just(1),
    tenants=st.integers(1, 3),
    apps_per_tenant=st.integers(1, 2),
    releases_per_tenant=st.integers(0, 1),
)


def before_and_after(shape: Shape, edit: str) -> tuple[tuple[Raw, Raw], tuple[Raw, Raw]]:
    """(main, environment) raw config of a generated fleet, and the same plus one entity."""
    main_raw, env_raw = main_config(shape), environment_config(shape, 0)
    main_after, env_after = copy.deepcopy(main_raw), copy.deepcopy(env_raw)
    EDITS[edit](main_after, env_after)
    return (main_raw, env_raw), (main_after, env_after)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, edit=st.sampled_from(sorted(EDITS)))
def test_adding_an_entity_changes_only_what_belongs_to_it(shape: Shape, edit: str) -> None:
    configs_before, configs_after = before_and_after(shape, edit)
    before, after = render(*configs_before), render(*configs_after)

    assert set(before) <= set(after), f"adding a {edit} removed {set(before) - set(after)}"
    assert set(after) - set(before), f"adding a {edit} added no file"
    changed = [p for p in before if before[p] != after[p]]
    for path in changed:
        assert only_additions(before[path], after[path]), f"adding a {edit} rewrote {path}"
    # Only files that list children change: parent kustomizations and a cluster's wiring.
    assert all(
        p.endswith("kustomization.yaml") or "/clusters/" in p or p.startswith("main/clusters/")
        for p in changed
    ), changed
