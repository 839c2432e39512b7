"""The values of the Secrets Pulumi applies: kubeconfigs, git credentials, image pull secrets.

`fleet.wiring` says which Secrets a cluster needs and where each value comes from; this module
fills them in. Values stay Pulumi secrets from their source (secret config, another resource's
output, the main stack's outputs) to the cluster. Secrets never go to git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components import stack_config
from components.github import GITHUB_KNOWN_HOSTS, GitHubAccess, flux_deploy_key
from fleet import objects
from fleet.config import RepositoryConfig, TenantRepositoryConfig
from fleet.objects import K8sObject
from fleet.rules import is_ssh_url
from fleet.wiring import SecretSpec, repository_access

SecretData = dict[str, pulumi.Input[str]]

GIT_USERNAME = "git"
"""Flux sends a user name with an HTTPS token; GitHub and GitLab accept any with a token."""


@dataclass(frozen=True)
class SecretSources:
    """Where the values of one component's Secrets come from."""

    kubeconfigs: Mapping[str, pulumi.Output[str]]
    """Kubeconfigs by cluster name, for the `R-kubeconfig` Secrets of remote clusters."""
    repository: SecretData | None = None
    """Flux's credentials for the fleet repository on this cluster."""
    tenant_repository: TenantRepositoryConfig | None = None
    """The tenant's manifests repository, for its git credentials."""


def token_credentials(token: pulumi.Input[str]) -> SecretData:
    """What Flux reads for HTTPS basic auth."""
    return {"username": GIT_USERNAME, "password": token}


def ssh_credentials(private_key: pulumi.Input[str], known_hosts: str) -> SecretData:
    """What Flux reads for SSH: the private key and the host keys it trusts."""
    return {"identity": private_key, "known_hosts": known_hosts}


def flux_repository_credentials(
    owner: str,
    repository: RepositoryConfig,
    github: GitHubAccess | None,
    parent: pulumi.Resource,
) -> SecretData | None:
    """Flux's credentials for the fleet repository, per `fleet.wiring.repository_access`.

    For a deploy key, `owner` gets a key of its own; a public repository needs none.
    """
    match repository_access(repository), repository.token_secret:
        case "deploy-key", _:
            if github is None:
                raise ValueError(f"{repository.url}: deploy keys are made on github.com only")
            return ssh_credentials(flux_deploy_key(owner, github, parent), GITHUB_KNOWN_HOSTS)
        case "token", str(token_key):
            return token_credentials(stack_config.secret(token_key))
        case _:
            return None


def secret_object(spec: SecretSpec, sources: SecretSources) -> K8sObject:
    """The Secret `spec` describes, with its values (still Pulumi secrets) as `stringData`."""
    secret_type = objects.OPAQUE_SECRET
    data: SecretData
    match spec.kind:
        case "kubeconfig":
            data = {objects.KUBECONFIG_KEY: sources.kubeconfigs[spec.source]}
        case "repository":
            if sources.repository is None:
                raise ValueError(f"no repository credentials for Secret {spec.name}")
            data = sources.repository
        case "tenant-git":
            data = _tenant_git_credentials(spec, sources.tenant_repository)
        case "image-pull":
            secret_type = objects.DOCKER_CONFIG_SECRET
            data = {objects.DOCKER_CONFIG_KEY: stack_config.secret(spec.source)}
    return {**objects.secret(spec.name, spec.namespace, secret_type), "stringData": data}


def _tenant_git_credentials(
    spec: SecretSpec, repository: TenantRepositoryConfig | None
) -> SecretData:
    """A token for an HTTPS repository, a private key for an SSH one (validated to have hosts)."""
    if repository is None:
        raise ValueError(f"no tenant repository for Secret {spec.name}")
    value = stack_config.secret(spec.source)
    if is_ssh_url(repository.url):
        return ssh_credentials(value, repository.known_hosts or "")
    return token_credentials(value)
