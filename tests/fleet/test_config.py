"""The stack config: the samples validate, and each rule catches its broken config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet import names
from fleet.config import DEFAULT_FLUX_COMPONENTS
from fleet.errors import ConfigError, Problem
from fleet.model import ENCRYPTED, AppSpec, EnvironmentSpec, FleetSpec
from fleet.stackfile import load_stack
from tests.support.sample import (
    PROJECT,
    SAMPLE_STACKS,
    Raw,
    cluster,
    grant_environments,
    load_sample,
    problems_of,
)


def clusters(raw: Raw) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = raw["clusters"]
    return value


def tenants(raw: Raw) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = raw["tenants"]
    return value


# ---------------------------------------------------------------- the sample fleet


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_sample_stacks_validate(stack: str) -> None:
    model = load_sample(stack)
    assert {c.name for c in model.clusters} == {"k3d-america", "pacific-aks", "k3s-america-south"}


def test_sample_main_stack_is_the_original_fleet() -> None:
    fleet = load_sample("main")
    assert isinstance(fleet, FleetSpec)
    assert fleet.repository.url == "https://github.com/kaizentm/multicluster-gitops"
    assert [(c.name, c.role, c.kind) for c in fleet.clusters] == [
        ("k3d-america", "management", "k3d"),
        ("pacific-aks", "management", "aks"),
        ("k3s-america-south", "remote", "attached"),
    ]
    assert fleet.cluster("k3s-america-south").managed_by == "k3d-america"
    assert [r.name for r in fleet.remotes_of("k3d-america")] == ["k3s-america-south"]
    (nginx,) = fleet.infra
    assert nginx.namespace == "nginx"
    assert nginx.helm is not None and nginx.helm.repository == "https://charts.bitnami.com/bitnami"
    assert nginx.overrides["k3d-america"].values == {"service": {"ports": {"http": 8080}}}
    assert fleet.flux.multitenant is True
    assert tuple(fleet.flux.components) == DEFAULT_FLUX_COMPONENTS
    assert [s.key for s in fleet.secret_keys] == ["k3sAmericaSouthKubeconfig"]


def test_sample_dev_stack_is_the_original_environment() -> None:
    env = load_sample("dev")
    assert isinstance(env, EnvironmentSpec)
    assert (env.name, env.branch, env.main_stack) == ("dev", "dev", "organization/fleet/main")
    (redis,) = env.infra
    assert redis.namespace == "dev-redis"
    patch = redis.overrides["k3d-america"].patches[0].patch
    containers = patch["spec"]["template"]["spec"]["containers"]
    assert containers[0]["resources"]["requests"]["cpu"] == "200m"
    kaizentm, yakuza = env.tenants
    assert (kaizentm.source.url, kaizentm.source.branch, kaizentm.source.access) == (
        "https://github.com/kaizentm/gitops-manifests",
        "dev",
        "public",
    )
    (vote,) = kaizentm.apps
    assert vote.path_on("pacific-aks") == "./azure-vote-manifests/manifest"
    assert vote.path_on("k3d-america") == "./azure-vote/k3d-america"
    assert [(r.name, r.source.branch, r.source.url) for r in kaizentm.releases] == [
        ("1-0-x", "release/1-0-x/dev", "https://github.com/kaizentm/gitops-manifests")
    ]
    assert (yakuza.source.branch, [a.name for a in yakuza.apps]) == (
        "multi-dev",
        ["katana-vote"],
    )


def test_sample_qa_stack_follows_branch_qa() -> None:
    env = load_sample("qa")
    assert isinstance(env, EnvironmentSpec)
    assert (env.name, env.branch, env.required_approvals) == ("qa", "qa", 2)
    assert [(t.name, t.source.branch) for t in env.tenants] == [("kaizentm", "qa")]


def test_environment_name_and_branch_can_be_set() -> None:
    def rename(raw: Raw) -> None:
        raw["environment"] = {"name": "staging", "branch": "env/staging"}

    env = load_sample("qa", rename)
    assert isinstance(env, EnvironmentSpec)
    assert (env.stack, env.name, env.branch) == ("qa", "staging", "env/staging")


def test_app_path_template_names_the_cluster() -> None:
    def app(path: str | None = None, paths: dict[str, str] | None = None) -> AppSpec:
        def edit(raw: Raw) -> None:
            raw["tenants"][1]["apps"][0].update(
                {k: v for k, v in {"path": path, "paths": paths}.items() if v is not None}
            )

        env = load_sample("dev", edit)
        assert isinstance(env, EnvironmentSpec)
        return env.tenants[1].apps[0]

    assert app("./apps/{cluster}/vote").path_on("c1") == "./apps/c1/vote"
    assert app("./apps/{cluster}", {"pacific-aks": "./special"}).path_on("pacific-aks") == (
        "./special"
    )
    assert app().path_on("c1") == "./katana-vote/c1"


def test_dedicated_cluster_takes_part_and_can_manage_remotes() -> None:
    def add(raw: Raw) -> None:
        raw["dedicatedClusters"] = [
            {"name": "dev-box", "kind": "k3d"},
            {
                "name": "dev-edge",
                "role": "remote",
                "kind": "attached",
                "managedBy": "dev-box",
                "attached": {"kubeconfigSecret": "devEdgeKubeconfig"},
            },
        ]
        raw["devEdgeKubeconfig"] = ENCRYPTED

    env = load_sample("dev", add)
    assert isinstance(env, EnvironmentSpec)
    assert [c.name for c in env.clusters][-2:] == ["dev-box", "dev-edge"]
    assert [c.name for c in env.remotes_of("dev-box")] == ["dev-edge"]


# ---------------------------------------------------------------- one test per rule


def tenant_and_channel_b_a(raw: Raw) -> None:
    """Tenant `b` with channel `a` (namespace `E-a-b`), then tenant `a-b` (namespace `E-a-b`)."""
    tenants(raw)[1].update(name="b", releases=[{"name": "a", "branch": "release/a"}])
    tenants(raw).append({"name": "a-b", "repository": tenants(raw)[0]["repository"]})


RULES: list[tuple[str, str, Any, str]] = [
    # (id, stack, edit, expected problem line)
    (
        "missing-key",
        "main",
        lambda raw: clusters(raw)[0].pop("kind"),
        "fleet:clusters[0].kind: missing required key",
    ),
    (
        "unknown-key-did-you-mean",
        "main",
        lambda raw: clusters(raw)[2].update(managedBY="k3d-america"),
        "fleet:clusters[2].managedBY: unknown key 'managedBY'; did you mean 'managedBy'?",
    ),
    (
        "unknown-nested-key",
        "main",
        lambda raw: clusters(raw)[1]["aks"]["nodePools"][0].update(vmsize="x"),
        "fleet:clusters[1].aks.nodePools[0].vmsize: unknown key 'vmsize'; did you mean 'vmSize'?",
    ),
    (
        "unknown-top-level-key",
        "dev",
        lambda raw: raw.update(tenant=[]),
        "fleet:tenant: unknown key; did you mean 'tenants'?",
    ),
    (
        "wrong-type",
        "main",
        lambda raw: clusters(raw)[1]["aks"]["nodePools"][0].update(count="2"),
        "fleet:clusters[1].aks.nodePools[0].count: Input should be a valid integer (got '2')",
    ),
    (
        "wrong-enum",
        "main",
        lambda raw: clusters(raw)[0].update(kind="gke"),
        "fleet:clusters[0].kind: Input should be 'aks', 'k3d' or 'attached' (got 'gke')",
    ),
    (
        "unknown-key-lists-the-keys-as-users-write-them",
        "main",
        lambda raw: clusters(raw)[0].update(zzz=1),
        "fleet:clusters[0].zzz: unknown key 'zzz'; expected one of: aks, attached, k3d, kind, "
        "labels, managedBy, members, name, protect, role, vars",
    ),
    (
        "k3d-settings-spelled-k3D",
        "main",
        lambda raw: clusters(raw)[0].update(k3D=clusters(raw)[0].pop("k3d")),
        "fleet:clusters[0].k3D: unknown key 'k3D'; did you mean 'k3d'?",
    ),
    (
        "unpinned-flux-version",
        "main",
        lambda raw: raw.update(flux={"version": "2.x"}),
        "fleet:flux.version: expected an exact version such as 2.7.4 (got '2.x')",
    ),
    (
        "bad-duration",
        "dev",
        lambda raw: tenants(raw)[0]["apps"][0].update(interval="5 minutes"),
        "fleet:tenants[0].apps[0].interval: expected a duration such as 5m or 1h30m "
        "(got '5 minutes')",
    ),
    (
        "bad-config-key",
        "main",
        lambda raw: clusters(raw)[2]["attached"].update(kubeconfigSecret="1-kubeconfig"),
        "fleet:clusters[2].attached.kubeconfigSecret: expected a config key: letters, digits, _, "
        ". and -, starting with a letter (got '1-kubeconfig')",
    ),
    (
        "bad-variable-name",
        "dev",
        lambda raw: raw.update(vars={"LOG-LEVEL": "debug"}),
        "fleet:vars.LOG-LEVEL: expected a variable name: letters, digits and _, not starting with "
        "a digit (got 'LOG-LEVEL')",
    ),
    (
        "bad-node-pool-name",
        "main",
        lambda raw: clusters(raw)[1]["aks"]["nodePools"][0].update(name="System-Pool"),
        "fleet:clusters[1].aks.nodePools[0].name: expected a node pool name: up to 12 lowercase "
        "letters and digits, starting with a letter (got 'System-Pool')",
    ),
    (
        "a-secret-variable-misspelt",
        "dev",
        lambda raw: tenants(raw)[0].update(vars={"DB_PASSWORD": {"secrte": "dbPassword"}}),
        "fleet:tenants[0].vars.DB_PASSWORD.secrte: unknown key 'secrte'; did you mean 'secret'?",
    ),
    (
        "a-selector-misspelt",
        "qa",
        lambda raw: raw.update(clusters=[{"matchLabel": {"region": "america"}}]),
        "fleet:clusters[0].matchLabel: unknown key 'matchLabel'; did you mean 'matchLabels'?",
    ),
    (
        "a-main-branch-that-is-no-branch",
        "main",
        lambda raw: raw["repository"].update(branch="main..eu"),
        "fleet:repository.branch: 'main..eu' is not a valid git branch name",
    ),
    (
        "a-main-branch-among-the-rings",
        "main",
        lambda raw: raw["repository"].update(branch="rollout/eu"),
        "fleet:repository.branch: branches under 'rollout/' hold the rings of rollouts; name it "
        "otherwise",
    ),
    (
        "an-environment-not-a-name",
        "main",
        lambda raw: raw.update(environments=["dev", "Prod"]),
        "fleet:environments[1]: 'Prod' is not a valid name: use at most 63 lowercase letters, "
        "digits and '-', starting and ending with a letter or digit",
    ),
    (
        "an-environment-listed-twice",
        "main",
        lambda raw: raw.update(environments=["dev", "qa", "dev"]),
        "fleet:environments[2]: duplicate environment 'dev'",
    ),
    (
        "an-environment-whose-namespace-is-too-long",
        "main",
        lambda raw: raw.update(environments=["dev", "qa", "e" * 60]),
        f"fleet:environments[2]: derived name '{'e' * 60}-flux-system' is 72 characters long; "
        "Kubernetes allows 63: shorten the names it is made of",
    ),
    (
        "a-cluster-defined-in-an-environments-list",
        "qa",
        lambda raw: raw.update(clusters=[{"name": "qa-box", "kind": "k3d"}]),
        "fleet:clusters[0]: a cluster's definition: list names here (or selectors "
        "{matchLabels: ...}); define clusters in Pulumi.main.yaml, or under "
        "fleet:dedicatedClusters",
    ),
    (
        "cluster-name-not-dns",
        "main",
        lambda raw: clusters(raw)[0].update(name="K3d_America"),
        "fleet:clusters[0].name: 'K3d_America' is not a valid name",
    ),
    (
        "tenant-name-not-dns",
        "dev",
        lambda raw: tenants(raw)[1].update(name="-yakuza"),
        "fleet:tenants[1].name: '-yakuza' is not a valid name",
    ),
    (
        "environment-name-not-dns",
        "dev",
        lambda raw: raw.update(environment={"name": "Dev"}),
        "fleet:environment.name: 'Dev' is not a valid name",
    ),
    (
        "derived-tenant-namespace-too-long",
        "dev",
        lambda raw: tenants(raw)[1].update(name="y" * 60),
        f"fleet:tenants[1].name: derived name '{'y' * 60}-reconciler' is 71 characters long",
    ),
    (
        "derived-release-namespace-too-long",
        "dev",
        lambda raw: tenants(raw)[0]["releases"][0].update(name="r" * 52),
        f"fleet:tenants[0].releases[0].name: derived name 'kaizentm-{'r' * 52}-manifests'",
    ),
    (
        "derived-remote-app-too-long",
        "dev",
        lambda raw: tenants(raw)[1]["apps"][0].update(name="a" * 50),
        f"fleet:tenants[1].apps[0].name: derived name 'k3s-america-south-yakuza-{'a' * 50}'",
    ),
    (
        "derived-kubeconfig-secret-too-long",
        "main",
        lambda raw: clusters(raw)[2].update(name="s" * 55),
        f"fleet:clusters[2].name: derived name '{'s' * 55}-infrastructure'",
    ),
    (
        "duplicate-cluster",
        "main",
        lambda raw: clusters(raw).append(dict(clusters(raw)[0])),
        "fleet:clusters[3]: duplicate cluster 'k3d-america'",
    ),
    (
        "duplicate-environment-cluster",
        "dev",
        lambda raw: raw["clusters"].append("pacific-aks"),
        "fleet:clusters[3]: duplicate cluster 'pacific-aks'",
    ),
    (
        "duplicate-tenant",
        "dev",
        lambda raw: tenants(raw).append(dict(tenants(raw)[1])),
        "fleet:tenants[2]: duplicate tenant 'yakuza'",
    ),
    (
        "duplicate-app",
        "dev",
        lambda raw: tenants(raw)[0]["apps"].append({"name": "azure-vote"}),
        "fleet:tenants[0].apps[1]: duplicate app 'azure-vote'",
    ),
    (
        "duplicate-release",
        "dev",
        lambda raw: tenants(raw)[0]["releases"].append({"name": "1-0-x", "branch": "x"}),
        "fleet:tenants[0].releases[1]: duplicate release channel '1-0-x'",
    ),
    (
        "duplicate-component",
        "main",
        lambda raw: raw["infra"].append(dict(raw["infra"][0])),
        "fleet:infra[1]: duplicate component 'nginx'",
    ),
    (
        "dangling-managed-by",
        "main",
        lambda raw: clusters(raw)[2].update(managedBy="k3d-europe"),
        "fleet:clusters[2].managedBy: 'k3d-europe' is not a management cluster of this fleet",
    ),
    (
        "managed-by-a-remote",
        "main",
        lambda raw: clusters(raw).append(
            {
                "name": "r2",
                "role": "remote",
                "kind": "k3d",
                "managedBy": "k3s-america-south",
            }
        ),
        "fleet:clusters[3].managedBy: 'k3s-america-south' is not a management cluster",
    ),
    (
        "remote-without-manager",
        "main",
        lambda raw: clusters(raw)[2].pop("managedBy"),
        "fleet:clusters[2].managedBy: a remote cluster needs managedBy",
    ),
    (
        "management-with-manager",
        "main",
        lambda raw: clusters(raw)[1].update(managedBy="k3d-america"),
        "fleet:clusters[1].managedBy: only a cluster with role remote has a management cluster",
    ),
    (
        "no-management-cluster",
        "main",
        lambda raw: raw.update(clusters=[clusters(raw)[2]]),
        "fleet:clusters: the fleet needs at least one management cluster",
    ),
    (
        "aks-without-settings",
        "main",
        lambda raw: clusters(raw)[1].pop("aks"),
        "fleet:clusters[1].aks: a cluster of kind aks needs its aks settings",
    ),
    (
        "attached-without-settings",
        "main",
        lambda raw: clusters(raw)[2].pop("attached"),
        "fleet:clusters[2].attached: a cluster of kind attached needs attached.kubeconfigSecret",
    ),
    (
        "settings-of-another-kind",
        "main",
        lambda raw: clusters(raw)[0].update(aks={"location": "x", "resourceGroup": "y"}),
        "fleet:clusters[0].aks: aks settings given for a cluster of kind k3d",
    ),
    (
        "aks-missing-location",
        "main",
        lambda raw: clusters(raw)[1]["aks"].pop("location"),
        "fleet:clusters[1].aks.location: missing required key",
    ),
    (
        "override-of-unknown-cluster",
        "main",
        lambda raw: raw["infra"][0]["overrides"].update({"k3d-amerika": {"values": {}}}),
        "fleet:infra[0].overrides.k3d-amerika: 'k3d-amerika' is not a cluster of this stack; "
        "did you mean 'k3d-america'?",
    ),
    (
        "component-for-unknown-cluster",
        "main",
        lambda raw: raw["infra"][0].update(clusters=["pacific-aks", "atlantic"]),
        "fleet:infra[0].clusters[1]: 'atlantic' is not a cluster of this stack",
    ),
    (
        "override-of-a-cluster-outside-the-fleet",
        "dev",
        lambda raw: raw["infra"][0]["overrides"].update({"atlantic": {}}),
        "fleet:infra[0].overrides.atlantic: 'atlantic' is not a cluster of this stack",
    ),
    (
        "component-both-helm-and-manifests",
        "main",
        lambda raw: raw["infra"][0].update(manifests=[{"apiVersion": "v1", "kind": "ConfigMap"}]),
        "fleet:infra[0]: give either helm or manifests (exactly one)",
    ),
    (
        "component-neither-helm-nor-manifests",
        "dev",
        lambda raw: raw["infra"][0].update(manifests=[]),
        "fleet:infra[0]: give either helm or manifests (exactly one)",
    ),
    (
        "manifest-without-name",
        "dev",
        lambda raw: raw["infra"][0]["manifests"][0].update(metadata={}),
        "fleet:infra[0].manifests[0]: a manifest needs apiVersion, kind and metadata.name",
    ),
    (
        "chart-repository-url",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(repository="charts.bitnami.com"),
        "fleet:infra[0].helm.repository: 'charts.bitnami.com' is not a chart repository URL",
    ),
    (
        "chart-version-caret-range",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version="^15.14"),
        "fleet:infra[0].helm.version: '^15.14' is not one version: pin an exact version such as "
        "15.14.0",
    ),
    (
        "chart-version-tilde-range",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version="~15.14.0"),
        "fleet:infra[0].helm.version: '~15.14.0' is not one version: pin an exact version such as "
        "15.14.0",
    ),
    (
        "chart-version-lower-bound",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version=">=15"),
        "fleet:infra[0].helm.version: '>=15' is not one version: pin an exact version such as "
        "15.14.0",
    ),
    (
        "chart-version-x-wildcard",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version="15.x"),
        "fleet:infra[0].helm.version: '15.x' is not one version: pin an exact version such as "
        "15.14.0",
    ),
    (
        "chart-version-star-wildcard",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version="*"),
        "fleet:infra[0].helm.version: '*' is not one version: pin an exact version such as 15.14.0",
    ),
    (
        "chart-version-two-parts",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version="15.14"),
        "fleet:infra[0].helm.version: '15.14' is not one version: pin an exact version such as "
        "15.14.0",
    ),
    (
        "chart-version-empty",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(version=""),
        "fleet:infra[0].helm.version: '' is not one version: pin an exact version such as 15.14.0",
    ),
    (
        "chart-repository-url-with-a-token",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(repository="https://t0k3n@charts.example.com"),
        "fleet:infra[0].helm.repository: 'https://***@charts.example.com' has a credential in its "
        "user part, which would land in git with the HelmRepository",
    ),
    (
        "secret-in-manifests",
        "dev",
        lambda raw: raw["infra"][0]["manifests"].append(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-auth"}}
        ),
        "fleet:infra[0].manifests[1]: a Secret here would be committed to git in plain text: keep "
        "the secret in a secret config key (`pulumi config set --secret KEY`) and hand it to a "
        "chart with helm.valuesFrom, or create the Secret outside git",
    ),
    (
        "password-in-helm-values",
        "main",
        lambda raw: raw["infra"][0]["helm"]["values"].update(auth={"rootPassword": "hunter2"}),
        "fleet:infra[0].helm.values.auth.rootPassword: 'rootPassword' looks like a secret, and "
        "Helm values are committed to git in plain text: keep it in a secret config key "
        "(`pulumi config set --secret KEY`) and give it to the chart with helm.valuesFrom: "
        "[{key: KEY, targetPath: auth.rootPassword}] (a value that is no secret may come from a "
        "variable, ${NAME})",
    ),
    (
        "token-in-a-clusters-values",
        "main",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["values"].update(
            metrics={"API_KEY": "0123"}
        ),
        "fleet:infra[0].overrides.k3d-america.values.metrics.API_KEY: 'API_KEY' looks like a "
        "secret",
    ),
    (
        "values-from-a-kubeconfig-key",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(
            valuesFrom=[{"key": "k3sAmericaSouthKubeconfig"}]
        ),
        "fleet:infra[0].helm.valuesFrom[0].key: 'k3sAmericaSouthKubeconfig' holds the kubeconfig "
        "named by fleet:clusters[2].attached.kubeconfigSecret: the chart's values would carry it "
        "into its namespace; give the values a key of their own",
    ),
    (
        "values-from-the-fleets-token",
        "main",
        lambda raw: (
            raw["repository"].update(tokenSecret="gitToken"),
            raw["infra"][0]["helm"].update(valuesFrom=[{"key": "gitToken"}]),
        ),
        "fleet:infra[0].helm.valuesFrom[0].key: 'gitToken' holds the fleet repository's token",
    ),
    (
        "values-from-two-values-in-one-key",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(
            valuesFrom=[{"key": "a", "targetPath": "auth.password"}, {"key": "b"}]
        ),
        "fleet:infra[0].helm.valuesFrom[1].valuesKey: valuesKey 'values.yaml' (the default) is "
        "entry 0's already: give each entry a valuesKey of its own in the Secret, such as "
        "password",
    ),
    (
        "values-from-a-bad-target-path",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(
            valuesFrom=[{"key": "a", "targetPath": "auth..password"}]
        ),
        "fleet:infra[0].helm.valuesFrom[0].targetPath: 'auth..password' is not a path in the "
        "chart's values: write it as `helm --set` does, such as auth.password",
    ),
    (
        "values-from-a-bad-values-key",
        "main",
        lambda raw: raw["infra"][0]["helm"].update(
            valuesFrom=[{"key": "a", "valuesKey": "root password"}]
        ),
        "fleet:infra[0].helm.valuesFrom[0].valuesKey: expected a key of a Secret's data: "
        "letters, digits, -, _ and . (got 'root password')",
    ),
    (
        "values-from-a-key-in-plain-text",
        "main",
        lambda raw: (
            raw["infra"][0]["helm"].update(valuesFrom=[{"key": "nginxAuth"}]),
            raw.update(nginxAuth="auth: {password: hunter2}"),
        ),
        "fleet:nginxAuth: holds a secret in plain text; run `pulumi config set --secret "
        "nginxAuth ...`",
    ),
    (
        "values-from-secret-too-long",
        "main",
        lambda raw: raw["infra"][0].update(
            name="n" * 60,
            namespace="nginx",
            helm={**raw["infra"][0]["helm"], "valuesFrom": [{"key": "a"}]},
            overrides={},
        ),
        f"fleet:infra[0].helm.valuesFrom: derived name '{'n' * 60}-values' is 67 characters long",
    ),
    (
        "values-for-manifests",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"].update(values={"a": 1}),
        "fleet:infra[0].overrides.k3d-america.values: values override a Helm chart",
    ),
    (
        "patch-not-a-patch",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0].update(patch="x"),
        "fleet:infra[0].overrides.k3d-america.patches[0].patch: a patch is a strategic-merge "
        "mapping or a list of JSON 6902 operations",
    ),
    (
        "patch-without-target-naming-nothing",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0].pop("target"),
        "fleet:infra[0].overrides.k3d-america.patches[0]: a patch without target must say what it "
        "patches: give target: {kind: ..., name: ...}, or kind and metadata.name in the patch",
    ),
    (
        "json-patch-without-target",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0].update(
            target=None, patch=[{"op": "add", "path": "/spec/replicas", "value": 2}]
        ),
        "fleet:infra[0].overrides.k3d-america.patches[0].target: a list of JSON 6902 operations "
        "applies to the objects its target selects: give target: {kind: ..., name: ...}",
    ),
    (
        "patch-of-a-manifest-without-metadata",
        "dev",
        lambda raw: raw["infra"][0]["manifests"][0].update(metadata="redis"),
        "fleet:infra[0].manifests[0]: a manifest needs apiVersion, kind and metadata.name",
    ),
    (
        "patch-target-of-no-manifest",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0]["target"].update(
            name="redis-master"
        ),
        "fleet:infra[0].overrides.k3d-america.patches[0].target: {kind: Deployment, name: "
        "redis-master} is no object of component redis on k3d-america, so the patch would change "
        "nothing; there it has Namespace dev-redis, Deployment redis",
    ),
    (
        "patch-target-in-another-namespace",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0]["target"].update(
            namespace="redis"
        ),
        "fleet:infra[0].overrides.k3d-america.patches[0].target: {kind: Deployment, name: redis, "
        "namespace: redis} is no object of component redis on k3d-america",
    ),
    (
        "patch-target-of-another-group",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0]["target"].update(
            group="extensions"
        ),
        "fleet:infra[0].overrides.k3d-america.patches[0].target: {kind: Deployment, name: redis, "
        "group: extensions} is no object of component redis on k3d-america",
    ),
    (
        "untargeted-patch-of-no-manifest",
        "dev",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"]["patches"][0].update(
            target=None,
            patch={"kind": "StatefulSet", "metadata": {"name": "redis"}, "spec": {"replicas": 2}},
        ),
        "fleet:infra[0].overrides.k3d-america.patches[0].patch: {kind: StatefulSet, name: redis} "
        "is no object of component redis on k3d-america",
    ),
    (
        "patch-of-a-charts-own-object",
        "main",
        lambda raw: raw["infra"][0]["overrides"]["k3d-america"].update(
            patches=[{"target": {"kind": "Deployment"}, "patch": {"spec": {"replicas": 2}}}]
        ),
        "fleet:infra[0].overrides.k3d-america.patches[0].target: {kind: Deployment} is no object "
        "of component nginx on k3d-america, so the patch would change nothing; there it has "
        "Namespace nginx, ServiceAccount nginx/flux-deployer, ClusterRoleBinding "
        "flux-deployer-nginx, HelmRepository nginx/nginx, HelmRelease nginx/nginx; the chart's own "
        "objects are Helm's to make: change them with overrides.k3d-america.values",
    ),
    (
        "patch-of-a-remotes-chart-by-its-management-name",
        "main",
        lambda raw: raw["infra"][0]["overrides"].update(
            {
                "k3s-america-south": {
                    "patches": [
                        {
                            "target": {"kind": "HelmRelease", "name": "nginx"},
                            "patch": {"spec": {"timeout": "10m"}},
                        }
                    ]
                }
            }
        ),
        "fleet:infra[0].overrides.k3s-america-south.patches[0].target: {kind: HelmRelease, name: "
        "nginx} is no object of component nginx on k3s-america-south, so the patch would change "
        "nothing; there it has HelmRelease flux-system/k3s-america-south-nginx",
    ),
    (
        "environment-cluster-not-in-fleet",
        "dev",
        lambda raw: raw["clusters"].append("k3d-europe"),
        "fleet:clusters[3]: 'k3d-europe' is not a cluster of the fleet",
    ),
    (
        "remote-without-its-manager",
        "dev",
        lambda raw: raw.update(clusters=["pacific-aks", "k3s-america-south"], infra=[]),
        "fleet:clusters[1]: remote cluster 'k3s-america-south' is managed by 'k3d-america', "
        "which is not in this environment",
    ),
    (
        "environment-without-clusters",
        "qa",
        lambda raw: raw.update(clusters=[]),
        "fleet:clusters: an environment needs at least one cluster",
    ),
    (
        "dedicated-cluster-clashes-with-fleet",
        "qa",
        lambda raw: raw.update(dedicatedClusters=[{"name": "pacific-aks", "kind": "k3d"}]),
        "fleet:dedicatedClusters[0].name: 'pacific-aks' is already a cluster of the main stack",
    ),
    (
        "app-path-override-unknown-cluster",
        "dev",
        lambda raw: tenants(raw)[0]["apps"][0]["paths"].update({"atlantic": "./x"}),
        "fleet:tenants[0].apps[0].paths.atlantic: 'atlantic' is not a cluster of the fleet",
    ),
    (
        "app-path-outside-repository",
        "dev",
        lambda raw: tenants(raw)[1]["apps"][0].update(path="../other/{cluster}"),
        "fleet:tenants[1].apps[0].path: '../other/{cluster}' must be a relative path",
    ),
    (
        "app-path-without-dot-slash",
        "dev",
        lambda raw: tenants(raw)[1]["apps"][0].update(path="katana-vote/{cluster}"),
        "fleet:tenants[1].apps[0].path: 'katana-vote/{cluster}' is read from the root of the "
        "tenant's repository: write ./katana-vote/{cluster}",
    ),
    (
        "app-cluster-path-without-dot-slash",
        "dev",
        lambda raw: tenants(raw)[0]["apps"][0]["paths"].update({"pacific-aks": "manifests"}),
        "fleet:tenants[0].apps[0].paths.pacific-aks: 'manifests' is read from the root of the "
        "tenant's repository: write ./manifests",
    ),
    (
        "repository-url",
        "main",
        lambda raw: raw["repository"].update(url="github.com/kaizentm/multicluster-gitops"),
        "fleet:repository.url: 'github.com/kaizentm/multicluster-gitops' is not a git URL",
    ),
    (
        "ssh-repository-off-github",
        "main",
        lambda raw: raw["repository"].update(url="ssh://git@gitlab.com/org/fleet.git"),
        "fleet:repository.url: SSH access is given to Flux by a GitHub deploy key",
    ),
    (
        "ssh-repository-without-deploy-key",
        "main",
        lambda raw: raw["repository"].update(url="git@github.com:org/fleet.git", deployKey=False),
        "fleet:repository.deployKey: Flux reads an SSH repository with a deploy key",
    ),
    (
        "push-url",
        "main",
        lambda raw: raw["repository"].update(pushUrl="ftp://host/repo"),
        "fleet:repository.pushUrl: 'ftp://host/repo' is not a git URL",
    ),
    (
        "tenant-repository-url",
        "dev",
        lambda raw: tenants(raw)[0]["repository"].update(url="/srv/git/manifests"),
        "fleet:tenants[0].repository.url: '/srv/git/manifests' is not a git URL",
    ),
    (
        "release-repository-url",
        "dev",
        lambda raw: tenants(raw)[0]["releases"][0].update(repository="not a url"),
        "fleet:tenants[0].releases[0].repository: 'not a url' is not a git URL",
    ),
    (
        "fleet-url-with-a-token",
        "main",
        lambda raw: raw["repository"].update(
            url="https://ghp_0123456789@github.com/kaizentm/multicluster-gitops"
        ),
        "fleet:repository.url: 'https://***@github.com/kaizentm/multicluster-gitops' has a "
        "credential in its user part, which would land in git, in plain text in Pulumi's state "
        "and outputs, and in pull-request comments: remove it and name a secret config key in "
        "fleet:repository.tokenSecret instead",
    ),
    (
        "push-url-with-a-password",
        "main",
        lambda raw: raw["repository"].update(pushUrl="https://bot:hunter2@git.example.com/fleet"),
        "fleet:repository.pushUrl: 'https://***@git.example.com/fleet' has a credential in its "
        "user part",
    ),
    (
        "tenant-url-with-a-password",
        "dev",
        lambda raw: tenants(raw)[0]["repository"].update(
            url="https://kaizentm:hunter2@github.com/kaizentm/gitops-manifests"
        ),
        "fleet:tenants[0].repository.url: 'https://***@github.com/kaizentm/gitops-manifests' has "
        "a credential in its user part, which would land in git, in plain text in Pulumi's state "
        "and outputs, and in pull-request comments: remove it and name a secret config key in "
        "the tenant's repository.credentialsSecret instead",
    ),
    (
        "ssh-url-with-a-password",
        "dev",
        lambda raw: (
            tenants(raw)[1]["repository"].update(
                url="ssh://git:hunter2@github.com/kaizentm/gitops-manifests",
                credentialsSecret="yakuzaKey",
                knownHosts="github.com ssh-ed25519 AAAA",
            ),
            raw.update(yakuzaKey=ENCRYPTED),
        ),
        "fleet:tenants[1].repository.url: 'ssh://***@github.com/kaizentm/gitops-manifests' has a "
        "credential in its user part",
    ),
    (
        "release-url-with-a-token",
        "dev",
        lambda raw: tenants(raw)[0]["releases"][0].update(
            repository="https://glpat-0123456789@gitlab.com/kaizentm/gitops-manifests"
        ),
        "fleet:tenants[0].releases[0].repository: 'https://***@gitlab.com/kaizentm/"
        "gitops-manifests' has a credential in its user part",
    ),
    (
        "ssh-tenant-without-credentials",
        "dev",
        lambda raw: tenants(raw)[1]["repository"].update(
            url="git@github.com:kaizentm/gitops-manifests.git"
        ),
        "fleet:tenants[1].repository.credentialsSecret: Flux cannot read an SSH repository "
        "anonymously: set credentialsSecret to a secret config key holding a private key that "
        "may read the repository, and knownHosts, or use its https:// URL",
    ),
    (
        "ssh-release-channel-of-a-tenant-without-credentials",
        "dev",
        lambda raw: tenants(raw)[0]["releases"][0].update(
            repository="ssh://git@github.com/kaizentm/gitops-manifests"
        ),
        "fleet:tenants[0].releases[0].repository: Flux cannot read an SSH repository "
        "anonymously, and a release channel reads with the tenant's credentialsSecret, which it "
        "has none of: use the channel repository's https:// URL",
    ),
    (
        "tenant-branch",
        "dev",
        lambda raw: tenants(raw)[1]["repository"].update(branch="multi..dev"),
        "fleet:tenants[1].repository.branch: 'multi..dev' is not a valid git branch name",
    ),
    (
        "release-branch",
        "dev",
        lambda raw: tenants(raw)[0]["releases"][0].update(branch="release/1-0-x/"),
        "fleet:tenants[0].releases[0].branch: 'release/1-0-x/' is not a valid git branch name",
    ),
    (
        "environment-branch",
        "dev",
        lambda raw: raw.update(environment={"branch": "dev branch"}),
        "fleet:environment.branch: 'dev branch' is not a valid git branch name",
    ),
    (
        "environment-on-main",
        "qa",
        lambda raw: raw.update(environment={"branch": "main"}),
        "fleet:environment.branch: branch main belongs to the main stack",
    ),
    (
        "ssh-credentials-need-known-hosts",
        "dev",
        lambda raw: (
            tenants(raw)[1]["repository"].update(
                url="ssh://git@github.com/kaizentm/gitops-manifests",
                credentialsSecret="yakuzaKey",
            ),
            raw.update(yakuzaKey=ENCRYPTED),
        ),
        "fleet:tenants[1].repository.knownHosts: an SSH repository with credentials needs",
    ),
    (
        "release-needs-the-tenants-kind-of-credential",
        "dev",
        lambda raw: (
            tenants(raw)[0]["repository"].update(credentialsSecret="kaizentmToken"),
            tenants(raw)[0]["releases"][0].update(
                repository="ssh://git@github.com/kaizentm/gitops-manifests"
            ),
            raw.update(kaizentmToken=ENCRYPTED),
        ),
        "fleet:tenants[0].releases[0].repository: 'ssh://git@github.com/kaizentm/gitops-manifests'"
        " needs an SSH private key, but the tenant's credentialsSecret holds an HTTPS token",
    ),
    (
        "component-in-a-namespace-every-cluster-has",
        "main",
        lambda raw: raw["infra"][0].update(namespace="kube-system"),
        "fleet:infra[0].namespace: 'kube-system' is a namespace every cluster has: give the "
        "component a namespace of its own",
    ),
    (
        "component-in-flux-system",
        "main",
        lambda raw: raw["infra"][0].update(namespace="flux-system"),
        "fleet:infra[0].namespace: 'flux-system' is the namespace of Flux's own objects",
    ),
    (
        "component-in-default",
        "dev",
        lambda raw: raw["infra"][0].update(namespace="default"),
        "fleet:infra[0].namespace: 'default' is a namespace every cluster has",
    ),
    (
        "component-in-an-environments-flux-namespace",
        "dev",
        lambda raw: raw["infra"][0].update(namespace="qa-flux-system"),
        "fleet:infra[0].namespace: 'qa-flux-system' is the namespace of Flux's own objects",
    ),
    (
        "component-in-a-tenants-namespace",
        "dev",
        lambda raw: raw["infra"][0].update(namespace="dev-1-0-x-kaizentm"),
        "fleet:infra[0].namespace: 'dev-1-0-x-kaizentm' is tenant kaizentm's namespace",
    ),
    (
        "component-in-a-common-components-namespace",
        "dev",
        lambda raw: raw["infra"][0].update(namespace="nginx"),
        "fleet:infra[0].namespace: 'nginx' is the main stack's component nginx's namespace",
    ),
    (
        "two-components-in-one-namespace",
        "dev",
        lambda raw: raw["infra"].append(
            {**raw["infra"][0], "name": "cache", "namespace": "dev-redis"}
        ),
        "fleet:infra[1].namespace: 'dev-redis' is component redis's namespace",
    ),
    (
        "tenant-named-like-the-environments-namespace",
        "dev",
        lambda raw: tenants(raw)[1].update(name="flux-system"),
        "fleet:tenants[1].name: the tenant's namespace 'dev-flux-system' is the namespace of "
        "Flux's own objects: a tenant is admin in its namespaces, so they must be its own",
    ),
    (
        "tenant-namespace-of-another-tenants-channel",
        "dev",
        lambda raw: tenants(raw)[1].update(name="1-0-x-kaizentm"),
        "fleet:tenants[1].name: the tenant's namespace 'dev-1-0-x-kaizentm' is tenant "
        "kaizentm's namespace",
    ),
    (
        "tenant-namespace-of-another-tenants-channel-named-after-it",
        "dev",
        tenant_and_channel_b_a,
        "fleet:tenants[2].name: the tenant's namespace 'dev-a-b' is tenant b's namespace",
    ),
    (
        "tenant-named-like-a-platform-account",
        "dev",
        lambda raw: tenants(raw)[1].update(name="flux-platform"),
        "fleet:tenants[1].name: 'flux-platform' is an account of the platform or of Flux: the "
        "tenant's own account is named after it, so it would act with the platform's rights",
    ),
    (
        "tenant-named-like-the-default-account",
        "dev",
        lambda raw: tenants(raw)[1].update(name="default"),
        "fleet:tenants[1].name: 'default' is an account of the platform or of Flux",
    ),
    (
        "two-sources-with-one-name-in-the-environments-namespace",
        "dev",
        lambda raw: (
            tenants(raw)[1].update(name="kaizentm-1-0-x"),
            raw.update(tenants=tenants(raw)),
        ),
        "fleet:tenants[1].name: GitRepository 'kaizentm-1-0-x-manifests' in the environment's "
        "namespace would be both tenant kaizentm's source of channel 1-0-x and tenant "
        "kaizentm-1-0-x's source: rename one of them",
    ),
    (
        "tenant-key-holding-a-clusters-kubeconfig",
        "dev",
        lambda raw: (
            tenants(raw)[1]["repository"].update(credentialsSecret="k3sAmericaSouthKubeconfig"),
            raw.update(k3sAmericaSouthKubeconfig=ENCRYPTED),
        ),
        "fleet:tenants[1].repository.credentialsSecret: 'k3sAmericaSouthKubeconfig' holds the "
        "kubeconfig of cluster k3s-america-south: a tenant can read what its keys hold; give it "
        "a key of its own",
    ),
    (
        "flux-too-old-for-the-workload-identity-lockdown",
        "main",
        lambda raw: raw.update(flux={"version": "2.6.3"}),
        "fleet:flux.version: '2.6.3': the multi-tenant lockdown of workload identity needs Flux "
        "2.7.0 or later",
    ),
    (
        "aks-older-than-flux-supports",
        "main",
        lambda raw: cluster(raw, "pacific-aks")["aks"].update(kubernetesVersion="1.32"),
        "fleet:clusters[1].aks.kubernetesVersion: Kubernetes 1.32 is older than Flux 2.9.4 "
        "supports (1.33 or later): raise it, or pin an older fleet:flux.version",
    ),
    (
        "aks-version-that-is-not-one",
        "main",
        lambda raw: cluster(raw, "pacific-aks")["aks"].update(kubernetesVersion="latest"),
        "fleet:clusters[1].aks.kubernetesVersion: 'latest' is not a Kubernetes version",
    ),
    (
        "unknown-pod-security-level",
        "dev",
        lambda raw: tenants(raw)[0].update(podSecurity="lenient"),
        "fleet:tenants[0].podSecurity: ",
    ),
    (
        "encrypted-value-inside-a-manifest",
        "dev",
        lambda raw: raw["infra"][0]["manifests"][0]["spec"].update(replicas=ENCRYPTED),
        "fleet:infra[0].manifests[0].spec.replicas: an encrypted value here would be decrypted "
        "into what the fleet writes (git, Kubernetes objects, Pulumi's inputs): a secret is a "
        "top-level key of its own (`pulumi config set --secret KEY`) that a key such as "
        "kubeconfigSecret, credentialsSecret, {secret: KEY} or helm.valuesFrom names",
    ),
    (
        "plain-text-secret",
        "main",
        lambda raw: raw.update(k3sAmericaSouthKubeconfig="apiVersion: v1"),
        "fleet:k3sAmericaSouthKubeconfig: holds a secret in plain text; run "
        "`pulumi config set --secret k3sAmericaSouthKubeconfig ...`",
    ),
]


@pytest.mark.parametrize(
    ("stack", "edit", "expected"),
    [rule[1:] for rule in RULES],
    ids=[rule[0] for rule in RULES],
)
def test_rule_reports_its_problem(stack: str, edit: Any, expected: str) -> None:
    problems = problems_of(stack, edit)
    assert any(line.startswith(expected) for line in problems), problems


@pytest.mark.parametrize(
    "version",
    ["15.14.0", "0.1.0", "2.0.0-rc.1", "1.2.3+build.7", "1.0.0-beta.2+exp.sha", "v1.14.4"],
)
def test_an_exact_chart_version_is_accepted(version: str) -> None:
    fleet = load_sample("main", lambda raw: raw["infra"][0]["helm"].update(version=version))
    assert isinstance(fleet, FleetSpec)
    assert fleet.infra[0].helm is not None and fleet.infra[0].helm.version == version


CREDENTIAL = "ghp_s3cr3tT0k3n"


@pytest.mark.parametrize(
    "edit",
    [
        lambda raw: tenants(raw)[0]["repository"].update(url=f"https://{CREDENTIAL}@github.com"),
        lambda raw: tenants(raw)[0]["repository"].update(url=f"https://x:{CREDENTIAL}@h/a b"),
        lambda raw: tenants(raw)[0].update(repository=f"https://{CREDENTIAL}@github.com/k/m"),
        lambda raw: (
            tenants(raw)[0]["repository"].update(credentialsSecret="kaizentmToken"),
            tenants(raw)[0]["releases"][0].update(repository=f"ssh://git:{CREDENTIAL}@h/k/m"),
            raw.update(kaizentmToken=ENCRYPTED),
        ),
    ],
    ids=["not-a-repository-url", "a-url-with-a-space", "not-a-mapping", "other-protocol"],
)
def test_no_message_shows_a_credential_of_a_url(edit: Any) -> None:
    problems = problems_of("dev", edit)
    assert problems
    assert not [line for line in problems if CREDENTIAL in line], problems


@pytest.mark.parametrize(
    "url", ["ssh://git@github.com/kaizentm/m.git", "git@github.com:kaizentm/m.git"]
)
def test_the_ssh_user_is_no_credential(url: str) -> None:
    def ssh(raw: Raw) -> None:
        tenants(raw)[1]["repository"].update(
            url=url, credentialsSecret="yakuzaKey", knownHosts="github.com ssh-ed25519 AAAA"
        )
        raw["yakuzaKey"] = ENCRYPTED

    env = load_sample("dev", ssh)
    assert isinstance(env, EnvironmentSpec)
    assert env.tenants[1].source.access == "ssh-key"


def test_an_encrypted_value_inside_a_key_is_one_problem() -> None:
    """Where the schema wants a string, the encrypted value is not reported a second time."""
    problems = problems_of("main", lambda raw: raw["infra"][0].update(name=ENCRYPTED))
    assert [p.split(":", 2)[:2] for p in problems] == [["fleet", "infra[0].name"]]
    assert "an encrypted value here" in problems[0]


def test_a_value_of_several_types_is_reported_as_the_user_meant_it() -> None:
    """A name or a selector, a plain or a secret value: one problem, at the user's own path,
    never pydantic's alternatives (`clusters[0].ClusterSelector.name`, `clusters[0].str`)."""
    assert problems_of("qa", lambda raw: raw.update(clusters=[{"name": "x", "kind": "k3d"}])) == [
        "fleet:clusters[0]: a cluster's definition: list names here (or selectors "
        "{matchLabels: ...}); define clusters in Pulumi.main.yaml, or under "
        "fleet:dedicatedClusters (got {'name': 'x', 'kind': 'k3d'})"
    ]
    assert problems_of("qa", lambda raw: raw.update(clusters=[7])) == [
        "fleet:clusters[0]: Input should be a valid string (got 7)"
    ]
    assert problems_of("dev", lambda raw: tenants(raw)[0].update(vars={"X": {"secrt": "k"}})) == [
        "fleet:tenants[0].vars.X.secret: missing required key",
        "fleet:tenants[0].vars.X.secrt: unknown key 'secrt'; did you mean 'secret'?",
    ]


