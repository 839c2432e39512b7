"""Environment stacks under recording mocks: branch E, E's wiring on every cluster, tenants."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from benchmarks.fleets import Shape, generated
from components.clusters import REFERENCED_CLUSTER_TYPE
from components.environment import STACK_REFERENCE_TYPE
from fleet.access import GitHubRepository, github_commit_repository
from fleet.model import ENCRYPTED, EnvironmentSpec, load_environment, load_main
from fleet_cli.engine import Registered, fake_kubeconfig, main_stack_outputs
from tests.support.deployments import (
    Deployment,
    assert_files_lost_only,
    deploy,
    deploy_sample,
    program,
    settle,
)
from tests.support.sample import Edit, load_sample

GITOPS = "dynamic:GitOpsBranch"

ObjectId = tuple[str, str, str]
"""(kind, namespace, name) of an object on a cluster."""


def on_cluster(deployment: Deployment) -> dict[str, dict[ObjectId, Registered]]:
    """Every in-cluster object by its cluster (the one its provider reaches) and identity."""
    by_urn = deployment.by_urn()
    clusters: dict[str, dict[ObjectId, Registered]] = {}
    for resource in deployment.resources:
        if not resource.type.startswith("kubernetes:"):
            continue
        cluster = by_urn[resource.provider].inputs["clusterIdentifier"]
        # A Helm release has no Kubernetes metadata of its own: its name and namespace.
        metadata = resource.inputs.get("metadata", resource.inputs)
        kind = resource.inputs.get("kind", resource.type.rsplit(":", 1)[-1])
        key = (kind, metadata.get("namespace", ""), metadata["name"])
        assert key not in clusters.setdefault(cluster, {}), key
        clusters[cluster][key] = resource
    return clusters


def environment_objects(env: str, remotes: list[str]) -> set[ObjectId]:
    namespace = f"{env}-flux-system"
    objects = {
        ("Namespace", "", namespace),
        ("ServiceAccount", namespace, "flux-platform"),
        ("ClusterRoleBinding", "", f"flux-platform-{namespace}"),
        ("GitRepository", namespace, namespace),
        ("Kustomization", namespace, "infrastructure"),
        ("Kustomization", namespace, "tenants"),
    }
    for remote in remotes:
        objects |= {
            ("Secret", namespace, f"{remote}-kubeconfig"),
            ("Kustomization", namespace, f"{remote}-infrastructure"),
            ("Kustomization", namespace, f"{remote}-tenants"),
        }
    return objects


def tenant_objects(namespaces: list[str]) -> set[ObjectId]:
    """A tenant's namespaces: no cluster's credentials ever go in them."""
    return {("Namespace", "", namespace) for namespace in namespaces}


@pytest.fixture
def dev() -> Deployment:
    return deploy_sample("dev")


# ---------------------------------------------------------------- the sample environments


def test_dev_has_exactly_the_objects_of_the_design_on_each_cluster(dev: Deployment) -> None:
    tenants = {
        *tenant_objects(["dev-kaizentm", "dev-1-0-x-kaizentm"]),
        *tenant_objects(["dev-yakuza"]),
    }
    assert {c: set(objs) for c, objs in on_cluster(dev).items()} == {
        "k3d-america": environment_objects("dev", ["k3s-america-south"]) | tenants,
        "pacific-aks": environment_objects("dev", []) | tenants,
        # Nothing on the fleet's remote: the main stack grants dev's account there.
    }
    for cluster in ("k3d-america", "pacific-aks"):
        namespace = on_cluster(dev)[cluster][("Namespace", "", "dev-kaizentm")]
        labels = namespace.inputs["metadata"]["labels"]
        assert labels["toolkit.fluxcd.io/tenant"] == "kaizentm"
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_dev_resources_belong_to_the_environment_and_its_tenants(dev: Deployment) -> None:
    environment = dev.children("dev")
    assert {(t, n) for t, n in environment if not t.startswith("kubernetes:")} == {
        (STACK_REFERENCE_TYPE, "organization/fleet/main"),
        (REFERENCED_CLUSTER_TYPE, "dev-k3d-america"),
        (REFERENCED_CLUSTER_TYPE, "dev-pacific-aks"),
        ("fleet:environment:Tenant", "dev-kaizentm"),
        ("fleet:environment:Tenant", "dev-yakuza"),
    }
    assert {n for t, n in environment if t.startswith("kubernetes:")} == {
        f"dev-{cluster}-{suffix}"
        for cluster in ("k3d-america", "pacific-aks")
        for suffix in (
            "namespace-dev-flux-system",
            "serviceaccount-dev-flux-system-flux-platform",
            "clusterrolebinding-flux-platform-dev-flux-system",
            "gitrepository-dev-flux-system-dev-flux-system",
            "kustomization-dev-flux-system-infrastructure",
            "kustomization-dev-flux-system-tenants",
        )
    } | {
        "dev-k3d-america-secret-dev-flux-system-k3s-america-south-kubeconfig",
        "dev-k3d-america-kustomization-dev-flux-system-k3s-america-south-infrastructure",
        "dev-k3d-america-kustomization-dev-flux-system-k3s-america-south-tenants",
    }
    for cluster in ("k3d-america", "pacific-aks"):
        # The provider was the Environment's first: its alias keeps its URN's history.
        (provider,) = dev.children(f"dev-{cluster}")
        assert provider == ("pulumi:providers:kubernetes", f"dev-{cluster}-provider")
    # No provider for the remote: the stack holds no admin credential of it.
    reached = {p.inputs["clusterIdentifier"] for p in dev.of_type("providers:kubernetes")}
    assert reached == {"k3d-america", "pacific-aks"}
    assert {n for _, n in dev.children("dev-yakuza")} == {
        "dev-yakuza-k3d-america-namespace-dev-yakuza",
        "dev-yakuza-pacific-aks-namespace-dev-yakuza",
    }
    # The fleet's clusters and Flux belong to the main stack.
    assert dev.of_type("ManagementCluster") == [] and dev.of_type("FluxInstance") == []


def test_dev_wiring_spec_fields(dev: Deployment) -> None:
    objects = on_cluster(dev)
    for cluster in ("k3d-america", "pacific-aks"):
        wiring = objects[cluster]
        source = wiring["GitRepository", "dev-flux-system", "dev-flux-system"]
        assert source.inputs["spec"] == {
            "interval": "1m",
            "url": "https://github.com/kaizentm/multicluster-gitops",
            "ref": {"branch": "dev"},
        }
        for name, path in (("infrastructure", "infra"), ("tenants", "tenants")):
            spec = wiring["Kustomization", "dev-flux-system", name].inputs["spec"]
            assert spec["path"] == f"./{path}/{cluster}"
            assert spec["sourceRef"] == {"kind": "GitRepository", "name": "dev-flux-system"}
            assert spec["serviceAccountName"] == "flux-platform"
            assert "kubeConfig" not in spec
        for namespace in ("dev-kaizentm", "dev-1-0-x-kaizentm"):
            labels = wiring["Namespace", "", namespace].inputs["metadata"]["labels"]
            assert labels == {
                "toolkit.fluxcd.io/tenant": "kaizentm",
                **{
                    f"pod-security.kubernetes.io/{mode}{suffix}": value
                    for mode in ("enforce", "audit", "warn")
                    for suffix, value in (("", "restricted"), ("-version", "latest"))
                },
            }
    remote = objects["k3d-america"]
    infra = remote["Kustomization", "dev-flux-system", "k3s-america-south-infrastructure"]
    assert infra.inputs["spec"]["path"] == "./infra/k3d-america/clusters/k3s-america-south"
    assert infra.inputs["spec"]["kubeConfig"] == {
        "secretRef": {"name": "k3s-america-south-kubeconfig", "key": "value"}
    }
    tenants = remote["Kustomization", "dev-flux-system", "k3s-america-south-tenants"]
    assert tenants.inputs["spec"]["path"] == "./tenants/k3d-america/clusters/k3s-america-south"
    assert "kubeConfig" not in tenants.inputs["spec"]  # it creates Flux objects on k3d-america
    # Deleted, it waits until the tenants' remote Kustomizations have pruned the remote.
    assert tenants.inputs["spec"]["deletionPolicy"] == "WaitForTermination"


def test_remote_kubeconfigs_come_from_the_main_stack_and_stay_secret(dev: Deployment) -> None:
    references = {r.inputs["name"]: r for r in dev.of_type(STACK_REFERENCE_TYPE)}
    # The main stack's outputs, and the stack's own last inventory for the removal guard.
    assert set(references) == {"organization/fleet/main", "organization/fleet/dev"}
    reference = references["organization/fleet/main"]
    objects = on_cluster(dev)["k3d-america"]
    # One kubeconfig per remote, in the environment's namespace only: none in a tenant's.
    secrets = [i for i in objects if i[0] == "Secret" and i[2] == "k3s-america-south-kubeconfig"]
    assert secrets == [("Secret", "dev-flux-system", "k3s-america-south-kubeconfig")]
    secret = objects[secrets[0]]
    assert secret.inputs["stringData"] == {"value": fake_kubeconfig("k3s-america-south")}
    assert secret.secret_inputs == {"stringData"}
    assert reference.urn in secret.dependencies
    for cluster in ("k3d-america", "pacific-aks"):
        provider = dev.get("providers:kubernetes", f"dev-{cluster}-provider")
        assert provider.inputs["kubeconfig"] == fake_kubeconfig(cluster)
        assert provider.inputs["clusterIdentifier"] == cluster
        assert "kubeconfig" in provider.secret_inputs


def test_every_object_uses_the_provider_of_its_own_cluster(dev: Deployment) -> None:
    by_urn = dev.by_urn()
    for resource in dev.resources:
        if resource.type.startswith("kubernetes:"):
            cluster = by_urn[resource.provider].inputs["clusterIdentifier"]
            # the environment and its tenants
            owners = ("dev", "dev-kaizentm", "dev-yakuza")
            assert any(resource.name.startswith(f"{o}-{cluster}-") for o in owners), resource.name


def test_flux_objects_wait_for_the_namespace_and_secrets_they_use(dev: Deployment) -> None:
    objects = on_cluster(dev)["k3d-america"]
    namespace = objects["Namespace", "", "dev-flux-system"].urn
    secret = objects["Secret", "dev-flux-system", "k3s-america-south-kubeconfig"].urn
    infra = objects["Kustomization", "dev-flux-system", "k3s-america-south-infrastructure"]
    assert {namespace, secret} <= infra.dependencies


def push_to_github(main: dict[str, Any]) -> None:
    """The main stack's repository as deployed for real: commits go to the GitHub repository."""
    main["repository"]["pushUrl"] = "git@github.com:kaizentm/multicluster-gitops.git"


