"""The simulation's report: per cluster what lands, what is refused and why, what would be
applied twice, and every Secret holding cluster credentials within a tenant's reach."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fleet import objects
from fleet.objects import K8sObject, ObjectId
from fleet_cli.simulation import admission
from fleet_cli.simulation.cluster import CLUSTER, ClusterState
from fleet_cli.simulation.fields import field_problems
from fleet_cli.simulation.findings import CATEGORIES, TITLES, Finding, describe
from fleet_cli.simulation.flux import kubeconfig_server
from fleet_cli.simulation.origins import origin_of, origins
from fleet_cli.simulation.rbac import Request, User
from fleet_cli.simulation.simulation import Simulation, Step

_APPLIED_BY_NOBODY = (CLUSTER, "flux")


@dataclass(frozen=True)
class ClusterSummary:
    cluster: str
    flux: bool
    landed: int
    denied: int
    not_reconciled: int
    applied_twice: int
    exposed: int
    escapes: int


@dataclass(frozen=True)
class Report:
    stacks: list[str]
    clusters: list[ClusterSummary]
    findings: list[Finding]
    steps: list[Step]

    @property
    def clean(self) -> bool:
        return not self.findings


def report(sim: Simulation) -> Report:
    acting = tenant_identities(sim)
    known = origins(sim.models)
    findings = sorted(
        replace(f, config=f.config or origin_of(f.subject, known))
        for f in {
            *sim.events,
            *sim.unbuildable(),
            *_status_findings(sim),
            *_exposures(sim, acting),
            *_escapes(sim, acting),
            *_field_findings(sim),
            *_pod_security(sim),
        }
    )
    counts: dict[tuple[str, str], int] = Counter((f.where, f.category) for f in findings)
    summaries = [
        ClusterSummary(
            name,
            cluster.flux is not None,
            sum(1 for o in cluster.objects.values() if o.applier not in _APPLIED_BY_NOBODY),
            counts[(name, "denied")],
            counts[(name, "not-reconciled")],
            counts[(name, "applied-twice")],
            counts[(name, "credential-exposed")],
            counts[(name, "tenant-escape")],
        )
        for name, cluster in sorted(sim.clusters.items())
    ]
    return Report(sorted(sim.runs), summaries, findings, sim.steps)


# ---------------------------------------------------------------- Flux objects


def _status_findings(sim: Simulation) -> Iterable[Finding]:
    for (cluster, object_id), state in sorted(sim.status.items(), key=lambda item: item[0]):
        subject = f"{describe(object_id)} on {cluster}"
        if state.identity is not None:
            subject += f" (as {state.identity})"
        if not state.ready and state.category is not None:
            where = state.target if state.category == "denied" and state.target else cluster
            yield Finding(where, state.category, subject, state.reason)
        for account in state.missing_accounts:
            yield Finding(
                state.target or cluster,
                "account-missing",
                subject,
                f"impersonates {account}, which does not exist (Flux requires it there)",
            )


def _field_findings(sim: Simulation) -> Iterable[Finding]:
    for name, cluster in sorted(sim.clusters.items()):
        for object_id, landed in sorted(cluster.objects.items()):
            for problem in field_problems(landed.obj):
                yield Finding(name, "field", describe(object_id), problem)


def _pod_security(sim: Simulation) -> Iterable[Finding]:
    """Every tenant namespace enforces a Pod Security level, on every cluster."""
    for name, cluster in sorted(sim.clusters.items()):
        for object_id, landed in sorted(cluster.objects.items()):
            if object_id[0] != "Namespace" or not objects.tenant_of(landed.obj):
                continue
            labels = landed.obj.get("metadata", {}).get("labels") or {}
            if not labels.get(admission.ENFORCE_LABEL):
                yield Finding(
                    name,
                    "pod-security",
                    describe(object_id),
                    f"has no {admission.ENFORCE_LABEL} label",
                )


# ---------------------------------------------------------------- credentials and tenants


def tenant_identities(sim: Simulation) -> dict[str, dict[User, str]]:
    """For each cluster, whoever acts for a tenant there, with the tenant: every service
    account in a tenant's namespaces (its Kustomizations may impersonate any of them; `default`
    always exists), and every identity a tenant's Flux object impersonates there."""
    owners = {name: _tenant_namespaces(cluster) for name, cluster in sim.clusters.items()}
    found: dict[str, dict[User, str]] = {name: {} for name in sim.clusters}
    for name, cluster in sim.clusters.items():
        for namespace, tenant in owners[name].items():
            found[name][User.service_account(namespace, "default")] = tenant
        for kind, namespace, account in cluster.objects:
            if kind == "ServiceAccount" and namespace in owners[name]:
                found[name][User.service_account(namespace, account)] = owners[name][namespace]
    for (home, object_id), state in sim.status.items():
        if state.identity is None or state.target not in found:
            continue
        landed = sim.clusters[home].get(object_id)
        if landed is None:
            continue
        acting_for = objects.tenant_of(landed.obj) or owners[home].get(object_id[1])
        if acting_for:
            found[state.target].setdefault(state.identity, acting_for)
    return found


