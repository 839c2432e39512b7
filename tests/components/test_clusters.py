"""The main stack under recording mocks: clusters, their providers, Flux, branch main's wiring."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest
import yaml

from components.clusters import AKS_ADMIN_CREDENTIALS, k3d_create_command, select_context
from components.github import GITHUB_KNOWN_HOSTS
from components.kubernetes_objects import resource_name
from fleet.access import GitHubRepository, parse_github_url
from fleet.config import K3dConfig
from fleet.model import ENCRYPTED, FleetSpec, load_main
from fleet.stackfile import load_stack
from fleet_cli.engine import RecordingMocks, fake_kubeconfig, run
from tests.support.deployments import (
    Deployment,
    assert_files_lost_only,
    deploy,
    deploy_sample,
    program,
    settle,
)
from tests.support.sample import PROJECT

GITOPS = "dynamic:GitOpsBranch"
NS = "kubernetes:core/v1:Namespace"
SA = "kubernetes:core/v1:ServiceAccount"
SECRET_TYPE = "kubernetes:core/v1:Secret"
CRB = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
GIT_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
FLUX_INSTANCE = "kubernetes:fluxcd.controlplane.io/v1:FluxInstance"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"
COMMAND = "command:local:Command"


def flux_and_main_branch(cluster: str) -> set[tuple[str, str]]:
    """What every management cluster of the main stack gets, whatever its kind."""
    return {
        (K8S_PROVIDER, f"{cluster}-provider"),
        (RELEASE, f"{cluster}-flux-operator"),
        (FLUX_INSTANCE, f"{cluster}-fluxinstance-flux-system-flux"),
        (SA, f"{cluster}-serviceaccount-flux-system-flux-platform"),
        (CRB, f"{cluster}-clusterrolebinding-flux-platform-flux-system"),
        (GIT_REPOSITORY, f"{cluster}-gitrepository-flux-system-flux-system"),
        (KUSTOMIZATION, f"{cluster}-kustomization-flux-system-infrastructure"),
    }


def remote_wiring(cluster: str, remote: str) -> set[tuple[str, str]]:
    return {
        (SECRET_TYPE, f"{cluster}-secret-flux-system-{remote}-kubeconfig"),
        (KUSTOMIZATION, f"{cluster}-kustomization-flux-system-{remote}-infrastructure"),
    }


def remote_bootstrap(remote: str) -> set[tuple[str, str]]:
    """What the main stack applies on a remote with its credentials: its provider, and the
    binding that makes main's platform account cluster-admin there."""
    return {
        (K8S_PROVIDER, f"{remote}-provider"),
        (CRB, f"{remote}-flux-system-clusterrolebinding-flux-platform-flux-system"),
    }


def deploy_key(cluster: str) -> set[tuple[str, str]]:
    return {
        ("tls:index/privateKey:PrivateKey", f"{cluster}-deploy-key"),
        ("github:index/repositoryDeployKey:RepositoryDeployKey", f"{cluster}-deploy-key"),
        (SECRET_TYPE, f"{cluster}-secret-flux-system-flux-system"),
    }


@pytest.fixture
def sample() -> Deployment:
    return deploy_sample("main")


# ---------------------------------------------------------------- a fleet with every kind

SHOP_CONTEXT_KUBECONFIG = yaml.safe_dump(
    {
        **yaml.safe_load(fake_kubeconfig("shop-1")),
        "contexts": [
            {"name": "admin@elsewhere", "context": {"cluster": "elsewhere", "user": "x"}},
            {"name": "shop-1", "context": {"cluster": "shop-1", "user": "shop-1"}},
        ],
        "current-context": "admin@elsewhere",
    }
)

