"""`fleet validate`'s checks find each kind of problem injected into a rendered stack."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from fleet.model import FleetSpec
from fleet_cli.checks import verify
from fleet_cli.engine import render_stack
from fleet_cli.render import StackRender
from tests.support.sample import PROJECT, load_sample


@functools.cache
def _program_render(stack: str) -> StackRender:
    return render_stack(PROJECT / f"Pulumi.{stack}.yaml", load_sample(stack))


def rendered(stack: str) -> StackRender:
    """The sample stack as `pulumi up` would apply and commit it (a copy to edit)."""
    return copy.deepcopy(_program_render(stack))


def edit(stack: str, path: str, change: Callable[[list[Any]], None]) -> StackRender:
    """The rendered stack with one file's documents changed."""
    result = rendered(stack)
    branch = next(iter(result.branches))
    documents = list(yaml.safe_load_all(result.branches[branch][path]))
    change(documents)
    result.branches[branch][path] = yaml.safe_dump_all(documents)
    return result


def messages(result: StackRender) -> list[str]:
    fleet = load_sample("main")
    assert isinstance(fleet, FleetSpec)
    return [str(finding) for finding in verify(result, fleet.repository.url)]


@pytest.mark.parametrize("stack", ["main", "dev", "qa"])
def test_the_sample_stacks_verify_clean(stack: str) -> None:
    assert messages(rendered(stack)) == []


SYNC = "tenants/base/kaizentm/azure-vote/sync.yaml"

INJECTED: list[tuple[str, str, str, Callable[[list[Any]], None], str]] = [
    (
        "folder-does-not-build",
        "dev",
        "tenants/k3d-america/yakuza/kustomization.yaml",
        lambda docs: docs[0]["resources"].append("missing.yaml"),
        "dev:tenants/k3d-america/yakuza: does not build",
    ),
    (
        "source-does-not-exist",
        "dev",
        SYNC,
        lambda docs: docs[0]["spec"]["sourceRef"].update(name="kaizentm-manifestz"),
        "k3d-america: Kustomization dev-kaizentm/azure-vote (applied by "
        "k3d-america:dev-flux-system/tenants): sourceRef GitRepository "
        "dev-kaizentm/kaizentm-manifestz does not exist on k3d-america",
    ),
    (
        "source-in-another-namespace",
        "main",
        "infra/base/nginx/release.yaml",
        lambda docs: docs[0]["spec"]["chart"]["spec"]["sourceRef"].update(namespace="flux-system"),
        "nginx/nginx (applied by k3d-america:flux-system/infrastructure): sourceRef reaches "
        "into namespace flux-system, which Flux refuses under multi-tenant lockdown",
    ),
    (
        "kubeconfig-secret-not-created",
        "dev",
        "tenants/k3d-america/clusters/k3s-america-south/yakuza/katana-vote/sync-patch.yaml",
        lambda docs: docs[0]["spec"]["kubeConfig"]["secretRef"].update(name="other-kubeconfig"),
        "kubeConfig Secret dev-yakuza/other-kubeconfig is not created by this stack on k3d-america",
    ),
    (
        "tenant-without-service-account",
        "dev",
        SYNC,
        lambda docs: docs[0]["spec"].pop("serviceAccountName"),
        "a tenant Kustomization needs serviceAccountName",
    ),
    (
        "tenant-without-target-namespace",
        "dev",
        SYNC,
        lambda docs: docs[0]["spec"].pop("targetNamespace"),
        "a tenant Kustomization needs targetNamespace",
    ),
    (
        "tenant-leaves-its-namespace",
        "dev",
        SYNC,
        lambda docs: docs[0]["spec"].update(targetNamespace="kube-system"),
        "targetNamespace kube-system leaves the tenant's namespace dev-kaizentm",
    ),
    (
        "object-applied-twice",
        "dev",
        "tenants/k3d-america/clusters/k3s-america-south/yakuza/kustomization.yaml",
        lambda docs: docs[0]["resources"].append("../../../../base/yakuza"),
        "k3d-america: ServiceAccount dev-yakuza/yakuza: applied 2 times: "
        "k3d-america:dev-flux-system/k3s-america-south-tenants, "
        "k3d-america:dev-flux-system/tenants",
    ),
    (
        "beta-api",
        "dev",
        "tenants/base/yakuza/git-manifests.yaml",
        lambda docs: docs[0].update(apiVersion="source.toolkit.fluxcd.io/v1beta2"),
        "apiVersion source.toolkit.fluxcd.io/v1beta2 is not source.toolkit.fluxcd.io/v1",
    ),
    (
        "bad-interval",
        "main",
        "infra/base/sources/nginx/helm-repository.yaml",
        lambda docs: docs[0]["spec"].update(interval="ten minutes"),
        "spec.interval 'ten minutes' is not a duration like 5m",
    ),
    (
        "missing-required-field",
        "dev",
        "tenants/base/yakuza/git-manifests.yaml",
        lambda docs: docs[0]["spec"].pop("ref"),
        "spec.ref.branch must be a str, not None",
    ),
    (
        "path-not-relative",
        "dev",
        "tenants/k3d-america/kaizentm/azure-vote/sync-patch.yaml",
        lambda docs: docs[0]["spec"].update(path="azure-vote"),
        "spec.path 'azure-vote' must start with ./",
    ),
]


@pytest.mark.parametrize(
    ("stack", "path", "change", "expected"),
    [case[1:] for case in INJECTED],
    ids=[case[0] for case in INJECTED],
)
def test_an_injected_problem_is_found(
    stack: str, path: str, change: Callable[[list[Any]], None], expected: str
) -> None:
    found = messages(edit(stack, path, change))
    assert any(expected in line for line in found), found


def test_a_wiring_path_missing_from_the_branch_is_found() -> None:
    result = rendered("main")
    for applied in result.clusters.values():
        for obj in applied:
            if obj["metadata"]["name"] == "infrastructure":
                obj["spec"]["path"] = "./infra/atlantic"
    found = messages(result)
    assert (
        "k3d-america:flux-system/infrastructure: path ./infra/atlantic has no kustomization "
        "on branch main"
    ) in found
