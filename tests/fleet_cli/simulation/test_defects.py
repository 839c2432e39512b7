"""The defects the first fleet shipped with, each put back into the program and caught by the
simulation of the sample's documented deploy; without them the same deploy is clean."""

from __future__ import annotations

from typing import Any

import pytest

import components.clusters
import components.environment
from components import gitwriter
from fleet import names, objects, tree
from fleet.model import ClusterSpec, EnvironmentSpec, TenantSpec
from fleet.wiring import AppliedSecret, Kubeconfig, Wiring, remote_bootstrap, tenant_wiring
from fleet_cli.simulation.findings import Finding
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import simulation
from tests.support.sample import PROJECT

MANAGEMENT, REMOTE = "k3d-america", "k3s-america-south"


def findings(*stacks: str) -> list[Finding]:
    with simulation(PROJECT) as sim:
        for stack in stacks:
            sim.step(f"pulumi up -s {stack}", stack)
        return report(sim).findings


def test_without_the_defects_the_documented_deploy_is_clean() -> None:
    assert [str(f) for f in findings("main", "dev", "qa")] == []


def test_a_remotes_kubeconfig_in_tenant_namespaces_is_reported_exposed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first design: each remote's kubeconfig in every tenant namespace, where the
    tenant's Kustomizations could read it."""

    def with_kubeconfigs(env: EnvironmentSpec, tenant: TenantSpec, cluster: ClusterSpec) -> Wiring:
        wiring = tenant_wiring(env, tenant, cluster)
        namespace = names.tenant_namespace(env.name, tenant.name)
        for remote in env.remotes_of(cluster.name):
            secret = names.kubeconfig_secret(remote.name)
            wiring.secrets.append(AppliedSecret(secret, namespace, Kubeconfig(remote.name)))
        return wiring

    monkeypatch.setattr(components.environment, "tenant_wiring", with_kubeconfigs)
    exposed = [f for f in findings("main", "dev") if f.category == "credential-exposed"]
    assert {(f.where, f.subject) for f in exposed} == {
        (MANAGEMENT, f"Secret dev-kaizentm/{names.kubeconfig_secret(REMOTE)}"),
        (MANAGEMENT, f"Secret dev-yakuza/{names.kubeconfig_secret(REMOTE)}"),
    }
    assert "holds a kubeconfig for https://" in exposed[0].message
    assert "a tenant's identity, may read it" in exposed[0].message


def test_a_remote_where_the_platforms_account_has_no_rights_refuses_its_infrastructure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first design made no binding on remotes: the platform's account, which Flux
    impersonates there, could do nothing."""

    def powerless(namespace: str) -> list[dict[str, Any]]:
        (binding,) = remote_bootstrap(namespace)
        return [{**binding, "roleRef": {**binding["roleRef"], "name": "view"}}]

    monkeypatch.setattr(components.clusters, "remote_bootstrap", powerless)
    denied = [f for f in findings("main") if f.category == "denied"]
    infrastructure = names.remote_infrastructure(REMOTE)
    (finding,) = [f for f in denied if f"Kustomization flux-system/{infrastructure}" in f.subject]
    assert finding.where == REMOTE
    assert "system:serviceaccount:flux-system:flux-platform may not" in finding.message


def test_a_remote_chart_without_its_account_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first design's HelmReleases for remotes named no account: under lockdown Flux
    impersonates `default`, which holds nothing on the remote."""
    helm_release = objects.helm_release

    def without_account(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("kubeconfig_secret"):
            kwargs["service_account"] = None
        return helm_release(*args, **kwargs)

    monkeypatch.setattr(objects, "helm_release", without_account)
    denied = [f for f in findings("main") if f.category == "denied"]
    chart = names.remote_app(REMOTE, "nginx")
    (finding,) = [f for f in denied if f"HelmRelease flux-system/{chart}" in f.subject]
    assert finding.where == REMOTE
    assert "system:serviceaccount:flux-system:default" in finding.subject


def test_a_chart_bound_in_its_namespace_only_is_refused_its_cluster_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first design bound each chart's account with a RoleBinding: cert-manager,
    ingress-nginx or any chart with CRDs or ClusterRoles could not install."""

    def namespaced(component: Any) -> list[dict[str, Any]]:
        account, _ = deployer(component)
        binding = objects.role_binding(
            names.deployer_binding(component.namespace),
            component.namespace,
            "cluster-admin",
            names.DEPLOYER_ACCOUNT,
            component.namespace,
        )
        return [account, binding]

    deployer = tree._deployer
    monkeypatch.setattr(tree, "_deployer", namespaced)
    denied = [f for f in findings("main") if f.category == "denied"]
    on_management = {f.where for f in denied if "HelmRelease nginx/nginx" in f.subject}
    assert on_management == {MANAGEMENT, "pacific-aks"}
    assert all("cluster-wide" in f.message for f in denied if "nginx/nginx" in f.subject)


def test_an_environment_branch_made_from_main_is_refused_by_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first writer started a new branch at main's tip: the environment's branch then
    carried main's files, which it does not own."""
    load = gitwriter._Git.load

    def from_main(git: gitwriter._Git) -> Any:
        snapshot = load(git)
        if snapshot.exists or git.target.branch == names.MAIN_BRANCH:
            return snapshot
        parent = git.fetch(names.MAIN_BRANCH)
        entries = git.entries(parent)
        return type(snapshot)(parent, False, entries, git.record(entries))

    monkeypatch.setattr(gitwriter._Git, "load", from_main)
    (failure,) = [f for f in findings("main", "dev") if f.category == "deploy"]
    assert failure.where == "stack dev"
    # The branch carries main's files and main's record of them: the writer stops.
    assert "branch 'dev'" in failure.message and "owned by stack 'fleet/main'" in failure.message