EVERY_KIND: dict[str, Any] = {
    "repository": {"url": "git@github.com:acme/fleet.git"},
    "clusters": [
        {
            "name": "east-aks",
            "kind": "aks",
            "protect": False,
            "aks": {
                "location": "eastus",
                "resourceGroup": "shared",
                "createResourceGroup": False,
                "nodePools": [
                    {"name": "system"},
                    {"name": "apps", "vmSize": "Standard_D4s_v5", "count": 3, "mode": "User"},
                ],
            },
        },
        {
            "name": "local-k3d",
            "kind": "k3d",
            "k3d": {
                "servers": 3,
                "agents": 2,
                "image": "rancher/k3s:v1.33.1-k3s1",
                "ports": ["8080:80@loadbalancer", "8443:443@loadbalancer"],
            },
        },
        {
            "name": "shop-1",
            "role": "remote",
            "kind": "attached",
            "managedBy": "local-k3d",
            "attached": {"kubeconfigSecret": "shop1Kubeconfig", "context": "shop-1"},
        },
    ],
}


def every_kind_fleet() -> FleetSpec:
    return load_main({**EVERY_KIND, "shop1Kubeconfig": ENCRYPTED}, "main", source="test")


@pytest.fixture
def every_kind() -> Deployment:
    fleet = every_kind_fleet()
    secrets = {"shop1Kubeconfig": SHOP_CONTEXT_KUBECONFIG}
    return deploy("main", program(fleet), {}, secrets)


# ---------------------------------------------------------------- what exists, where


def test_sample_main_stack_has_exactly_these_resources_per_cluster(sample: Deployment) -> None:
    assert sample.children("k3d-america") == {
        (COMMAND, "k3d-america-cluster"),
        (COMMAND, "k3d-america-kubeconfig"),
        *flux_and_main_branch("k3d-america"),
        *remote_wiring("k3d-america", "k3s-america-south"),
    }
    assert sample.children("pacific-aks") == {
        ("azure-native:resources:ResourceGroup", "pacific-aks-resource-group"),
        ("azure-native:containerservice:ManagedCluster", "pacific-aks-cluster"),
        *flux_and_main_branch("pacific-aks"),
    }
    # A remote cluster runs no Flux; Pulumi applies one thing to it: the platform's rights,
    # main's and those of the environments main lists, which Flux impersonates there.
    assert sample.children("k3s-america-south") == remote_bootstrap("k3s-america-south")
    binding = sample.get(
        CRB, "k3s-america-south-flux-system-clusterrolebinding-flux-platform-flux-system"
    )
    assert binding.inputs["roleRef"]["name"] == "cluster-admin"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "flux-platform", "namespace": namespace}
        for namespace in ("flux-system", "dev-flux-system", "qa-flux-system")
    ]
    top_level = {(r.type, r.name) for r in sample.resources if r.parent.endswith("fleet-main")}
    assert top_level == {
        ("fleet:cluster:ManagementCluster", "k3d-america"),
        ("fleet:cluster:ManagementCluster", "pacific-aks"),
        ("fleet:cluster:RemoteCluster", "k3s-america-south"),
        ("pulumi-python:dynamic:GitOpsBranch", "gitops-main"),
        # Reads the last deployment's inventory for the removal guard; changes nothing.
        ("pulumi:pulumi:StackReference", "main-previous-deployment"),
    }


def test_every_kind_of_cluster_has_exactly_these_resources(every_kind: Deployment) -> None:
    assert every_kind.children("east-aks") == {
        ("azure-native:containerservice:ManagedCluster", "east-aks-cluster"),
        *flux_and_main_branch("east-aks"),
        *deploy_key("east-aks"),
    }
    assert every_kind.children("local-k3d") == {
        (COMMAND, "local-k3d-cluster"),
        (COMMAND, "local-k3d-kubeconfig"),
        *flux_and_main_branch("local-k3d"),
        *deploy_key("local-k3d"),
        *remote_wiring("local-k3d", "shop-1"),
    }
    assert every_kind.children("shop-1") == remote_bootstrap("shop-1")
    (github,) = every_kind.of_type("pulumi:providers:github")
    assert github.inputs["owner"] == "acme"


