"""The policy pack: each rule on compliant and violating inputs, the policies' wiring to the
engine's view of a resource, the pack's entry point, and the sample fleet as the program
registers and commits it, which must pass every rule."""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UnknownValueError, unknown_checking_proxy

from components import tree_store
from fleet import tree, yamldoc
from fleet.model import FleetSpec
from policy import rules
from policy.pack import POLICIES
from tests.support.deployments import Registered, deploy_sample
from tests.support.sample import PROJECT, load_sample

KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
FLUX_INSTANCE = "kubernetes:fluxcd.controlplane.io/v1:FluxInstance"
DEFAULT_PROVIDER = "urn:pulumi:dev::fleet::pulumi:providers:kubernetes::default_4_34_2"
CLUSTER_PROVIDER = "urn:pulumi:dev::fleet::pulumi:providers:kubernetes::dev-k3d-america-provider"
# Built at run time, so that no scanner takes this file for a leak.
FAKE_TOKEN = "ghp" + "_" + "a1B2" * 9
FAKE_PEM = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def flux_kustomization(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "azure-vote", "namespace": "dev-kaizentm"}
    if labels is not None:
        metadata["labels"] = labels
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": metadata,
        "spec": {"path": "./azure-vote", **spec},
    }


TENANT = {"toolkit.fluxcd.io/tenant": "kaizentm"}
SANDBOXED = {"serviceAccountName": "kaizentm", "targetNamespace": "dev-kaizentm"}


def git_writer(files: dict[str, str]) -> dict[str, Any]:
    """The git writer's inputs: the files of one branch, named in the tree store."""
    return {"tree": tree_store.save(files), "message": "fleet: update"}


def git_writer_of(*documents: Any) -> dict[str, Any]:
    return git_writer({"tenants/base/kaizentm/azure-vote/sync.yaml": yamldoc.dump_all(documents)})


# ---------------------------------------------------------------- 1. tenant sandboxes


def test_a_sandboxed_tenant_kustomization_complies() -> None:
    props = flux_kustomization(TENANT, **SANDBOXED)
    assert rules.tenant_kustomization_problems(KUSTOMIZATION, props) == []


def test_a_tenant_kustomization_without_target_namespace_is_reported() -> None:
    props = flux_kustomization(TENANT, serviceAccountName="kaizentm")
    (problem,) = rules.tenant_kustomization_problems(KUSTOMIZATION, props)
    assert "'azure-vote' of tenant 'kaizentm' has no spec.targetNamespace" in problem


def test_a_tenant_kustomization_without_either_field_is_reported_twice() -> None:
    problems = rules.tenant_kustomization_problems(KUSTOMIZATION, flux_kustomization(TENANT))
    assert [p.split(":")[0] for p in problems] == [
        "Kustomization 'azure-vote' of tenant 'kaizentm' has no spec.serviceAccountName",
        "Kustomization 'azure-vote' of tenant 'kaizentm' has no spec.targetNamespace",
    ]


def test_the_platforms_own_kustomizations_carry_no_tenant_label_and_are_not_judged() -> None:
    props = flux_kustomization()
    assert rules.tenant_kustomization_problems(KUSTOMIZATION, props) == []
    assert rules.tenant_kustomization_problems(FLUX_INSTANCE, flux_kustomization(TENANT)) == []


def test_a_committed_tenant_kustomization_without_its_account_is_reported_with_its_file() -> None:
    props = git_writer_of(flux_kustomization(TENANT, targetNamespace="dev-kaizentm"))
    assert rules.tenant_kustomization_problems(rules.GIT_WRITER, props) == [
        "tenants/base/kaizentm/azure-vote/sync.yaml: Kustomization 'azure-vote' of tenant "
        "'kaizentm' has no spec.serviceAccountName: without it the tenant's objects would be "
        "applied with the platform's rights or outside the tenant's namespace"
    ]


