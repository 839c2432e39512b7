"""Variables handed to Flux: five levels, the nearer winning; built-in names reserved; secret
values only where their tenant alone reads them; Flux's substitution forms."""

from __future__ import annotations

from typing import Any

import pytest

from fleet import variables
from fleet.config import SecretVar
from fleet.errors import ConfigError
from fleet.model import ENCRYPTED, EnvironmentSpec
from tests.support.sample import Raw, cluster, load_sample, problems_of, tenants


def every_level(raw_main: Raw) -> None:
    raw_main["vars"] = {"LEVEL": "fleet", "FLEET": "f"}
    cluster(raw_main, "k3d-america")["vars"].update(LEVEL="cluster", CLUSTER="c")


def environment_and_below(raw: Raw) -> None:
    raw["vars"] = {"LEVEL": "environment", "ENV": "e"}
    tenant = tenants(raw)[1]
    tenant["vars"] = {"LEVEL": "tenant", "TENANT": "t", "PASSWORD": {"secret": "yakuzaDb"}}
    tenant["apps"][0]["vars"] = {"LEVEL": "app"}
    raw["yakuzaDb"] = ENCRYPTED


def test_the_nearer_level_wins_and_built_ins_describe_the_cluster() -> None:
    env = load_sample("dev", environment_and_below, every_level)
    assert isinstance(env, EnvironmentSpec)
    tenant = env.tenants[1]
    management = env.fleet.cluster("k3d-america")
    resolved = variables.of_app(env, management, tenant, tenant.apps[0])
    assert resolved.plain == {
        "CLUSTER": "c",
        "CLUSTER_LABEL_REGION": "america",
        "CLUSTER_LABEL_RING": "canary",
        "CLUSTER_NAME": "k3d-america",
        "CLUSTER_ROLE": "management",
        "DB_HOST": "db.america.example",
        "ENV": "e",
        "ENVIRONMENT": "dev",
        "FLEET": "f",
        "LEVEL": "app",
        "MANAGEMENT_CLUSTER": "k3d-america",
        "TENANT": "t",
    }
    assert resolved.secret == {"PASSWORD": "yakuzaDb"}
    # Without the app's own, the tenant's wins; the platform's stop at the environment.
    no_app = variables.resolve([env.fleet.vars, management.vars, env.vars, tenant.vars], {})
    assert no_app.plain["LEVEL"] == "tenant"
    assert variables.of_platform(env.fleet, management, env)["LEVEL"] == "environment"
    assert variables.of_platform(env.fleet, management)["LEVEL"] == "cluster"
    remote = env.fleet.cluster("k3s-america-south")
    assert variables.of_platform(env.fleet, remote)["MANAGEMENT_CLUSTER"] == "k3d-america"
    assert variables.of_platform(env.fleet, remote)["LEVEL"] == "fleet"


def test_a_plain_value_nearer_than_a_secret_one_replaces_it() -> None:
    """Flux would let `substitute` win over `substituteFrom` whatever the levels: the levels
    are resolved before, so a name is in exactly one of them."""
    resolved = variables.resolve([{"PASSWORD": SecretVar(secret="k")}, {"PASSWORD": "plain"}], {})
    assert resolved.plain == {"PASSWORD": "plain"}
    assert resolved.secret == {}