@pytest.mark.parametrize("fixture", ["sample", "every_kind"])
def test_every_in_cluster_object_uses_its_own_clusters_provider(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    deployment: Deployment = request.getfixturevalue(fixture)
    by_urn = deployment.by_urn()
    in_cluster = [r for r in deployment.resources if r.type.startswith("kubernetes:")]
    assert len(in_cluster) >= 14
    for resource in in_cluster:
        provider = by_urn[resource.provider]
        cluster = provider.inputs["clusterIdentifier"]
        assert provider.type == K8S_PROVIDER
        assert provider.name == f"{cluster}-provider"
        assert provider.parent == resource.parent  # the cluster component owns both
        assert resource.name.startswith(f"{cluster}-")
        kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
        (context,) = [
            c for c in kubeconfig["contexts"] if c["name"] == kubeconfig["current-context"]
        ]
        assert context["context"]["cluster"] == cluster


def test_flux_objects_wait_for_the_flux_instance_which_waits_for_the_operator(
    every_kind: Deployment,
) -> None:
    for cluster in ("east-aks", "local-k3d"):
        instance = every_kind.get("FluxInstance", f"{cluster}-fluxinstance-flux-system-flux")
        operator = every_kind.get("Release", f"{cluster}-flux-operator")
        assert operator.urn in instance.dependencies
        on_cluster = [
            r for r in every_kind.resources if r.type.startswith("kubernetes:") and r != instance
        ]
        flux_objects = [r for r in on_cluster if r.name.startswith(cluster) and "toolkit" in r.type]
        assert len(flux_objects) >= 2
        for obj in flux_objects:
            assert instance.urn in obj.dependencies, obj.name


def test_a_kustomization_outlives_the_secret_and_account_it_uses(sample: Deployment) -> None:
    remote = sample.get(
        "Kustomization", "k3d-america-kustomization-flux-system-k3s-america-south-infrastructure"
    )
    assert {
        sample.get("v1:Secret", "k3d-america-secret-flux-system-k3s-america-south-kubeconfig").urn,
        sample.get("ServiceAccount", "k3d-america-serviceaccount-flux-system-flux-platform").urn,
        sample.get(
            "ClusterRoleBinding", "k3d-america-clusterrolebinding-flux-platform-flux-system"
        ).urn,
    } <= remote.dependencies


# ---------------------------------------------------------------- provisioning


def test_k3d_cluster_is_created_and_deleted_by_commands(every_kind: Deployment) -> None:
    cluster = every_kind.get("Command", "local-k3d-cluster")
    assert cluster.inputs["create"] == (
        "k3d cluster create local-k3d --servers 3 --agents 2 --image rancher/k3s:v1.33.1-k3s1 "
        "-p 8080:80@loadbalancer -p 8443:443@loadbalancer "
        "--kubeconfig-update-default=false --wait"
    )
    assert cluster.inputs["delete"] == "k3d cluster delete local-k3d"
    assert cluster.options["protect"] is True
    assert cluster.options["deleteBeforeReplace"] is True
    assert "*" in cluster.options["replaceOnChanges"]
    kubeconfig = every_kind.get("Command", "local-k3d-kubeconfig")
    assert kubeconfig.inputs["create"] == "k3d kubeconfig get local-k3d"
    assert kubeconfig.inputs["logging"] == "stderr"  # never the kubeconfig in the logs
    assert kubeconfig.options["additionalSecretOutputs"] == ["stdout"]
    assert kubeconfig.inputs["triggers"] == ["local-k3d-cluster-id"]  # re-read on a new cluster
    exported, secret = settle(every_kind.exports["clusters"]["local-k3d"]["kubeconfig"])
    assert (exported, secret) == (fake_kubeconfig("local-k3d"), True)


def test_k3d_create_command_defaults() -> None:
    assert k3d_create_command("a", K3dConfig()) == [
        *("k3d", "cluster", "create", "a", "--servers", "1", "--agents", "0"),
        *("--kubeconfig-update-default=false", "--wait"),
    ]


def test_aks_cluster_with_its_resource_group_and_a_decoded_admin_kubeconfig(
    sample: Deployment,
) -> None:
    group = sample.get("ResourceGroup", "pacific-aks-resource-group")
    assert group.inputs == {"resourceGroupName": "fleet-pacific", "location": "australiaeast"}
    cluster = sample.get("ManagedCluster", "pacific-aks-cluster")
    assert cluster.inputs == {
        "resourceName": "pacific-aks",
        "resourceGroupName": "fleet-pacific",
        "location": "australiaeast",
        "dnsPrefix": "pacific-aks",
        "kubernetesVersion": "1.33",
        "identity": {"type": "SystemAssigned"},
        "agentPoolProfiles": [
            {
                "name": "system",
                "vmSize": "Standard_D2s_v5",
                "count": 2,
                "mode": "System",
                "osType": "Linux",
            }
        ],
        # NetworkPolicies enforced: AKS enforces none without a policy engine.
        "networkProfile": {
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "networkDataplane": "cilium",
            "networkPolicy": "cilium",
        },
    }
    assert group.options["protect"] is True and cluster.options["protect"] is True
    (invoke,) = sample.invokes
    assert invoke.token == AKS_ADMIN_CREDENTIALS
    assert invoke.args == {"resourceGroupName": "fleet-pacific", "resourceName": "pacific-aks"}
    exported, secret = settle(sample.exports["clusters"]["pacific-aks"]["kubeconfig"])
    assert (exported, secret) == (fake_kubeconfig("pacific-aks"), True)


def test_aks_in_an_existing_resource_group_unprotected(every_kind: Deployment) -> None:
    assert every_kind.of_type("ResourceGroup") == []
    cluster = every_kind.get("ManagedCluster", "east-aks-cluster")
    assert cluster.inputs["resourceGroupName"] == "shared"
    assert "kubernetesVersion" not in cluster.inputs  # the region's default
    assert [p["name"] for p in cluster.inputs["agentPoolProfiles"]] == ["system", "apps"]
    assert cluster.inputs["agentPoolProfiles"][1]["mode"] == "User"
    assert cluster.options["protect"] is False


def test_attached_cluster_kubeconfig_comes_from_secret_config_with_its_context(
    every_kind: Deployment,
) -> None:
    exported, secret = settle(every_kind.exports["clusters"]["shop-1"]["kubeconfig"])
    assert secret is True
    assert yaml.safe_load(exported)["current-context"] == "shop-1"
    kubeconfig = every_kind.get("v1:Secret", "local-k3d-secret-flux-system-shop-1-kubeconfig")
    assert kubeconfig.inputs["stringData"] == {"value": exported}
    assert "stringData" in kubeconfig.secret_inputs


def test_select_context_refuses_an_unknown_context() -> None:
    with pytest.raises(ValueError, match="no context 'nope'"):
        select_context(fake_kubeconfig("a"), "nope")


# ---------------------------------------------------------------- Flux


def test_flux_is_the_pinned_operator_chart_then_a_flux_instance_pulumi_waits_for(
    sample: Deployment,
) -> None:
    operator = sample.get("Release", "k3d-america-flux-operator")
    assert operator.inputs["chart"] == "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator"
    assert operator.inputs["version"] == "0.58.1"
    assert operator.inputs["namespace"] == "flux-system"
    assert operator.inputs["createNamespace"] is True
    assert operator.inputs["name"] == "flux-operator"
    for cluster, cluster_type in (("k3d-america", "kubernetes"), ("pacific-aks", "azure")):
        instance = sample.get("FluxInstance", f"{cluster}-fluxinstance-flux-system-flux")
        assert instance.inputs["apiVersion"] == "fluxcd.controlplane.io/v1"
        assert instance.inputs["metadata"] == {
            "name": "flux",
            "namespace": "flux-system",
            "annotations": {"pulumi.com/waitFor": "condition=Ready"},
        }
        spec = instance.inputs["spec"]
        assert spec["distribution"] == {"version": "2.9.4", "registry": "ghcr.io/fluxcd"}
        assert spec["cluster"]["type"] == cluster_type
        assert spec["cluster"]["multitenant"] is True
        # A tenant's object naming a cloud provider and no account gets no cloud identity.
        assert spec["cluster"]["multitenantWorkloadIdentity"] is True
        assert spec["cluster"]["objectLevelWorkloadIdentity"] is True


# ---------------------------------------------------------------- branch main's wiring


def test_main_branch_wiring_objects(sample: Deployment) -> None:
    source = sample.get("GitRepository", "k3d-america-gitrepository-flux-system-flux-system")
    assert source.inputs["metadata"] == {"name": "flux-system", "namespace": "flux-system"}
    assert source.inputs["spec"] == {
        "interval": "1m",
        "url": "https://github.com/kaizentm/multicluster-gitops",
        "ref": {"branch": "main"},
    }
    for cluster in ("k3d-america", "pacific-aks"):
        infra = sample.get("Kustomization", f"{cluster}-kustomization-flux-system-infrastructure")
        assert infra.inputs["spec"]["path"] == f"./infra/{cluster}"
        assert infra.inputs["spec"]["prune"] is True
        assert infra.inputs["spec"]["serviceAccountName"] == "flux-platform"
        assert "kubeConfig" not in infra.inputs["spec"]
    remote = sample.get(
        "Kustomization", "k3d-america-kustomization-flux-system-k3s-america-south-infrastructure"
    )
    assert remote.inputs["metadata"]["name"] == "k3s-america-south-infrastructure"
    assert remote.inputs["spec"]["path"] == "./infra/k3d-america/clusters/k3s-america-south"
    assert remote.inputs["spec"]["kubeConfig"] == {
        "secretRef": {"name": "k3s-america-south-kubeconfig", "key": "value"}
    }
    kubeconfig = sample.get(
        "v1:Secret", "k3d-america-secret-flux-system-k3s-america-south-kubeconfig"
    )
    assert kubeconfig.inputs["metadata"] == {
        "name": "k3s-america-south-kubeconfig",
        "namespace": "flux-system",
    }
    assert kubeconfig.inputs["stringData"] == {"value": fake_kubeconfig("k3s-america-south")}
    assert kubeconfig.secret_inputs == {"stringData"}


def test_flux_reads_over_ssh_with_a_read_only_deploy_key_per_cluster(
    every_kind: Deployment,
) -> None:
    for cluster in ("east-aks", "local-k3d"):
        key = every_kind.get("PrivateKey", f"{cluster}-deploy-key")
        assert key.inputs == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}
        deploy_key = every_kind.get("RepositoryDeployKey", f"{cluster}-deploy-key")
        assert deploy_key.inputs == {
            "repository": "fleet",
            "title": f"flux {cluster} (fleet/main)",
            "key": f"ecdsa-sha2-nistp256 public-{cluster}-deploy-key",
            "readOnly": True,
        }
        assert deploy_key.provider.endswith("::github")
        secret = every_kind.get("v1:Secret", f"{cluster}-secret-flux-system-flux-system")
        assert secret.inputs["stringData"] == {
            "identity": f"-----BEGIN EC PRIVATE KEY-----\n{cluster}-deploy-key\n",
            "known_hosts": GITHUB_KNOWN_HOSTS,
        }
        assert secret.secret_inputs == {"stringData"}
        assert deploy_key.urn in secret.dependencies  # Flux starts once GitHub knows the key
        source = every_kind.get("GitRepository", f"{cluster}-gitrepository-flux-system-flux-system")
        assert source.inputs["spec"]["secretRef"] == {"name": "flux-system"}
        assert source.inputs["spec"]["url"] == "git@github.com:acme/fleet.git"


