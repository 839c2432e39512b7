"""The fleet's policies: thin wrappers that hand the engine's view of a resource to the plain
rules of `policy.rules` and report what they find. Every policy is mandatory (the pack's level).
"""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policy import rules

ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY


def _report(problems: Iterable[str], report_violation: ReportViolation) -> None:
    for problem in problems:
        report_violation(problem, None)


def _tenant_kustomizations(args: ResourceValidationArgs, report: ReportViolation) -> None:
    _report(rules.tenant_kustomization_problems(args.resource_type, args.props), report)


def _no_secrets_in_git(args: ResourceValidationArgs, report: ReportViolation) -> None:
    _report(rules.secret_material_problems(args.resource_type, args.props), report)


def _explicit_provider(args: ResourceValidationArgs, report: ReportViolation) -> None:
    urn = args.provider.urn if args.provider is not None else None
    _report(rules.explicit_provider_problems(args.resource_type, urn), report)


def _protected_clusters(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allow = args.get_config().get(rules.ALLOW_UNPROTECTED_CLUSTERS) is True
    problems = rules.cluster_protection_problems(
        args.resource_type, args.props, args.opts.protect, allow
    )
    _report(problems, report)


def _pinned_flux(args: ResourceValidationArgs, report: ReportViolation) -> None:
    _report(rules.flux_version_problems(args.resource_type, args.props), report)


POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="tenant-kustomizations-sandboxed",
        description=(
            "Tenant Kustomizations (labelled toolkit.fluxcd.io/tenant), applied by Pulumi or "
            "committed to git, carry serviceAccountName and targetNamespace."
        ),
        validate=_tenant_kustomizations,
    ),
    ResourceValidationPolicy(
        name="no-secrets-in-git",
        description=(
            "Files the git writer commits hold no Secret data, private key, kubeconfig "
            "credentials or GitHub token."
        ),
        validate=_no_secrets_in_git,
    ),
    ResourceValidationPolicy(
        name="explicit-kubernetes-provider",
        description="Every Kubernetes resource names its cluster's provider, never a default one.",
        validate=_explicit_provider,
    ),
    ResourceValidationPolicy(
        name="protected-clusters",
        description="Provisioned clusters (AKS, k3d) are protected from deletion.",
        validate=_protected_clusters,
        config_schema=PolicyConfigSchema(
            properties={
                rules.ALLOW_UNPROTECTED_CLUSTERS: {
                    "type": "boolean",
                    "default": False,
                    "description": "Let provisioned clusters be unprotected (throwaway fleets).",
                }
            }
        ),
    ),
    ResourceValidationPolicy(
        name="pinned-flux-versions",
        description=(
            "The FluxInstance's distribution and the Flux Operator chart have exact versions."
        ),
        validate=_pinned_flux,
    ),
]