def deploy_environment(stack: str, edit_main: Edit) -> Deployment:
    """The environment stack's components on an edited main stack, the main stack mocked."""
    env = load_sample(stack, edit_main=edit_main)
    assert isinstance(env, EnvironmentSpec)
    return deploy(stack, program(env), {}, {}, main_stack_outputs(env.fleet))


def test_sample_commits_to_a_local_repository_so_nothing_on_github_is_managed(
    dev: Deployment,
) -> None:
    assert [r.name for r in dev.resources if "github" in r.type] == []


@pytest.mark.parametrize(("stack", "approvals"), [("dev", 1), ("qa", 2)])
def test_on_github_the_branch_gets_its_rules_and_is_never_made_from_main(
    stack: str, approvals: int
) -> None:
    deployment = deploy_environment(stack, push_to_github)
    # The git writer creates branch E with its first commit, a history of its own: a branch
    # made from main would carry main's files, which E does not own.
    assert deployment.of_type("github:index/branch:Branch") == []
    conditions = {"refName": {"includes": [f"refs/heads/{stack}"], "excludes": []}}
    review = deployment.get("RepositoryRuleset", f"{stack}-review")
    assert review.inputs == {
        "name": f"fleet branch {stack}: review",
        "repository": "multicluster-gitops",
        "target": "branch",
        "enforcement": "active",
        "conditions": conditions,
        "rules": {"pullRequest": {"requiredApprovingReviewCount": approvals}},
        # The program's own commits land: it pushes with a write deploy key (see README).
        "bypassActors": [{"actorType": "DeployKey", "bypassMode": "always"}],
    }
    # A bypass actor bypasses every rule of its ruleset: deletion and force pushes are refused
    # by a ruleset of their own, which nobody bypasses, not even the program's writer.
    protect = deployment.get("RepositoryRuleset", f"{stack}-protect")
    assert protect.inputs == {
        "name": f"fleet branch {stack}: no deletion, no force push",
        "repository": "multicluster-gitops",
        "target": "branch",
        "enforcement": "active",
        "conditions": conditions,
        "rules": {"deletion": True, "nonFastForward": True},
    }
    (github,) = deployment.of_type("pulumi:providers:github")
    assert github.inputs["owner"] == "kaizentm"
    assert review.provider == protect.provider == github.urn
    (branch,) = deployment.of_type("dynamic:GitOpsBranch")
    assert {review.urn, protect.urn} <= set(branch.dependencies)
    assert deployment.children(stack) >= {
        ("github:index/repositoryRuleset:RepositoryRuleset", f"{stack}-review"),
        ("github:index/repositoryRuleset:RepositoryRuleset", f"{stack}-protect"),
    }