def test_flux_reads_over_https_with_the_token_from_secret_config() -> None:
    config = dict(EVERY_KIND)
    config["repository"] = {"url": "https://git.example.com/fleet.git", "tokenSecret": "gitToken"}
    fleet = load_main(
        {**config, "shop1Kubeconfig": ENCRYPTED, "gitToken": ENCRYPTED}, "main", source="t"
    )
    secrets = {"shop1Kubeconfig": SHOP_CONTEXT_KUBECONFIG, "gitToken": "s3cr3t"}
    deployment = deploy("main", program(fleet), {}, secrets)
    secret = deployment.get("v1:Secret", "local-k3d-secret-flux-system-flux-system")
    assert secret.inputs["stringData"] == {"username": "git", "password": "s3cr3t"}
    assert secret.secret_inputs == {"stringData"}
    assert deployment.of_type("RepositoryDeployKey") == []
    assert deployment.of_type("pulumi:providers:github") == []


def test_a_public_repository_needs_no_credentials(sample: Deployment) -> None:
    secrets = [r.inputs["metadata"]["name"] for r in sample.of_type("v1:Secret")]
    assert secrets == ["k3s-america-south-kubeconfig"]
    assert sample.of_type("pulumi:providers:github") == []


# ---------------------------------------------------------------- outputs and secrecy