def test_tenants_cannot_go_without_lockdown_from_either_stack(tmp_path: Path) -> None:
    def no_lockdown(raw: Raw) -> None:
        raw["flux"] = {"multitenant": False}

    # The environment with tenants names both keys.
    assert problems_of("dev", edit_main=no_lockdown) == [
        "fleet:tenants: tenants need Flux's multi-tenant lockdown, but the main stack sets "
        "fleet:flux.multitenant to false: set it to true there"
    ]
    # The main stack names the environments whose tenants need it.
    for stack in SAMPLE_STACKS:
        (tmp_path / f"Pulumi.{stack}.yaml").write_bytes(
            (PROJECT / f"Pulumi.{stack}.yaml").read_bytes()
        )
    settings = tmp_path / "Pulumi.main.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:flux"] = {"multitenant": False}
    settings.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_stack(settings)
    assert [str(p) for p in caught.value.problems] == [
        "fleet:flux.multitenant: tenants need Flux's multi-tenant lockdown, and "
        "Pulumi.dev.yaml, Pulumi.qa.yaml list fleet:tenants: keep it true"
    ]
    # Without tenants anywhere, lockdown may go.
    for stack in ("dev", "qa"):
        path = tmp_path / f"Pulumi.{stack}.yaml"
        env = yaml.safe_load(path.read_text())
        env["config"].pop("fleet:tenants")
        path.write_text(yaml.safe_dump(env))
    fleet = load_stack(settings)
    assert isinstance(fleet, FleetSpec) and fleet.flux.multitenant is False


