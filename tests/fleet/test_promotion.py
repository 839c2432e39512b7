"""Promotion as a config edit: what runs moves from FROM to TO, where and under which rules it
runs stays TO's; the sample's dev to qa for one tenant gives exactly the expected config."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from fleet.model import EnvironmentSpec, load_environment, load_main
from fleet.promotion import INFRA, TENANTS, PromotionError, Selection, promote
from tests.support.sample import PROJECT, sample_raw


def settings(stack: str) -> dict[str, Any]:
    """The `config:` mapping of a sample settings file, keys as written (`fleet:tenants`)."""
    loaded = yaml.safe_load((PROJECT / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, Any] = loaded["config"]
    return config


KAIZENTM = "a" * 40
RELEASE = "b" * 40
RUNS = {("kaizentm", None): KAIZENTM, ("kaizentm", "1-0-x"): RELEASE, ("yakuza", None): "c" * 40}
"""The commits of their repository dev's clusters run, as `fleet promote` reads them."""


def test_the_sample_tenant_from_dev_to_qa_is_exactly_this_edit() -> None:
    dev, qa = settings("dev"), settings("qa")
    before = copy.deepcopy(qa)
    [done] = promote(dev, qa, Selection(tenants=("kaizentm",)), RUNS)
    assert (done.part, done.action, done.config_path) == (
        "tenant kaizentm",
        "updated",
        "fleet:tenants[0]",
    )
    # The branches dev follows, pinned to what dev runs: pushes to them do not reach qa.
    assert qa[TENANTS] == [
        {
            "name": "kaizentm",
            "repository": {
                "url": "https://github.com/kaizentm/gitops-manifests",
                "branch": "dev",
                "commit": KAIZENTM,
            },
            "apps": [
                {"name": "azure-vote", "paths": {"pacific-aks": "./azure-vote-manifests/manifest"}}
            ],
            "releases": [{"name": "1-0-x", "branch": "release/1-0-x/dev", "commit": RELEASE}],
        }
    ]
    # Nothing else of qa moved: its clusters, rings, approvals.
    assert {k: v for k, v in qa.items() if k != TENANTS} == {
        k: v for k, v in before.items() if k != TENANTS
    }
    again = promote(dev, qa, Selection(tenants=("kaizentm",)), RUNS)
    assert [p.action for p in again] == ["unchanged"]


def test_a_branch_is_never_taken_unpinned() -> None:
    dev, qa = settings("dev"), settings("qa")
    before = copy.deepcopy(qa)
    with pytest.raises(PromotionError, match="give --clusters or --status"):
        promote(dev, qa, Selection(tenants=("kaizentm",)))
    assert qa == before
    # A channel that already follows the same branch in both keeps following it.
    same = copy.deepcopy(dev)
    same[TENANTS][0]["repository"]["branch"] = "qa"
    del same[TENANTS][0]["releases"]
    [done] = promote(same, qa, Selection(tenants=("kaizentm",)))
    assert done.action == "unchanged"


def test_the_edited_qa_is_a_valid_stack() -> None:
    dev, qa = settings("dev"), settings("qa")
    promote(dev, qa, Selection(tenants=("kaizentm", "yakuza")), RUNS)
    raw = {k.removeprefix("fleet:"): v for k, v in qa.items()}
    fleet = load_main(sample_raw("main"), "main", source="main")
    env = load_environment(raw, "qa", fleet, source="qa")
    assert isinstance(env, EnvironmentSpec)
    assert [(t.name, t.source.branch, t.source.commit) for t in env.tenants] == [
        ("kaizentm", "dev", KAIZENTM),
        ("yakuza", "multi-dev", "c" * 40),
    ]
    [release] = env.tenants[0].releases
    assert (release.source.branch, release.source.commit) == ("release/1-0-x/dev", RELEASE)