def test_main_stack_exports_every_clusters_access(sample: Deployment) -> None:
    clusters = sample.exports["clusters"]
    assert {name: (c["role"], c["kind"], c["managedBy"]) for name, c in clusters.items()} == {
        "k3d-america": ("management", "k3d", None),
        "pacific-aks": ("management", "aks", None),
        "k3s-america-south": ("remote", "attached", "k3d-america"),
    }
    for name, cluster in clusters.items():
        assert settle(cluster["kubeconfig"]) == (fake_kubeconfig(name), True)


def test_kubeconfigs_and_private_keys_are_secret(every_kind: Deployment) -> None:
    for provider in every_kind.of_type("pulumi:providers:kubernetes"):
        assert "kubeconfig" in provider.secret_inputs
    for secret in every_kind.of_type("v1:Secret"):
        assert secret.secret_inputs == {"stringData"}, secret.name
    assert len(every_kind.of_type("v1:Secret")) == 3


# ---------------------------------------------------------------- stability


def test_removing_a_remote_cluster_removes_exactly_its_objects(sample: Deployment) -> None:
    def without_remote(raw: dict[str, Any]) -> None:
        raw["clusters"] = [c for c in raw["clusters"] if c["name"] != "k3s-america-south"]

    edited = deploy_sample("main", without_remote, secrets={})
    before, after = sample.by_urn(), edited.by_urn()
    assert set(after) <= set(before)
    assert {before[urn].name for urn in set(before) - set(after)} == {
        "k3s-america-south",
        "k3s-america-south-provider",
        "k3s-america-south-flux-system-clusterrolebinding-flux-platform-flux-system",
        "k3d-america-secret-flux-system-k3s-america-south-kubeconfig",
        "k3d-america-kustomization-flux-system-k3s-america-south-infrastructure",
    }
    changed = [after[urn].name for urn in after if after[urn].inputs != before[urn].inputs]
    assert changed == ["gitops-main"]
    assert_files_lost_only(
        sample.get(GITOPS, "gitops-main"),
        edited.get(GITOPS, "gitops-main"),
        "k3s-america-south",
        "remote-charts/",  # k3d-america's charts for remotes: it has no other remote
    )


