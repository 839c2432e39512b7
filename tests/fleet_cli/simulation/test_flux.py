"""Flux's rules in the simulation, each on a small world: one management cluster `m` running
Flux under lockdown, one remote `r`, and a fleet repository whose branches the tests write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.gitwriter import BranchTarget, apply
from fleet import objects, yamldoc
from fleet_cli.engine import fake_kubeconfig
from fleet_cli.simulation.cluster import ClusterState
from fleet_cli.simulation.findings import Finding
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import Simulation

FLEET = "https://example.com/fleet.git"
NAMESPACE = "team"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulation]:
    simulation = Simulation(tmp_path / "project", tmp_path / "fleet.git")
    simulation.fleet_urls.add(FLEET)
    management = simulation.add_cluster("m")
    simulation.add_cluster("r")
    install_flux(management, lockdown=True)
    pulumi(management, objects.namespace(NAMESPACE))
    pulumi(management, objects.git_repository("fleet", NAMESPACE, FLEET, "main", "1m"))
    yield simulation
    simulation.close()


def install_flux(cluster: ClusterState, *, lockdown: bool) -> None:
    instance = objects.flux_instance(
        "2.7.4",
        "ghcr.io/fluxcd",
        ["source-controller", "kustomize-controller", "helm-controller"],
        multitenant=lockdown,
        cluster_type="kubernetes",
    )
    cluster.operator = True
    pulumi(cluster, objects.namespace("flux-system"), instance)
    cluster.install_flux(instance)


def pulumi(cluster: ClusterState, *objs: dict[str, Any]) -> None:
    """Objects applied with the cluster's admin credentials."""
    for obj in objs:
        cluster.put(obj, "pulumi:test")


def commit(sim: Simulation, files: dict[str, list[dict[str, Any]]], branch: str = "main") -> None:
    """The branch's folders: each a kustomization of the given objects."""
    tree: dict[str, str] = {}
    for folder, documents in files.items():
        tree[f"{folder}/objects.yaml"] = yamldoc.dump_all(documents)
        tree[f"{folder}/kustomization.yaml"] = yamldoc.dump_all(
            [{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
              "resources": ["objects.yaml"]}]
        )  # fmt: skip
    target = BranchTarget(url=str(sim.repository.path), branch=branch, owner="test")
    apply(target, tree, "test")


def kustomization(name: str, path: str, **spec: Any) -> dict[str, Any]:
    obj = objects.kustomization(
        name, NAMESPACE, f"./{path}", "fleet", "5m", service_account=spec.pop("account", "app")
    )
    if spec.pop("no_account", False):
        del obj["spec"]["serviceAccountName"]
    obj["spec"].update(spec)
    return obj


def config_map(name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }


def admin_in(namespace: str, account: str, account_namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{account}-admin", "namespace": namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
    }


def findings(sim: Simulation, category: str) -> list[Finding]:
    sim.reconcile()
    return [f for f in report(sim).findings if f.category == category]


def status(sim: Simulation, name: str, cluster: str = "m") -> Any:
    return sim.status[(cluster, ("Kustomization", NAMESPACE, name))]


# ---------------------------------------------------------------- impersonation and RBAC


def test_an_account_without_rights_is_refused_and_lands_once_it_has_them(sim: Simulation) -> None:
    commit(sim, {"apps": [config_map("settings")]})
    pulumi(
        sim.clusters["m"], objects.service_account("app", NAMESPACE), kustomization("apps", "apps")
    )
    (denied,) = findings(sim, "denied")
    assert denied.where == "m"
    assert "(as system:serviceaccount:team:app)" in denied.subject
    assert "may not get configmaps" in denied.message and "in namespace team" in denied.message
    assert not sim.clusters["m"].has("ConfigMap", NAMESPACE, "settings")
    pulumi(sim.clusters["m"], admin_in(NAMESPACE, "app"))
    assert findings(sim, "denied") == []
    assert sim.clusters["m"].get(("ConfigMap", NAMESPACE, "settings")).applier == "m:team/apps"  # type: ignore[union-attr]


def test_lockdown_impersonates_the_default_account_without_serviceAccountName(
    sim: Simulation,
) -> None:
    commit(sim, {"apps": [config_map("settings")]})
    pulumi(sim.clusters["m"], kustomization("apps", "apps", no_account=True))
    (denied,) = findings(sim, "denied")
    assert "system:serviceaccount:team:default" in denied.message


def test_a_refused_object_fails_its_stage_and_every_stage_after_it(sim: Simulation) -> None:
    """Flux applies CRDs, Namespaces and ClusterRoles first, all or nothing, then the rest."""
    commit(sim, {"apps": [objects.namespace("elsewhere"), config_map("settings")]})
    pulumi(sim.clusters["m"], objects.service_account("app", NAMESPACE), admin_in(NAMESPACE, "app"))
    pulumi(sim.clusters["m"], kustomization("apps", "apps"))
    (denied,) = findings(sim, "denied")
    assert "may not get namespaces" in denied.message
    assert not sim.clusters["m"].has("ConfigMap", NAMESPACE, "settings")