def test_committed_kustomize_files_and_sandboxed_kustomizations_comply() -> None:
    kustomize_file = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "metadata": {"labels": TENANT},
        "resources": ["sync.yaml"],
    }
    props = git_writer_of(kustomize_file, flux_kustomization(TENANT, **SANDBOXED))
    assert rules.tenant_kustomization_problems(rules.GIT_WRITER, props) == []


# ---------------------------------------------------------------- 2. no secrets in git


def test_files_without_secret_material_comply() -> None:
    empty_secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "r-kubeconfig"}}
    props = git_writer(
        {
            "clusters/k3d-america/infra.yaml": yamldoc.dump_all([empty_secret]),
            "README.md": "Tokens start with ghp_ and keys with -----BEGIN; none are here.\n",
        }
    )
    assert rules.secret_material_problems(rules.GIT_WRITER, props) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            yamldoc.dump_all([{"kind": "Secret", "metadata": {"name": "git"}, "data": {"a": "b"}}]),
            "x.yaml: Secret 'git' carries data; Pulumi applies Secrets, git never",
        ),
        (
            yamldoc.dump_all(
                [{"kind": "Secret", "metadata": {"name": "g"}, "stringData": {"a": "b"}}]
            ),
            "x.yaml: Secret 'g' carries data; Pulumi applies Secrets, git never",
        ),
        (
            f"key: |\n  {FAKE_PEM.replace(chr(10), chr(10) + '  ')}",
            "x.yaml: holds a PEM private key",
        ),
        (f"password: {FAKE_TOKEN}\n", "x.yaml: holds what looks like a GitHub token (ghp_...)"),
        (
            "token: github_pat_" + "A" * 22 + "_" + "b" * 59 + "\n",
            "x.yaml: holds what looks like a GitHub token (github_...)",
        ),
        (
            yamldoc.dump_all(
                [{"kind": "Config", "users": [{"name": "me", "user": {"token": "t"}}]}]
            ),
            "x.yaml: kubeconfig user 'me' carries token",
        ),
        (
            yamldoc.dump_all(
                [{"kind": "Config", "users": [{"name": "me", "user": {"client-key-data": "k"}}]}]
            ),
            "x.yaml: kubeconfig user 'me' carries client-key-data",
        ),
        ("a: [unclosed\n", "x.yaml: is not valid YAML, so it cannot be checked for secrets"),
    ],
    ids=[
        "data",
        "stringData",
        "pem",
        "classic-token",
        "fine-grained-token",
        "kube-token",
        "kube-client-key",
        "not-yaml",
    ],
)
def test_secret_material_in_a_committed_file_is_reported(text: str, expected: str) -> None:
    problems = rules.secret_material_problems(rules.GIT_WRITER, git_writer({"x.yaml": text}))
    assert problems == [expected]


def test_reports_never_repeat_the_secret() -> None:
    props = git_writer({"a.yaml": f"token: {FAKE_TOKEN}\n", "b.yaml": FAKE_PEM})
    problems = rules.secret_material_problems(rules.GIT_WRITER, props)
    assert len(problems) == 2
    assert not any(FAKE_TOKEN in p or "AAAA" in p for p in problems)


def test_only_the_git_writer_is_searched_for_secrets() -> None:
    props = git_writer({"x.yaml": FAKE_PEM})
    assert rules.secret_material_problems("kubernetes:core/v1:ConfigMap", props) == []


# ---------------------------------------------------------------- 3. explicit providers


def test_a_kubernetes_resource_on_its_clusters_provider_complies() -> None:
    assert rules.explicit_provider_problems(KUSTOMIZATION, CLUSTER_PROVIDER) == []


def test_a_kubernetes_resource_on_a_default_provider_is_reported() -> None:
    (problem,) = rules.explicit_provider_problems(KUSTOMIZATION, DEFAULT_PROVIDER)
    assert problem.startswith("uses the default Kubernetes provider (default_4_34_2)")
    assert rules.explicit_provider_problems("kubernetes:core/v1:Namespace", "urn::default") != []