def test_an_environment_cannot_have_a_namespace_of_another_environment(tmp_path: Path) -> None:
    """Environments `dev` and `dev-qa` on the same clusters: `dev`'s component `qa-x` and
    `dev-qa`'s tenant `x` would both be `dev-qa-x`, where the tenant would be admin beside the
    component's cluster-admin account."""
    for stack in ("main", "dev"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_bytes(
            (PROJECT / f"Pulumi.{stack}.yaml").read_bytes()
        )
    dev = tmp_path / "Pulumi.dev.yaml"
    document = yaml.safe_load(dev.read_text())
    document["config"]["fleet:infra"][0]["name"] = "qa-x"
    dev.write_text(yaml.safe_dump(document))
    other = {
        "config": {
            "fleet:mainStack": "organization/fleet/main",
            "fleet:clusters": ["k3d-america"],
            "fleet:tenants": [
                {
                    "name": "x",
                    "repository": {"url": "https://github.com/example/x", "branch": "main"},
                }
            ],
        }
    }
    (tmp_path / "Pulumi.dev-qa.yaml").write_text(yaml.safe_dump(other))
    grant_environments(tmp_path, "dev-qa")
    with pytest.raises(ConfigError) as caught:
        load_stack(tmp_path / "Pulumi.dev-qa.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "fleet:tenants[0].name: the tenant's namespace 'dev-qa-x' is component qa-x of "
        "environment dev: a tenant is admin in its namespaces, so they must be its own; rename "
        "the tenant or the channel"
    ]
    with pytest.raises(ConfigError) as caught:
        load_stack(dev)
    assert [str(p) for p in caught.value.problems] == [
        "fleet:infra[0].namespace: 'dev-qa-x' is a namespace of tenant x of environment dev-qa: "
        "give the component a namespace of its own"
    ]


def test_a_common_component_cannot_take_an_environments_namespace(tmp_path: Path) -> None:
    """Checked from the main stack, which deploys first: the component's cluster-admin account
    would otherwise sit in a tenant's namespace."""
    for stack in SAMPLE_STACKS:
        (tmp_path / f"Pulumi.{stack}.yaml").write_bytes(
            (PROJECT / f"Pulumi.{stack}.yaml").read_bytes()
        )
    settings = tmp_path / "Pulumi.main.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:infra"][0]["namespace"] = "qa-kaizentm"
    settings.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_stack(settings)
    assert [str(p) for p in caught.value.problems] == [
        "fleet:infra[0].namespace: 'qa-kaizentm' is a namespace of tenant kaizentm of "
        "environment qa: give the component a namespace of its own"
    ]


