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

import base64
from typing import TYPE_CHECKING, Any

import yaml

from fleet import names, objects
from fleet.config import AksConfig, K3dConfig

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


def secret_less(cluster: ClusterSpec) -> bool:
    """Flux reaches the remote with workload identity, no credential stored (Flux 2.7+)."""
    provisioning = cluster.provisioning
    return isinstance(provisioning, AksConfig) and provisioning.flux_access == "workload-identity"


def kube_config(remote: ClusterSpec) -> dict[str, Any]:
    """`spec.kubeConfig` of what Flux applies to `remote`: the kubeconfig in the Secret
    `R-kubeconfig`, or, secret-less, the ConfigMap `R-kubeconfig` that names the cluster and the
    account Flux signs in as (`fleet.wiring.WorkloadIdentityAccess`).
    Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#kubeconfig-remote-clusters"""
    return kube_config_named(remote.name, secret_less=secret_less(remote))


def kube_config_named(remote: str, *, secret_less: bool = False) -> dict[str, Any]:
    """`spec.kubeConfig` for the remote named `remote` (`kube_config`)."""
    name = names.kubeconfig_secret(remote)
    if secret_less:
        return {"configMapRef": {"name": name}}
    return {"secretRef": {"name": name, "key": objects.KUBECONFIG_KEY}}


AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
"""The annotations Flux reads on the account it signs in to Azure as (fluxcd/pkg auth/azure)."""
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
"""The audience of a federated credential that trusts a Kubernetes service account token."""


def federated_subject(namespace: str) -> str:
    """The subject of the platform account of `namespace` in its cluster's OIDC tokens."""
    return f"system:serviceaccount:{namespace}:{names.PLATFORM_ACCOUNT}"


def in_network_server(cluster: ClusterSpec) -> str | None:
    """The address Flux in the cluster's management cluster reaches it at, when that is not
    the kubeconfig's own: a k3d cluster on a Docker network."""
    provisioning = cluster.provisioning
    if isinstance(provisioning, K3dConfig) and provisioning.network is not None:
        return f"https://{k3d_load_balancer(cluster.name)}:{K3D_API_PORT}"
    return None


def parse_kubeconfig(kubeconfig: str) -> dict[str, Any]:
    """A kubeconfig as a mapping. One that does not parse is reported by where, never by what
    it holds: a parser's message quotes the offending line, which may be a credential."""
    try:
        config = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"the kubeconfig does not parse as YAML{where}") from None
    if not isinstance(config, dict):
        raise ValueError("the kubeconfig is not a YAML mapping")
    return config


def with_server(kubeconfig: str, server: str) -> str:
    """The kubeconfig with every cluster entry's server at `server`; credentials unchanged."""
    config = parse_kubeconfig(kubeconfig)
    if not isinstance(config.get("clusters"), list):
        raise ValueError("the kubeconfig has no list of clusters")
    for entry in config["clusters"]:
        if isinstance(entry, dict) and isinstance(entry.get("cluster"), dict):
            entry["cluster"]["server"] = server
    return yaml.safe_dump(config, sort_keys=False)


def flux_kubeconfig(cluster: ClusterSpec, kubeconfig: str) -> str:
    """The kubeconfig Flux uses for `cluster` (the data of its `R-kubeconfig` Secret)."""
    server = in_network_server(cluster)
    return kubeconfig if server is None else with_server(kubeconfig, server)


AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
"""The application id of the AKS Microsoft Entra server: the audience of tokens for AKS API
servers. Ref: https://azure.github.io/kubelogin/concepts/aks.html"""
_KEPT_FLAGS = ("--server-id", "--environment", "--tenant-id")


def entra_kubeconfig(kubeconfig: str, login: str) -> str:
    """An AKS user kubeconfig (`listClusterUserCredential`, format `exec`) that signs in with
    kubelogin's `login` mode instead of the interactive device code it comes with: `azurecli`,
    `spn` (AAD_SERVICE_PRINCIPAL_CLIENT_ID and _SECRET), `workloadidentity` (AZURE_CLIENT_ID,
    AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE) or `msi`. It holds no credential.
    Ref: https://azure.github.io/kubelogin/cli/get-token.html"""
    try:
        config = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        raise ValueError("the AKS user kubeconfig does not parse as YAML") from None
    if not isinstance(config, dict):
        raise ValueError("the AKS user kubeconfig is not a YAML mapping")
    for entry in config.get("users") or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        exec_ = user.get("exec") if isinstance(user, dict) else None
        if not isinstance(exec_, dict):
            continue
        given = [str(a) for a in exec_.get("args") or []]
        kept = {flag: given[i + 1] for i, flag in enumerate(given[:-1]) if flag in _KEPT_FLAGS}
        args = [
            "get-token",
            "--login",
            login,
            "--server-id",
            kept.get("--server-id", AKS_SERVER_ID),
        ]
        for flag in ("--environment", "--tenant-id"):
            if flag in kept:
                args += [flag, kept[flag]]
        exec_["args"] = args
        exec_["command"] = "kubelogin"
    return yaml.safe_dump(config, sort_keys=False)


def endpoint(kubeconfig: str) -> tuple[str, str]:
    """The API server's address and CA certificate (PEM) of a kubeconfig's current cluster:
    with both in its ConfigMap, Flux reaches an AKS remote without describing it through Azure
    (`managedClusters/read`, a right the identity does not have).
    Ref: fluxcd/pkg auth/azure `NewRESTConfig`"""
    config = parse_kubeconfig(kubeconfig)
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    wanted = contexts.get(config.get("current-context"), {}).get("cluster")
    for entry in config.get("clusters") or []:
        if not isinstance(entry, dict) or (wanted and entry.get("name") != wanted):
            continue
        cluster = entry.get("cluster") or {}
        data = cluster.get("certificate-authority-data")
        if cluster.get("server") and data:
            return str(cluster["server"]), base64.b64decode(str(data)).decode()
    raise ValueError("the kubeconfig names no cluster with a server and a CA certificate")