def test_a_main_stack_on_a_branch_of_its_own_commits_there_and_its_flux_follows_it() -> None:
    """One shard of a split fleet: its main stack shares the repository, on its own branch."""
    shard = deploy_sample("main", lambda raw: raw["repository"].update(branch="main-eu"))
    (branch,) = shard.of_type(GITOPS)
    assert (branch.name, branch.inputs["branch"]) == ("gitops-main-eu", "main-eu")
    sources = shard.of_type("source.toolkit.fluxcd.io/v1:GitRepository")
    assert len(sources) == 2  # one per management cluster
    assert all(s.inputs["spec"]["ref"] == {"branch": "main-eu"} for s in sources)


# ---------------------------------------------------------------- the pieces


def test_resource_names_carry_owner_kind_namespace_and_name() -> None:
    namespaced = {"kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}}
    cluster_wide = {"kind": "Namespace", "metadata": {"name": "ns"}}
    assert resource_name("dev-k3d", namespaced) == "dev-k3d-secret-ns-s"
    assert resource_name("dev-k3d", cluster_wide) == "dev-k3d-namespace-ns"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/kaizentm/multicluster-gitops",
            GitHubRepository("kaizentm", "multicluster-gitops"),
        ),
        ("https://github.com/acme/fleet.git", GitHubRepository("acme", "fleet")),
        ("git@github.com:acme/fleet.git", GitHubRepository("acme", "fleet")),
        ("ssh://git@github.com/acme/fleet", GitHubRepository("acme", "fleet")),
        ("https://gitlab.com/acme/fleet.git", None),
        ("https://github.com/acme", None),
    ],
)
def test_github_repository_from_url(url: str, expected: GitHubRepository | None) -> None:
    assert parse_github_url(url) == expected


