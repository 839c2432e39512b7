"""Every name the fleet gives an object on a cluster or a path in git, in one place.

The names are those of the sample fleet (DESIGN.md section 2); tests compare against them.
"""

from __future__ import annotations

import re

from fleet.config import FLUX_COMPONENTS

FLUX_NAMESPACE = "flux-system"
MAIN_BRANCH = "main"
INFRASTRUCTURE = "infrastructure"
TENANTS = "tenants"
TENANT_LABEL = "toolkit.fluxcd.io/tenant"

MAX_NAME_LENGTH = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(name: str) -> bool:
    """True for a valid DNS-1123 label: what Kubernetes accepts as a namespace or object name."""
    return len(name) <= MAX_NAME_LENGTH and bool(_DNS_LABEL.match(name))


def environment_namespace(environment: str) -> str:
    return f"{environment}-{FLUX_NAMESPACE}"


ROLLOUT_REFS = "rollout"
"""Where the held refs of environment branches live: `rollout/E/RING`."""


def ring_branch(branch: str, ring: str) -> str:
    """The branch that holds ring `ring` of environment branch `branch` at the commit it may
    run: `fleet rollout` moves it forward, nothing else does."""
    return f"{ROLLOUT_REFS}/{branch}/{ring}"


def tenant_namespace(environment: str, tenant: str) -> str:
    return f"{environment}-{tenant}"


def release_namespace(environment: str, release: str, tenant: str) -> str:
    return f"{environment}-{release}-{tenant}"


def kubeconfig_secret(remote: str) -> str:
    return f"{remote}-kubeconfig"


def remote_infrastructure(remote: str) -> str:
    return f"{remote}-{INFRASTRUCTURE}"


def remote_tenants(remote: str) -> str:
    return f"{remote}-{TENANTS}"


def remote_app(remote: str, app: str) -> str:
    """`R-X`: what a management cluster applies to remote R for X (a chart's release)."""
    return f"{remote}-{app}"


def remote_tenant_prefix(remote: str, tenant: str, release: str | None = None) -> str:
    """`R-T-` (or `R-X-T-` for release channel X): what names a tenant's apps on remote R. Their
    Kustomizations live in the environment's namespace beside R's kubeconfig, where every
    tenant's apps meet, so the tenant is part of their names."""
    channel = tenant if release is None else f"{release}-{tenant}"
    return f"{remote}-{channel}-"


def remote_tenant_app(remote: str, tenant: str, app: str, release: str | None = None) -> str:
    """`R-T-APP` (or `R-X-T-APP`): a tenant's app on remote R."""
    return remote_tenant_prefix(remote, tenant, release) + app


def tenant_source(tenant: str) -> str:
    return f"{tenant}-manifests"


def release_source(tenant: str, release: str) -> str:
    return f"{tenant}-{release}-manifests"


def tenant_reconciler(tenant: str) -> str:
    return f"{tenant}-reconciler"


def tenant_git_credentials(tenant: str) -> str:
    return f"{tenant}-git-credentials"


def tenant_image_pull_secret(tenant: str) -> str:
    return f"{tenant}-image-pull"


def app_variables_secret(tenant: str, app: str) -> str:
    """`T-APP-vars`: the secret variables of a tenant's app, beside its Kustomizations."""
    return f"{tenant}-{app}-vars"


def helm_values_secret(component: str) -> str:
    """`X-values`: the Helm values of component X from secret config, beside its HelmRelease."""
    return f"{component}-values"


def notification(name: str, tenant: str | None = None) -> str:
    """`N-notification`: a channel's Provider, Alert and Secret; `T-N-notification` for a
    tenant's in the environment's namespace, where every tenant's remote apps meet."""
    return f"{name}-notification" if tenant is None else f"{tenant}-{name}-notification"


COMMIT_STATUS = "commit-status"
"""The Provider, Alert and Secret that set commit statuses on the environment's branch."""


def tenant_quota(tenant: str) -> str:
    return f"{tenant}-quota"


def tenant_limits(tenant: str) -> str:
    return f"{tenant}-limits"


def tenant_network_policy(tenant: str) -> str:
    return f"{tenant}-isolation"


PLATFORM_ACCOUNT = "flux-platform"
"""The service account the platform's own Kustomizations impersonate under lockdown."""
DEPLOYER_ACCOUNT = "flux-deployer"
"""The service account an infra component's HelmRelease impersonates in its namespace."""


def platform_binding(namespace: str) -> str:
    """The ClusterRoleBinding that makes `<namespace>:flux-platform` cluster-admin."""
    return f"{PLATFORM_ACCOUNT}-{namespace}"


def deployer_binding(namespace: str) -> str:
    """The binding that gives a chart's account in `namespace` its rights."""
    return f"{DEPLOYER_ACCOUNT}-{namespace}"


PLATFORM_ACCOUNTS = (PLATFORM_ACCOUNT, DEPLOYER_ACCOUNT, "default", *FLUX_COMPONENTS)
"""Accounts of the platform and of Flux: a tenant's account is named after the tenant, in the
environment's namespace too, so no tenant may be named like one of them (its Kustomizations
would impersonate the platform's rights)."""

RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""Namespaces every cluster has: no component may take one over."""


def environment_component_namespace(environment: str, component: str) -> str:
    """Environment infra lives in `E-<component>` (the sample's `dev-redis`)."""
    return f"{environment}-{component}"


def default_app_path(app: str, cluster: str) -> str:
    return f"./{app}/{cluster}"
