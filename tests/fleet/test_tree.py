"""The rendered branches of the sample fleet, built with real kustomize."""

from __future__ import annotations

import posixpath
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fleet import layout, names, objects, tree, wiring
from fleet.model import EnvironmentSpec, FleetSpec
from fleet_cli.kustomize import build
from tests.support.sample import load_sample

Built = dict[str, list[dict[str, Any]]]


def render(stack: str) -> dict[str, str]:
    model = load_sample(stack)
    if isinstance(model, FleetSpec):
        return tree.main_branch(model)
    return tree.environment_branch(model)


def write(files: dict[str, str], root: Path) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every kustomization folder of every sample branch, built once: {stack: {folder: objs}}."""
    result: dict[str, Built] = {}
    for stack in ("main", "dev", "qa"):
        root = tmp_path_factory.mktemp(stack)
        files = render(stack)
        write(files, root)
        result[stack] = {
            path.removesuffix("/kustomization.yaml"): build(root / Path(path).parent)
            for path in files
            if path.endswith("/kustomization.yaml")
        }
    return result


def find(objs: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, Any]:
    matches = [o for o in objs if objects.object_id(o) == (kind, namespace, name)]
    assert len(matches) == 1, f"{kind} {namespace}/{name} in {[objects.object_id(o) for o in objs]}"
    return matches[0]


def ids(objs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {objects.object_id(o) for o in objs}


# ---------------------------------------------------------------- what the sample fleet had


def test_every_kustomization_of_every_sample_branch_builds(built: dict[str, Built]) -> None:
    assert set(built["main"]) >= {"infra/k3d-america", "infra/pacific-aks", "clusters/k3d-america"}
    assert len(built["dev"]) > 20


def test_main_infra_is_nginx_with_port_8080_on_k3d_america(built: dict[str, Built]) -> None:
    america = built["main"]["infra/k3d-america"]
    release = find(america, "HelmRelease", "nginx", "nginx")["spec"]
    assert release["chart"]["spec"] == {
        "chart": "nginx",
        "version": "15.14.0",
        "sourceRef": {"kind": "HelmRepository", "name": "nginx"},
    }
    assert release["values"]["service"] == {"type": "LoadBalancer", "ports": {"http": 8080}}
    assert release["serviceAccountName"] == names.DEPLOYER_ACCOUNT
    # A chart may bring CRDs, ClusterRoles and webhooks: its account is cluster-admin.
    binding = find(america, "ClusterRoleBinding", "", "flux-deployer-nginx")
    assert binding["roleRef"]["name"] == "cluster-admin"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "flux-deployer", "namespace": "nginx"}
    ]
    # The namespace may have existed before the fleet: never taken over, never pruned.
    namespace = find(america, "Namespace", "", "nginx")
    assert namespace["metadata"]["annotations"] == {
        "kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"
    }
    source = find(america, "HelmRepository", "nginx", "nginx")
    assert source["spec"]["url"] == "https://charts.bitnami.com/bitnami"
    pacific = find(built["main"]["infra/pacific-aks"], "HelmRelease", "nginx", "nginx")
    assert pacific["spec"]["values"]["service"] == {"type": "LoadBalancer"}


def test_a_remote_gets_its_chart_from_a_helm_release_on_its_management_cluster(
    built: dict[str, Built],
) -> None:
    america = built["main"]["infra/k3d-america"]
    release = find(america, "HelmRelease", "flux-system", "k3s-america-south-nginx")["spec"]
    assert release["kubeConfig"] == {
        "secretRef": {"name": "k3s-america-south-kubeconfig", "key": "value"}
    }
    assert (release["targetNamespace"], release["storageNamespace"]) == ("nginx", "nginx")
    # It installs on the remote as the platform's account there, which Pulumi binds.
    assert release["serviceAccountName"] == "flux-platform"
    find(america, "HelmRepository", "flux-system", "nginx")
    # Nothing Flux-specific is sent to the remote itself, which runs no Flux: only the
    # platform's namespace and account, for the identity Flux impersonates there to exist.
    assert ids(built["main"]["infra/k3d-america/clusters/k3s-america-south"]) == {
        ("Namespace", "", "flux-system"),
        ("ServiceAccount", "flux-system", "flux-platform"),
    }


def test_main_wiring_is_kept_for_reference(built: dict[str, Built]) -> None:
    fleet = load_sample("main")
    assert isinstance(fleet, FleetSpec)
    for cluster in fleet.management_clusters:
        reference = built["main"][f"clusters/{cluster.name}"]
        assert ids(reference) == ids(wiring.main_wiring(fleet, cluster).objects)
    infra = find(
        built["main"]["clusters/k3d-america"], "Kustomization", "flux-system", "infrastructure"
    )
    assert infra["spec"]["path"] == "./infra/k3d-america"
    remote = find(
        built["main"]["clusters/k3d-america"],
        "Kustomization",
        "flux-system",
        "k3s-america-south-infrastructure",
    )
    assert remote["spec"]["path"] == "./infra/k3d-america/clusters/k3s-america-south"
    assert remote["spec"]["kubeConfig"]["secretRef"]["name"] == "k3s-america-south-kubeconfig"


def test_dev_infra_is_redis_with_200m_cpu_on_k3d_america(built: dict[str, Built]) -> None:
    def cpu(folder: str) -> str:
        deployment = find(built["dev"][folder], "Deployment", "dev-redis", "redis")
        requests: dict[str, str] = deployment["spec"]["template"]["spec"]["containers"][0][
            "resources"
        ]["requests"]
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        return requests["cpu"]

    assert cpu("infra/k3d-america") == "200m"
    assert cpu("infra/pacific-aks") == "100m"
    assert cpu("infra/k3d-america/clusters/k3s-america-south") == "100m"
    find(built["dev"]["infra/k3d-america"], "Namespace", "", "dev-redis")


def test_dev_tenants_on_a_management_cluster(built: dict[str, Built]) -> None:
    america = built["dev"]["tenants/k3d-america"]
    account = find(america, "ServiceAccount", "dev-kaizentm", "kaizentm")
    assert account["metadata"]["labels"] == {names.TENANT_LABEL: "kaizentm"}
    binding = find(america, "RoleBinding", "dev-kaizentm", "kaizentm-reconciler")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kaizentm", "namespace": "dev-kaizentm"}
    ]
    # The built-in admin role: every right in the namespace but on the namespace itself,
    # its quota and its limits.
    assert binding["roleRef"]["name"] == "admin"
    source = find(america, "GitRepository", "dev-kaizentm", "kaizentm-manifests")["spec"]
    assert (source["url"], source["ref"]) == (
        "https://github.com/kaizentm/gitops-manifests",
        {"branch": "dev"},
    )
    app = find(america, "Kustomization", "dev-kaizentm", "azure-vote")["spec"]
    assert app["path"] == "./azure-vote/k3d-america"
    assert app["sourceRef"] == {"kind": "GitRepository", "name": "kaizentm-manifests"}
    assert (app["serviceAccountName"], app["targetNamespace"]) == ("kaizentm", "dev-kaizentm")
    assert "kubeConfig" not in app
    katana = find(america, "Kustomization", "dev-yakuza", "katana-vote")["spec"]
    assert katana["path"] == "./katana-vote/k3d-america"
    yakuza_source = find(america, "GitRepository", "dev-yakuza", "yakuza-manifests")["spec"]
    assert yakuza_source["ref"] == {"branch": "multi-dev"}
    # The namespaces are Pulumi's: they hold the secrets Pulumi creates.
    assert not [o for o in america if o["kind"] == "Namespace"]


def test_a_release_channel_is_a_second_copy_of_the_tenant(built: dict[str, Built]) -> None:
    america = built["dev"]["tenants/k3d-america"]
    namespace = "dev-1-0-x-kaizentm"
    source = find(america, "GitRepository", namespace, "kaizentm-1-0-x-manifests")["spec"]
    assert source["ref"] == {"branch": "release/1-0-x/dev"}
    app = find(america, "Kustomization", namespace, "azure-vote")["spec"]
    assert app["sourceRef"]["name"] == "kaizentm-1-0-x-manifests"
    assert (app["serviceAccountName"], app["targetNamespace"]) == ("kaizentm", namespace)
    assert app["path"] == "./azure-vote/k3d-america"
    find(america, "ServiceAccount", namespace, "kaizentm")


def test_an_app_path_can_differ_per_cluster(built: dict[str, Built]) -> None:
    pacific = built["dev"]["tenants/pacific-aks"]
    app = find(pacific, "Kustomization", "dev-kaizentm", "azure-vote")["spec"]
    assert app["path"] == "./azure-vote-manifests/manifest"
    release = find(pacific, "Kustomization", "dev-1-0-x-kaizentm", "azure-vote")["spec"]
    assert release["path"] == "./azure-vote-manifests/manifest"


def test_a_remote_overlay_holds_only_the_tenants_remote_kustomizations(
    built: dict[str, Built],
) -> None:
    """Each tenant app on a remote is `R-T-APP` in the environment's namespace, beside the
    remote's kubeconfig, where no tenant can read it; it impersonates the tenant's account on
    the remote and stays in the tenant's namespace there. Release channels reach remotes too."""
    remote = built["dev"]["tenants/k3d-america/clusters/k3s-america-south"]
    platform = "dev-flux-system"
    assert ids(remote) == {
        ("Kustomization", platform, "k3s-america-south-kaizentm-azure-vote"),
        ("Kustomization", platform, "k3s-america-south-1-0-x-kaizentm-azure-vote"),
        ("Kustomization", platform, "k3s-america-south-yakuza-katana-vote"),
    }
    app = find(remote, "Kustomization", platform, "k3s-america-south-kaizentm-azure-vote")["spec"]
    assert app["path"] == "./azure-vote/k3s-america-south"
    assert app["kubeConfig"] == {
        "secretRef": {"name": "k3s-america-south-kubeconfig", "key": "value"}
    }
    assert app["sourceRef"]["name"] == "kaizentm-manifests"
    assert (app["serviceAccountName"], app["targetNamespace"]) == ("kaizentm", "dev-kaizentm")
    channel = find(
        remote, "Kustomization", platform, "k3s-america-south-1-0-x-kaizentm-azure-vote"
    )["spec"]
    assert channel["sourceRef"]["name"] == "kaizentm-1-0-x-manifests"
    assert channel["targetNamespace"] == "dev-1-0-x-kaizentm"


