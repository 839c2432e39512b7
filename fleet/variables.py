"""Per-cluster values: the variables Flux substitutes (`${NAME}`) in what a Kustomization applies.

Flux's post-build substitution replaces `${NAME}` after kustomize build, `${NAME:=default}`
falls back to the default, `$${NAME}` writes `${NAME}`, and an undefined `${NAME}` becomes the
empty string; values from `substitute` win over `substituteFrom`
(https://fluxcd.io/flux/components/kustomize/kustomizations/#post-build-variable-substitution,
the envsubst of github.com/fluxcd/pkg/envsubst). Precedence between our levels is resolved here,
so a name is either inline (`substitute`) or in the Secret (`substituteFrom`), never both.

Levels, the nearer winning: fleet, cluster, environment, tenant, app. Built-in variables
describe the cluster and cannot be redefined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleet import yamldoc
from fleet.config import SecretVar, VarValue

if TYPE_CHECKING:
    from fleet.model import AppSpec, ClusterSpec, EnvironmentSpec, FleetSpec, TenantSpec

CLUSTER_NAME = "CLUSTER_NAME"
CLUSTER_ROLE = "CLUSTER_ROLE"
MANAGEMENT_CLUSTER = "MANAGEMENT_CLUSTER"
ENVIRONMENT = "ENVIRONMENT"
LABEL_PREFIX = "CLUSTER_LABEL_"
BUILTIN = (CLUSTER_NAME, CLUSTER_ROLE, MANAGEMENT_CLUSTER, ENVIRONMENT)
"""Built-in names; `CLUSTER_LABEL_<KEY>` too, one per label of the cluster."""

DISABLED = {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}
"""The annotation that makes Flux leave an object's `${...}` alone."""


def is_builtin(name: str) -> bool:
    return name in BUILTIN or name.startswith(LABEL_PREFIX)


def label_variable(key: str) -> str:
    """`CLUSTER_LABEL_TOPOLOGY_KUBERNETES_IO_REGION` for label `topology.kubernetes.io/region`."""
    return LABEL_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", key).upper()


def builtin(
    name: str, role: str, management: str, labels: Mapping[str, str], environment: str | None
) -> dict[str, str]:
    """The built-in variables of a cluster (a group's name for each of its members: they share
    one folder); `ENVIRONMENT` only in an environment's Kustomizations."""
    found = {CLUSTER_NAME: name, CLUSTER_ROLE: role, MANAGEMENT_CLUSTER: management}
    if environment is not None:
        found[ENVIRONMENT] = environment
    found.update({label_variable(k): v for k, v in sorted(labels.items())})
    return found


@dataclass(frozen=True)
class Resolved:
    """The variables of one Kustomization: plain values, and secret ones by config key."""

    plain: Mapping[str, str]
    secret: Mapping[str, str]
    """Variable name -> the secret config key holding its value."""


def resolve(levels: Iterable[Mapping[str, VarValue]], builtins: Mapping[str, str]) -> Resolved:
    """Merge `levels` from the farthest to the nearest; built-ins are reserved names."""
    merged: dict[str, VarValue] = {}
    for level in levels:
        merged.update(level)
    plain = {k: v for k, v in merged.items() if isinstance(v, str)}
    plain.update(builtins)
    secret = {k: v.secret for k, v in merged.items() if isinstance(v, SecretVar)}
    return Resolved(dict(sorted(plain.items())), dict(sorted(secret.items())))


def _builtins(cluster: ClusterSpec, env: EnvironmentSpec | None) -> dict[str, str]:
    management = cluster.managed_by or cluster.folder
    return builtin(
        cluster.folder, cluster.role, management, cluster.labels, env.name if env else None
    )


def of_platform(
    fleet: FleetSpec, cluster: ClusterSpec, env: EnvironmentSpec | None = None
) -> dict[str, str]:
    """The variables of the platform's Kustomizations on `cluster` (its infra): the fleet's,
    the cluster's, the environment's, and the built-in ones. All plain (the rules see to it)."""
    levels = [fleet.vars, cluster.vars, *([env.vars] if env else [])]
    return dict(resolve(levels, _builtins(cluster, env)).plain)


def of_app(
    env: EnvironmentSpec, cluster: ClusterSpec, tenant: TenantSpec, app: AppSpec
) -> Resolved:
    """The variables of a tenant's app on `cluster`, every level merged."""
    levels = [env.fleet.vars, cluster.vars, env.vars, tenant.vars, app.vars]
    return resolve(levels, _builtins(cluster, env))


# ---------------------------------------------------------------- references in text

_DEFAULTS = (":=", "=", ":-", "-")
_REFERENCE = re.compile(r"\$\$\{|\$\{([_A-Za-z][_A-Za-z0-9]*)([^}]*)\}")


@dataclass(frozen=True)
class Reference:
    name: str
    operation: str
    """What follows the name inside the braces: empty, `:=default`, `:1:2`, `/a/b`..."""

    @property
    def has_default(self) -> bool:
        """`${NAME:=d}`, `${NAME=d}`, `${NAME:-d}` and `${NAME-d}` fall back to `d`."""
        return self.operation.startswith(_DEFAULTS)


def references(text: str) -> list[Reference]:
    """Each `${NAME...}` in `text`, skipping `$${...}` (written out literally by Flux)."""
    return [Reference(m.group(1), m.group(2)) for m in _REFERENCE.finditer(text) if m.group(1)]


def substitute(text: str, values: Mapping[str, str]) -> str:
    """`text` as Flux's substitution leaves it, for the forms `${NAME}`, a default
    (`${NAME:=d}`, `${NAME:-d}`, `${NAME=d}`, `${NAME-d}`) and `$${...}`; the caller refuses any
    other form beforehand (`references`)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        operation = match.group(2)
        marker = next((m for m in _DEFAULTS if operation.startswith(m)), None)
        default = operation[len(marker) :] if marker else ""
        return values.get(name) or default

    return _REFERENCE.sub(one, text)


def is_disabled(obj: Mapping[str, Any]) -> bool:
    """Marked for Flux to leave its `${...}` alone, by a label or an annotation."""
    ((key, value),) = DISABLED.items()
    metadata = obj.get("metadata") or {}
    marks = {**(metadata.get("labels") or {}), **(metadata.get("annotations") or {})}
    return marks.get(key) == value


def substitute_object(obj: Mapping[str, Any], values: Mapping[str, str]) -> Any:
    """An object as Flux's substitution leaves it: its YAML text substituted, then parsed again
    (`SubstituteVariables` in github.com/fluxcd/pkg/kustomize), so a value may change a scalar's
    type, and `$${X}` becomes `${X}`. Raises `yaml.YAMLError` where the result no longer
    parses."""
    text = yamldoc.dump_all([obj])
    if "$" not in text:
        return obj
    return yamldoc.load(substitute(text, values))