@pytest.mark.parametrize(
    ("stack", "edit", "edit_main", "expected"),
    [
        (
            "main",
            lambda raw: raw.update(vars={"CLUSTER_NAME": "x"}),
            None,
            "fleet:vars.CLUSTER_NAME: 'CLUSTER_NAME' is a built-in variable",
        ),
        (
            "main",
            lambda raw: cluster(raw, "pacific-aks").update(vars={"CLUSTER_LABEL_ZONE": "x"}),
            None,
            "fleet:clusters[1].vars.CLUSTER_LABEL_ZONE: 'CLUSTER_LABEL_ZONE' is a built-in",
        ),
        (
            "main",
            lambda raw: cluster(raw, "pacific-aks").update(vars={"DB": {"secret": "db"}}),
            None,
            "fleet:clusters[1].vars.DB: a secret value here would be handed to every tenant",
        ),
        (
            "dev",
            lambda raw: raw.update(vars={"DB": {"secret": "db"}}),
            None,
            "fleet:vars.DB: a secret value here would be handed to every tenant",
        ),
        (
            "dev",
            lambda raw: tenants(raw)[0].update(vars={"not-a-name": "x"}),
            None,
            "fleet:tenants[0].vars.not-a-name",
        ),
        (
            "dev",
            lambda raw: tenants(raw)[0].update(
                vars={"TOKEN": {"secret": "k3sAmericaSouthKubeconfig"}}
            ),
            None,
            "fleet:tenants[0].vars.TOKEN: 'k3sAmericaSouthKubeconfig' holds the kubeconfig of "
            "cluster k3s-america-south",
        ),
        (
            "dev",
            lambda raw: tenants(raw)[0]["apps"][0].update(vars={"TOKEN": {"secret": "t"}}),
            None,
            "fleet:t: not set",
        ),
    ],
    ids=[
        "built-in-name",
        "built-in-label-name",
        "secret-on-a-cluster",
        "secret-on-an-environment",
        "name-flux-refuses",
        "secret-key-of-the-platform",
        "secret-key-unset",
    ],
)
def test_variables_are_checked(stack: str, edit: Any, edit_main: Any, expected: str) -> None:
    if expected == "fleet:t: not set":
        with pytest.raises(ConfigError) as caught:
            load_sample(stack, edit, edit_main, secrets_required=True)
        assert any(str(p).startswith(expected) for p in caught.value.problems)
        return
    problems = problems_of(stack, edit, edit_main)
    assert any(line.startswith(expected) for line in problems), problems


def manifest_with(text: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"value": text},
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("${DB_HOST}", None),  # every cluster of dev defines it
        ("${CLUSTER_NAME}-${ENVIRONMENT}-${CLUSTER_LABEL_REGION}", None),
        ("${UNSET:=fallback}", None),
        ("$${UNSET}", None),  # a literal ${UNSET}
        (
            "${UNSET}",
            "${UNSET} is defined at no level for clusters k3d-america, pacific-aks, "
            "k3s-america-south",
        ),
        ("${UNSET:-fallback}", None),
        ("${CLUSTER_LABEL_TIER}", "${CLUSTER_LABEL_TIER} is defined at no level"),
    ],
)
def test_a_variable_in_fleet_owned_manifests_must_be_defined_on_each_cluster(
    text: str, problem: str | None
) -> None:
    def edit(raw: Raw) -> None:
        raw["infra"][0]["manifests"].append(manifest_with(text))

    if problem is None:
        load_sample("dev", edit)
    else:
        assert any(problem in line for line in problems_of("dev", edit))


def test_main_infra_has_no_environment_variable() -> None:
    def edit(raw: Raw) -> None:
        raw["infra"][0]["helm"]["values"] = {"env": "${ENVIRONMENT}"}

    (line,) = problems_of("main", edit)
    assert line.startswith("fleet:infra[0].helm.values: ${ENVIRONMENT} is defined at no level")


def test_forms_beyond_a_default_are_refused_in_a_chart_for_a_remote() -> None:
    def edit(raw: Raw) -> None:
        raw["infra"][0]["helm"]["values"] = {"short": "${DB_HOST:0:3}"}

    (line,) = problems_of("main", edit)
    assert "a chart for a remote (cluster k3s-america-south) is substituted when rendered" in line


def test_references_and_substitution_follow_fluxs_envsubst() -> None:
    text = "a=${A} b=${B:=dflt} c=$${C} d=${D} e=${E:-e}"
    assert [(r.name, r.has_default) for r in variables.references(text)] == [
        ("A", False),
        ("B", True),
        ("D", False),
        ("E", True),
    ]
    assert variables.substitute(text, {"A": "1"}) == "a=1 b=dflt c=${C} d= e=e"
    assert variables.label_variable("topology.kubernetes.io/region") == (
        "CLUSTER_LABEL_TOPOLOGY_KUBERNETES_IO_REGION"
    )