def test_the_mocks_refuse_duplicate_urns() -> None:
    def twice() -> dict[str, Any]:
        for _ in range(2):
            pulumi.ComponentResource("fleet:test:Thing", "same")
        return {}

    with pytest.raises(AssertionError, match="duplicate URN"):
        run("main", RecordingMocks(), twice)


def test_the_mocks_refuse_unknown_invokes() -> None:
    def unknown() -> dict[str, Any]:
        return {"x": pulumi.runtime.invoke_output("azure-native:resources:getResourceGroup", {})}

    with pytest.raises(AssertionError, match="unexpected invoke"):
        run("main", RecordingMocks(), unknown)


def test_the_aks_credentials_mock_is_base64() -> None:
    result, _ = RecordingMocks().call(
        pulumi.runtime.MockCallArgs(AKS_ADMIN_CREDENTIALS, {"resourceName": "c"}, "")
    )
    assert base64.b64decode(result["kubeconfigs"][0]["value"]).decode() == fake_kubeconfig("c")


def test_an_aks_group_creates_its_resource_group_once_for_every_member() -> None:
    """Each member owning the group would delete it, and every other member with it, when
    that member goes."""

    def pacific_group(config: dict[str, Any]) -> None:
        pacific = next(c for c in config["clusters"] if c["name"] == "pacific-aks")
        pacific["members"] = ["pacific-aks-1", "pacific-aks-2"]

    deployment = deploy_sample("main", pacific_group)
    (group,) = deployment.of_type("resources:ResourceGroup")
    assert group.name == "pacific-aks-resource-group"
    assert group.parent.endswith("::main") or "ManagementCluster" not in group.parent
    clusters = deployment.of_type("containerservice:ManagedCluster")
    assert sorted(c.name for c in clusters) == ["pacific-aks-1-cluster", "pacific-aks-2-cluster"]
    assert {c.inputs["resourceGroupName"] for c in clusters} == {"fleet-pacific"}
    # Both members got Flux and branch main's wiring from the group's folder.
    infra = [
        r
        for r in deployment.of_type("kustomize.toolkit.fluxcd.io/v1:Kustomization")
        if r.inputs["metadata"]["name"] == "infrastructure"
    ]
    paths = {r.name.split("-kustomization")[0]: r.inputs["spec"]["path"] for r in infra}
    assert paths == {
        "k3d-america": "./infra/k3d-america",
        "pacific-aks-1": "./infra/pacific-aks",
        "pacific-aks-2": "./infra/pacific-aks",
    }