def test_the_tenants_remote_sources_and_account_sit_in_the_environments_namespace(
    built: dict[str, Built],
) -> None:
    america = built["dev"]["tenants/k3d-america"]
    for source, branch in (
        ("kaizentm-manifests", "dev"),
        ("kaizentm-1-0-x-manifests", "release/1-0-x/dev"),
        ("yakuza-manifests", "multi-dev"),
    ):
        found = find(america, "GitRepository", "dev-flux-system", source)
        assert found["spec"]["ref"] == {"branch": branch}
    account = find(america, "ServiceAccount", "dev-flux-system", "kaizentm")
    # It must outlive the remote Kustomizations that impersonate it, for them to prune.
    assert account["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
    # pacific-aks manages no remote: nothing of the kind there.
    pacific = built["dev"]["tenants/pacific-aks"]
    assert not [o for o in pacific if o["metadata"].get("namespace") == "dev-flux-system"]


def test_a_remote_gets_the_tenant_namespaces_and_accounts(built: dict[str, Built]) -> None:
    remote_infra = built["dev"]["infra/k3d-america/clusters/k3s-america-south"]
    find(remote_infra, "Namespace", "", "dev-flux-system")
    find(remote_infra, "ServiceAccount", "dev-flux-system", "flux-platform")
    for tenant, namespaces in (
        ("kaizentm", ["dev-kaizentm", "dev-1-0-x-kaizentm"]),
        ("yakuza", ["dev-yakuza"]),
    ):
        find(remote_infra, "ServiceAccount", "dev-flux-system", tenant)
        for namespace in namespaces:
            labels = find(remote_infra, "Namespace", "", namespace)["metadata"]["labels"]
            assert labels[names.TENANT_LABEL] == tenant
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            binding = find(remote_infra, "RoleBinding", namespace, f"{tenant}-reconciler")
            assert binding["roleRef"]["name"] == "admin"
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": tenant, "namespace": "dev-flux-system"}
            ]