def test_a_tenant_key_cannot_hold_the_fleets_token() -> None:
    def token(raw: Raw) -> None:
        raw["repository"]["tokenSecret"] = "fleetToken"
        raw["fleetToken"] = ENCRYPTED

    def tenant_reads_with_it(raw: Raw) -> None:
        tenants(raw)[0]["imagePullSecret"] = "fleetToken"
        raw["fleetToken"] = ENCRYPTED

    assert problems_of("dev", tenant_reads_with_it, edit_main=token) == [
        "fleet:tenants[0].imagePullSecret: 'fleetToken' holds the fleet repository's token: a "
        "tenant can read what its keys hold; give it a key of its own"
    ]


def test_a_tenants_remote_app_cannot_take_a_remotes_kustomization_name() -> None:
    """Remotes `R` and `R-yakuza`: tenant yakuza's app `infrastructure` on R would be named
    `R-yakuza-infrastructure`, the platform's Kustomization for remote `R-yakuza`."""
    remote = "k3s-america-south"

    def second_remote(raw: Raw) -> None:
        twin = {**clusters(raw)[2], "name": f"{remote}-yakuza"}
        clusters(raw).append({**twin, "attached": {"kubeconfigSecret": "twinKubeconfig"}})
        raw["twinKubeconfig"] = ENCRYPTED

    def app_named_infrastructure(raw: Raw) -> None:
        raw["clusters"].append(f"{remote}-yakuza")
        tenants(raw)[1]["apps"] = [{"name": "infrastructure"}]

    assert problems_of("dev", app_named_infrastructure, edit_main=second_remote) == [
        f"fleet:tenants[1].name: Kustomization '{remote}-yakuza-infrastructure' in the "
        f"environment's namespace would be both remote {remote}-yakuza's infrastructure and "
        f"tenant yakuza's app infrastructure on {remote}: rename one of them"
    ]


