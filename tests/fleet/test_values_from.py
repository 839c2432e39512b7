"""A chart's values from secret config (`helm.valuesFrom`): the keys are secret config, the
values reach a Secret Pulumi applies beside each HelmRelease, and never git."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.credentials import SecretValues, secret_object
from fleet import names, tree, wiring
from fleet.errors import ConfigError
from fleet.model import ENCRYPTED, EnvironmentSpec, FleetSpec
from fleet.wiring import AppliedSecret, HelmValues
from tests.support.deployments import SAMPLE_SECRETS, committed, deploy_sample
from tests.support.sample import Raw, load_sample, problems_of, tenants

MANAGEMENT, OTHER, REMOTE = "k3d-america", "pacific-aks", "k3s-america-south"
PASSWORD = "hunter2-from-secret-config"

VALUES_FROM = [
    {"key": "nginxAuth", "valuesKey": "password", "targetPath": "auth.password"},
    {"key": "nginxValues"},
]


def with_values_from(raw: Raw) -> None:
    raw["infra"][0]["helm"]["valuesFrom"] = VALUES_FROM
    raw.update(nginxAuth=ENCRYPTED, nginxValues=ENCRYPTED)


def fleet_with_values_from() -> FleetSpec:
    fleet = load_sample("main", with_values_from)
    assert isinstance(fleet, FleetSpec)
    return fleet


REDIS_CHART = {
    "name": "cache",
    "helm": {
        "repository": "https://charts.bitnami.com/bitnami",
        "chart": "redis",
        "version": "19.0.1",
        "valuesFrom": [
            {"key": "cacheAuth", "valuesKey": "password", "targetPath": "auth.password"}
        ],
    },
}


def chart_in_dev(raw: Raw) -> None:
    raw["infra"].append(REDIS_CHART)
    raw["cacheAuth"] = ENCRYPTED


# ---------------------------------------------------------------- config


def test_the_keys_are_secret_config_the_stack_requires() -> None:
    with pytest.raises(ConfigError) as caught:
        load_sample(
            "main",
            lambda raw: raw["infra"][0]["helm"].update(valuesFrom=VALUES_FROM),
            secrets_required=True,
        )
    lines = [str(p) for p in caught.value.problems]
    assert (
        "fleet:nginxAuth: not set (named by fleet:infra[0].helm.valuesFrom[0].key); run "
        "`pulumi config set --secret nginxAuth <value>`"
    ) in lines
    assert [k.key for k in fleet_with_values_from().secret_keys][-2:] == [
        "nginxAuth",
        "nginxValues",
    ]


def test_a_tenant_may_not_read_a_charts_values() -> None:
    def tenant_reads_it(raw: Raw) -> None:
        chart_in_dev(raw)
        tenants(raw)[0]["vars"] = {"CACHE_PASSWORD": {"secret": "cacheAuth"}}

    assert problems_of("dev", tenant_reads_it) == [
        "fleet:tenants[0].vars.CACHE_PASSWORD: 'cacheAuth' holds the values of component cache: "
        "a tenant can read what its keys hold; give it a key of its own"
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"auth": {"existingSecret": "nginx-auth", "existingSecretPasswordKey": "password"}},
        {"auth": {"password": "${NGINX_PASSWORD}", "tokenTTL": "1h", "passwordFile": "/run/p"}},
        {"auth": {"password": "", "token": None, "secretsEncryption": True}},
        {"tls": {"secretName": "nginx-tls"}, "oauth": {"tokenUrl": "https://idp/token"}},
    ],
    ids=["existing-secret", "variable-and-settings", "empty-and-not-strings", "names-and-urls"],
)
def test_values_that_only_name_a_secret_are_accepted(values: dict[str, Any]) -> None:
    def edit(raw: Raw) -> None:
        raw["infra"][0]["helm"]["values"] = values
        raw["vars"] = {"NGINX_PASSWORD": "from-a-variable"}

    assert isinstance(load_sample("main", edit), FleetSpec)


# ---------------------------------------------------------------- git


def release_in(files: dict[str, str], folder: str) -> dict[str, Any]:
    (release,) = [
        d
        for path, text in files.items()
        if path.startswith(f"{folder}/")
        for d in yaml.safe_load_all(text)
        if isinstance(d, dict) and d.get("kind") == "HelmRelease"
    ]
    return release


def test_each_helm_release_reads_the_secret_beside_it() -> None:
    files = tree.main_branch(fleet_with_values_from())
    expected = [
        {
            "kind": "Secret",
            "name": "nginx-values",
            "valuesKey": "password",
            "targetPath": "auth.password",
        },
        {"kind": "Secret", "name": "nginx-values", "valuesKey": "values.yaml"},
    ]
    base = release_in(files, "infra/base/nginx")
    assert (base["metadata"]["namespace"], base["spec"]["valuesFrom"]) == ("nginx", expected)
    remote = release_in(files, f"infra/{MANAGEMENT}/remote-charts/{REMOTE}/nginx")
    assert remote["metadata"] == {
        "name": f"{REMOTE}-nginx",
        "namespace": "flux-system",
        "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"},
    }
    assert remote["spec"]["valuesFrom"] == expected
    assert not [path for path, text in files.items() if "nginxAuth" in text]


def test_without_values_from_a_release_has_none() -> None:
    fleet = load_sample("main")
    assert isinstance(fleet, FleetSpec)
    assert "valuesFrom" not in release_in(tree.main_branch(fleet), "infra/base/nginx")["spec"]
    assert all(
        not s.name.endswith("-values") for s in wiring.main_wiring(fleet, fleet.clusters[0]).secrets
    )


# ---------------------------------------------------------------- what Pulumi applies


def values_secrets(secrets: list[AppliedSecret]) -> set[tuple[str, str]]:
    return {(s.namespace, s.name) for s in secrets if isinstance(s.content, HelmValues)}


def test_the_secret_is_in_the_components_namespace_and_beside_a_remotes_release() -> None:
    fleet = fleet_with_values_from()
    management, other, _ = fleet.clusters
    assert values_secrets(wiring.main_wiring(fleet, management).secrets) == {
        ("nginx", "nginx-values"),
        ("flux-system", "nginx-values"),
    }
    assert values_secrets(wiring.main_wiring(fleet, other).secrets) == {("nginx", "nginx-values")}


def test_an_environments_chart_gets_its_secret_on_its_clusters_only() -> None:
    def on_pacific(raw: Raw) -> None:
        chart_in_dev(raw)
        raw["infra"][1]["clusters"] = [OTHER]

    env = load_sample("dev", on_pacific)
    assert isinstance(env, EnvironmentSpec)
    by_cluster = {
        c.name: values_secrets(wiring.environment_wiring(env, c).secrets)
        for c in env.management_clusters
    }
    assert by_cluster == {MANAGEMENT: set(), OTHER: {("dev-cache", "cache-values")}}


def test_the_secret_holds_each_value_under_its_values_key() -> None:
    content = wiring.helm_values(fleet_with_values_from().infra[0])
    assert content == HelmValues((("password", "nginxAuth"), ("values.yaml", "nginxValues")))
    secret = AppliedSecret(names.helm_values_secret("nginx"), "nginx", content)
    config = {"nginxAuth": PASSWORD, "nginxValues": "replicaCount: 2"}
    obj = secret_object(secret, SecretValues(config, {}))  # type: ignore[arg-type]
    assert obj["stringData"] == {"password": PASSWORD, "values.yaml": "replicaCount: 2"}
    assert (obj["metadata"], obj["type"]) == (
        {"name": "nginx-values", "namespace": "nginx"},
        "Opaque",
    )


def test_the_program_applies_the_secret_from_secret_config_and_commits_no_value() -> None:
    def edit(raw: Raw) -> None:
        raw["infra"][0]["helm"]["valuesFrom"] = VALUES_FROM

    secrets = {**SAMPLE_SECRETS, "nginxAuth": PASSWORD, "nginxValues": "replicaCount: 2"}
    deployment = deploy_sample("main", edit, secrets)
    applied = {
        (r.inputs["metadata"]["namespace"], r.name): r
        for r in deployment.of_type("v1:Secret")
        if r.inputs["metadata"]["name"] == "nginx-values"
    }
    assert {namespace for namespace, _ in applied} == {"nginx", "flux-system"}
    for secret in applied.values():
        assert secret.inputs["stringData"]["password"] == PASSWORD
        assert secret.secret_inputs == {"stringData"}
    (branch,) = deployment.of_type("GitOpsBranch")
    assert not [path for path, text in committed(branch).items() if PASSWORD in text]
