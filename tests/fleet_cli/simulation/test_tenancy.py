"""The tenant sandbox, attacked in the authorization model: the sample fleet deployed in the
documented order, then a tenant's manifests tried on a management cluster and on a remote, as
the identity Flux impersonates for the tenant there, and the same manifests as the platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.fleets import Shape
from benchmarks.measure import project_of
from fleet import names, objects
from fleet.objects import K8sObject
from fleet.stackfile import deploy_order
from fleet_cli.simulation.admission import ENFORCE_LABEL
from fleet_cli.simulation.cluster import ClusterState
from fleet_cli.simulation.flux import refusal
from fleet_cli.simulation.rbac import User
from fleet_cli.simulation.report import credential_of, report
from fleet_cli.simulation.repository import folder_source
from fleet_cli.simulation.simulation import Simulation, simulation
from tests.support.sample import PROJECT

MANAGEMENT, REMOTE = "k3d-america", "k3s-america-south"
ENV, TENANT, OTHER = "dev", "kaizentm", "yakuza"
OWN = names.tenant_namespace(ENV, TENANT)
OTHERS = names.tenant_namespace(ENV, OTHER)
PLATFORM = names.environment_namespace(ENV)
TENANT_REPOSITORY = "https://github.com/kaizentm/gitops-manifests"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample, with one tenant reading a private repository and pulling private images:
    its Secrets are what a tenant namespace may hold."""
    folder = tmp_path_factory.mktemp("project")
    for path in PROJECT.glob("Pulumi*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "__main__.py").write_bytes((PROJECT / "__main__.py").read_bytes())
    settings = folder / "Pulumi.dev.yaml"
    document = yaml.safe_load(settings.read_text())
    config = document["config"]
    (tenant,) = [t for t in config["fleet:tenants"] if t["name"] == TENANT]
    tenant["repository"]["credentialsSecret"] = "kaizentmToken"
    tenant["imagePullSecret"] = "kaizentmPull"
    config["fleet:kaizentmToken"] = {"secure": "v1:test"}
    config["fleet:kaizentmPull"] = {"secure": "v1:test"}
    settings.write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def sim(project: Path) -> Iterator[Simulation]:
    with simulation(project) as deployed:
        for stack in ("main", "dev", "qa"):
            deployed.step(f"pulumi up -s {stack}", stack)
        yield deployed


def tenant_on(cluster: str) -> User:
    """The identity Flux impersonates for the tenant's apps: its account in its namespace on
    the management cluster; on a remote, its account in the environment's namespace, where its
    remote Kustomizations live on the management cluster."""
    return User.service_account(PLATFORM if cluster == REMOTE else OWN, TENANT)


PLATFORM_IDENTITY = User.service_account(PLATFORM, names.PLATFORM_ACCOUNT)


def restricted_pod(namespace: str, secret: str, **spec: Any) -> K8sObject:
    """A Pod that Pod Security `restricted` admits, mounting `secret`."""
    context = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "capabilities": {"drop": ["ALL"]},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "reader", "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "securityContext": context,
                    "volumeMounts": [{"name": "stolen", "mountPath": "/stolen"}],
                }
            ],
            "volumes": [{"name": "stolen", "secret": {"secretName": secret}}],
            **spec,
        },
    }


def host_pod(namespace: str) -> K8sObject:
    """A Pod that mounts the node's files, where the kubelet's credentials are."""
    pod = restricted_pod(namespace, "any")
    pod["spec"]["volumes"] = [{"name": "stolen", "hostPath": {"path": "/var/lib/kubelet"}}]
    return pod


def binding(kind: str, namespace: str | None, role: str, account: User) -> K8sObject:
    _, _, account_namespace, account_name = account.name.split(":")
    if kind == "ClusterRoleBinding":
        return objects.cluster_role_binding("escape", role, account_name, account_namespace)
    assert namespace is not None
    return objects.role_binding("escape", namespace, role, account_name, account_namespace)


def attacks(cluster: str) -> dict[str, K8sObject]:
    """What a tenant's manifests might try, each on its own."""
    me = tenant_on(cluster)
    return {
        "a Pod mounting the remote's kubeconfig in the environment's namespace": restricted_pod(
            PLATFORM, names.kubeconfig_secret(REMOTE)
        ),
        "a Pod mounting a kubeconfig in flux-system": restricted_pod(
            names.FLUX_NAMESPACE, names.kubeconfig_secret(REMOTE)
        ),
        "a ClusterRoleBinding to cluster-admin": binding(
            "ClusterRoleBinding", None, "cluster-admin", me
        ),
        "a RoleBinding in another tenant's namespace": binding("RoleBinding", OTHERS, "admin", me),
        "a RoleBinding to cluster-admin in its own namespace": binding(
            "RoleBinding", OWN, "cluster-admin", me
        ),
        "a Namespace": objects.namespace("escape"),
        "its own namespace relabelled privileged": objects.namespace(
            OWN, {**objects.tenant_labels(TENANT), **objects.pod_security_labels("privileged")}
        ),
        "a larger ResourceQuota in its own namespace": objects.resource_quota(
            "escape", OWN, {"pods": "1000"}
        ),
        "an object in the environment's namespace": config_map(PLATFORM),
        "an object in flux-system": config_map(names.FLUX_NAMESPACE),
    }