def test_an_environments_own_writer_app_is_the_only_one_that_skips_its_review() -> None:
    def own_app(main: dict[str, Any]) -> None:
        push_to_github(main)

    env = load_sample("qa", lambda raw: raw["environment"].update(writerAppId=4242), own_app)
    assert isinstance(env, EnvironmentSpec)
    deployment = deploy("qa", program(env), {}, {}, main_stack_outputs(env.fleet))
    review = deployment.get("RepositoryRuleset", "qa-review")
    assert review.inputs["bypassActors"] == [
        {"actorType": "Integration", "actorId": 4242, "bypassMode": "always"}
    ]


def test_the_rings_held_refs_are_created_by_the_writer_and_protected_on_github() -> None:
    deployment = deploy_environment("qa", push_to_github)
    (branch,) = deployment.of_type("dynamic:GitOpsBranch")
    assert branch.inputs["holds"] == ["rollout/qa/broad"]
    rings = deployment.get("RepositoryRuleset", "qa-rings")
    conditions = {"refName": {"includes": ["refs/heads/rollout/qa/*"], "excludes": []}}
    # Nobody may delete a held ref or move it back; no bypass, not even the writer's key.
    assert rings.inputs == {
        "name": "fleet rollout rings of qa",
        "repository": "multicluster-gitops",
        "target": "branch",
        "enforcement": "active",
        "conditions": conditions,
        "rules": {"deletion": True, "nonFastForward": True},
    }
    # Only the writer creates or moves one: nobody else can put a ring on an unreviewed commit.
    writers = deployment.get("RepositoryRuleset", "qa-rings-writer")
    assert writers.inputs["conditions"] == conditions
    assert writers.inputs["rules"] == {"creation": True, "update": True}
    assert writers.inputs["bypassActors"] == [{"actorType": "DeployKey", "bypassMode": "always"}]
    assert {rings.urn, writers.urn} <= set(branch.dependencies)
    dev = deploy_environment("dev", push_to_github)
    assert [r.name for r in dev.of_type("RepositoryRuleset")] == ["dev-review", "dev-protect"]
    (dev_branch,) = dev.of_type("dynamic:GitOpsBranch")
    assert dev_branch.inputs["holds"] == []