def test_where_and_under_which_rules_a_tenant_runs_stay_the_targets() -> None:
    source = {
        TENANTS: [
            {
                "name": "t",
                "repository": {"url": "https://x/t", "branch": "v2", "credentialsSecret": "devKey"},
                "clusters": ["a"],
                "podSecurity": "baseline",
                "vars": {"TAG": "2.0"},
                "apps": [{"name": "web", "clusters": ["a"], "vars": {"TAG": "2.1"}}],
            }
        ]
    }
    target: dict[str, Any] = {
        TENANTS: [
            {
                "name": "t",
                "repository": {"url": "https://x/t", "branch": "v1", "credentialsSecret": "qaKey"},
                "clusters": ["b"],
                "podSecurity": "restricted",
                "vars": {"TAG": "1.0", "ONLY_QA": "x"},
                "apps": [
                    {"name": "web", "clusters": ["b"], "vars": {"TAG": "1.1"}},
                    {"name": "old"},
                ],
                "releases": [{"name": "r", "branch": "r1"}],
            }
        ]
    }
    promote(source, target, Selection(tenants=("t",)), {("t", None): "d" * 40})
    assert target[TENANTS] == [
        {
            "name": "t",
            "repository": {
                "url": "https://x/t",
                "branch": "v2",
                "credentialsSecret": "qaKey",
                "commit": "d" * 40,
            },
            "clusters": ["b"],
            "podSecurity": "restricted",
            "vars": {"TAG": "2.0"},
            "apps": [{"name": "web", "vars": {"TAG": "2.1"}, "clusters": ["b"]}],
        }
    ]


def test_one_app_moves_alone_and_keeps_its_placement() -> None:
    source = {
        TENANTS: [{"name": "t", "apps": [{"name": "web", "path": "./v2", "clusters": ["a"]}]}]
    }
    target: dict[str, Any] = {
        TENANTS: [{"name": "t", "apps": [{"name": "web", "path": "./v1", "clusters": ["b"]}]}]
    }
    [done] = promote(source, target, Selection(apps=(("t", "web"),)))
    assert (done.action, done.config_path) == ("updated", "fleet:tenants[0].apps[0]")
    assert target[TENANTS][0]["apps"] == [{"name": "web", "path": "./v2", "clusters": ["b"]}]
    fresh: dict[str, Any] = {TENANTS: [{"name": "t"}]}
    [added] = promote(source, fresh, Selection(apps=(("t", "web"),)))
    assert added.action == "added"
    assert fresh[TENANTS][0]["apps"] == [{"name": "web", "path": "./v2"}]


def test_a_component_brings_its_chart_and_keeps_the_targets_overrides() -> None:
    chart = {"repository": "https://charts.example", "chart": "redis", "version": "19.0.1"}
    source = {INFRA: [{"name": "redis", "helm": chart, "clusters": ["a"]}]}
    target: dict[str, Any] = {
        INFRA: [
            {
                "name": "redis",
                "helm": {**chart, "version": "18.0.0"},
                "overrides": {"b": {"values": {"replicas": 3}}},
            }
        ]
    }
    [done] = promote(source, target, Selection(infra=("redis",)))
    assert done.action == "updated"
    assert target[INFRA] == [
        {"name": "redis", "helm": chart, "overrides": {"b": {"values": {"replicas": 3}}}}
    ]
    empty: dict[str, Any] = {}
    promote(source, empty, Selection(infra=("redis",)))
    assert empty[INFRA] == [{"name": "redis", "helm": chart}]


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (Selection(), "choose what to promote"),
        (Selection(tenants=("nobody",)), "tenant 'nobody' is not in fleet:tenants"),
        (Selection(apps=(("kaizentm", "nothing"),)), "app 'kaizentm/nothing' is not in"),
        (Selection(apps=(("yakuza", "katana-vote"),)), "promote the tenant (--tenant yakuza)"),
        (Selection(tenants=("yakuza",)), "tenant yakuza follows branch multi-dev"),
        (Selection(infra=("nothing",)), "infra component 'nothing' is not in"),
    ],
)
def test_what_cannot_be_promoted_is_named(selection: Selection, message: str) -> None:
    qa = settings("qa")
    with pytest.raises(PromotionError) as caught:
        promote(settings("dev"), qa, selection)
    assert message in str(caught.value)