def _tenant_namespaces(cluster: ClusterState) -> dict[str, str]:
    """Each tenant namespace on the cluster, with its tenant."""
    found = {}
    for (kind, _, name), landed in cluster.objects.items():
        tenant = objects.tenant_of(landed.obj) if kind == "Namespace" else None
        if tenant:
            found[name] = tenant
    return found


_CLUSTER_WIDE = (
    Request("create", "rbac.authorization.k8s.io", "clusterrolebindings", ""),
    Request("create", "", "namespaces", ""),
    Request("create", "apiextensions.k8s.io", "customresourcedefinitions", ""),
    Request("list", "", "secrets", ""),
    Request("create", "", "pods", ""),
    Request("impersonate", "", "serviceaccounts", ""),
)
"""Rights no tenant may hold across the cluster: each is a way out of its namespaces."""


def _escapes(sim: Simulation, acting: Mapping[str, Mapping[User, str]]) -> Iterable[Finding]:
    """Every tenant identity that holds rights beyond its tenant's namespaces: anything of
    `_CLUSTER_WIDE`, or running Pods or reading Secrets in a namespace not its tenant's."""
    for name, cluster in sorted(sim.clusters.items()):
        owners = _tenant_namespaces(cluster)
        authorize = cluster.authorizer.authorize
        for identity, tenant in sorted(acting[name].items(), key=str):
            reasons = [
                f"may {request} cluster-wide"
                for request in _CLUSTER_WIDE
                if authorize(identity, request).allowed
            ]
            for namespace in sorted(cluster.authorizer.namespaces_binding(identity)):
                if owners.get(namespace) == tenant:
                    continue
                for request in (
                    Request("create", "", "pods", namespace),
                    Request("get", "", "secrets", namespace),
                ):
                    if authorize(identity, request).allowed:
                        reasons.append(f"may {request} in {namespace}")
            if reasons:
                yield Finding(
                    name,
                    "tenant-escape",
                    str(identity),
                    f"acts for tenant {tenant} and {'; '.join(reasons)}",
                )


def credential_of(
    obj: Mapping[str, Any],
    fleet_secrets: set[ObjectId],
    known: Mapping[str, str] | None = None,
) -> str | None:
    """What cluster or fleet credential a Secret holds, or None: a kubeconfig (under the keys
    Flux reads), a service account token, the fleet repository's git credentials, or, under
    any key, one of the `known` credential values (the platform's secret config)."""
    if obj.get("kind") != "Secret":
        return None
    if obj.get("type") == "kubernetes.io/service-account-token":
        return "a service account token"
    data = obj.get("stringData") or obj.get("data") or {}
    data = data if isinstance(data, Mapping) else {}
    for key in ("value", "value.yaml"):
        text = data.get(key)
        server = kubeconfig_server(str(text)) if text else None
        if server:
            return f"a kubeconfig for {server}"
    if objects.object_id(obj) in fleet_secrets:
        return "the fleet repository's git credentials"
    for value, what in (known or {}).items():
        if any(value in str(text) for text in data.values()):
            return what
    return None


def _fleet_secrets(sim: Simulation, cluster: ClusterState) -> set[ObjectId]:
    found = set()
    for (kind, namespace, _), landed in cluster.objects.items():
        spec = landed.obj.get("spec") or {}
        if kind == "GitRepository" and spec.get("url") in sim.fleet_urls:
            secret = (spec.get("secretRef") or {}).get("name")
            if secret:
                found.add(("Secret", namespace, str(secret)))
    return found