def test_environment_wiring_is_kept_for_reference(built: dict[str, Built]) -> None:
    env = load_sample("dev")
    assert isinstance(env, EnvironmentSpec)
    for cluster in env.management_clusters:
        reference = built["dev"][f"clusters/{cluster.name}"]
        assert ids(reference) == ids(wiring.environment_wiring(env, cluster).objects)
    base = built["dev"]["clusters/base"]
    source = find(base, "GitRepository", "dev-flux-system", "dev-flux-system")["spec"]
    assert source["ref"] == {"branch": "dev"}
    remote = built["dev"]["clusters/k3d-america/k3s-america-south"]
    tenants = find(remote, "Kustomization", "dev-flux-system", "k3s-america-south-tenants")
    assert tenants["spec"]["path"] == "./tenants/k3d-america/clusters/k3s-america-south"
    assert "kubeConfig" not in tenants["spec"]


def test_qa_follows_its_own_branches(built: dict[str, Built]) -> None:
    source = find(
        built["qa"]["tenants/k3d-america"], "GitRepository", "qa-kaizentm", "kaizentm-manifests"
    )
    assert source["spec"]["ref"] == {"branch": "qa"}
    base = find(built["qa"]["clusters/base"], "GitRepository", "qa-flux-system", "qa-flux-system")
    assert base["spec"]["ref"] == {"branch": "qa"}


# ---------------------------------------------------------------- the files


@pytest.mark.parametrize("stack", ["main", "dev", "qa"])
def test_files_are_deterministic_and_say_who_generated_them(stack: str) -> None:
    first, second = render(stack), render(stack)
    assert first == second
    assert list(first) == list(second)
    for path, text in first.items():
        assert text.startswith(f"# Generated by fleet from stack '{stack}'"), path
        if posixpath.basename(path) == layout.KUSTOMIZATION_FILE:
            assert "patchesStrategicMerge" not in text
    apis = Counter(
        line.split(": ", 1)[1]
        for text in first.values()
        for line in text.splitlines()
        if line.startswith("apiVersion: ") and "toolkit.fluxcd.io" in line
    )
    assert all(api.endswith(("/v1", "/v2")) for api in apis), apis
