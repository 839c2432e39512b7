"""What stacks export for each other, in one shape: the main stack's clusters, every stack's
inventory. The program writes these exports and the offline engine plays them back; both build
them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from fleet.model import ClusterSpec

CLUSTERS = "clusters"
"""The main stack's output that environment stacks read: each cluster's access, by name."""
KUBECONFIG = "kubeconfig"
COMMIT = "commit"
"""Every stack's output naming its branch's commit: there when the stack was deployed."""
INVENTORY = "inventory"
"""Every stack's output naming its clusters and tenants, read back by its next update."""

Kubeconfig = TypeVar("Kubeconfig")


def cluster_access(
    cluster: ClusterSpec, kubeconfig: Kubeconfig
) -> dict[str, str | Kubeconfig | None]:
    """One cluster in the `clusters` output: its role, kind, manager and kubeconfig (a secret)."""
    return {
        "role": cluster.role,
        "kind": cluster.kind,
        "managedBy": cluster.managed_by,
        KUBECONFIG: kubeconfig,
    }


USER_KUBECONFIGS = "userKubeconfigs"
"""The main stack's output of kubeconfigs for people (Entra-only AKS clusters): no secrets."""
AZURE_ID = "azureId"
"""An AKS cluster's Azure resource id, for secret-less access to it (`fleet.reach`)."""
OIDC_ISSUER = "oidcIssuer"
"""A management AKS cluster's OIDC issuer, for the identities of each stack's Flux there."""


ENVIRONMENTS = "environments"
"""The main stack's output naming the environments whose platform accounts it grants on its
remotes (`fleet:environments`)."""


class NotReady(Exception):
    """The deployed main stack is not yet what the environment stack needs: a user's order of
    deployment, told as such."""


class NotGranted(NotReady):
    """The deployed main stack does not grant the environment: Flux could reach none of its
    remotes."""


def check_granted(granted: Any, environment: str, main_stack: str) -> None:
    """Raise `NotGranted` unless the main stack's `environments` output names `environment`
    (None: a main stack deployed before it had that output)."""
    if not isinstance(granted, list) or environment not in granted:
        raise NotGranted(
            f"the main stack {main_stack} does not grant environment '{environment}' on its "
            f"remotes: list it in fleet:environments of the main stack, run `pulumi up` on "
            "the main stack, then on this one"
        )


class MissingCluster(NotReady):
    """The main stack's outputs do not name a cluster the environment uses."""


def kubeconfig_of(exported: Mapping[str, Any], cluster: str, main_stack: str) -> str:
    """A cluster's kubeconfig in the main stack's `clusters` output."""
    if cluster not in exported:
        raise MissingCluster(
            f"the main stack {main_stack} exports no cluster '{cluster}': "
            "run `pulumi up` on it first"
        )
    return str(exported[cluster][KUBECONFIG])


def exported_field(exported: Mapping[str, Any], cluster: str, key: str, main_stack: str) -> Any:
    """One field of a cluster in the main stack's `clusters` output."""
    if cluster not in exported or key not in exported[cluster]:
        raise MissingCluster(
            f"the main stack {main_stack} exports no {key} of cluster '{cluster}': run "
            "`pulumi up` on it first"
        )
    return exported[cluster][key]
