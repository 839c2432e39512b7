"""The type tokens the components export are the types Pulumi registers, so the policy pack and
the offline engine, which import them, cannot be blinded by a rename."""

from __future__ import annotations

from typing import Any

from components import clusters, environment, github, gitops_branch, kubernetes_objects
from tests.support.deployments import deploy_sample


def _over_ssh(config: dict[str, Any]) -> None:
    config["repository"] = {
        **config["repository"],
        "url": "git@github.com:kaizentm/multicluster-gitops.git",
    }


def test_every_exported_type_token_is_registered() -> None:
    main = deploy_sample("main", _over_ssh)
    dev = deploy_sample("dev")
    registered = {r.type for r in [*main.resources, *dev.resources]}
    tokens = {
        clusters.MANAGEMENT_CLUSTER_TYPE,
        clusters.REMOTE_CLUSTER_TYPE,
        clusters.REFERENCED_CLUSTER_TYPE,
        clusters.RESOURCE_GROUP_TYPE,
        clusters.AKS_CLUSTER_TYPE,
        clusters.COMMAND_TYPE,
        clusters.FLUX_OPERATOR_RELEASE_TYPE,
        environment.ENVIRONMENT_TYPE,
        environment.TENANT_TYPE,
        environment.STACK_REFERENCE_TYPE,
        github.PRIVATE_KEY_TYPE,
        gitops_branch.GITOPS_BRANCH_TYPE,
        kubernetes_objects.PROVIDER_TYPE,
    }
    assert tokens - registered == set()
    assert {i.token for i in main.invokes} == {clusters.AKS_ADMIN_CREDENTIALS}
    # The prefix the policy pack and the engine take for objects on a cluster: every Flux and
    # Kubernetes object, never the provider.
    prefixed = {t for t in registered if t.startswith(kubernetes_objects.OBJECT_TYPE_PREFIX)}
    assert "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization" in prefixed
    assert kubernetes_objects.PROVIDER_TYPE not in prefixed