def test_qa_has_only_its_tenant() -> None:
    qa = deploy_sample("qa")
    assert {c: set(objs) for c, objs in on_cluster(qa).items()} == {
        "k3d-america": environment_objects("qa", ["k3s-america-south"])
        | tenant_objects(["qa-kaizentm"]),
        "pacific-aks": environment_objects("qa", []) | tenant_objects(["qa-kaizentm"]),
    }


def test_dev_exports_no_clusters_of_its_own(dev: Deployment) -> None:
    assert dev.exports["clusters"] == {}
    assert dev.exports["summary"].startswith("environment 'dev' (branch dev)")


# ---------------------------------------------------------------- stability


def removed_and_changed(before: Deployment, after: Deployment) -> tuple[set[str], list[str]]:
    """Names of the resources gone from `before`, and of those whose inputs changed."""
    old, new = before.by_urn(), after.by_urn()
    assert set(new) <= set(old), "nothing is added by a removal"
    changed = [new[urn].name for urn in new if new[urn].inputs != old[urn].inputs]
    return {old[urn].name for urn in set(old) - set(new)}, changed


def test_removing_a_remote_cluster_removes_exactly_its_objects(dev: Deployment) -> None:
    def without_remote(raw: dict[str, Any]) -> None:
        raw["clusters"].remove("k3s-america-south")

    after = deploy_sample("dev", without_remote)
    removed, changed = removed_and_changed(dev, after)
    assert removed == {
        "dev-k3d-america-secret-dev-flux-system-k3s-america-south-kubeconfig",
        "dev-k3d-america-kustomization-dev-flux-system-k3s-america-south-infrastructure",
        "dev-k3d-america-kustomization-dev-flux-system-k3s-america-south-tenants",
    }
    assert changed == ["gitops-dev"]
    # k3d-america's last remote: its tenants' remote accounts and sources go too.
    assert_files_lost_only(
        dev.get(GITOPS, "gitops-dev"), after.get(GITOPS, "gitops-dev"), "k3s", "/remote-"
    )


