"""Which API resource an object is: the table, the guessed plural of unknown kinds, the scope."""

from __future__ import annotations

import pytest

from fleet_cli.simulation.kinds import Kind, is_cluster_scoped, kind_of, kind_of_object, plural


def test_known_kinds_carry_group_version_resource_and_scope() -> None:
    assert kind_of("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") == Kind(
        "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False
    )
    assert kind_of("v1", "Secret") == Kind("", "v1", "Secret", "secrets", True)
    assert kind_of("v1", "Namespace").namespaced is False
    assert kind_of("v1", "Endpoints").resource == "endpoints"
    assert kind_of("networking.k8s.io/v1", "IngressClass").namespaced is False
    assert kind_of("networking.k8s.io/v1", "NetworkPolicy").resource == "networkpolicies"
    assert kind_of("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") == Kind(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
    )


def test_flux_kinds_are_namespaced_under_their_own_groups() -> None:
    kustomization = kind_of("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert (kustomization.group, kustomization.resource) == (
        "kustomize.toolkit.fluxcd.io",
        "kustomizations",
    )
    assert kustomization.namespaced
    assert kind_of("image.toolkit.fluxcd.io/v1beta2", "ImagePolicy").resource == "imagepolicies"
    inputs = kind_of("fluxcd.controlplane.io/v1", "ResourceSetInputProvider")
    assert inputs.resource == "resourcesetinputproviders" and inputs.namespaced


def test_the_version_does_not_change_the_resource() -> None:
    old, new = (
        kind_of("helm.toolkit.fluxcd.io/v2beta2", "HelmRelease"),
        kind_of("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
    )
    assert (old.resource, old.version) == ("helmreleases", "v2beta2")
    assert (new.resource, new.version) == ("helmreleases", "v2")
    assert kind_of("autoscaling/v1", "HorizontalPodAutoscaler").api_version == "autoscaling/v1"


def test_the_same_kind_in_another_group_is_another_kind() -> None:
    # A CRD named like a built-in kind is not the built-in: an unknown kind is namespaced.
    crd = kind_of("example.com/v1", "Namespace")
    assert (crd.group, crd.resource, crd.namespaced) == ("example.com", "namespaces", True)


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        ("Widget", "widgets"),
        ("Policy", "policies"),
        ("Status", "statuses"),
        ("Box", "boxes"),
        ("Patch", "patches"),
        ("Mesh", "meshes"),
        ("MyEndpoints", "myendpoints"),
    ],
)
def test_unknown_kinds_get_the_conventional_plural(kind: str, resource: str) -> None:
    assert plural(kind) == resource
    guessed = kind_of("example.com/v1alpha1", kind)
    assert (guessed.resource, guessed.namespaced) == (resource, True)


def test_kind_of_object_and_scope() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {}}
    assert kind_of_object(namespace).resource == "namespaces"
    assert is_cluster_scoped(namespace)
    assert not is_cluster_scoped(role)
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
    assert is_cluster_scoped(crd)


def test_an_object_without_a_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="without a kind"):
        kind_of_object({"apiVersion": "v1", "metadata": {"name": "x"}})
