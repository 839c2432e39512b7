"""Pod Security admission: the controls of each level, as the standard lists them."""

from __future__ import annotations

from typing import Any

import pytest

from fleet import objects
from fleet_cli.simulation.admission import level_of, violations

HARDENED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}


def pod(container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"containers": [{"name": "main", "image": "x", **(container or {})}], **spec},
    }


def test_the_level_is_the_namespaces_enforce_label() -> None:
    assert level_of(objects.namespace("n", objects.pod_security_labels("baseline"))) == "baseline"
    assert level_of(objects.namespace("n")) == "privileged"
    assert level_of(None) == "privileged"
    # An unknown level is evaluated as the strictest.
    assert level_of(objects.namespace("n", {"pod-security.kubernetes.io/enforce": "x"})) == (
        "restricted"
    )


@pytest.mark.parametrize(
    ("spec", "container", "expected"),
    [
        ({"hostNetwork": True}, {}, "hostNetwork=true"),
        ({"hostPID": True}, {}, "hostPID=true"),
        ({"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}, {}, "hostPath"),
        ({}, {"securityContext": {"privileged": True}}, "is privileged"),
        ({}, {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}, "SYS_ADMIN"),
        ({}, {"ports": [{"containerPort": 80, "hostPort": 80}]}, "hostPort 80"),
        ({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}, {}, "Unconfined"),
    ],
)
def test_baseline_refuses_what_breaks_out_of_the_container(
    spec: dict[str, Any], container: dict[str, Any], expected: str
) -> None:
    found = violations(pod(container, **spec), "baseline")
    assert any(expected in v for v in found), found
    assert violations(pod(container, **spec), "privileged") == []


def test_baseline_admits_a_plain_pod_that_restricted_refuses() -> None:
    plain = pod(volumes=[{"name": "s", "secret": {"secretName": "x"}}])
    assert violations(plain, "baseline") == []
    refused = violations(plain, "restricted")
    assert any("allowPrivilegeEscalation" in v for v in refused)
    assert any("runAsNonRoot" in v for v in refused)
    assert any("seccomp" in v for v in refused)
    assert any("drop ALL" in v for v in refused)


def test_restricted_admits_a_hardened_pod_and_reads_the_pods_context() -> None:
    assert violations(pod({"securityContext": HARDENED}), "restricted") == []
    context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    at_pod_level = pod(
        {"securityContext": context},
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    )
    assert violations(at_pod_level, "restricted") == []
    as_root = pod({"securityContext": {**HARDENED, "runAsUser": 0}})
    assert violations(as_root, "restricted") == ["containers[main] runs as user 0"]
    nfs = pod({"securityContext": HARDENED}, volumes=[{"name": "v", "nfs": {"server": "s"}}])
    assert violations(nfs, "restricted") == ["volume v is of a type restricted forbids"]


def test_only_pods_are_refused() -> None:
    deployment = {**pod(securityContext={"privileged": True}), "kind": "Deployment"}
    assert violations(deployment, "restricted") == []