def test_removing_a_tenant_removes_exactly_its_objects(dev: Deployment) -> None:
    def without_yakuza(raw: dict[str, Any]) -> None:
        raw["tenants"] = [t for t in raw["tenants"] if t["name"] != "yakuza"]

    after = deploy_sample("dev", without_yakuza)
    removed, changed = removed_and_changed(dev, after)
    assert removed == {
        "dev-yakuza",
        "dev-yakuza-k3d-america-namespace-dev-yakuza",
        "dev-yakuza-pacific-aks-namespace-dev-yakuza",
    }
    assert changed == ["gitops-dev"]
    assert_files_lost_only(dev.get(GITOPS, "gitops-dev"), after.get(GITOPS, "gitops-dev"), "yakuza")


# ---------------------------------------------------------------- dedicated clusters, off GitHub

HOSTED_MAIN: dict[str, Any] = {
    "repository": {"url": "https://git.example.com/fleet.git", "tokenSecret": "gitToken"},
    "clusters": [
        {"name": "hub", "kind": "k3d"},
        {
            "name": "edge",
            "role": "remote",
            "kind": "attached",
            "managedBy": "hub",
            "attached": {"kubeconfigSecret": "edgeKubeconfig"},
        },
    ],
    "environments": ["dev"],
    "gitToken": ENCRYPTED,
    "edgeKubeconfig": ENCRYPTED,
}

LAB_ENVIRONMENT: dict[str, Any] = {
    "mainStack": "org/fleet/main",
    "clusters": ["hub", "edge"],
    "dedicatedClusters": [
        {"name": "lab", "kind": "k3d", "protect": False},
        {
            "name": "lab-edge",
            "role": "remote",
            "kind": "attached",
            "managedBy": "hub",
            "attached": {"kubeconfigSecret": "labEdgeKubeconfig"},
        },
    ],
    "tenants": [
        {
            "name": "shop",
            "repository": {
                "url": "https://git.example.com/shop.git",
                "branch": "main",
                "credentialsSecret": "shopToken",
            },
            "imagePullSecret": "shopPull",
            "apps": [{"name": "web"}],
            "releases": [{"name": "next", "branch": "next"}],
        }
    ],
    "labEdgeKubeconfig": ENCRYPTED,
    "shopToken": ENCRYPTED,
    "shopPull": ENCRYPTED,
}

LAB_SECRETS = {
    "labEdgeKubeconfig": fake_kubeconfig("lab-edge"),
    "shopToken": "shop-token",
    "shopPull": '{"auths": {}}',
    "gitToken": "fleet-token",
}


@pytest.fixture
def lab() -> Deployment:
    fleet = load_main(HOSTED_MAIN, "main", source="main")
    env = load_environment(LAB_ENVIRONMENT, "dev", fleet, source="dev")
    return deploy("dev", program(env), {}, LAB_SECRETS, main_stack_outputs(fleet))


def test_dedicated_clusters_get_flux_but_no_main_branch_wiring(lab: Deployment) -> None:
    assert lab.children("lab") == {
        ("command:local:Command", "lab-cluster"),
        ("command:local:Command", "lab-kubeconfig"),
        ("pulumi:providers:kubernetes", "lab-provider"),
        ("kubernetes:helm.sh/v3:Release", "lab-flux-operator"),
        ("kubernetes:fluxcd.controlplane.io/v1:FluxInstance", "lab-fluxinstance-flux-system-flux"),
    }
    assert lab.children("lab-edge") == {
        ("pulumi:providers:kubernetes", "lab-edge-provider"),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "lab-edge-dev-flux-system-clusterrolebinding-flux-platform-dev-flux-system",
        ),
    }
    assert set(lab.exports["clusters"]) == {"lab", "lab-edge"}
    assert settle(lab.exports["clusters"]["lab-edge"]["kubeconfig"]) == (
        fake_kubeconfig("lab-edge"),
        True,
    )