def _exposures(sim: Simulation, acting: Mapping[str, Mapping[User, str]]) -> Iterable[Finding]:
    for name, cluster in sorted(sim.clusters.items()):
        tenants = sorted(acting[name], key=str)
        fleet_secrets = _fleet_secrets(sim, cluster)
        for object_id, landed in sorted(cluster.objects.items()):
            credential = credential_of(landed.obj, fleet_secrets, sim.credentials)
            if credential is None:
                continue
            namespace, secret = object_id[1], object_id[2]
            for identity in tenants:
                reach = _reach(cluster, identity, namespace, secret)
                if reach:
                    yield Finding(
                        name,
                        "credential-exposed",
                        describe(object_id),
                        f"holds {credential}, and {identity}, a tenant's identity, {reach}",
                    )
                    break


def _reach(cluster: ClusterState, identity: User, namespace: str, secret: str) -> str | None:
    """How an identity reaches a Secret: reading it, or running a Pod that mounts it."""
    authorize = cluster.authorizer.authorize
    if authorize(identity, Request("get", "", "secrets", namespace, secret)).allowed:
        return f"may read it in {namespace}"
    if authorize(identity, Request("create", "", "pods", namespace)).allowed:
        return f"may run a Pod in {namespace} that mounts it"
    return None


# ---------------------------------------------------------------- text and JSON


def text(result: Report, title: str, *, verbose: bool = False) -> str:
    lines = [f"{title}: {len(result.clusters)} clusters", ""]
    headers = (
        "cluster",
        "Flux",
        "landed",
        "denied",
        "not reconciled",
        "applied twice",
        "credentials exposed",
        "tenant escapes",
    )
    rows = [
        (
            c.cluster,
            "yes" if c.flux else "no",
            str(c.landed),
            str(c.denied),
            str(c.not_reconciled),
            str(c.applied_twice),
            str(c.exposed),
            str(c.escapes),
        )
        for c in result.clusters
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(w) for cell, w in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
    for step in result.steps if verbose or len(result.steps) > 1 else []:
        lines += ["", f"{step.label}:"]
        for branch, delta in step.branches.items():
            lines.append(
                f"  branch {branch}: {len(delta.added)} added, {len(delta.changed)} changed, "
                f"{len(delta.removed)} removed"
            )
            if verbose:
                lines += [f"    + {p}" for p in delta.added] + [f"    - {p}" for p in delta.removed]
        for cluster, objects_delta in step.clusters.items():
            lines.append(
                f"  cluster {cluster}: {len(objects_delta.landed)} landed, "
                f"{len(objects_delta.removed)} removed"
            )
            if verbose:
                lines += [f"    + {describe(i)}" for i in objects_delta.landed]
                lines += [f"    - {describe(i)}" for i in objects_delta.removed]
    if result.findings:
        lines += ["", f"{len(result.findings)} problem{'s' if len(result.findings) != 1 else ''}:"]
        for category in CATEGORIES:
            found = [f for f in result.findings if f.category == category]
            if found:
                lines.append(f"  {TITLES[category]} ({len(found)}):")
                lines += [
                    f"    {f.where}: {f.subject}: {f.message}"
                    + (f" (from {f.config})" if f.config else "")
                    for f in found
                ]
    else:
        lines += [
            "",
            "every object lands; nothing is refused or applied twice; no credential is within a "
            "tenant's reach, no tenant holds rights beyond its namespaces; every tenant namespace "
            "enforces Pod Security",
        ]
    return "\n".join(lines) + "\n"


def as_json(result: Report) -> dict[str, Any]:
    return {
        "stacks": result.stacks,
        "clusters": [c.__dict__ for c in result.clusters],
        "findings": [f.__dict__ for f in result.findings],
        "steps": [
            {
                "label": s.label,
                "branches": {b: d.__dict__ for b, d in s.branches.items()},
                "clusters": {
                    c: {
                        "landed": [list(i) for i in d.landed],
                        "removed": [list(i) for i in d.removed],
                    }
                    for c, d in s.clusters.items()
                },
            }
            for s in result.steps
        ],
    }


def objects_on(sim: Simulation, cluster: str) -> dict[ObjectId, tuple[K8sObject, str]]:
    """What is on a cluster and what applied it (for tests and the JSON's detail)."""
    return {i: (o.obj, o.applier) for i, o in sim.clusters[cluster].objects.items()}