def config_map(namespace: str) -> K8sObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "escape", "namespace": namespace},
    }


ATTACKS = list(attacks(MANAGEMENT))


@pytest.mark.parametrize("cluster", [MANAGEMENT, REMOTE])
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_tenants_manifests_cannot_leave_its_sandbox(
    sim: Simulation, cluster: str, attack: str
) -> None:
    state = sim.clusters[cluster]
    obj = attacks(cluster)[attack]
    assert state.namespace_exists(str(obj["metadata"].get("namespace") or OWN))
    refused = refusal(state, obj, tenant_on(cluster))
    assert refused is not None, f"{attack} lands on {cluster} as the tenant"
    assert refused[0] == "denied"
    assert str(tenant_on(cluster)) in refused[1]
    # The platform, which owns these namespaces, may do each of them.
    assert refusal(state, obj, PLATFORM_IDENTITY) is None


@pytest.mark.parametrize("cluster", [MANAGEMENT, REMOTE])
def test_a_pod_on_the_nodes_files_is_refused_by_pod_security_for_everyone(
    sim: Simulation, cluster: str
) -> None:
    state = sim.clusters[cluster]
    for identity in (tenant_on(cluster), PLATFORM_IDENTITY):
        refused = refusal(state, host_pod(OWN), identity)
        assert refused is not None
        assert 'violates PodSecurity "restricted:latest"' in refused[1]
        assert "hostPath" in refused[1]


def secrets_in(state: ClusterState, namespace: str) -> list[str]:
    return [i[2] for i in state.objects if i[0] == "Secret" and i[1] == namespace]


@pytest.mark.parametrize("cluster", [MANAGEMENT, REMOTE, "pacific-aks"])
def test_the_secrets_a_tenant_may_mount_hold_no_cluster_credential(
    sim: Simulation, cluster: str
) -> None:
    state = sim.clusters[cluster]
    me = tenant_on(cluster)
    mine = secrets_in(state, OWN)
    expected = (
        {names.tenant_git_credentials(TENANT), names.tenant_image_pull_secret(TENANT)}
        if cluster != REMOTE
        else set()
    )
    assert set(mine) == expected
    for name in mine:
        # Its own git credentials and pull secret: it may mount them, and they open nothing
        # but its own repository and registry.
        assert credential_of(state.objects[("Secret", OWN, name)].obj, set()) is None
        assert refusal(state, restricted_pod(OWN, name), me) is None
    # Every other Secret of the cluster (kubeconfigs, the fleet's and the tenants' git
    # credentials the platform keeps) is out of its reach.
    others = [i for i in state.objects if i[0] == "Secret" and i[1] != OWN]
    # A remote holds none: its kubeconfig is on its management cluster.
    assert bool(others) == (cluster != REMOTE)
    for _, namespace, name in others:
        assert refusal(state, restricted_pod(namespace, name), me) is not None, (namespace, name)
    assert [f for f in report(sim).findings if f.category == "credential-exposed"] == []


def test_every_tenant_namespace_enforces_pod_security_on_every_cluster(sim: Simulation) -> None:
    seen = 0
    for state in sim.clusters.values():
        for object_id, landed in state.objects.items():
            if object_id[0] == "Namespace" and objects.tenant_of(landed.obj):
                labels = landed.obj["metadata"]["labels"]
                assert labels["pod-security.kubernetes.io/enforce"] == "restricted", object_id
                seen += 1
    # dev's two tenants (one with a release channel) and qa's one, on three clusters.
    assert seen == 3 * 3 + 1 * 3


# ---------------------------------------------------------------- through a tenant's repository


def write(folder: Path, path: str, *documents: K8sObject) -> None:
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump_all(documents), encoding="utf-8")


