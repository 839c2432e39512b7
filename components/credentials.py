"""The data of the Secrets Pulumi applies: kubeconfigs, git credentials, image pull secrets,
tenants' secret variables, charts' values from secret config.

`fleet.wiring` says which Secrets a cluster needs and what each holds (`SecretContent`); this
module fills in their data. Values stay Pulumi secrets from their source (secret config read
once at the edge, another resource's output, the main stack's outputs) to the cluster. Secrets
never go to git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.azure_identity import FluxIdentity
from components.github import GITHUB_KNOWN_HOSTS
from fleet import names, objects, reach
from fleet.access import GitSource
from fleet.objects import K8sObject
from fleet.wiring import (
    AppliedSecret,
    CommitStatusToken,
    DockerConfig,
    GitCredentials,
    HelmValues,
    Kubeconfig,
    NotificationAddress,
    SecretVariables,
    WorkloadIdentityAccess,
)

SecretConfig = Mapping[str, pulumi.Output[str]]
"""The stack's secret config values, by key (`components.stack_config.secret_config`)."""
SecretData = dict[str, pulumi.Input[str]]

GIT_USERNAME = "git"
"""Flux sends a user name with an HTTPS token; GitHub and GitLab accept any with a token."""


@dataclass(frozen=True)
class RemoteAccess:
    """A secret-less AKS remote: its Azure resource id, API server address and CA (PEM)."""

    cluster_id: pulumi.Input[str]
    address: pulumi.Input[str]
    ca: pulumi.Input[str]


def remote_access(cluster_id: pulumi.Input[str], kubeconfig: pulumi.Output[str]) -> RemoteAccess:
    """From the remote's kubeconfig (Entra only: it holds no credential) its address and CA."""
    found = pulumi.Output.unsecret(kubeconfig.apply(reach.endpoint))
    return RemoteAccess(cluster_id, found.apply(lambda e: e[0]), found.apply(lambda e: e[1]))


@dataclass(frozen=True)
class SecretValues:
    """Where the data of one component's Secrets comes from."""

    config: SecretConfig
    kubeconfigs: Mapping[str, pulumi.Output[str]]
    """Kubeconfigs by cluster name, for the `R-kubeconfig` Secrets of remote clusters."""
    deploy_key: pulumi.Input[str] | None = None
    """The private key of this cluster's deploy key, when Flux reads the fleet over SSH."""
    remote_access: Mapping[str, RemoteAccess] = field(default_factory=dict)
    """What Flux reaches each secret-less remote by, by name (its access ConfigMap)."""
    flux_identity: FluxIdentity | None = None
    """The managed identity Flux on this cluster signs in to its secret-less remotes as."""


def token_credentials(token: pulumi.Input[str]) -> SecretData:
    """What Flux reads for HTTPS basic auth."""
    return {"username": GIT_USERNAME, "password": token}


def ssh_credentials(private_key: pulumi.Input[str], known_hosts: str) -> SecretData:
    """What Flux reads for SSH: the private key and the host keys it trusts."""
    return {"identity": private_key, "known_hosts": known_hosts}


def git_credentials(source: GitSource, values: SecretValues) -> SecretData:
    """Flux's credentials for `source`, in the shape its access (decided in `fleet.access`)
    calls for."""
    match source.access:
        case "https-token" if source.credentials_key:
            return token_credentials(values.config[source.credentials_key])
        case "ssh-key" if source.credentials_key:
            return ssh_credentials(values.config[source.credentials_key], source.known_hosts or "")
        case "deploy-key" if values.deploy_key is not None:
            return ssh_credentials(values.deploy_key, GITHUB_KNOWN_HOSTS)
    raise ValueError(f"no credentials to read {source.url} with {source.access} access")


def secret_object(secret: AppliedSecret, values: SecretValues) -> K8sObject:
    """The Secret, with its data (still Pulumi secrets) as `stringData`; for secret-less access
    to a remote, the ConfigMap that stands in for it."""
    secret_type = objects.OPAQUE_SECRET
    data: SecretData
    match secret.content:
        case WorkloadIdentityAccess(cluster):
            return {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": secret.name, "namespace": secret.namespace},
                "data": {
                    "provider": "azure",
                    "cluster": values.remote_access[cluster].cluster_id,
                    "address": values.remote_access[cluster].address,
                    "ca.crt": values.remote_access[cluster].ca,
                    "serviceAccountName": names.PLATFORM_ACCOUNT,
                },
            }
        case Kubeconfig(cluster):
            data = {objects.KUBECONFIG_KEY: values.kubeconfigs[cluster]}
        case GitCredentials(source):
            data = git_credentials(source, values)
        case DockerConfig(key):
            secret_type = objects.DOCKER_CONFIG_SECRET
            data = {objects.DOCKER_CONFIG_KEY: values.config[key]}
        case CommitStatusToken(key):
            data = {"token": values.config[key]}
        case NotificationAddress(key):
            data = {objects.ADDRESS_KEY: values.config[key]}
        case SecretVariables(keys):
            data = {variable: values.config[key] for variable, key in keys}
        case HelmValues(keys):
            data = {values_key: values.config[key] for values_key, key in keys}
    return {**objects.secret(secret.name, secret.namespace, secret_type), "stringData": data}