def test_every_problem_is_reported_at_once() -> None:
    def break_three_things(raw: Raw) -> None:
        raw["clusters"].append("k3d-europe")
        tenants(raw)[0]["apps"].append({"name": "azure-vote"})
        tenants(raw)[1]["repository"]["branch"] = "bad..branch"

    problems = problems_of("dev", break_three_things)
    assert len(problems) == 3


def test_a_broken_main_stack_is_reported_from_an_environment() -> None:
    with pytest.raises(ConfigError) as caught:
        load_sample("dev", edit_main=lambda raw: clusters(raw)[0].update(kind="gke"))
    assert caught.value.source == "main"


def test_secrets_must_be_set_for_a_deployment() -> None:
    with pytest.raises(ConfigError) as caught:
        load_sample("main", secrets_required=True)
    assert caught.value.problems == (
        Problem(
            "fleet:k3sAmericaSouthKubeconfig",
            "not set (named by fleet:clusters[2].attached.kubeconfigSecret); run "
            "`pulumi config set --secret k3sAmericaSouthKubeconfig <value>`",
        ),
    )


def test_an_environment_needs_the_repository_token_of_its_fleet() -> None:
    def use_token(raw: Raw) -> None:
        raw["repository"]["tokenSecret"] = "gitToken"
        raw["gitToken"] = ENCRYPTED

    with pytest.raises(ConfigError) as caught:
        load_sample("qa", edit_main=use_token, secrets_required=True)
    assert [str(p) for p in caught.value.problems] == [
        "fleet:gitToken: not set (named by fleet:repository.tokenSecret of the main stack "
        "'main'); run `pulumi config set --secret gitToken <value>`"
    ]
    env = load_sample(
        "qa", lambda raw: raw.update(gitToken=ENCRYPTED), edit_main=use_token, secrets_required=True
    )
    assert [s.key for s in env.secret_keys] == ["gitToken"]


