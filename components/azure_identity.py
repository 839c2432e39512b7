"""Secret-less access from a management AKS cluster's Flux to its AKS remotes (Flux 2.7+).

No kubeconfig is stored anywhere. Each management cluster gets one user-assigned managed
identity, given the built-in role *Azure Kubernetes Service RBAC Cluster Admin* on each of its
secret-less remotes. Flux signs in as that identity: the platform account of each stack's
namespace (`flux-system`, `E-flux-system`) is annotated with the identity, and a federated
credential per namespace trusts that account's tokens from the management cluster's OIDC
issuer. Then Flux impersonates on the remote as it always does.
Ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#secret-less-authentication ;
https://learn.microsoft.com/azure/aks/workload-identity-overview ;
https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, managedidentity

from fleet import reach

AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
"""The id of the built-in role *Azure Kubernetes Service RBAC Cluster Admin*."""
IDENTITY_TYPE = "azure-native:managedidentity:UserAssignedIdentity"
CLIENT_CONFIG = "azure-native:authorization:getClientConfig"
"""The invoke that says which subscription the provider works in."""


@dataclass(frozen=True)
class FluxIdentity:
    """The managed identity Flux on one management cluster signs in to Azure as."""

    name: pulumi.Output[str]
    resource_group: pulumi.Input[str]
    client_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    issuer: pulumi.Output[str]
    """The management cluster's OIDC issuer, whose tokens the identity trusts."""

    def annotations(self) -> dict[str, pulumi.Output[str]]:
        """What the platform account carries so that Flux signs in as the identity."""
        return {reach.AZURE_CLIENT_ID: self.client_id, reach.AZURE_TENANT_ID: self.tenant_id}


def flux_identity(
    name: str,
    resource_group: pulumi.Input[str],
    location: str,
    issuer: pulumi.Output[str],
    parent: pulumi.Resource,
) -> FluxIdentity:
    """The management cluster `name`'s identity for Flux, in its resource group."""
    identity = managedidentity.UserAssignedIdentity(
        f"{name}-flux-identity",
        resource_name_=f"{name}-flux",
        resource_group_name=resource_group,
        location=location,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return FluxIdentity(
        identity.name,
        resource_group,
        identity.client_id,
        identity.tenant_id,
        identity.principal_id,
        issuer,
    )


def trust(
    owner: str, identity: FluxIdentity, namespace: str, parent: pulumi.Resource
) -> pulumi.CustomResource:
    """The identity trusts the tokens of the platform account of `namespace`."""
    credential: pulumi.CustomResource = managedidentity.FederatedIdentityCredential(
        f"{owner}-flux-trust",
        federated_identity_credential_resource_name=namespace,
        resource_name_=identity.name,
        resource_group_name=identity.resource_group,
        issuer=identity.issuer,
        subject=reach.federated_subject(namespace),
        audiences=[reach.TOKEN_AUDIENCE],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return credential


def administer(
    owner: str, identity: FluxIdentity, remote_id: pulumi.Input[str], parent: pulumi.Resource
) -> pulumi.CustomResource:
    """The identity's cluster-admin role on the remote AKS cluster `remote_id`."""
    subscription = authorization.get_client_config_output().subscription_id
    role = subscription.apply(
        lambda s: (
            f"/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{AKS_RBAC_CLUSTER_ADMIN}"
        )
    )
    assignment: pulumi.CustomResource = authorization.RoleAssignment(
        f"{owner}-flux-admin",
        principal_id=identity.principal_id,
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=role,
        scope=remote_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return assignment
