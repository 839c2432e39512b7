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


def main_config(shape: Shape) -> dict[str, Any]:
    """The main stack: k3d management clusters, attached remotes labelled with their tier and
    region, one common chart. A remote is one entry: the only place that names it."""
    clusters: list[dict[str, Any]] = []
    for m in range(shape.management):
        manager = f"mgmt-{m:02d}"
        region = {"region": f"r{m:02d}"}
        clusters.append({"name": manager, "kind": "k3d", "labels": {"tier": "hub", **region}})
        for r in range(shape.remotes_per_management):
            remote = f"edge-{m:02d}-{r:04d}"
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
    raw: dict[str, Any] = {
        "repository": {"url": "https://github.com/example/fleet"},
        "clusters": clusters,
        "environments": [f"env-{i}" for i in range(shape.environments)],
        "infra": [
            {
                "name": "nginx",
                "helm": {
                    "repository": "https://charts.bitnami.com/bitnami",
                    "chart": "nginx",
                    "version": "15.14.0",
                },
                "overrides": {"mgmt-00": {"values": {"replicaCount": 2}}},
            }
        ],
    }
    raw.update({_secret_key(c["name"]): ENCRYPTED for c in clusters if c["kind"] == "attached"})
    return raw


def environment_config(shape: Shape, index: int) -> dict[str, Any]:
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
    return {
        "mainStack": "organization/fleet/main",
        "environment": {"name": f"env-{index}"},
        "clusters": clusters,
        "tenants": tenants,
    }


def generated(shape: Shape) -> tuple[FleetSpec, list[EnvironmentSpec]]:
    """The fleet and its environments, validated."""
    fleet = load_main(main_config(shape), "main", source="generated main")
    environments = [
        load_environment(
            environment_config(shape, i), f"env-{i}", fleet, source=f"generated env-{i}"
        )
        for i in range(shape.environments)
    ]
    return fleet, environments


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
    configs = {"main": main_config(shape)} | {
        f"env-{i}": environment_config(shape, i) for i in range(shape.environments)
    }
    return {
        stack: yaml.safe_dump(
            {"config": {f"fleet:{k}": _written(v) for k, v in config.items()}}, sort_keys=False
        )
        for stack, config in configs.items()
    }


def _written(value: Any) -> Any:
    """An encrypted value as `pulumi config set --secret` writes it."""
    return {"secure": "v1:..."} if value is ENCRYPTED else value