def test_environment_wiring_on_a_dedicated_cluster_waits_for_its_flux(lab: Deployment) -> None:
    objects = on_cluster(lab)
    instance = lab.get("FluxInstance", "lab-fluxinstance-flux-system-flux")
    lab_provider = lab.get("providers:kubernetes", "lab-provider")
    shop_secrets = {
        ("Secret", namespace, name)
        for namespace in ("dev-shop", "dev-next-shop")
        for name in ("shop-git-credentials", "shop-image-pull")
    }
    assert set(objects["lab"]) == {
        ("Release", "flux-system", "flux-operator"),
        ("FluxInstance", "flux-system", "flux"),
        *environment_objects("dev", []),
        ("Secret", "dev-flux-system", "dev-flux-system"),
        *tenant_objects(["dev-shop", "dev-next-shop"]),
        *shop_secrets,
    }
    for resource in objects["lab"].values():
        if resource.name.startswith("dev-"):
            assert resource.provider == lab_provider.urn
            assert instance.urn in resource.dependencies, resource.name
    # The fleet's cluster: reached through the main stack; its Flux is main's.
    for resource in objects["hub"].values():
        assert not any("fluxinstance" in urn for urn in resource.dependencies)


def test_remotes_of_a_fleet_cluster_come_from_both_stacks(lab: Deployment) -> None:
    hub = on_cluster(lab)["hub"]
    for remote in ("edge", "lab-edge"):
        secret = hub["Secret", "dev-flux-system", f"{remote}-kubeconfig"]
        assert secret.inputs["stringData"] == {"value": fake_kubeconfig(remote)}
    assert not [
        i
        for i in hub
        if i[0] == "Secret"
        and i[1] in ("dev-shop", "dev-next-shop")
        and i[2].endswith("-kubeconfig")
    ]
    # The tenant's remote sources read from the environment's namespace, with its credentials.
    git = hub["Secret", "dev-flux-system", "shop-git-credentials"]
    assert git.inputs["stringData"] == {"username": "git", "password": "shop-token"}
    # The dedicated remote's rights are this stack's to grant; the fleet's remote's, main's.
    bindings = {
        by_cluster: {i[2] for i in objs if i[0] == "ClusterRoleBinding"}
        for by_cluster, objs in on_cluster(lab).items()
    }
    assert bindings["lab-edge"] == {"flux-platform-dev-flux-system"}
    assert "edge" not in bindings


@pytest.mark.parametrize("granted", [["qa"], []], ids=["another", "none"])
def test_an_environment_the_deployed_main_stack_does_not_grant_stops(granted: list[str]) -> None:
    fleet = load_main({**HOSTED_MAIN, "environments": granted}, "main", source="main")
    env = load_environment(LAB_ENVIRONMENT, "dev", fleet, source="dev")
    with pytest.raises(pulumi.RunError, match="does not grant environment 'dev'"):
        deploy("dev", program(env), {}, LAB_SECRETS, main_stack_outputs(fleet))


def test_a_cluster_the_deployed_main_stack_does_not_export_yet_stops_the_environment() -> None:
    fleet = load_main(HOSTED_MAIN, "main", source="main")
    env = load_environment(LAB_ENVIRONMENT, "dev", fleet, source="dev")
    exported = main_stack_outputs(fleet)
    del exported["clusters"]["edge"]
    with pytest.raises(pulumi.RunError, match="exports no cluster 'edge': run `pulumi up` on it"):
        deploy("dev", program(env), {}, LAB_SECRETS, exported)


def test_a_main_stack_deployed_before_it_granted_environments_stops_one() -> None:
    fleet = load_main(HOSTED_MAIN, "main", source="main")
    env = load_environment(LAB_ENVIRONMENT, "dev", fleet, source="dev")
    exported = main_stack_outputs(fleet)
    del exported["environments"]
    with pytest.raises(pulumi.RunError, match="list it in fleet:environments of the main stack"):
        deploy("dev", program(env), {}, LAB_SECRETS, exported)


