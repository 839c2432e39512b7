"""AKS as enterprises run it, under mocks: clusters with Microsoft Entra ID only, reached by
Pulumi through kubelogin (the user-credentials invoke, never the admin one), and AKS remotes
that Flux reaches without any stored credential (workload identity, `kubeConfig.configMapRef`)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.azure_identity import AKS_RBAC_CLUSTER_ADMIN
from components.clusters import AKS_ADMIN_CREDENTIALS, AKS_USER_CREDENTIALS
from fleet.errors import ConfigError
from fleet.model import EnvironmentSpec, FleetSpec
from fleet_cli.engine import (
    FAKE_SUBSCRIPTION,
    fake_aks_id,
    fake_ca,
    fake_kubeconfig,
    main_stack_outputs,
)
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import simulation
from tests.support.deployments import Deployment, deploy, program, settle
from tests.support.sample import PROJECT, Raw, cluster, load_sample, problems_of

EDGE = "pacific-edge"
MANAGER = "pacific-aks"


def entra_only(raw: Raw) -> None:
    """The sample's AKS cluster with Entra ID only, and an AKS remote reached secret-less."""
    aks = cluster(raw, MANAGER)["aks"]
    aks.update(localAccounts=False, adminGroups=["00000000-aaaa-0000-0000-000000000001"])
    aks["login"] = "workloadidentity"
    raw["clusters"].append(
        {
            "name": EDGE,
            "role": "remote",
            "kind": "aks",
            "managedBy": MANAGER,
            "labels": {"region": "pacific", "ring": "broad"},
            "aks": {
                "location": "australiaeast",
                "resourceGroup": "fleet-pacific-edge",
                "localAccounts": False,
                "adminGroups": ["00000000-aaaa-0000-0000-000000000002"],
                "fluxAccess": "workload-identity",
            },
        }
    )


