"""What the simulation reports: one finding per problem, each with its place and its reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from fleet.objects import ObjectId

Category = Literal[
    "deploy",
    "build",
    "denied",
    "not-reconciled",
    "applied-twice",
    "credential-exposed",
    "tenant-escape",
    "account-missing",
    "stale",
    "field",
    "pod-security",
    "ordering",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)
TITLES: dict[Category, str] = {
    "deploy": "a stack cannot be deployed",
    "build": "a folder of a branch that does not build",
    "denied": "refused by the API server",
    "not-reconciled": "a Flux object Flux would not reconcile",
    "applied-twice": "an object applied twice",
    "credential-exposed": "cluster credentials in a tenant's reach",
    "tenant-escape": "a tenant's identity with rights beyond its namespaces",
    "account-missing": "an impersonated account that does not exist",
    "stale": "objects left behind",
    "field": "a Flux object's fields",
    "pod-security": "a tenant namespace without Pod Security",
    "ordering": "applied before the infrastructure it may need was Ready",
}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: on which cluster (or stack), about what, and why."""

    where: str
    """The cluster, or `stack NAME` for a deploy finding."""
    category: Category
    subject: str
    message: str
    config: str = ""
    """The config key it comes from, `Pulumi.STACK.yaml fleet:KEY`, where one is known."""

    def __str__(self) -> str:
        origin = f" (from {self.config})" if self.config else ""
        return f"{self.where}: {self.category}: {self.subject}: {self.message}{origin}"


def describe(object_id: ObjectId) -> str:
    """`Kind namespace/name`, or `Kind name` for a cluster-scoped object."""
    kind, namespace, name = object_id
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