def test_an_explicit_provider_whose_name_starts_with_default_text_is_not_a_default_one() -> None:
    assert not rules.is_default_provider(
        "urn:pulumi:dev::fleet::pulumi:providers:kubernetes::defaults"
    )


def test_other_providers_and_providerless_components_are_not_judged() -> None:
    github_default = "urn:pulumi:dev::fleet::pulumi:providers:github::default_6_15_0"
    assert rules.explicit_provider_problems("github:index/branch:Branch", github_default) == []
    assert rules.explicit_provider_problems("pulumi:providers:kubernetes", DEFAULT_PROVIDER) == []
    assert rules.explicit_provider_problems("kubernetes:helm.sh/v4:Chart", None) == []


# ---------------------------------------------------------------- 4. protected clusters

K3D_CREATE = {"create": "k3d cluster create k3d-america --servers 1 --agents 1 --wait"}
AKS = {"resourceName": "pacific-aks", "location": "australiaeast"}


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [(rules.MANAGED_CLUSTER, AKS), (rules.LOCAL_COMMAND, K3D_CREATE)],
    ids=["aks", "k3d"],
)
def test_a_provisioned_cluster_must_be_protected(resource_type: str, props: dict[str, Any]) -> None:
    assert rules.cluster_protection_problems(resource_type, props, True, False) == []
    (problem,) = rules.cluster_protection_problems(resource_type, props, False, False)
    assert "allowUnprotectedClusters" in problem
    assert rules.cluster_protection_problems(resource_type, props, False, True) == []


def test_other_commands_and_resources_need_no_protection() -> None:
    kubeconfig = {"create": "k3d kubeconfig get k3d-america"}
    assert rules.cluster_protection_problems(rules.LOCAL_COMMAND, kubeconfig, False, False) == []
    assert rules.cluster_protection_problems(KUSTOMIZATION, K3D_CREATE, False, False) == []


# ---------------------------------------------------------------- 5. pinned Flux


def flux_instance(version: Any) -> dict[str, Any]:
    return {"spec": {"distribution": {"version": version, "registry": "ghcr.io/fluxcd"}}}


@pytest.mark.parametrize("version", ["2.7.4", "2.8.0-rc.1", "10.0.12"])
def test_an_exact_flux_version_complies(version: str) -> None:
    assert rules.flux_version_problems(FLUX_INSTANCE, flux_instance(version)) == []


@pytest.mark.parametrize("version", ["2.x", "2.7.x", "*", ">=2.7.0", "~2.7", "2.7", "v2.7.4", None])
def test_a_flux_version_that_can_move_is_reported(version: Any) -> None:
    (problem,) = rules.flux_version_problems(FLUX_INSTANCE, flux_instance(version))
    assert problem.startswith(f"spec.distribution.version is {version!r}, not an exact version")


def test_the_flux_operator_chart_is_pinned() -> None:
    chart = "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator"
    pinned = {"chart": chart, "version": "0.34.0"}
    assert rules.flux_version_problems(rules.HELM_RELEASE, pinned) == []
    (problem,) = rules.flux_version_problems(rules.HELM_RELEASE, {"chart": chart})
    assert problem.startswith(f"the version of chart {chart} is None")
    other = {"chart": "nginx", "version": "15.x"}
    assert rules.flux_version_problems(rules.HELM_RELEASE, other) == []


# ---------------------------------------------------------------- the policies


def validation_args(
    resource_type: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
    provider_urn: str | None = None,
    config: dict[str, Any] | None = None,
) -> ResourceValidationArgs:
    """A resource as the engine hands it to a policy."""
    options = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    provider = None
    if provider_urn is not None:
        name = provider_urn.rsplit("::", 1)[-1]
        provider = PolicyProviderResource("pulumi:providers:kubernetes", {}, provider_urn, name)
    urn = f"urn:pulumi:dev::fleet::{resource_type}::r"
    return ResourceValidationArgs(
        resource_type, unknown_checking_proxy(props), urn, "r", options, provider, config
    )


