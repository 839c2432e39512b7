"""Notifications: Flux Providers and Alerts from config, the environment's on the platform's
Flux objects, each tenant's on its own objects only; the webhook addresses from secret config,
never in git."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fleet import names
from fleet.model import ENCRYPTED
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import simulation
from tests.support.sample import copy_settings, problems_of, tenants

PLATFORM = names.environment_namespace("dev")


def notified(config: dict[str, Any]) -> None:
    config["fleet:notifications"] = [
        {"name": "ops", "type": "msteams", "addressSecret": "opsWebhook", "severity": "info"}
    ]
    config["fleet:opsWebhook"] = {"secure": "v1:x"}
    for tenant in config["fleet:tenants"]:
        key = f"{tenant['name']}Slack"
        tenant["notifications"] = [
            {"name": "team", "type": "slack", "addressSecret": key, "channel": "#deploys"}
        ]
        config[f"fleet:{key}"] = {"secure": "v1:x"}


def test_alerts_land_and_each_tenant_hears_of_its_own_objects_only(tmp_path: Path) -> None:
    project = copy_settings(tmp_path)
    settings = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(settings.read_text())
    notified(document["config"])
    settings.write_text(yaml.safe_dump(document, sort_keys=False))
    with simulation(project) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        assert [str(f) for f in report(sim).findings] == []
        management = sim.clusters["k3d-america"]
        # The environment's: on the platform's objects of its namespace.
        ops = management.get(("Alert", PLATFORM, "ops-notification"))
        assert ops is not None
        assert ops.obj["spec"]["eventSeverity"] == "info"
        assert all("matchLabels" not in s for s in ops.obj["spec"]["eventSources"])
        for tenant, other in (("kaizentm", "yakuza"), ("yakuza", "kaizentm")):
            own = names.tenant_namespace("dev", tenant)
            alert = management.get(("Alert", own, "team-notification"))
            assert alert is not None
            # Its own namespace only: no source names another (the lockdown refuses it).
            assert all("namespace" not in s for s in alert.obj["spec"]["eventSources"])
            # On the remote's behalf, in the platform's namespace: its own apps by label.
            remote = management.get(("Alert", PLATFORM, f"{tenant}-team-notification"))
            assert remote is not None
            labels = {
                s["matchLabels"][names.TENANT_LABEL] for s in remote.obj["spec"]["eventSources"]
            }
            assert labels == {tenant} and other not in labels
            secret = management.get(("Secret", own, "team-notification"))
            assert secret is not None
            assert secret.obj["stringData"] == {"address": f"simulated-{tenant}Slack"}
        # No address in any committed file.
        for run in sim.runs.values():
            for resource in run.resources:
                if resource.type.endswith("GitOpsBranch"):
                    assert "simulated-" not in str(resource.inputs)


def test_notifications_need_the_notification_controller() -> None:
    def edit(raw: dict[str, Any]) -> None:
        tenants(raw)[0]["notifications"] = [
            {"name": "team", "type": "slack", "addressSecret": "slack"}
        ]
        raw["slack"] = ENCRYPTED

    def without_controller(raw: dict[str, Any]) -> None:
        raw["flux"] = {"components": ["source-controller", "kustomize-controller"]}

    assert problems_of("dev", edit, without_controller) == [
        "fleet:notifications: notifications need Flux's notification-controller: add it to "
        "fleet:flux.components of the main stack 'main'"
    ]


def test_each_cluster_sets_commit_statuses_on_the_environments_branch(tmp_path: Path) -> None:
    project = copy_settings(tmp_path)
    settings = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(settings.read_text())
    document["config"]["fleet:environment"]["commitStatusSecret"] = "statusToken"
    document["config"]["fleet:statusToken"] = {"secure": "v1:x"}
    settings.write_text(yaml.safe_dump(document, sort_keys=False))
    with simulation(project) as sim:
        for stack in ("main", "dev"):
            sim.step(f"pulumi up -s {stack}", stack)
        assert [str(f) for f in report(sim).findings] == []
        for cluster in ("k3d-america", "pacific-aks"):
            state = sim.clusters[cluster]
            provider = state.get(("Provider", PLATFORM, names.COMMIT_STATUS))
            alert = state.get(("Alert", PLATFORM, names.COMMIT_STATUS))
            token = state.get(("Secret", PLATFORM, names.COMMIT_STATUS))
            assert provider is not None and alert is not None and token is not None
            assert provider.obj["spec"]["type"] == "github"
            assert provider.obj["spec"]["address"] == (
                "https://github.com/kaizentm/multicluster-gitops"
            )
            assert alert.obj["spec"]["eventMetadata"] == {"cluster": cluster}
            assert alert.obj["spec"]["eventSources"] == [{"kind": "Kustomization", "name": "*"}]
            assert token.obj["stringData"] == {"token": "simulated-statusToken"}


def test_the_commit_status_token_is_the_platforms_and_needs_github() -> None:
    def with_status(raw: dict[str, Any]) -> None:
        raw["environment"]["commitStatusSecret"] = "statusToken"
        raw["statusToken"] = ENCRYPTED
        tenants(raw)[0]["imagePullSecret"] = "statusToken"

    assert problems_of("dev", with_status) == [
        "fleet:tenants[0].imagePullSecret: 'statusToken' holds the token that sets the fleet "
        "repository's commit statuses: a tenant can read what its keys hold; give it a key of "
        "its own"
    ]

    def elsewhere(raw: dict[str, Any]) -> None:
        raw["repository"]["url"] = "https://gitlab.example.com/fleet/gitops"

    def status_only(raw: dict[str, Any]) -> None:
        raw["environment"]["commitStatusSecret"] = "statusToken"
        raw["statusToken"] = ENCRYPTED

    assert problems_of("dev", status_only, elsewhere) == [
        "fleet:environment.commitStatusSecret: commit statuses are set through GitHub, and the "
        "fleet repository https://gitlab.example.com/fleet/gitops is not on github.com"
    ]