def test_a_binding_that_grants_its_own_applier_more_is_refused(sim: Simulation) -> None:
    """Escalation prevention: admin in its namespace may bind admin there, not cluster-admin,
    and may not make itself cluster-admin cluster-wide."""
    cluster_admin_here = admin_in(NAMESPACE, "app")
    cluster_admin_here["metadata"]["name"] = "more"
    cluster_admin_here["roleRef"]["name"] = "cluster-admin"
    commit(sim, {"more": [cluster_admin_here], "ok": [admin_in(NAMESPACE, "helper")]})
    pulumi(sim.clusters["m"], objects.service_account("app", NAMESPACE), admin_in(NAMESPACE, "app"))
    pulumi(sim.clusters["m"], kustomization("more", "more"), kustomization("ok", "ok"))
    (denied,) = findings(sim, "denied")
    assert "Kustomization team/more" in denied.subject
    assert "ClusterRole cluster-admin grants" in denied.message
    assert status(sim, "ok").ready


# ---------------------------------------------------------------- references


def test_a_cross_namespace_source_is_refused_under_lockdown_only(tmp_path: Path) -> None:
    for lockdown in (True, False):
        sim = Simulation(tmp_path / str(lockdown), tmp_path / f"{lockdown}.git")
        sim.fleet_urls.add(FLEET)
        cluster = sim.add_cluster("m")
        install_flux(cluster, lockdown=lockdown)
        commit(sim, {"apps": [config_map("settings", "flux-system")]})
        source = objects.git_repository("fleet", "flux-system", FLEET, "main", "1m")
        platform = objects.kustomization(
            "apps", "default", "./apps", "fleet", "5m", service_account="default"
        )
        platform["spec"]["sourceRef"]["namespace"] = "flux-system"
        del platform["spec"]["serviceAccountName"]
        pulumi(cluster, source, platform)
        sim.reconcile()
        state = sim.status[("m", ("Kustomization", "default", "apps"))]
        if lockdown:
            assert not state.ready
            assert "cross-namespace references have been blocked" in state.reason
        else:
            assert state.ready, state.reason
        sim.close()


def test_a_missing_branch_or_path_is_not_reconciled(sim: Simulation) -> None:
    pulumi(sim.clusters["m"], kustomization("apps", "apps"))
    (missing,) = findings(sim, "not-reconciled")
    assert "branch 'main' does not exist" in missing.message
    commit(sim, {"other": [config_map("settings")]})
    (missing,) = findings(sim, "not-reconciled")
    assert "kustomize build of ./apps failed: kustomization path not found: ./apps" in (
        missing.message
    )
    # A folder without a kustomization in the fleet's own branch says so.
    commit(sim, {"other": [config_map("settings")], "apps/deep": [config_map("deep")]})
    (missing,) = findings(sim, "not-reconciled")
    assert "apps/kustomization.yaml does not exist" in missing.message


def test_depends_on_waits_for_its_dependency(sim: Simulation) -> None:
    commit(sim, {"first": [config_map("a")], "second": [config_map("b")]})
    pulumi(sim.clusters["m"], objects.service_account("app", NAMESPACE))
    second = kustomization("second", "second", dependsOn=[{"name": "first"}])
    pulumi(sim.clusters["m"], kustomization("first", "first"), second)
    sim.reconcile()
    assert "dependency Kustomization team/first is not ready" in status(sim, "second").reason
    pulumi(sim.clusters["m"], admin_in(NAMESPACE, "app"))
    sim.reconcile()
    assert status(sim, "first").ready and status(sim, "second").ready


def test_an_object_applied_twice_is_reported(sim: Simulation) -> None:
    commit(sim, {"one": [config_map("shared")], "two": [config_map("shared")]})
    pulumi(sim.clusters["m"], objects.service_account("app", NAMESPACE), admin_in(NAMESPACE, "app"))
    pulumi(sim.clusters["m"], kustomization("one", "one"), kustomization("two", "two"))
    (twice,) = findings(sim, "applied-twice")
    assert twice.subject == "ConfigMap team/shared"
    assert twice.message == "applied by m:team/one and m:team/two"


# ---------------------------------------------------------------- remote clusters


def remote_kustomization(account: str | None) -> dict[str, Any]:
    obj = kustomization("remote", "remote", account=account or "unused")
    if account is None:
        del obj["spec"]["serviceAccountName"]
    obj["spec"]["kubeConfig"] = {"secretRef": {"name": "r-kubeconfig", "key": "value"}}
    return obj


