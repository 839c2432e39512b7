"""How Flux reaches a k3d remote: in its Docker network, at its load balancer's name."""

from __future__ import annotations

import pytest
import yaml

from fleet import reach
from fleet.config import K3dConfig
from fleet.errors import ConfigError
from fleet.model import ClusterSpec, FleetSpec, load_main
from fleet.stackfile import load_stack
from fleet_cli.engine import fake_kubeconfig
from tests.support.sample import PROJECT, problems_of

EXAMPLE = PROJECT / "examples" / "k3d"


def laptop() -> FleetSpec:
    model = load_stack(EXAMPLE / "Pulumi.k3d-main.yaml")
    assert isinstance(model, FleetSpec)
    return model


def test_a_k3d_remote_on_a_network_is_reached_at_its_load_balancer_in_it() -> None:
    remote = laptop().cluster("shop-1")
    assert reach.in_network_server(remote) == "https://k3d-shop-1-serverlb:6443"
    derived = yaml.safe_load(reach.flux_kubeconfig(remote, fake_kubeconfig("shop-1")))
    original = yaml.safe_load(fake_kubeconfig("shop-1"))
    assert [c["cluster"]["server"] for c in derived["clusters"]] == [
        "https://k3d-shop-1-serverlb:6443"
    ]
    # Only the address changes: the credentials and the context are the cluster's own.
    assert derived["users"] == original["users"]
    assert derived["current-context"] == original["current-context"]


def test_other_clusters_are_reached_as_their_kubeconfig_says() -> None:
    for name in ("k3s-america-south", "k3d-america"):
        cluster = load_stack(PROJECT / "Pulumi.main.yaml")
        assert isinstance(cluster, FleetSpec)
        spec: ClusterSpec = cluster.cluster(name)
        assert reach.in_network_server(spec) is None
        assert reach.flux_kubeconfig(spec, "anything") == "anything"


def test_a_kubeconfig_that_does_not_parse_is_named_by_where_never_by_what() -> None:
    with pytest.raises(ValueError, match=r"line 2") as caught:
        reach.with_server("a: 1\n  b: token-xyz\n:", "https://x:6443")
    assert "token-xyz" not in str(caught.value)
    with pytest.raises(ValueError, match="no list of clusters"):
        reach.with_server("kind: Config\n", "https://x:6443")


def test_the_load_balancers_name_is_in_the_certificate() -> None:
    assert reach.k3d_tls_san("shop-1") == "--tls-san=k3d-shop-1-serverlb@server:*"
    assert K3dConfig(network="fleet").network == "fleet"


def test_a_k3d_remote_needs_its_managers_docker_network() -> None:
    def other_network(raw: dict[str, object]) -> None:
        clusters = raw["clusters"]
        assert isinstance(clusters, list)
        clusters[1]["k3d"]["network"] = "elsewhere"

    raw_main = yaml.safe_load((EXAMPLE / "Pulumi.k3d-main.yaml").read_text())["config"]

    config = {k.removeprefix("fleet:"): v for k, v in raw_main.items()}
    other_network(config)
    with pytest.raises(ConfigError) as caught:
        load_main(config, "k3d-main", source="k3d-main")
    [problem] = caught.value.problems
    assert str(problem).startswith("fleet:clusters[1].k3d.network: give 'shop-1' and its ")
    assert "(now elsewhere and fleet)" in str(problem)


def test_a_k3d_remote_cannot_be_reached_from_aks() -> None:
    def k3d_remote_of_aks(raw: dict[str, object]) -> None:
        clusters = raw["clusters"]
        assert isinstance(clusters, list)
        clusters[2].update(kind="k3d", managedBy="pacific-aks", k3d={"network": "fleet"})
        del clusters[2]["attached"]

    problems = problems_of("main", k3d_remote_of_aks)
    assert any("'pacific-aks' is not a k3d cluster" in p for p in problems)


def test_an_entra_kubeconfig_signs_in_as_told_and_keeps_the_cluster_and_tenant() -> None:
    from fleet_cli.engine import FAKE_TENANT, fake_entra_kubeconfig

    given = fake_entra_kubeconfig("pacific-aks")
    for login in ("azurecli", "spn", "workloadidentity", "msi"):
        config = yaml.safe_load(reach.entra_kubeconfig(given, login))
        exec_ = config["users"][0]["user"]["exec"]
        assert exec_["command"] == "kubelogin"
        assert exec_["args"] == [
            "get-token",
            "--login",
            login,
            "--server-id",
            reach.AKS_SERVER_ID,
            "--environment",
            "AzurePublicCloud",
            "--tenant-id",
            FAKE_TENANT,
        ]
        assert config["clusters"] == yaml.safe_load(given)["clusters"]
    with pytest.raises(ValueError, match="not a YAML mapping"):
        reach.entra_kubeconfig("- a list", "azurecli")
