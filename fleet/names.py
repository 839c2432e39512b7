"""Every name the fleet gives an object on a cluster or a path in git, in one place.

The names are those of the sample fleet (DESIGN.md section 2); tests compare against them.
"""

from __future__ import annotations

import re

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
    return f"{remote}-{app}"


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


def environment_component_namespace(environment: str, component: str) -> str:
    """Environment infra lives in `E-<component>` (the sample's `dev-redis`)."""
    return f"{environment}-{component}"


def default_app_path(app: str, cluster: str) -> str:
    return f"./{app}/{cluster}"
