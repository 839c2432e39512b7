"""Generated fleets of any size, as raw stack config: for benchmarks, tests and pictures.

They go through the same loaders as a user's stack files, so a generated fleet is valid by the
same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from fleet.model import ENCRYPTED, EnvironmentSpec, FleetSpec, load_environment, load_main


@dataclass(frozen=True)
class Shape:
    """How big a fleet is."""

    management: int = 2
    remotes_per_management: int = 1
    environments: int = 1
    tenants: int = 2
    apps_per_tenant: int = 1
    releases_per_tenant: int = 0
    shards: int = 1
    """Main stacks the fleet is split into, each of the shape above: shard K is main stack
    `main-sK` on branch `main-sK`, with clusters `sK-...` and environments `env-I-sK`."""


def _shard(shape: Shape, shard: int) -> tuple[str, str]:
    """Shard K's cluster name prefix and stack name suffix; none for a fleet of one shard."""
    return ("", "") if shape.shards == 1 else (f"s{shard}-", f"-s{shard}")


def main_config(shape: Shape, shard: int = 0) -> dict[str, Any]:
    """The main stack: k3d management clusters, attached remotes labelled with their tier and
    region, one common chart. A remote is one entry: the only place that names it."""
    prefix, suffix = _shard(shape, shard)
    clusters: list[dict[str, Any]] = []
    for m in range(shape.management):
        manager = f"{prefix}mgmt-{m:02d}"
        region = {"region": f"r{m:02d}"}
        clusters.append({"name": manager, "kind": "k3d", "labels": {"tier": "hub", **region}})
        for r in range(shape.remotes_per_management):
            remote = f"{prefix}edge-{m:02d}-{r:04d}"
            clusters.append(
                {
                    "name": remote,
                    "role": "remote",
                    "kind": "attached",
                    "managedBy": manager,
                    "labels": {"tier": "edge", **region},
                    "attached": {"kubeconfigSecret": _secret_key(remote)},
                }
            )
    repository = {"url": "https://github.com/example/fleet"}
    if suffix:
        repository["branch"] = f"main{suffix}"
    raw: dict[str, Any] = {
        "repository": repository,
        "clusters": clusters,
        "environments": [f"env-{i}{suffix}" for i in range(shape.environments)],
        "infra": [
            {
                "name": "nginx",
                "helm": {
                    "repository": "https://charts.bitnami.com/bitnami",
                    "chart": "nginx",
                    "version": "15.14.0",
                },
                "overrides": {f"{prefix}mgmt-00": {"values": {"replicaCount": 2}}},
            }
        ],
    }
    raw.update({_secret_key(c["name"]): ENCRYPTED for c in clusters if c["kind"] == "attached"})
    return raw


def environment_config(shape: Shape, index: int, shard: int = 0) -> dict[str, Any]:
    """Environment `env-<index>` on every cluster of the fleet, by label: its file does not
    grow with the fleet's clusters."""
    clusters = [
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["hub", "edge"]}]}
    ]
    tenants = [
        {
            "name": f"team-{t:03d}",
            "repository": {"url": f"https://github.com/example/team-{t:03d}", "branch": "main"},
            "apps": [{"name": f"app-{a}"} for a in range(shape.apps_per_tenant)],
            **_releases(shape),
        }
        for t in range(shape.tenants)
    ]
    _, suffix = _shard(shape, shard)
    return {
        "mainStack": f"organization/fleet/main{suffix}",
        "environment": {"name": f"env-{index}{suffix}"},
        "clusters": clusters,
        "tenants": tenants,
    }


def configs(shape: Shape) -> dict[str, dict[str, Any]]:
    """Every stack's raw config by stack name, shard by shard, each main stack first."""
    found: dict[str, dict[str, Any]] = {}
    for shard in range(shape.shards):
        _, suffix = _shard(shape, shard)
        found[f"main{suffix}"] = main_config(shape, shard)
        for index in range(shape.environments):
            found[f"env-{index}{suffix}"] = environment_config(shape, index, shard)
    return found


def generated_shards(shape: Shape) -> list[tuple[FleetSpec, list[EnvironmentSpec]]]:
    """Each shard's main stack and environments, validated."""
    found: list[tuple[FleetSpec, list[EnvironmentSpec]]] = []
    for stack, raw in configs(shape).items():
        if "mainStack" not in raw:
            found.append((load_main(raw, stack, source=f"generated {stack}"), []))
            continue
        fleet = found[-1][0]
        found[-1][1].append(load_environment(raw, stack, fleet, source=f"generated {stack}"))
    return found


def generated(shape: Shape) -> tuple[FleetSpec, list[EnvironmentSpec]]:
    """The fleet and its environments, validated (of a split fleet, its first shard)."""
    return generated_shards(shape)[0]


def _releases(shape: Shape) -> dict[str, Any]:
    """Release channels, written only where there are some, as a user would."""
    channels = [
        {"name": f"r{x}", "branch": f"release/{x}"} for x in range(shape.releases_per_tenant)
    ]
    return {"releases": channels} if channels else {}


def _secret_key(cluster: str) -> str:
    return "kubeconfig-" + cluster


def stack_files(shape: Shape) -> dict[str, str]:
    """The fleet as a user writes it: `Pulumi.<stack>.yaml` text by stack name."""
    return {
        stack: yaml.safe_dump(
            {"config": {f"fleet:{k}": _written(v) for k, v in config.items()}}, sort_keys=False
        )
        for stack, config in configs(shape).items()
    }


def _written(value: Any) -> Any:
    """An encrypted value as `pulumi config set --secret` writes it."""
    return {"secure": "v1:..."} if value is ENCRYPTED else value