def test_a_tenants_repository_lands_in_its_sandbox_and_its_escapes_are_refused(
    tmp_path: Path,
) -> None:
    """The tenant's repository given as a folder (`fleet simulate --source`): its manifests go
    through the tenant's own Kustomizations, on M and through its remote Kustomizations on R."""
    repository = tmp_path / "tenant"
    app = "azure-vote"
    for path in (f"{app}/{MANAGEMENT}", f"{app}/{REMOTE}", "azure-vote-manifests/manifest"):
        write(repository, f"{path}/app.yaml", config_map(PLATFORM))
    with simulation(PROJECT, sources={TENANT_REPOSITORY: repository}) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        # Only the other tenant, on the same repository, finds nothing at its app's path.
        for finding in report(sim).findings:
            assert finding.category == "not-reconciled", finding
            assert "kustomization path not found: ./katana-vote/" in finding.message
        # targetNamespace puts the tenant's objects in its namespace, whatever they say.
        assert sim.clusters[MANAGEMENT].has("ConfigMap", OWN, "escape")
        assert sim.clusters[REMOTE].has("ConfigMap", OWN, "escape")

        # A cluster-scoped object escapes targetNamespace: it is refused on both clusters.
        for cluster in (MANAGEMENT, REMOTE):
            write(
                repository,
                f"{app}/{cluster}/app.yaml",
                binding("ClusterRoleBinding", None, "cluster-admin", tenant_on(cluster)),
            )
        sim.add_source(TENANT_REPOSITORY, folder_source(repository))
        sim.reconcile()
        on_management = sim.status[(MANAGEMENT, ("Kustomization", OWN, app))]
        assert on_management.category == "denied"
        assert on_management.identity == tenant_on(MANAGEMENT)
        assert "ClusterRoleBinding escape" in on_management.reason
        remote_app = names.remote_tenant_app(REMOTE, TENANT, app)
        on_remote = sim.status[(MANAGEMENT, ("Kustomization", PLATFORM, remote_app))]
        assert on_remote.category == "denied"
        assert (on_remote.target, on_remote.identity) == (REMOTE, tenant_on(REMOTE))
        assert not sim.clusters[MANAGEMENT].has("ClusterRoleBinding", "", "escape")
        assert not sim.clusters[REMOTE].has("ClusterRoleBinding", "", "escape")

        # A Kustomization of its own, without targetNamespace, aimed at the platform's
        # kubeconfig: it runs as the tenant, and the Pod is refused.
        nested = objects.kustomization(
            "escape",
            OWN,
            "./escape",
            names.tenant_source(TENANT),
            "1m",
            prune=True,
            service_account=TENANT,
        )
        write(repository, f"{app}/{MANAGEMENT}/app.yaml", nested)
        write(
            repository,
            "escape/pod.yaml",
            restricted_pod(PLATFORM, names.kubeconfig_secret(REMOTE)),
        )
        sim.add_source(TENANT_REPOSITORY, folder_source(repository))
        sim.reconcile()
        status = sim.status[(MANAGEMENT, ("Kustomization", OWN, "escape"))]
        assert status.category == "denied"
        assert "Pod dev-flux-system/reader" in status.reason
        assert not sim.clusters[MANAGEMENT].has("Pod", PLATFORM, "reader")


# ---------------------------------------------------------------- generated fleets


@pytest.mark.parametrize(
    "shape",
    [
        Shape(management=2, remotes_per_management=2, environments=2, tenants=3, apps_per_tenant=2),
        Shape(management=1, remotes_per_management=3, tenants=2, releases_per_tenant=1),
    ],
    ids=["teams", "edge"],
)
def test_a_generated_fleet_lands_everything_with_every_tenant_sandboxed(
    shape: Shape, tmp_path: Path
) -> None:
    with simulation(project_of(shape, tmp_path)) as sim:
        for stack in deploy_order(sim.project):
            sim.step(f"pulumi up -s {stack}", stack)
        assert [str(f) for f in report(sim).findings] == []
        clusters = shape.management * (1 + shape.remotes_per_management)
        channels = shape.tenants * (1 + shape.releases_per_tenant)
        sandboxes = [
            landed.obj
            for state in sim.clusters.values()
            for object_id, landed in state.objects.items()
            if object_id[0] == "Namespace" and objects.tenant_of(landed.obj)
        ]
        assert len(sandboxes) == clusters * shape.environments * channels
        for namespace in sandboxes:
            assert namespace["metadata"]["labels"][ENFORCE_LABEL] == "restricted"
        # Every app of every tenant reconciles, on every cluster, as the tenant.
        apps = [
            state
            for (_, object_id), state in sim.status.items()
            if object_id[0] == "Kustomization" and state.external
        ]
        assert len(apps) == clusters * shape.environments * channels * shape.apps_per_tenant
        assert all(state.ready and "team-" in str(state.identity) for state in apps)
