"""Every path in the GitOps repository: the folders the branch trees write, and the paths the
Flux Kustomizations read. The one owner of the repository's layout (DESIGN.md section 3).

Folders are repository-relative POSIX paths without a leading `./`; `kustomization_path` is the
form a Flux Kustomization's `spec.path` takes.
"""

from __future__ import annotations

import posixpath

KUSTOMIZATION_FILE = "kustomization.yaml"
"""The file that makes a folder a kustomization; every such folder builds with kustomize v5."""

INFRA = "infra"
TENANTS = "tenants"
CLUSTERS = "clusters"
BASE = "base"


def kustomization_path(folder: str) -> str:
    """`./folder`: what a Flux Kustomization's `spec.path` says for a folder of its branch."""
    return f"./{folder}"


def folder_of(path: str) -> str:
    """The folder a Flux Kustomization's `spec.path` names (`.` for the repository root)."""
    return posixpath.normpath(path.removeprefix("./")).strip("/") or "."


def kustomization_file(folder: str) -> str:
    return KUSTOMIZATION_FILE if folder == "." else f"{folder}/{KUSTOMIZATION_FILE}"


def file(folder: str, name: str) -> str:
    return f"{folder}/{name}"


# ---------------------------------------------------------------- infra (both branches)


def component_base(component: str) -> str:
    """`infra/base/<component>`: a component as every cluster runs it."""
    return f"{INFRA}/{BASE}/{component}"


def component_sources(component: str) -> str:
    """`infra/base/sources/<component>`: its HelmRepository, in the component's namespace."""
    return f"{INFRA}/{BASE}/sources/{component}"


def cluster_infra(cluster: str) -> str:
    """`infra/<C>`: what the `infrastructure` Kustomization on C applies."""
    return f"{INFRA}/{cluster}"


def component_overlay(folder: str, component: str) -> str:
    """`<folder>/<component>`: a component with one cluster's patches, below its infra folder."""
    return f"{folder}/{component}"


def remote_charts(management: str) -> str:
    """`infra/<M>/remote-charts`: HelmReleases on M that install charts on its remotes."""
    return f"{cluster_infra(management)}/remote-charts"


def remote_chart(management: str, remote: str, component: str) -> str:
    return f"{remote_charts(management)}/{remote}/{component}"


def remote_infra(management: str, remote: str) -> str:
    """`infra/<M>/clusters/<R>`: what the `R-infrastructure` Kustomization on M applies to R."""
    return f"{cluster_infra(management)}/{CLUSTERS}/{remote}"


def remote_sandboxes(management: str, remote: str) -> str:
    """`infra/<M>/clusters/<R>/tenants`: the tenants' namespaces and accounts on the remote."""
    return f"{remote_infra(management, remote)}/{TENANTS}"


def remote_sandbox(management: str, remote: str, tenant: str) -> str:
    """`infra/<M>/clusters/<R>/tenants/<T>`: one tenant's account, namespaces and rights."""
    return f"{remote_sandboxes(management, remote)}/{tenant}"


# ---------------------------------------------------------------- tenants (environment branches)


def tenant_base(tenant: str) -> str:
    """`tenants/base/<T>`: the tenant's sandbox, source and apps."""
    return f"{TENANTS}/{BASE}/{tenant}"


def release_base(tenant: str, release: str) -> str:
    """`tenants/base/<T>/releases/<X>`: a release channel's copy of the tenant."""
    return f"{tenant_base(tenant)}/releases/{release}"


def app_base(channel_base: str, app: str) -> str:
    """`<channel base>/<APP>`: an app's Kustomization in the tenant's or a release's base."""
    return f"{channel_base}/{app}"


def cluster_tenants(cluster: str) -> str:
    """`tenants/<C>`: what the `tenants` Kustomization on C applies."""
    return f"{TENANTS}/{cluster}"


def tenant_overlay(cluster: str, tenant: str) -> str:
    return f"{cluster_tenants(cluster)}/{tenant}"


def release_overlay(cluster: str, tenant: str, release: str) -> str:
    return f"{tenant_overlay(cluster, tenant)}/releases/{release}"


def app_overlay(folder: str, app: str) -> str:
    """`<tenant or release overlay>/<APP>`: an app with one cluster's path."""
    return f"{folder}/{app}"


def remote_tenants(management: str, remote: str) -> str:
    """`tenants/<M>/clusters/<R>`: what the `R-tenants` Kustomization on M applies."""
    return f"{cluster_tenants(management)}/{CLUSTERS}/{remote}"


def remote_tenant(management: str, remote: str, tenant: str) -> str:
    return f"{remote_tenants(management, remote)}/{tenant}"


def remote_release(management: str, remote: str, tenant: str, release: str) -> str:
    return f"{remote_tenant(management, remote, tenant)}/releases/{release}"


# ---------------------------------------------------------------- wiring, kept for reference


def cluster_wiring(cluster: str) -> str:
    """`clusters/<C>`: the objects Pulumi applies on C, in git for reference only."""
    return f"{CLUSTERS}/{cluster}"


def environment_wiring_base() -> str:
    """`clusters/base`: the environment's namespace and source, the same on every cluster."""
    return f"{CLUSTERS}/{BASE}"


def remote_wiring(management: str, remote: str) -> str:
    """`clusters/<M>/<R>`: the remote's wiring on M, for reference."""
    return f"{cluster_wiring(management)}/{remote}"


def relative(path: str, folder: str) -> str:
    """`path` as a kustomization in `folder` names it."""
    return posixpath.relpath(path, folder)
