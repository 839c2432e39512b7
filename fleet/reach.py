"""How a cluster's API server is reached: by Pulumi from where it runs, and by Flux from inside
a management cluster. Usually the same address; not for a k3d remote, whose kubeconfig points at
a port k3d maps on the host (`0.0.0.0:PORT`), which a Pod in another k3d cluster cannot reach.
Both clusters join one Docker network (`k3d.network`), where Docker's DNS resolves container
names, and the remote's API server is reached through its load balancer container,
`k3d-NAME-serverlb`, on the API server's own port (6443), which k3d's loadbalancer proxies to
the servers. The server's certificate names it (`--tls-san`, `fleet.reach.k3d_tls_san`).
Ref: https://k3d.io/stable/design/networking/ ; https://docs.k3s.io/cli/server (`--tls-san`)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from fleet.config import K3dConfig

if TYPE_CHECKING:  # the model's rules use this module's names
    from fleet.model import ClusterSpec

K3D_API_PORT = 6443
"""The port of the API server inside the cluster's Docker network."""


def k3d_load_balancer(name: str) -> str:
    """The container k3d names the cluster's load balancer (`k3d-NAME-serverlb`)."""
    return f"k3d-{name}-serverlb"


def k3d_tls_san(name: str) -> str:
    """The `--k3s-arg` that makes every server's certificate valid for the load balancer's
    name, so a client in the Docker network verifies it."""
    return f"--tls-san={k3d_load_balancer(name)}@server:*"


def in_network_server(cluster: ClusterSpec) -> str | None:
    """The address Flux in the cluster's management cluster reaches it at, when that is not
    the kubeconfig's own: a k3d cluster on a Docker network."""
    provisioning = cluster.provisioning
    if isinstance(provisioning, K3dConfig) and provisioning.network is not None:
        return f"https://{k3d_load_balancer(cluster.name)}:{K3D_API_PORT}"
    return None


def with_server(kubeconfig: str, server: str) -> str:
    """The kubeconfig with every cluster entry's server at `server`; credentials unchanged. A
    kubeconfig that does not parse is reported by where, never by what it holds."""
    try:
        config = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"the kubeconfig does not parse as YAML{where}") from None
    if not isinstance(config, dict) or not isinstance(config.get("clusters"), list):
        raise ValueError("the kubeconfig has no list of clusters")
    for entry in config["clusters"]:
        if isinstance(entry, dict) and isinstance(entry.get("cluster"), dict):
            entry["cluster"]["server"] = server
    return yaml.safe_dump(config, sort_keys=False)


def flux_kubeconfig(cluster: ClusterSpec, kubeconfig: str) -> str:
    """The kubeconfig Flux uses for `cluster` (the data of its `R-kubeconfig` Secret)."""
    server = in_network_server(cluster)
    return kubeconfig if server is None else with_server(kubeconfig, server)
