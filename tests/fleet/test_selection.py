"""Label selectors as the API server reads them, and lists mixing names and selectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from fleet.config import ClusterSelector
from fleet.selection import describe, matches, select


@dataclass(frozen=True)
class Cluster:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


FLEET = [
    Cluster("eu-1", {"region": "eu", "tier": "edge"}),
    Cluster("eu-2", {"region": "eu"}),
    Cluster("us-1", {"region": "us", "tier": "edge"}),
    Cluster("lab", {}),
]


def selector(raw: dict[str, Any]) -> ClusterSelector:
    return ClusterSelector.model_validate(raw)


def picked(raw: dict[str, Any]) -> list[str]:
    return [c.name for c in FLEET if matches(selector(raw), c.labels)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"matchLabels": {"region": "eu"}}, ["eu-1", "eu-2"]),
        ({"matchLabels": {"region": "eu", "tier": "edge"}}, ["eu-1"]),
        (
            {"matchExpressions": [{"key": "region", "operator": "In", "values": ["us", "eu"]}]},
            ["eu-1", "eu-2", "us-1"],
        ),
        # NotIn holds where the label is absent, as in Kubernetes.
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["edge"]}]},
            ["eu-2", "lab"],
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, ["eu-1", "us-1"]),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, ["eu-2", "lab"]),
        # matchLabels and matchExpressions together: both hold.
        (
            {
                "matchLabels": {"tier": "edge"},
                "matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["us"]}],
            },
            ["eu-1"],
        ),
        # The empty selector selects everything (LabelSelectorAsSelector: labels.Everything()).
        ({}, ["eu-1", "eu-2", "us-1", "lab"]),
    ],
)
def test_each_operator_selects_as_the_api_server_does(
    raw: dict[str, Any], expected: list[str]
) -> None:
    assert picked(raw) == expected


def unknown(name: str) -> str:
    return f"'{name}' is unknown"


def test_a_list_mixes_names_and_selectors_without_repeating_a_cluster() -> None:
    found = select(
        ["us-1", selector({"matchLabels": {"tier": "edge"}}), "lab"], FLEET, "the fleet", unknown
    )
    # Names in the list's order, a selector's matches in the fleet's order, no cluster twice.
    assert found.names == ("us-1", "eu-1", "lab")
    assert found.errors == ()
    assert found.picked == (("us-1", ("us-1",)), ("tier=edge", ("eu-1", "us-1")), ("lab", ("lab",)))


def test_a_selector_that_picks_nothing_is_an_error_naming_it() -> None:
    raw = {
        "matchLabels": {"region": "asia"},
        "matchExpressions": [{"key": "tier", "operator": "Exists"}],
    }
    found = select([selector(raw)], FLEET, "the fleet's clusters", unknown)
    assert found.names == ()
    assert found.errors == ((0, "selector region=asia,tier selects none of the fleet's clusters"),)


def test_a_name_outside_the_scope_is_an_error() -> None:
    found = select(["eu-1", "asia-1"], FLEET, "the fleet", unknown)
    assert found.names == ("eu-1",)
    assert found.errors == ((1, "'asia-1' is unknown"),)


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ({"key": "tier", "operator": "In", "values": []}, "operator In needs at least one value"),
        ({"key": "tier", "operator": "NotIn"}, "operator NotIn needs at least one value"),
        ({"key": "tier", "operator": "Exists", "values": ["x"]}, "operator Exists takes no values"),
        (
            {"key": "tier", "operator": "DoesNotExist", "values": ["x"]},
            "operator DoesNotExist takes no values",
        ),
    ],
)
def test_a_malformed_requirement_is_refused_as_apimachinery_refuses_it(
    requirement: dict[str, Any], message: str
) -> None:
    found = select([selector({"matchExpressions": [requirement]})], FLEET, "the fleet", unknown)
    assert found.names == ()
    assert len(found.errors) == 1
    assert found.errors[0][1].endswith(message)


def test_a_selector_is_described_as_kubectl_takes_it() -> None:
    raw = {
        "matchLabels": {"tier": "edge"},
        "matchExpressions": [
            {"key": "region", "operator": "In", "values": ["eu", "us"]},
            {"key": "gpu", "operator": "DoesNotExist"},
        ],
    }
    assert describe(selector(raw)) == "tier=edge,region in (eu, us),!gpu"
    assert describe(selector({})) == "every cluster"
    assert describe("eu-1") == "eu-1"