def kubeconfig_secret() -> dict[str, Any]:
    secret = objects.secret("r-kubeconfig", NAMESPACE)
    return {**secret, "stringData": {"value": fake_kubeconfig("r")}}


def test_flux_impersonates_the_account_on_the_cluster_the_kubeconfig_reaches(
    sim: Simulation,
) -> None:
    commit(sim, {"remote": [objects.namespace("apps"), config_map("settings", "apps")]})
    management, remote = sim.clusters["m"], sim.clusters["r"]
    pulumi(management, kubeconfig_secret(), objects.service_account("platform", NAMESPACE))
    pulumi(management, remote_kustomization("platform"))
    (denied,) = findings(sim, "denied")
    assert denied.where == "r"
    assert "system:serviceaccount:team:platform may not get namespaces" in denied.message
    (missing,) = findings(sim, "account-missing")
    assert missing.message.startswith("impersonates ServiceAccount team/platform on r")
    # Nothing can grant itself: the binding on the remote is made with admin credentials.
    binding = admin_in(NAMESPACE, "platform")
    binding.update(kind="ClusterRoleBinding", metadata={"name": "platform"})
    binding["roleRef"]["name"] = "cluster-admin"
    pulumi(remote, binding)
    assert findings(sim, "denied") == []
    assert remote.has("ConfigMap", "apps", "settings")
    assert not management.has("ConfigMap", "apps", "settings")


def test_a_flux_object_aimed_at_a_cluster_without_flux_is_never_reconciled(
    sim: Simulation,
) -> None:
    commit(sim, {"remote": [objects.git_repository("src", "default", FLEET, "main", "1m")]})
    pulumi(sim.clusters["m"], kubeconfig_secret(), remote_kustomization(None))
    (refused,) = findings(sim, "not-reconciled")
    assert 'no matches for kind "GitRepository"' in refused.message
    assert "on r (it runs no Flux)" in refused.message


# ---------------------------------------------------------------- pruning and deletion


def test_what_is_no_longer_built_is_pruned(sim: Simulation) -> None:
    commit(sim, {"apps": [config_map("a"), config_map("b")]})
    management = sim.clusters["m"]
    pulumi(management, objects.service_account("app", NAMESPACE), admin_in(NAMESPACE, "app"))
    pulumi(management, kustomization("apps", "apps"))
    sim.reconcile()
    assert management.has("ConfigMap", NAMESPACE, "b")
    commit(sim, {"apps": [config_map("a")]})
    sim.reconcile()
    assert management.has("ConfigMap", NAMESPACE, "a")
    assert not management.has("ConfigMap", NAMESPACE, "b")


def test_a_kustomization_whose_account_is_gone_first_leaves_its_objects(sim: Simulation) -> None:
    """kustomize-controller prunes at deletion only if it can still impersonate the account."""
    commit(sim, {"apps": [config_map("a")]})
    management = sim.clusters["m"]
    pulumi(management, objects.service_account("app", NAMESPACE), admin_in(NAMESPACE, "app"))
    pulumi(management, kustomization("apps", "apps"))
    sim.reconcile()
    sim.delete("m", ("ServiceAccount", NAMESPACE, "app"))
    sim.delete("m", ("Kustomization", NAMESPACE, "apps"))
    (stale,) = findings(sim, "stale")
    assert "skipped pruning and left 1 objects: ConfigMap team/a" in stale.message
    assert management.has("ConfigMap", NAMESPACE, "a")


def test_deleting_the_kustomization_first_prunes_what_it_applied(sim: Simulation) -> None:
    commit(sim, {"apps": [config_map("a")]})
    management = sim.clusters["m"]
    pulumi(management, objects.service_account("app", NAMESPACE), admin_in(NAMESPACE, "app"))
    pulumi(management, kustomization("apps", "apps"))
    sim.reconcile()
    sim.delete("m", ("Kustomization", NAMESPACE, "apps"))
    assert not management.has("ConfigMap", NAMESPACE, "a")
    assert findings(sim, "stale") == []


# ---------------------------------------------------------------- credentials


def test_a_kubeconfig_where_a_tenant_may_read_secrets_is_exposed(sim: Simulation) -> None:
    management = sim.clusters["m"]
    tenant = objects.namespace("shop", objects.tenant_labels("shop"))
    pulumi(
        management, tenant, {**kubeconfig_secret(), "metadata": {"name": "k", "namespace": "shop"}}
    )
    assert findings(sim, "credential-exposed") == []  # nobody of the tenant has rights yet
    pulumi(management, objects.service_account("shop", "shop"), admin_in("shop", "shop", "shop"))
    (exposed,) = findings(sim, "credential-exposed")
    assert exposed.subject == "Secret shop/k"
    assert "holds a kubeconfig for https://r:6443" in exposed.message
    assert (
        "system:serviceaccount:shop:shop, a tenant's identity, may read it in shop"
        in exposed.message
    )