def test_git_and_image_pull_credentials_from_secret_config(lab: Deployment) -> None:
    hub = on_cluster(lab)["hub"]
    repository = hub["Secret", "dev-flux-system", "dev-flux-system"]
    assert repository.inputs["stringData"] == {"username": "git", "password": "fleet-token"}
    source = hub["GitRepository", "dev-flux-system", "dev-flux-system"]
    assert source.inputs["spec"]["secretRef"] == {"name": "dev-flux-system"}
    for namespace in ("dev-shop", "dev-next-shop"):
        git = hub["Secret", namespace, "shop-git-credentials"]
        assert git.inputs["stringData"] == {"username": "git", "password": "shop-token"}
        assert git.inputs["type"] == "Opaque"
        pull = hub["Secret", namespace, "shop-image-pull"]
        assert pull.inputs["stringData"] == {".dockerconfigjson": '{"auths": {}}'}
        assert pull.inputs["type"] == "kubernetes.io/dockerconfigjson"
    for secret in lab.of_type("v1:Secret"):
        assert secret.secret_inputs == {"stringData"}, secret.name


def test_an_ssh_tenant_and_its_release_channel_read_with_the_key_and_known_hosts() -> None:
    """The access decided for each source reaches the Secret its GitRepository names."""
    ssh = "ssh://git@git.example.com/shop.git"
    config = copy.deepcopy(LAB_ENVIRONMENT)
    (shop,) = config["tenants"]
    shop["repository"].update(url=ssh, knownHosts="git.example.com ssh-ed25519 AAAA")
    shop["releases"][0]["repository"] = ssh
    fleet = load_main(HOSTED_MAIN, "main", source="main")
    env = load_environment(config, "dev", fleet, source="dev")
    secrets = {**LAB_SECRETS, "shopToken": "-----BEGIN OPENSSH PRIVATE KEY-----"}
    hub = on_cluster(deploy("dev", program(env), {}, secrets, main_stack_outputs(fleet)))["hub"]
    for namespace in ("dev-shop", "dev-next-shop"):
        git = hub["Secret", namespace, "shop-git-credentials"]
        assert git.inputs["stringData"] == {
            "identity": "-----BEGIN OPENSSH PRIVATE KEY-----",
            "known_hosts": "git.example.com ssh-ed25519 AAAA",
        }


def test_off_github_there_is_no_branch_resource_nor_review_rule(lab: Deployment) -> None:
    assert [
        r for r in lab.resources if r.type.startswith(("github:", "pulumi:providers:github"))
    ] == []


@pytest.mark.parametrize(
    ("push_url", "manages_github"),
    [
        (None, True),
        ("git@github.com:kaizentm/multicluster-gitops.git", True),
        (".gitops/multicluster-gitops.git", False),
        ("https://github.com/someone-else/multicluster-gitops", False),
    ],
)
def test_github_branches_are_managed_only_where_the_program_commits(
    push_url: str | None, manages_github: bool
) -> None:
    url = "https://github.com/kaizentm/multicluster-gitops"
    expected = GitHubRepository("kaizentm", "multicluster-gitops") if manages_github else None
    assert github_commit_repository(url, push_url) == expected


def test_a_flux_object_waits_for_exactly_what_it_uses(dev: Deployment) -> None:
    america = on_cluster(dev)["k3d-america"]
    remote_infra = america["Kustomization", "dev-flux-system", "k3s-america-south-infrastructure"]
    waits_for = {
        key for key, resource in america.items() if resource.urn in remote_infra.dependencies
    }
    assert waits_for == {
        ("Namespace", "", "dev-flux-system"),
        ("ServiceAccount", "dev-flux-system", "flux-platform"),
        ("ClusterRoleBinding", "", "flux-platform-dev-flux-system"),
        ("GitRepository", "dev-flux-system", "dev-flux-system"),
        ("Secret", "dev-flux-system", "k3s-america-south-kubeconfig"),
    }


def test_dependencies_do_not_grow_with_the_fleet() -> None:
    """Each object waits for a handful of others, however many remotes share its cluster."""
    most = []
    for remotes in (1, 8):
        fleet, (env,) = generated(
            Shape(management=1, remotes_per_management=remotes, environments=1, tenants=2)
        )
        secrets = {ref.key: "kubeconfig" for ref in fleet.secret_keys}
        outputs = main_stack_outputs(fleet)
        for deployment in (
            deploy("main", program(fleet), {}, secrets, outputs),
            deploy("env-0", program(env), {}, {}, outputs),
        ):
            most.append(max(len(r.dependencies) for r in deployment.resources))
    assert most[:2] == most[2:], most
    assert max(most) <= 8
