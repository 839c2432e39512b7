"""The state estimate: each kind of resource kept as often as its provider keeps it, secrets
as ciphertext, and every copy of a credential counted."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import run as bench
from benchmarks.fleets import Shape
from benchmarks.measure import Evaluation, evaluate
from benchmarks.state import (
    KUBECONFIG_BYTES,
    ciphertext_bytes,
    state_size,
)
from components.gitops_branch import GITOPS_BRANCH_TYPE
from fleet_cli.engine import Registered, fake_kubeconfig

KUBECONFIG = fake_kubeconfig("edge-1")
TINY = Shape(management=1, remotes_per_management=1, environments=1, tenants=2, apps_per_tenant=1)


@pytest.fixture(scope="module")
def env_state() -> Evaluation:
    return evaluate(TINY, "env-0", runs=1)


def _registered(type_: str, name: str, inputs: dict[str, Any], secrets: set[str]) -> Registered:
    return Registered(
        type=type_,
        name=name,
        urn=f"urn:pulumi:s::p::{type_}::{name}",
        parent="",
        provider="",
        dependencies=frozenset(),
        inputs=inputs,
        secret_inputs=frozenset(secrets),
    )


SECRET = _registered(
    "kubernetes:core/v1:Secret",
    "edge-1-kubeconfig",
    {
        "metadata": {"name": "edge-1-kubeconfig"},
        "type": "Opaque",
        "stringData": {"value": KUBECONFIG},
    },
    {"stringData"},
)
PROVIDER = _registered(
    "pulumi:providers:kubernetes", "edge-1", {"kubeconfig": KUBECONFIG}, {"kubeconfig"}
)
REFERENCE = _registered("pulumi:pulumi:StackReference", "main", {"name": "org/fleet/main"}, set())


def test_each_resource_keeps_a_credential_as_often_as_its_provider_does() -> None:
    assert state_size([SECRET], {}).copies["most"] == 3  # inputs, live data, __inputs
    assert state_size([PROVIDER], {}).copies["most"] == 2  # inputs, outputs
    exported = {"clusters": {"edge-1": {"kubeconfig": KUBECONFIG}}}
    assert state_size([REFERENCE], exported).copies["most"] == 1
    together = state_size([SECRET, PROVIDER, REFERENCE], exported)
    assert together.credentials == 1 and together.copies["most"] == 6


def test_a_kubeconfig_weighs_what_a_real_one_does_and_a_secret_its_ciphertext() -> None:
    assert len(KUBECONFIG) < KUBECONFIG_BYTES / 5
    size = state_size([PROVIDER], {})
    assert size.bytes > 2 * ciphertext_bytes(KUBECONFIG_BYTES)
    assert ciphertext_bytes(3) < ciphertext_bytes(300) < ciphertext_bytes(3000)
    plain = _registered("pulumi:providers:kubernetes", "x", {"kubeconfig": "short"}, set())
    assert state_size([plain], {}).credentials == 0


def test_the_branch_keeps_its_trees_digest_not_its_files(env_state: Evaluation) -> None:
    state = env_state.state
    assert state is not None
    files = env_state.census.branches["env-0"]
    assert files.bytes > 10_000
    assert state.by_type[GITOPS_BRANCH_TYPE] < 3_000


def test_the_tiny_fleets_remote_kubeconfig_is_counted_where_the_stack_keeps_it(
    env_state: Evaluation,
) -> None:
    state = env_state.state
    assert state is not None
    # The StackReference (1) and the remote's kubeconfig Secret (3); no provider for it.
    assert state.copies["most"] == 4
    assert state.bytes == sum(state.by_type.values())
    data = bench.stack_json(bench.StackMeasurements("env-0", evaluation=env_state))
    assert data["state"]["bytes"] == state.bytes
    text = bench.state_table([{"fleet": "tiny", "stacks": [data]}])
    header, _, row = text.splitlines()
    assert "state MB" in header and row.split()[:2] == ["tiny", "env-0"]
