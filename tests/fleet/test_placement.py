"""Where things land: environments, tenants, apps and channels on the clusters their lists and
selectors pick, one app folder for every cluster with per-cluster values, and groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet import layout, names, tree, wiring
from fleet.config import AttachedConfig
from fleet.errors import ConfigError
from fleet.model import ENCRYPTED, EnvironmentSpec, FleetSpec
from fleet.safety import check_removals, inventory
from fleet.summary import placement
from fleet_cli.kustomize import build
from tests.support.sample import Raw, cluster, load_sample, problems_of, tenants

MANAGEMENT, OTHER, REMOTE = "k3d-america", "pacific-aks", "k3s-america-south"


def environment(stack: str, edit: Any = None, edit_main: Any = None) -> EnvironmentSpec:
    model = load_sample(stack, edit, edit_main)
    assert isinstance(model, EnvironmentSpec)
    return model


def built(files: dict[str, str], root: Path, folder: str) -> list[dict[str, Any]]:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return build(root / folder)


# ---------------------------------------------------------------- environments by label


def by_label(raw: Raw) -> None:
    raw["clusters"] = [{"matchLabels": {"region": "america"}}]


def test_an_environment_selecting_by_label_takes_a_new_cluster_without_an_edit() -> None:
    assert [c.name for c in environment("dev", by_label).clusters] == [MANAGEMENT, REMOTE]

    def new_shop(raw: Raw) -> None:
        raw["clusters"].append(
            {
                "name": "k3s-america-north",
                "role": "remote",
                "kind": "attached",
                "managedBy": MANAGEMENT,
                "labels": {"region": "america"},
                "attached": {"kubeconfigSecret": "north"},
            }
        )
        raw["north"] = ENCRYPTED

    env = environment("dev", by_label, new_shop)
    assert [c.name for c in env.clusters] == [MANAGEMENT, REMOTE, "k3s-america-north"]
    files = tree.environment_branch(env)
    assert (
        layout.kustomization_file(layout.remote_tenants(MANAGEMENT, "k3s-america-north")) in files
    )


def test_a_label_change_moves_a_cluster_in_or_out() -> None:
    def relabel(raw: Raw) -> None:
        cluster(raw, REMOTE)["labels"] = {"region": "south"}

    assert [c.name for c in environment("dev", by_label, relabel).clusters] == [MANAGEMENT]
    assert placement(environment("dev", by_label, relabel))["environment dev"] == [MANAGEMENT]


def test_a_remote_picked_without_its_management_cluster_is_refused() -> None:
    def only_remotes(raw: Raw) -> None:
        raw["clusters"] = [
            {"matchExpressions": [{"key": "region", "operator": "In", "values": ["america"]}]}
        ]

    def manager_elsewhere(raw: Raw) -> None:
        cluster(raw, MANAGEMENT)["labels"] = {"region": "north"}

    problems = problems_of("dev", only_remotes, manager_elsewhere)
    assert (
        "fleet:clusters[0]: remote cluster 'k3s-america-south' is managed by 'k3d-america', "
        "which is not in this environment"
    ) in problems


def test_a_selector_picking_nothing_names_itself_at_its_config_path() -> None:
    def nothing(raw: Raw) -> None:
        raw["clusters"] = ["pacific-aks", {"matchLabels": {"region": "mars"}}]

    assert problems_of("dev", nothing) == [
        "fleet:clusters[1]: selector region=mars selects none of the fleet's clusters"
    ]


# ---------------------------------------------------------------- tenants, apps and channels


def yakuza_on_pacific_only(raw: Raw) -> None:
    tenants(raw)[1]["clusters"] = [OTHER]


def test_a_tenant_lands_only_on_its_clusters(tmp_path: Path) -> None:
    env = environment("dev", yakuza_on_pacific_only)
    files = tree.environment_branch(env)
    on_america = built(files, tmp_path, layout.cluster_tenants(MANAGEMENT))
    on_remote = built(files, tmp_path, layout.remote_tenants(MANAGEMENT, REMOTE))
    sandbox_on_remote = built(files, tmp_path, layout.remote_infra(MANAGEMENT, REMOTE))
    on_pacific = built(files, tmp_path, layout.cluster_tenants(OTHER))
    yakuza = names.tenant_namespace("dev", "yakuza")

    def of_yakuza(objs: list[dict[str, Any]]) -> list[str]:
        return [
            f"{o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
            for o in objs
            if "yakuza" in o["metadata"]["name"] or o["metadata"].get("namespace") == yakuza
        ]

    assert of_yakuza(on_america) == []
    assert of_yakuza(on_remote) == []
    assert of_yakuza(sandbox_on_remote) == []
    assert "Kustomization dev-yakuza/katana-vote" in of_yakuza(on_pacific)
    # Pulumi makes its namespace on pacific-aks only.
    america, pacific = env.fleet.cluster(MANAGEMENT), env.fleet.cluster(OTHER)
    assert wiring.tenant_wiring(env, env.tenants[1], america).objects == []
    assert [
        o["metadata"]["name"] for o in wiring.tenant_wiring(env, env.tenants[1], pacific).objects
    ] == [yakuza]


def test_an_app_and_a_channel_take_some_of_the_tenants_clusters(tmp_path: Path) -> None:
    def edit(raw: Raw) -> None:
        kaizentm = tenants(raw)[0]
        kaizentm["apps"][0]["clusters"] = [{"matchLabels": {"region": "america"}}]
        kaizentm["apps"][0]["paths"] = {}
        kaizentm["releases"][0]["clusters"] = [REMOTE]

    env = environment("dev", edit)
    files = tree.environment_branch(env)
    on_pacific = built(files, tmp_path, layout.cluster_tenants(OTHER))
    kinds = {(o["kind"], o["metadata"]["name"]) for o in on_pacific}
    assert ("Kustomization", "azure-vote") not in kinds
    assert ("GitRepository", "kaizentm-manifests") in kinds  # the tenant is there, its app not
    assert ("Namespace", names.release_namespace("dev", "1-0-x", "kaizentm")) not in kinds
    on_remote = built(files, tmp_path, layout.remote_tenants(MANAGEMENT, REMOTE))
    assert sorted(o["metadata"]["name"] for o in on_remote) == [
        names.remote_tenant_app(REMOTE, "kaizentm", "azure-vote", "1-0-x"),
        names.remote_tenant_app(REMOTE, "kaizentm", "azure-vote"),
        names.remote_tenant_app(REMOTE, "yakuza", "katana-vote"),
    ]
    on_america = built(files, tmp_path, layout.cluster_tenants(MANAGEMENT))
    assert ("Kustomization", "azure-vote") in {
        (o["kind"], o["metadata"]["name"]) for o in on_america
    }
    assert placement(env)["channel kaizentm/1-0-x"] == [REMOTE]


def test_an_app_cannot_pick_a_cluster_its_tenant_is_not_on() -> None:
    def edit(raw: Raw) -> None:
        tenants(raw)[1]["clusters"] = [OTHER]
        tenants(raw)[1]["apps"][0]["clusters"] = [MANAGEMENT]

    assert problems_of("dev", edit) == [
        "fleet:tenants[1].apps[0].clusters[0]: 'k3d-america' is not a cluster of this tenant"
    ]


def test_an_unknown_placeholder_in_a_path_is_refused() -> None:
    def edit(raw: Raw) -> None:
        tenants(raw)[1]["apps"][0]["path"] = "./katana-vote/{region}"

    (line,) = problems_of("dev", edit)
    assert line.startswith("fleet:tenants[1].apps[0].path: '{region}' in './katana-vote/{region}'")


# ---------------------------------------------------------------- the original's use case 1


def one_folder_three_connection_strings(raw: Raw) -> None:
    """One folder of the tenant's repository for every cluster; the database host from each
    cluster's vars (set in the sample's Pulumi.main.yaml), the password a secret."""
    yakuza = tenants(raw)[1]
    yakuza["apps"][0]["path"] = "./katana-vote"
    yakuza["vars"] = {"DB_PASSWORD": {"secret": "yakuzaDbPassword"}}
    raw["yakuzaDbPassword"] = ENCRYPTED


def test_use_case_one_renders_each_clusters_connection_string_and_no_secret(tmp_path: Path) -> None:
    env = environment("dev", one_folder_three_connection_strings)
    files = tree.environment_branch(env)
    platform = names.environment_namespace("dev")
    secret = names.app_variables_secret("yakuza", "katana-vote")
    found = {}
    for folder, name, namespace in (
        (layout.cluster_tenants(MANAGEMENT), "katana-vote", "dev-yakuza"),
        (layout.cluster_tenants(OTHER), "katana-vote", "dev-yakuza"),
        (
            layout.remote_tenants(MANAGEMENT, REMOTE),
            names.remote_tenant_app(REMOTE, "yakuza", "katana-vote"),
            platform,
        ),
    ):
        (sync,) = [
            o
            for o in built(files, tmp_path, folder)
            if o["kind"] == "Kustomization" and o["metadata"]["name"] == name
        ]
        assert sync["metadata"]["namespace"] == namespace
        assert sync["spec"]["path"] == "./katana-vote"
        post = sync["spec"]["postBuild"]
        assert post["substituteFrom"] == [{"kind": "Secret", "name": secret}]
        assert "DB_PASSWORD" not in post["substitute"]
        found[post["substitute"]["CLUSTER_NAME"]] = post["substitute"]["DB_HOST"]
    assert found == {
        MANAGEMENT: "db.america.example",
        OTHER: "db.pacific.example",
        REMOTE: "db.america-south.example",
    }
    assert not [p for p, text in files.items() if "yakuzaDbPassword" in text]
    # Pulumi makes the Secret beside each Kustomization that reads it, from secret config.
    america = env.fleet.cluster(MANAGEMENT)
    made = {
        (s.namespace, s.name): s.content
        for s in wiring.tenant_wiring(env, env.tenants[1], america).secrets
    }
    content = wiring.SecretVariables((("DB_PASSWORD", "yakuzaDbPassword"),))
    assert made[("dev-yakuza", secret)] == content
    assert made[(platform, secret)] == content
    assert ("dev-kaizentm", secret) not in made


def test_an_app_can_turn_substitution_off() -> None:
    def edit(raw: Raw) -> None:
        tenants(raw)[1]["apps"][0]["substitute"] = False

    files = tree.environment_branch(environment("dev", edit))
    patch = files[
        layout.file(
            layout.app_overlay(layout.tenant_overlay(MANAGEMENT, "yakuza"), "katana-vote"),
            "sync-patch.yaml",
        )
    ]
    assert "postBuild" not in patch


# ---------------------------------------------------------------- groups


def america_group(raw: Raw) -> None:
    raw["clusters"] = [c for c in raw["clusters"] if c["name"] != REMOTE]
    raw.pop("k3sAmericaSouthKubeconfig", None)
    cluster(raw, MANAGEMENT)["members"] = ["k3d-america-1", "k3d-america-2"]
    cluster(raw, MANAGEMENT)["k3d"].pop("ports")  # members cannot share host ports


def dev_without_remote(raw: Raw) -> None:
    raw["clusters"] = [MANAGEMENT, OTHER]


def test_a_group_is_one_folder_and_several_clusters() -> None:
    fleet = load_sample("main", america_group)
    assert isinstance(fleet, FleetSpec)
    group = fleet.cluster(MANAGEMENT)
    assert [m.name for m in group.physical] == ["k3d-america-1", "k3d-america-2"]
    assert {m.folder for m in group.physical} == {MANAGEMENT}
    assert inventory(fleet)["clusters"] == ["k3d-america-1", "k3d-america-2", OTHER]
    files = tree.main_branch(fleet)
    assert layout.kustomization_file(layout.cluster_infra(MANAGEMENT)) in files
    assert not [p for p in files if "k3d-america-1" in p]
    # Every member gets the group's wiring, naming the group's folder and the group's name.
    wired = [wiring.main_wiring(fleet, member).objects for member in group.physical]
    assert wired[0] == wired[1]
    infra = next(o for o in wired[0] if o["kind"] == "Kustomization")
    assert infra["spec"]["path"] == "./infra/k3d-america"
    assert infra["spec"]["postBuild"]["substitute"]["CLUSTER_NAME"] == MANAGEMENT


def test_members_join_and_leave_one_at_a_time() -> None:
    before = inventory(load_sample("main", america_group))

    def third(raw: Raw) -> None:
        america_group(raw)
        cluster(raw, MANAGEMENT)["members"].append("k3d-america-3")

    def first_gone(raw: Raw) -> None:
        america_group(raw)
        cluster(raw, MANAGEMENT)["members"] = ["k3d-america-2"]

    check_removals(before, load_sample("main", third), "main")
    check_removals(before, load_sample("main", first_gone), "main")
    env = environment("dev", dev_without_remote, america_group)
    assert [c.name for c in env.clusters] == [MANAGEMENT, OTHER]

    def both_gone(raw: Raw) -> None:
        america_group(raw)
        cluster(raw, MANAGEMENT)["members"] = ["k3d-america-3"]

    with pytest.raises(ConfigError, match="would remove 2 clusters"):
        check_removals(before, load_sample("main", both_gone), "main")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda raw: cluster(raw, REMOTE).update(members=["a", "b"]),
            "fleet:clusters[2].members: only a management cluster may be a group",
        ),
        (
            lambda raw: cluster(raw, MANAGEMENT).update(members=["k3d-america-1"]),
            "fleet:clusters[2].managedBy: 'k3d-america' is a group",
        ),
        (
            lambda raw: cluster(raw, MANAGEMENT).update(members=["pacific-aks"]),
            "fleet:clusters[0].members[0]: 'pacific-aks' is already the name of cluster "
            "pacific-aks",
        ),
        (
            lambda raw: raw["clusters"].append(
                {"name": "lab", "kind": "attached", "members": ["lab-1"]}
            ),
            "fleet:clusters[3].members[0]: member 'lab-1' of an attached group needs its "
            "kubeconfigSecret",
        ),
    ],
    ids=[
        "remote-group",
        "remote-of-a-group",
        "member-named-like-a-cluster",
        "attached-member-without-kubeconfig",
    ],
)
def test_group_rules(edit: Any, expected: str) -> None:
    problems = problems_of("main", edit)
    assert any(line.startswith(expected) for line in problems), problems


def test_an_attached_groups_members_bring_their_own_kubeconfigs() -> None:
    def edit(raw: Raw) -> None:
        raw["clusters"].append(
            {
                "name": "lab",
                "kind": "attached",
                "members": [
                    {"name": "lab-1", "kubeconfigSecret": "lab1"},
                    {"name": "lab-2", "kubeconfigSecret": "lab2", "context": "admin"},
                ],
            }
        )
        raw.update(lab1=ENCRYPTED, lab2=ENCRYPTED)

    fleet = load_sample("main", edit)
    assert isinstance(fleet, FleetSpec)
    members = fleet.cluster("lab").physical
    assert [m.provisioning for m in members] == [
        AttachedConfig(kubeconfig_secret="lab1"),
        AttachedConfig(kubeconfig_secret="lab2", context="admin"),
    ]
    assert {"lab1", "lab2"} <= {k.key for k in fleet.secret_keys}


# ---------------------------------------------------------------- mistakes an attacker tried


def main_group_member_named(name: str) -> Any:
    def edit(raw: Raw) -> None:
        america_group(raw)
        cluster(raw, MANAGEMENT)["members"] = [name, "k3d-america-2"]

    return edit


@pytest.mark.parametrize(
    ("stack", "edit", "edit_main", "expected"),
    [
        (
            "dev",
            lambda raw: raw.update(
                clusters=[MANAGEMENT, OTHER],
                dedicatedClusters=[{"name": "k3d-america-1", "kind": "k3d"}],
            ),
            america_group,
            "fleet:dedicatedClusters[0].name: 'k3d-america-1' is already a cluster of the main "
            "stack",
        ),
        (
            "dev",
            lambda raw: raw.update(
                dedicatedClusters=[{"name": "dev-grp", "kind": "k3d", "members": [OTHER, "x"]}]
            ),
            None,
            "fleet:dedicatedClusters[0].members[0]: 'pacific-aks' is already a cluster of the "
            "main stack",
        ),
        (
            "dev",
            lambda raw: tenants(raw)[1].update(clusters=[]),
            None,
            "fleet:tenants[1].clusters: an empty list puts this on no cluster",
        ),
        (
            "dev",
            lambda raw: (
                tenants(raw)[0]["repository"].update(credentialsSecret="kaizenToken"),
                tenants(raw)[1].update(vars={"STOLEN": {"secret": "kaizenToken"}}),
                raw.update(kaizenToken=ENCRYPTED),
            ),
            None,
            "fleet:tenants[1].vars.STOLEN: 'kaizenToken' holds a secret of tenant kaizentm too",
        ),
        (
            "main",
            lambda raw: raw.update(vars={"URL": "a: b"}),
            None,
            "fleet:vars.URL: 'a: b' would change the structure of the YAML",
        ),
        (
            "main",
            lambda raw: raw.update(vars={"NOTE": "one\nline: two"}),
            None,
            "fleet:vars.NOTE: a value on several lines",
        ),
        (
            "main",
            lambda raw: raw["clusters"].append(
                {
                    "name": "pacific-2",
                    "kind": "aks",
                    "aks": {"location": "australiaeast", "resourceGroup": "fleet-pacific"},
                }
            ),
            None,
            "fleet:clusters[3].aks.resourceGroup: cluster pacific-aks creates resource group "
            "'fleet-pacific' already",
        ),
        (
            "main",
            lambda raw: cluster(raw, MANAGEMENT).update(members=["a-1", "a-2"]),
            None,
            "fleet:clusters[0].k3d.ports: each member would bind the same host ports",
        ),
        (
            "main",
            lambda raw: cluster(raw, OTHER).update(labels={"Region": "x", "region": "y"}),
            None,
            "fleet:clusters[1].labels.region: labels 'Region' and 'region' would both be the "
            "variable CLUSTER_LABEL_REGION",
        ),
        (
            "main",
            lambda raw: cluster(raw, OTHER).update(labels={"tier": "a b"}),
            None,
            "fleet:clusters[1].labels.tier: 'a b' is not a label value",
        ),
        (
            "main",
            lambda raw: raw["clusters"].append(
                {
                    "name": "twin",
                    "role": "remote",
                    "kind": "attached",
                    "managedBy": MANAGEMENT,
                    "attached": {"kubeconfigSecret": "k3sAmericaSouthKubeconfig"},
                }
            ),
            None,
            "fleet:clusters[3].attached.kubeconfigSecret: 'k3sAmericaSouthKubeconfig' is the "
            "kubeconfig of cluster k3s-america-south already",
        ),
    ],
    ids=[
        "dedicated-named-like-a-member",
        "dedicated-member-named-like-a-cluster",
        "empty-list-of-clusters",
        "secret-variable-of-another-tenant",
        "value-with-a-mapping",
        "value-on-several-lines",
        "resource-group-with-two-owners",
        "k3d-group-with-host-ports",
        "labels-behind-one-variable",
        "label-value",
        "one-kubeconfig-two-clusters",
    ],
)
def test_mistakes_are_refused_at_their_config_path(
    stack: str, edit: Any, edit_main: Any, expected: str
) -> None:
    problems = problems_of(stack, edit, edit_main)
    assert any(line.startswith(expected) for line in problems), problems


def test_an_app_without_substitution_gets_no_variables_secret() -> None:
    def edit(raw: Raw) -> None:
        one_folder_three_connection_strings(raw)
        tenants(raw)[1]["apps"][0]["substitute"] = False

    env = environment("dev", edit)
    america = env.fleet.cluster(MANAGEMENT)
    assert not [
        s
        for s in wiring.tenant_wiring(env, env.tenants[1], america).secrets
        if isinstance(s.content, wiring.SecretVariables)
    ]


def test_a_remote_charts_values_are_substituted_as_flux_would_as_yaml() -> None:
    """`enabled: ${ON}` becomes the boolean false for the remote, as Flux makes it on a
    management cluster, not the string 'false'."""

    def edit(raw: Raw) -> None:
        raw["vars"] = {"ON": "false"}
        raw["infra"][0]["helm"]["values"] = {"metrics": {"enabled": "${ON}"}}
        cluster(raw, REMOTE)["vars"]["ON"] = "true"

    fleet = load_sample("main", edit)
    assert isinstance(fleet, FleetSpec)
    files = tree.main_branch(fleet)
    release = files[layout.file(layout.remote_chart(MANAGEMENT, REMOTE, "nginx"), "release.yaml")]
    assert "      enabled: true\n" in release
    assert "kustomize.toolkit.fluxcd.io/substitute: disabled" in release


def test_a_literal_in_a_remote_chart_is_written_out_as_flux_writes_it() -> None:
    """`$${X}` is Flux's literal `${X}`: on a management cluster Flux writes it so, and a
    remote's chart, substituted when rendered, must say the same."""

    def edit(raw: Raw) -> None:
        raw["infra"][0]["helm"]["values"] = {"template": "$${NOT_A_VARIABLE}"}

    fleet = load_sample("main", edit)
    assert isinstance(fleet, FleetSpec)
    release = tree.main_branch(fleet)[
        layout.file(layout.remote_chart(MANAGEMENT, REMOTE, "nginx"), "release.yaml")
    ]
    assert "template: ${NOT_A_VARIABLE}\n" in release