def test_a_set_secret_satisfies_a_deployment() -> None:
    fleet = load_sample(
        "main",
        edit=lambda raw: raw.update(k3sAmericaSouthKubeconfig=ENCRYPTED),
        secrets_required=True,
    )
    assert fleet.secret_keys[0].key == "k3sAmericaSouthKubeconfig"


def test_error_message_lists_every_problem_under_its_source() -> None:
    error = ConfigError([Problem("fleet:b", "two"), Problem("fleet:a", "one")], "Pulumi.x.yaml")
    assert str(error) == "Pulumi.x.yaml: 2 problems\n  fleet:a: one\n  fleet:b: two"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        *[("k3d-america", True), ("a", True), ("1-0-x", True), ("a" * 63, True)],
        *[("a" * 64, False), ("A", False), ("-a", False), ("a-", False), ("a_b", False)],
        ("", False),
    ],
)
def test_dns_label(name: str, valid: bool) -> None:
    assert names.is_dns_label(name) is valid


def test_an_environment_cannot_take_its_main_stacks_branch() -> None:
    def on_branch_dev(raw: Raw) -> None:
        raw["repository"]["branch"] = "dev"

    assert problems_of("dev", edit_main=on_branch_dev) == [
        "fleet:environment.branch: branch dev belongs to the main stack"
    ]
    # Branch main is an environment's to take when the main stack commits elsewhere.
    env = load_sample(
        "dev",
        lambda raw: raw["environment"].update(branch="main"),
        on_branch_dev,
    )
    assert isinstance(env, EnvironmentSpec) and env.branch == "main"