def entra_project(folder: Any) -> Any:
    """The sample project with `entra_only` applied to its main stack's settings."""
    project = folder / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        (project / name).write_bytes((PROJECT / name).read_bytes())
    document = yaml.safe_load((PROJECT / "Pulumi.main.yaml").read_text())
    raw = {k.removeprefix("fleet:"): v for k, v in document["config"].items()}
    entra_only(raw)
    document["config"] = {f"fleet:{k}": v for k, v in raw.items()}
    (project / "Pulumi.main.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return project


def main_model() -> FleetSpec:
    model = load_sample("main", entra_only)
    assert isinstance(model, FleetSpec)
    return model


@pytest.fixture(scope="module")
def main() -> Deployment:
    secrets = {"k3sAmericaSouthKubeconfig": fake_kubeconfig("k3s-america-south")}
    return deploy("main", program(main_model()), {}, secrets)


def test_an_entra_only_cluster_has_no_local_accounts_and_azure_rbac(main: Deployment) -> None:
    aks = main.get("ManagedCluster", f"{MANAGER}-cluster")
    assert aks.inputs["disableLocalAccounts"] is True
    assert aks.inputs["aadProfile"] == {
        "managed": True,
        "enableAzureRBAC": True,
        "adminGroupObjectIDs": ["00000000-aaaa-0000-0000-000000000001"],
    }
    # It issues tokens Azure trusts: its Flux signs in to the remote as a managed identity.
    assert aks.inputs["oidcIssuerProfile"] == {"enabled": True}
    assert aks.inputs["securityProfile"] == {"workloadIdentity": {"enabled": True}}


def test_pulumi_reaches_it_through_kubelogin_never_with_admin_credentials(
    main: Deployment,
) -> None:
    tokens = [i.token for i in main.invokes]
    assert AKS_ADMIN_CREDENTIALS not in tokens
    asked = [i.args for i in main.invokes if i.token == AKS_USER_CREDENTIALS]
    assert {a["resourceName"] for a in asked} == {MANAGER, EDGE}
    assert all(a["format"] == "exec" for a in asked)
    (provider,) = [
        r for r in main.of_type("providers:kubernetes") if r.name == f"{MANAGER}-provider"
    ]
    config = yaml.safe_load(str(provider.inputs["kubeconfig"]))
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "kubelogin"
    args = user["user"]["exec"]["args"]
    assert args[:3] == ["get-token", "--login", "workloadidentity"]
    assert "devicecode" not in args and "--client-id" not in args


def test_people_get_a_kubeconfig_of_their_own_with_no_credential(main: Deployment) -> None:
    people, secret = settle(main.exports["userKubeconfigs"])
    assert set(people) == {MANAGER, EDGE} and not secret
    config = yaml.safe_load(people[MANAGER])
    args = config["users"][0]["user"]["exec"]["args"]
    assert args[:3] == ["get-token", "--login", "azurecli"]
    # Nothing in it signs anyone in: no token, no certificate, no key.
    assert set(config["users"][0]["user"]) == {"exec"}


def test_the_management_clusters_flux_gets_an_identity_that_administers_the_remote(
    main: Deployment,
) -> None:
    identity = main.get("UserAssignedIdentity", f"{MANAGER}-flux-identity")
    assert identity.inputs["resourceName"] == f"{MANAGER}-flux"
    trust = main.get("FederatedIdentityCredential", f"{MANAGER}-flux-trust")
    assert trust.inputs["subject"] == "system:serviceaccount:flux-system:flux-platform"
    assert trust.inputs["issuer"] == f"https://oidc.example/{MANAGER}/"
    assert trust.inputs["audiences"] == ["api://AzureADTokenExchange"]
    admin = main.get("RoleAssignment", f"{MANAGER}-{EDGE}-flux-admin")
    assert admin.inputs["scope"] == fake_aks_id("fleet-pacific-edge", EDGE)
    assert admin.inputs["principalId"] == f"principal-id-of-{MANAGER}-flux"
    assert admin.inputs["roleDefinitionId"] == (
        f"/subscriptions/{FAKE_SUBSCRIPTION}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{AKS_RBAC_CLUSTER_ADMIN}"
    )


def flux_objects(deployment: Deployment, namespace: str) -> dict[tuple[str, str], Any]:
    return {
        (r.inputs.get("kind") or r.type.split(":")[-1], r.inputs["metadata"]["name"]): r
        for r in deployment.resources
        if isinstance(r.inputs.get("metadata"), dict)
        and r.inputs["metadata"].get("namespace") == namespace
    }


def test_no_credential_of_the_remote_is_stored_flux_reads_a_config_map(main: Deployment) -> None:
    found = flux_objects(main, "flux-system")
    assert ("Secret", f"{EDGE}-kubeconfig") not in found
    config_map = found[("ConfigMap", f"{EDGE}-kubeconfig")]
    # Address and CA from the remote's own (credential-less) kubeconfig: with both, Flux does
    # not describe the cluster through Azure, a right its identity lacks.
    assert config_map.inputs["data"] == {
        "provider": "azure",
        "cluster": fake_aks_id("fleet-pacific-edge", EDGE),
        "address": f"https://{EDGE}:443",
        "ca.crt": fake_ca(EDGE),
        "serviceAccountName": "flux-platform",
    }
    assert config_map.secret_inputs == set()
    infra = found[("Kustomization", f"{EDGE}-infrastructure")]
    assert infra.inputs["spec"]["kubeConfig"] == {"configMapRef": {"name": f"{EDGE}-kubeconfig"}}
    account = [
        r
        for r in main.of_type("ServiceAccount")
        if r.inputs["metadata"] == {**r.inputs["metadata"], "name": "flux-platform"}
        and r.name.startswith(MANAGER)
    ]
    assert account and account[0].inputs["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": f"client-id-of-{MANAGER}-flux",
        "azure.workload.identity/tenant-id": "11111111-1111-1111-1111-111111111111",
    }


def test_an_environment_has_an_identity_of_its_own_and_reads_the_same_way() -> None:
    """Environments deploy side by side: each writes its own identity, never the main stack's
    (Azure refuses concurrent federated-credential writes on one identity)."""

    def with_edge(raw: Raw) -> None:
        raw["clusters"] = [*raw["clusters"], EDGE]

    env = load_sample("dev", with_edge, entra_only)
    assert isinstance(env, EnvironmentSpec)
    deployment = deploy("dev", program(env), {}, {}, main_stack_outputs(env.fleet))
    owner = f"dev-{MANAGER}"
    identity = deployment.get("UserAssignedIdentity", f"{owner}-flux-identity")
    assert identity.inputs["resourceName"] == f"{owner}-flux"
    assert identity.inputs["resourceGroupName"] == "fleet-pacific"
    trust = deployment.get("FederatedIdentityCredential", f"{owner}-flux-trust")
    assert trust.inputs["subject"] == "system:serviceaccount:dev-flux-system:flux-platform"
    assert trust.inputs["resourceName"] == f"{owner}-flux"
    assert trust.inputs["issuer"] == f"https://oidc.example/{MANAGER}/"
    admin = deployment.get("RoleAssignment", f"{owner}-{EDGE}-flux-admin")
    assert admin.inputs["scope"] == fake_aks_id("fleet-pacific-edge", EDGE)
    assert admin.inputs["principalId"] == f"principal-id-of-{owner}-flux"
    found = flux_objects(deployment, "dev-flux-system")
    assert ("Secret", f"{EDGE}-kubeconfig") not in found
    data = found[("ConfigMap", f"{EDGE}-kubeconfig")].inputs["data"]
    assert (data["cluster"], data["address"]) == (
        fake_aks_id("fleet-pacific-edge", EDGE),
        f"https://{EDGE}:443",
    )


def test_the_secret_less_fleet_deploys_offline_with_everything_landing(tmp_path: Any) -> None:
    with simulation(entra_project(tmp_path)) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        result = report(sim)
    assert result.findings == []
    assert sim.clusters[EDGE].objects, "nothing reached the remote"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda raw: cluster(raw, EDGE)["aks"].update(localAccounts=True),
            "fleet:clusters[3].aks.localAccounts: secret-less access gives Flux an Azure role",
        ),
        (
            lambda raw: cluster(raw, MANAGER)["aks"].update(fluxAccess="workload-identity"),
            "fleet:clusters[1].aks.fluxAccess: only a remote cluster is reached",
        ),
        (
            lambda raw: cluster(raw, EDGE).update(managedBy="k3d-america"),
            "'k3d-america' is not an AKS cluster",
        ),
        (
            lambda raw: cluster(raw, EDGE)["aks"].update(fluxAccess="kubeconfig"),
            "fleet:clusters[3].aks.fluxAccess: with localAccounts false, the remote's only "
            "kubeconfig signs in with kubelogin",
        ),
        (
            lambda raw: cluster(raw, MANAGER)["aks"].update(adminGroups=[]),
            "fleet:clusters[1].aks.adminGroups: with localAccounts false",
        ),
        (
            lambda raw: raw.update(flux={"multitenant": False}),
            "fleet:flux.multitenant: pacific-edge reached secret-less needs Flux's object-level "
            "workload identity",
        ),
    ],
)
def test_secret_less_access_needs_aks_on_both_ends_and_entra(edit: Any, message: str) -> None:
    def both(raw: Raw) -> None:
        entra_only(raw)
        edit(raw)

    problems = problems_of("main", both)
    assert any(message in p for p in problems), problems
    with pytest.raises(ConfigError):
        load_sample("main", both)


def test_without_the_identity_on_its_account_flux_cannot_sign_in(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As fluxcd/pkg auth/azure refuses: the account names no Azure tenant."""
    from components import kubernetes_objects

    monkeypatch.setattr(kubernetes_objects, "_signed_in", lambda obj, values: obj)
    with simulation(entra_project(tmp_path)) as sim:
        sim.step("pulumi up -s main", "main")
        result = report(sim)
    reasons = [f.message for f in result.findings]
    assert any(
        "azure tenant ID is not set in the service account annotation "
        "azure.workload.identity/tenant-id" in r
        for r in reasons
    ), reasons
