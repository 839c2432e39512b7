"""The defects the first fleet shipped with, each put back into the program and caught by the
simulation of the sample's documented deploy; without them the same deploy is clean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

import components.clusters
import components.environment
import fleet.model
import fleet.wiring
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

    def powerless(namespace: str, environments: Sequence[str] = ()) -> list[dict[str, Any]]:
        (binding,) = remote_bootstrap(namespace, environments)
        return [{**binding, "roleRef": {**binding["roleRef"], "name": "view"}}]

    monkeypatch.setattr(components.clusters, "remote_bootstrap", powerless)
    denied = [f for f in findings("main") if f.category == "denied"]
    infrastructure = names.remote_infrastructure(REMOTE)
    (finding,) = [f for f in denied if f"Kustomization flux-system/{infrastructure}" in f.subject]
    assert finding.where == REMOTE
    assert "system:serviceaccount:flux-system:flux-platform may not" in finding.message


def test_an_environment_main_does_not_grant_on_a_remote_is_refused_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Main's binding on a remote without the environments' accounts: the environment stack
    holds no credential to grant its own, so its Flux can do nothing there, and main's own
    wiring is untouched."""

    def main_only(namespace: str, environments: Sequence[str] = ()) -> list[dict[str, Any]]:
        return remote_bootstrap(namespace)

    monkeypatch.setattr(components.clusters, "remote_bootstrap", main_only)
    found = findings("main", "dev")
    denied = [f for f in found if f.category == "denied"]
    infrastructure = names.remote_infrastructure(REMOTE)
    (finding,) = denied
    assert f"Kustomization dev-flux-system/{infrastructure}" in finding.subject
    assert finding.where == REMOTE
    assert "system:serviceaccount:dev-flux-system:flux-platform may not" in finding.message


def test_a_remote_chart_without_its_account_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first design's HelmReleases for remotes named no account: under lockdown Flux
    impersonates `default`, which holds nothing on the remote."""
    helm_release = objects.helm_release

    def without_account(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("kube_config"):
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


# ---------------------------------------------------------------- what an attack review found
# Each is refused by a config rule now; with the rule lifted, the simulation still reports it.


def sample_with(tmp_path: Path, stack: str, change: Callable[[dict[str, Any]], object]) -> Path:
    """The sample project in `tmp_path` (kept if it is there already), with `change` made to
    the config of `stack`."""
    for path in [*PROJECT.glob("Pulumi*.yaml"), PROJECT / "__main__.py"]:
        if not (tmp_path / path.name).exists():
            (tmp_path / path.name).write_bytes(path.read_bytes())
    settings = tmp_path / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(settings.read_text())
    change(document["config"])
    settings.write_text(yaml.safe_dump(document, sort_keys=False))
    return tmp_path


def deployed_findings(project: Path, *stacks: str) -> list[Finding]:
    with simulation(project) as sim:
        for stack in stacks:
            sim.step(f"pulumi up -s {stack}", stack)
        return report(sim).findings


def test_a_tenant_named_like_the_platforms_account_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its account in the environment's namespace would be the platform's: its sandbox on the
    remote meets the platform's account there (the remote's infrastructure no longer builds),
    and the tenants' Kustomization applies the platform's account a second time. Its apps never
    reach the remote: they wait for the remote's infrastructure (`dependsOn`)."""
    monkeypatch.setattr(names, "PLATFORM_ACCOUNTS", ())

    def rename(config: dict[str, Any]) -> None:
        config["fleet:tenants"][1]["name"] = names.PLATFORM_ACCOUNT

    project = sample_with(tmp_path, "dev", rename)
    found = deployed_findings(project, "main", "dev")
    account = f"ServiceAccount dev-flux-system/{names.PLATFORM_ACCOUNT}"
    assert (MANAGEMENT, "applied-twice", account) in {
        (f.where, f.category, f.subject) for f in found
    }
    blocked = {f.subject: f.message for f in found if f.category == "not-reconciled"}
    remote_tenants = f"Kustomization dev-flux-system/{names.remote_tenants(REMOTE)} on {MANAGEMENT}"
    assert "is not ready" in blocked[remote_tenants]
    assert (
        "may not add resource with an already registered id"
        in blocked[
            f"Kustomization dev-flux-system/{names.remote_infrastructure(REMOTE)} on {MANAGEMENT}"
        ]
    )


def test_a_tenant_key_holding_the_fleets_token_is_reported_exposed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenant's git credentials read from the key of the fleet's own token: the tenant could
    push to the fleet's branches."""
    monkeypatch.setattr(fleet.model, "_tenant_keys_of_the_platform", lambda *_: [])

    def token(config: dict[str, Any]) -> None:
        config["fleet:repository"]["tokenSecret"] = "fleetToken"
        config["fleet:fleetToken"] = {"secure": "v1:test"}

    def tenant_reads_with_it(config: dict[str, Any]) -> None:
        config["fleet:tenants"][1]["repository"]["credentialsSecret"] = "fleetToken"
        config["fleet:fleetToken"] = {"secure": "v1:test"}

    project = sample_with(tmp_path, "main", token)
    sample_with(project, "dev", tenant_reads_with_it)
    exposed = [
        f for f in deployed_findings(project, "main", "dev") if f.category == "credential-exposed"
    ]
    secret = f"Secret dev-yakuza/{names.tenant_git_credentials('yakuza')}"
    assert {(f.where, f.subject) for f in exposed} >= {
        (MANAGEMENT, secret),
        ("pacific-aks", secret),
    }
    assert all("holds the fleet repository's token" in f.message for f in exposed)


def test_tenants_applied_before_their_infrastructure_is_ready_are_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The environment's infrastructure installs a chart; its `tenants` Kustomization waits for
    it (`dependsOn`, and `wait` makes the infrastructure Ready only once the chart is). Without
    `dependsOn`, the tenants are applied first: reported."""
    for path in PROJECT.glob("Pulumi*.yaml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "__main__.py").write_bytes((PROJECT / "__main__.py").read_bytes())
    settings = tmp_path / "Pulumi.dev.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:infra"].append(
        {
            "name": "operators",
            "helm": {
                "repository": "https://charts.example.com",
                "chart": "operators",
                "version": "1.0.0",
            },
        }
    )
    settings.write_text(yaml.safe_dump(document, sort_keys=False))

    def deploy() -> list[Finding]:
        with simulation(tmp_path) as sim:
            for stack in ("main", "dev"):
                sim.step(f"pulumi up -s {stack}", stack)
            return report(sim).findings

    assert [str(f) for f in deploy()] == []

    real = fleet.wiring.environment_wiring

    def without_depends_on(env: EnvironmentSpec, cluster: ClusterSpec) -> Wiring:
        wiring = real(env, cluster)
        for obj in wiring.objects:
            obj.get("spec", {}).pop("dependsOn", None)
        return wiring

    monkeypatch.setattr(components.environment, "environment_wiring", without_depends_on)
    early = [f for f in deploy() if f.category == "ordering"]
    assert {f.subject for f in early} == {
        "Kustomization dev-flux-system/tenants on k3d-america",
        "Kustomization dev-flux-system/tenants on pacific-aks",
    }
    assert "while Kustomization dev-flux-system/infrastructure was not Ready" in early[0].message