@pytest.mark.parametrize(
    ("kubeconfig", "message"),
    [
        ("token: s3cr3t-value: [unclosed", "the kubeconfig does not parse as YAML (line 1)"),
        ("- s3cr3t-value", "the kubeconfig is not a YAML mapping"),
    ],
)
def test_a_kubeconfig_that_does_not_parse_is_reported_without_its_content(
    kubeconfig: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        select_context(kubeconfig, "admin")
    assert str(caught.value) == message
    assert "s3cr3t" not in repr(caught.value) and caught.value.__cause__ is None


def test_branch_main_on_github_is_reviewed_and_never_force_pushed(every_kind: Deployment) -> None:
    """Its infra/C is applied as cluster-admin everywhere: the same two rules as an
    environment branch, with fleet:repository.mainApprovals."""
    review = every_kind.get("RepositoryRuleset", "main-review")
    assert review.inputs["conditions"] == {
        "refName": {"includes": ["refs/heads/main"], "excludes": []}
    }
    assert review.inputs["rules"] == {"pullRequest": {"requiredApprovingReviewCount": 1}}
    assert review.inputs["bypassActors"] == [{"actorType": "DeployKey", "bypassMode": "always"}]
    protect = every_kind.get("RepositoryRuleset", "main-protect")
    assert protect.inputs["rules"] == {"deletion": True, "nonFastForward": True}
    assert "bypassActors" not in protect.inputs
    (branch,) = every_kind.of_type("dynamic:GitOpsBranch")
    assert {review.urn, protect.urn} <= set(branch.dependencies)
    config = {**EVERY_KIND, "shop1Kubeconfig": ENCRYPTED}
    config["repository"] = {**EVERY_KIND["repository"], "mainApprovals": 2, "writerAppId": 7}
    app = deploy(
        "main",
        program(load_main(config, "main", source="t")),
        {},
        {"shop1Kubeconfig": SHOP_CONTEXT_KUBECONFIG},
    )
    review = app.get("RepositoryRuleset", "main-review")
    assert review.inputs["rules"] == {"pullRequest": {"requiredApprovingReviewCount": 2}}
    assert review.inputs["bypassActors"] == [
        {"actorType": "Integration", "actorId": 7, "bypassMode": "always"}
    ]


def test_on_a_laptop_flux_reaches_the_k3d_remote_inside_the_docker_network() -> None:
    """examples/k3d: both clusters join the network `fleet`; the remote's certificate names its
    load balancer; Pulumi reaches it through the host's port, Flux at its in-network name."""
    model = load_stack(PROJECT / "examples" / "k3d" / "Pulumi.k3d-main.yaml")
    assert isinstance(model, FleetSpec)
    deployment = deploy("k3d-main", program(model), {}, {})
    creates = {
        r.name: r.inputs["create"]
        for r in deployment.of_type("command:local:Command")
        if r.name.endswith("-cluster")
    }
    assert creates["shop-1-cluster"] == (
        "k3d cluster create shop-1 --servers 1 --agents 0 --network fleet "
        "--k3s-arg '--tls-san=k3d-shop-1-serverlb@server:*' "
        "--kubeconfig-update-default=false --wait"
    )
    assert "--network fleet" in creates["hub-cluster"]
    # The network is made once, before either cluster: two creates side by side would race.
    network = deployment.get("command:local:Command", "docker-network-fleet")
    assert network.inputs["create"] == (
        "docker network inspect fleet >/dev/null 2>&1 || docker network create fleet"
    )
    for name in ("hub-cluster", "shop-1-cluster"):
        assert network.urn in deployment.get("command:local:Command", name).dependencies
    secret = deployment.get("v1:Secret", "hub-secret-flux-system-shop-1-kubeconfig")
    assert secret.secret_inputs == {"stringData"}
    flux_view = yaml.safe_load(secret.inputs["stringData"]["value"])
    assert flux_view["clusters"][0]["cluster"]["server"] == "https://k3d-shop-1-serverlb:6443"
    (provider,) = [
        r for r in deployment.of_type("pulumi:providers:kubernetes") if r.name == "shop-1-provider"
    ]
    assert "k3d-shop-1-serverlb" not in str(provider.inputs.get("kubeconfig"))