def violations(policy_name: str, args: ResourceValidationArgs) -> list[str]:
    (policy,) = [p for p in POLICIES if p.name == policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    reported: list[str] = []
    policy.validate(args, lambda message, urn: reported.append(message))
    return reported


def test_each_policy_reports_what_its_rule_finds() -> None:
    unsandboxed = validation_args(KUSTOMIZATION, flux_kustomization(TENANT))
    assert len(violations("tenant-kustomizations-sandboxed", unsandboxed)) == 2
    leaky = validation_args(rules.GIT_WRITER, git_writer({"x.yaml": FAKE_PEM}))
    assert violations("no-secrets-in-git", leaky) == ["x.yaml: holds a PEM private key"]
    defaulted = validation_args(KUSTOMIZATION, {}, provider_urn=DEFAULT_PROVIDER)
    assert len(violations("explicit-kubernetes-provider", defaulted)) == 1
    explicit = validation_args(KUSTOMIZATION, {}, provider_urn=CLUSTER_PROVIDER)
    assert violations("explicit-kubernetes-provider", explicit) == []
    floating = validation_args(FLUX_INSTANCE, flux_instance("2.x"))
    assert len(violations("pinned-flux-versions", floating)) == 1


def test_the_protection_policy_reads_the_resources_protect_option_and_the_packs_config() -> None:
    def protection(protect: bool, config: dict[str, Any] | None) -> list[str]:
        args = validation_args(rules.MANAGED_CLUSTER, AKS, protect=protect, config=config)
        return violations("protected-clusters", args)

    assert protection(True, None) == []
    assert len(protection(False, None)) == 1
    assert len(protection(False, {"allowUnprotectedClusters": False})) == 1
    assert protection(False, {"allowUnprotectedClusters": True}) == []


def test_files_unknown_during_preview_are_left_to_the_sdk_not_reported() -> None:
    # The SDK turns UnknownValueError into an advisory "can't run during preview" note.
    args = validation_args(rules.GIT_WRITER, {"tree": UNKNOWN_OBJECT_VALUE})
    with pytest.raises(UnknownValueError):
        violations("no-secrets-in-git", args)


# ---------------------------------------------------------------- the pack


def test_the_entry_point_builds_the_mandatory_fleet_pack_of_five_policies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real PolicyPack starts a gRPC server for the engine and never returns.
    built: list[tuple[str, list[Policy], EnforcementLevel | None]] = []

    def record(name: str, policies: list[Policy], enforcement_level: EnforcementLevel) -> None:
        built.append((name, policies, enforcement_level))

    monkeypatch.setattr(pulumi_policy, "PolicyPack", record)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runpy.run_path(str(PROJECT / "policy"), run_name="__main__")
    ((name, policies, level),) = built
    assert name == "fleet"
    assert level == EnforcementLevel.MANDATORY
    assert [p.name for p in policies] == [
        "tenant-kustomizations-sandboxed",
        "no-secrets-in-git",
        "explicit-kubernetes-provider",
        "protected-clusters",
        "pinned-flux-versions",
    ]
    assert all(isinstance(p, ResourceValidationPolicy) for p in policies)
    assert all(p.enforcement_level is None for p in policies)  # the pack's level applies


def test_the_pack_runs_in_the_projects_virtualenv() -> None:
    project = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())
    pack = yaml.safe_load((PROJECT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    pack_venv = (PROJECT / "policy" / pack["runtime"]["options"]["virtualenv"]).resolve()
    assert pack_venv == (PROJECT / project["runtime"]["options"]["virtualenv"]).resolve()


# ---------------------------------------------------------------- the sample fleet


ALL_RULES: list[Callable[[Registered], list[str]]] = [
    lambda r: rules.tenant_kustomization_problems(r.type, r.inputs),
    lambda r: rules.secret_material_problems(r.type, r.inputs),
    # Under mocks a resource without an explicit provider records none; the engine would
    # give it the default one.
    lambda r: rules.explicit_provider_problems(r.type, r.provider or DEFAULT_PROVIDER),
    lambda r: rules.cluster_protection_problems(
        r.type, r.inputs, bool(r.options.get("protect")), False
    ),
    lambda r: rules.flux_version_problems(r.type, r.inputs),
]


def problems_of(resources: list[Registered]) -> list[tuple[str, str]]:
    """(resource name, problem) for every problem any rule finds."""
    return [(r.name, p) for r in resources for rule in ALL_RULES for p in rule(r)]


@pytest.mark.parametrize("stack", ["main", "dev", "qa"])
def test_every_resource_of_a_sample_stack_passes_the_pack(stack: str) -> None:
    assert problems_of(deploy_sample(stack).resources) == []


def test_the_pack_sees_the_samples_clusters_flux_and_committed_files() -> None:
    resources = deploy_sample("main").resources
    clusters = [r.name for r in resources if rules.is_provisioned_cluster(r.type, r.inputs)]
    assert sorted(clusters) == ["k3d-america-cluster", "pacific-aks-cluster"]
    pinned = [r for r in resources if r.type in (FLUX_INSTANCE, rules.HELM_RELEASE)]
    assert len(pinned) == 4  # a FluxInstance and the operator chart per management cluster
    (writer,) = [r for r in resources if r.type == rules.GIT_WRITER]
    assert len(rules.committed_files(writer.type, writer.inputs)) > 10


def test_unprotected_sample_clusters_are_reported() -> None:
    def unprotect(config: dict[str, Any]) -> None:
        for cluster in config["clusters"]:
            cluster["protect"] = False

    problems = problems_of(deploy_sample("main", unprotect).resources)
    assert sorted(name for name, _ in problems) == ["k3d-america-cluster", "pacific-aks-cluster"]
    assert all(
        problem.startswith("a provisioned cluster must be protected") for _, problem in problems
    )


@pytest.mark.parametrize("stack", ["main", "dev", "qa"])
def test_every_committed_file_of_a_sample_branch_passes_the_pack(stack: str) -> None:
    model = load_sample(stack)
    files = (
        tree.main_branch(model) if isinstance(model, FleetSpec) else tree.environment_branch(model)
    )
    props = git_writer(files)
    assert rules.tenant_kustomization_problems(rules.GIT_WRITER, props) == []
    assert rules.secret_material_problems(rules.GIT_WRITER, props) == []


def test_the_dev_branch_commits_tenant_kustomizations_for_the_pack_to_check() -> None:
    model = load_sample("dev")
    assert not isinstance(model, FleetSpec)
    files = tree.environment_branch(model)
    props = git_writer(files)
    tenant_kustomizations = [
        obj
        for file in rules.committed_files(rules.GIT_WRITER, props)
        for obj in file.objects
        if obj.get("kind") == "Kustomization" and "labels" in obj.get("metadata", {})
    ]
    assert len(tenant_kustomizations) >= 2  # kaizentm's azure-vote (and its channel), yakuza's
    path, text = next((p, t) for p, t in files.items() if p.endswith("/sync.yaml"))
    broken = git_writer({**files, path: text.replace("serviceAccountName", "serviceAccount")})
    assert len(rules.tenant_kustomization_problems(rules.GIT_WRITER, broken)) == 1


def test_a_tree_that_is_not_in_the_store_is_a_violation_of_both_file_rules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Files the policies cannot read are files they cannot clear: fail closed."""
    props = git_writer_of({"kind": "ConfigMap", "metadata": {"name": "x"}})
    monkeypatch.setenv(tree_store.STORE_ENV, str(tmp_path / "empty"))
    for rule in (rules.secret_material_problems, rules.tenant_kustomization_problems):
        (problem,) = rule(rules.GIT_WRITER, props)
        assert problem.startswith("the branch's files: the rendered tree ")
        assert "is not in" in problem
