"""Validation rules beyond the schema: names, references, duplicates, derived names.

Each rule adds a `Problem` with its config path; nothing stops at the first one, so a user
sees every mistake of a stack in one run.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from fleet import names, reach, selection, variables
from fleet.access import (
    GitAccess,
    has_credentials,
    is_flux_git_url,
    is_local_git_url,
    is_ssh_url,
    redacted,
    source_access,
)
from fleet.config import (
    CHART_VERSION_PATTERN,
    CONFIG_KEY_PATTERN,
    CONFIG_NAMESPACE,
    DURATION_PATTERN,
    NODE_POOL_PATTERN,
    SECRET_DATA_KEY_PATTERN,
    VAR_NAME_PATTERN,
    VERSION_PATTERN,
    AksConfig,
    ClusterConfig,
    ClusterRef,
    ClusterRole,
    ComponentConfig,
    EnvironmentStackConfig,
    K3dConfig,
    MainStackConfig,
    MemberConfig,
    NotificationConfig,
    PatchConfig,
    RolloutConfig,
    SecretVar,
    TenantConfig,
    TenantRepositoryConfig,
    VarValue,
)
from fleet.errors import Problem

_CHART_URL = re.compile(r"^(https?|oci)://[^/\s]+(/\S*)?$")
_CHART_VERSION = re.compile(CHART_VERSION_PATTERN)
_BRANCH_FORBIDDEN = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|//|@\{")


def config_path(*parts: str | int) -> str:
    """`fleet:clusters[2].managedBy` from ("clusters", 2, "managedBy")."""
    text = CONFIG_NAMESPACE + ":"
    for index, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
        elif index == 0:
            text += part
        else:
            text += f".{part}"
    return text


class Placed(Protocol):
    """A cluster's place in the fleet: what the rules need of a config entry or a resolved one."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> ClusterRole: ...
    @property
    def managed_by(self) -> str | None: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def vars(self) -> Mapping[str, VarValue]: ...
    @property
    def members(self) -> Sequence[object]: ...


class Problems:
    """Collects problems while the rules run."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: Sequence[str | int], message: str) -> None:
        self.items.append(Problem(config_path(*path), message))


# ---------------------------------------------------------------- schema errors


def schema_problems(
    error: ValidationError, schema: type[BaseModel], prefix: Sequence[str | int] = ()
) -> list[Problem]:
    """Pydantic's errors as problems, with a did-you-mean for a mistyped key."""
    problems = []
    for detail in _one_branch(error.errors(), schema):
        location = (*prefix, *detail["loc"])
        problems.append(Problem(config_path(*location), _describe(detail, schema)))
    return problems


PATTERN_PHRASES: dict[str, str] = {
    DURATION_PATTERN: "a duration such as 5m or 1h30m",
    VERSION_PATTERN: "an exact version such as 2.7.4",
    CONFIG_KEY_PATTERN: "a config key: letters, digits, _, . and -, starting with a letter",
    VAR_NAME_PATTERN: "a variable name: letters, digits and _, not starting with a digit",
    NODE_POOL_PATTERN: "a node pool name: up to 12 lowercase letters and digits, starting with a "
    "letter",
    SECRET_DATA_KEY_PATTERN: "a key of a Secret's data: letters, digits, -, _ and .",
}
"""What each pattern of `fleet.config` accepts, in words: a user never reads a regex."""

_DICT_KEY = "[key]"
"""Where pydantic places an error in a mapping's key, after the key itself."""


def _one_branch(details: list[ErrorDetails], schema: type[BaseModel]) -> list[ErrorDetails]:
    """Errors of a value that may be one of several types (a name or a selector, a plain or a
    secret value, a member's name or its settings) as the user meant it: a mapping is read as
    the block, anything else as the plain value. Pydantic reports every alternative, each under
    its type's name in the location; only the meant one is kept, without that name."""
    kept: list[ErrorDetails] = []
    for detail in details:
        location = list(detail["loc"])
        if location and location[-1] == _DICT_KEY:
            location.pop()
        at = _union_tag_at(schema, location)
        if at is not None:
            value = _value_at(detail, location, at)
            tag = location[at]
            meant_block = isinstance(value, dict)
            if (tag != "str") != meant_block:
                continue
            del location[at]
        kept.append({**detail, "loc": tuple(location)})
    return kept


def _union_tag_at(schema: type[BaseModel], location: Sequence[str | int]) -> int | None:
    """The index in `location` of the name pydantic gives an alternative of a union."""
    current: Any = schema
    for index, part in enumerate(location):
        members = _union_members(current)
        if members and part in members:
            return index
        current = _step(current, part)
        if current is None:
            return None
    return None


def _union_members(annotation: Any) -> set[str]:
    inner = _inner_types(annotation)
    if len(inner) < 2:
        return set()
    return {t.__name__ for t in inner if isinstance(t, type)}


def _value_at(detail: ErrorDetails, location: Sequence[str | int], at: int) -> Any:
    """The user's value at the union: the input of an error there or below it. An error of the
    plain alternative is at the union itself, so its input is the value."""
    if len(location) == at + 1:
        return detail.get("input")
    return {}


def _describe(detail: ErrorDetails, schema: type[BaseModel]) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        key = str(detail["loc"][-1])
        known = _keys_at(schema, detail["loc"][:-1])
        hint = did_you_mean(key, known)
        if not hint and known:
            hint = f"; expected one of: {', '.join(sorted(known))}"
        return f"unknown key '{key}'{hint}"
    if kind == "string_pattern_mismatch":
        pattern = str((detail.get("ctx") or {}).get("pattern", ""))
        phrase = PATTERN_PHRASES.get(pattern)
        if phrase is not None:
            return f"expected {phrase} (got {_short(detail.get('input'))})"
    message = detail["msg"].removeprefix("Value error, ")
    return f"{message} (got {_short(detail.get('input'))})"


_URL_WITH_USER = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"/]+@[^\s'\"]*")


def _short(value: Any) -> str:
    """The user's value for a message, with any URL's credential masked."""
    text = _URL_WITH_USER.sub(lambda m: redacted(m.group(0)), repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _keys_at(schema: type[BaseModel], location: Sequence[str | int]) -> set[str]:
    """The keys allowed in the block at `location`, found by walking the schema's types."""
    current: Any = schema
    for part in location:
        current = _step(current, part)
        if current is None:
            return set()
    model = _model_in(current)
    if model is None:
        return set()
    return {field.alias or name for name, field in model.model_fields.items()}


def _step(annotation: Any, part: str | int) -> Any:
    model = _model_in(annotation)
    if model is not None and isinstance(part, str):
        for name, field in model.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    for inner in _inner_types(annotation):
        origin = typing.get_origin(inner)
        if origin is list and isinstance(part, int):
            return typing.get_args(inner)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(inner)[1]
    return None


def _inner_types(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _inner_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _inner_types(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for inner in _inner_types(annotation):
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return None


def unknown_key_problems(keys: Iterable[str], known: Iterable[str]) -> list[Problem]:
    """Top-level keys of the stack that no schema field and no secret reference explains."""
    return [Problem(config_path(key), f"unknown key{did_you_mean(key, known)}") for key in keys]


# ---------------------------------------------------------------- small rules


def check_name(problems: Problems, path: Sequence[str | int], name: str) -> None:
    if not names.is_dns_label(name):
        problems.add(
            path,
            f"'{name}' is not a valid name: use at most {names.MAX_NAME_LENGTH} lowercase "
            "letters, digits and '-', starting and ending with a letter or digit",
        )


def check_derived(problems: Problems, path: Sequence[str | int], derived: Iterable[str]) -> None:
    """Names built from the user's names (`E-T`, `R-kubeconfig`, ...) must fit Kubernetes."""
    too_long = [name for name in derived if len(name) > names.MAX_NAME_LENGTH]
    if too_long:
        longest = max(too_long, key=len)
        problems.add(
            path,
            f"derived name '{longest}' is {len(longest)} characters long; "
            f"Kubernetes allows {names.MAX_NAME_LENGTH}: shorten the names it is made of",
        )


def check_unique(
    problems: Problems,
    path: Sequence[str | int],
    values: Sequence[str],
    what: str,
) -> None:
    for value, count in Counter(values).items():
        if count > 1:
            indexes = [i for i, v in enumerate(values) if v == value]
            problems.add((*path, indexes[1]), f"duplicate {what} '{value}'")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


FLEET_CREDENTIALS = "fleet:repository.tokenSecret"
TENANT_CREDENTIALS = "the tenant's repository.credentialsSecret"


def check_git_url(
    problems: Problems,
    path: Sequence[str | int],
    url: str,
    *,
    credentials: str,
    local: bool = False,
) -> None:
    """A git URL; `credentials` says where the credentials to reach it are configured. A URL is
    only ever shown with its credential masked."""
    if has_credentials(url):
        problems.add(
            path,
            f"'{redacted(url)}' has a credential in its user part, which would land in git, in "
            "plain text in Pulumi's state and outputs, and in pull-request comments: remove it "
            f"and name a secret config key in {credentials} instead",
        )
    if is_flux_git_url(url) or (local and is_local_git_url(url)):
        return
    allowed = "https://, ssh:// or git@host:org/repo" + (", file:// or a path" if local else "")
    problems.add(path, f"'{redacted(url)}' is not a git URL this can use ({allowed})")


def check_not_held(problems: Problems, path: Sequence[str | int], branch: str) -> None:
    if branch.split("/")[0] == names.ROLLOUT_REFS:
        problems.add(
            path,
            f"branches under '{names.ROLLOUT_REFS}/' hold the rings of rollouts; name it otherwise",
        )


def check_branch(problems: Problems, path: Sequence[str | int], branch: str) -> None:
    """The rules of `git check-ref-format --branch`, which Flux and GitHub also apply."""
    bad = (
        not branch
        or branch.startswith(("-", "/", "."))
        or branch.endswith(("/", ".", ".lock"))
        or branch == "@"
        or bool(_BRANCH_FORBIDDEN.search(branch))
        or any(part.startswith(".") for part in branch.split("/"))
    )
    if bad:
        problems.add(path, f"'{branch}' is not a valid git branch name")


# ---------------------------------------------------------------- clusters


def check_clusters(
    problems: Problems,
    key: str,
    clusters: Sequence[ClusterConfig],
    managers: Mapping[str, Placed],
) -> None:
    """Cluster entries at `fleet:<key>`; `managers` are the management clusters a remote may use."""
    for index, cluster in enumerate(clusters):
        path = (key, index)
        check_name(problems, (*path, "name"), cluster.name)
        check_derived(
            problems,
            (*path, "name"),
            [names.kubeconfig_secret(cluster.name), names.remote_infrastructure(cluster.name)],
        )
        for kind in ("aks", "k3d", "attached"):
            given = getattr(cluster, kind) is not None
            if kind == "aks" and cluster.kind == "aks" and not given:
                problems.add((*path, "aks"), "a cluster of kind aks needs its aks settings")
            if (
                kind == "attached"
                and cluster.kind == "attached"
                and not given
                and not cluster.members
            ):
                problems.add(
                    (*path, "attached"),
                    "a cluster of kind attached needs attached.kubeconfigSecret",
                )
            if given and kind != cluster.kind:
                problems.add(
                    (*path, kind), f"{kind} settings given for a cluster of kind {cluster.kind}"
                )
        if cluster.role == "remote":
            if cluster.managed_by is None:
                problems.add((*path, "managedBy"), "a remote cluster needs managedBy")
            elif cluster.managed_by not in managers:
                problems.add(
                    (*path, "managedBy"),
                    f"'{cluster.managed_by}' is not a management cluster of this fleet",
                )
        elif cluster.managed_by is not None:
            problems.add(
                (*path, "managedBy"), "only a cluster with role remote has a management cluster"
            )
        if cluster.managed_by is not None:
            manager = managers.get(cluster.managed_by)
            if manager is not None and manager.members:
                problems.add(
                    (*path, "managedBy"),
                    f"'{cluster.managed_by}' is a group: each of its members would reconcile the "
                    "remote; manage it from a single cluster",
                )
        if cluster.role == "remote" and cluster.kind == "k3d" and cluster.managed_by:
            _check_k3d_remote(problems, path, cluster, managers.get(cluster.managed_by))
        if cluster.aks is not None and cluster.aks.flux_access == "workload-identity":
            _check_secret_less(problems, path, key, cluster, managers.get(cluster.managed_by or ""))
        _check_entra(problems, path, cluster)
        check_vars(problems, (*path, "vars"), cluster.vars, secrets=False)
        _check_labels(problems, (*path, "labels"), cluster.labels)
        _check_group(problems, path, cluster)
    check_unique(problems, (key,), [c.name for c in clusters], "cluster")
    _check_owners(problems, key, clusters)
    taken = {c.name: f"cluster {c.name}" for c in clusters}
    for index, cluster in enumerate(clusters):
        for m_index, member in enumerate(cluster.members):
            name = _member_name(member)
            if name in taken:
                problems.add(
                    (key, index, "members", m_index),
                    f"'{name}' is already the name of {taken[name]}: every cluster that exists "
                    "needs a name of its own",
                )
            taken[name] = f"a member of group {cluster.name}"


def _check_secret_less(
    problems: Problems,
    path: tuple[str | int, ...],
    key: str,
    cluster: ClusterConfig,
    manager: object,
) -> None:
    """Secret-less access: an AKS remote of the main stack, of an AKS management cluster, with
    Kubernetes rights from Azure roles (so that the identity's role grants them)."""
    where = (*path, "aks", "fluxAccess")
    if cluster.role != "remote":
        problems.add(where, "only a remote cluster is reached by another cluster's Flux")
        return
    if key != "clusters":
        problems.add(where, "secret-less access is made for remotes of the main stack")
    if (
        manager is not None
        and not isinstance(getattr(manager, "aks", None), AksConfig)
        and not (isinstance(getattr(manager, "provisioning", None), AksConfig))
    ):
        problems.add(
            where,
            f"'{cluster.managed_by}' is not an AKS cluster: Flux signs in to Azure with the "
            "identity of an AKS cluster's workload identity",
        )
    if cluster.aks is not None and cluster.aks.local_accounts:
        problems.add(
            (*path, "aks", "localAccounts"),
            "secret-less access gives Flux an Azure role on the cluster, which grants Kubernetes "
            "rights only with Microsoft Entra ID and Azure RBAC: set localAccounts to false",
        )


def _check_entra(problems: Problems, path: tuple[str | int, ...], cluster: ClusterConfig) -> None:
    """An Entra-only cluster needs admins, and as a remote, secret-less access."""
    aks = cluster.aks
    if aks is None or aks.local_accounts:
        return
    if not aks.admin_groups:
        problems.add(
            (*path, "aks", "adminGroups"),
            "with localAccounts false, Kubernetes rights come from Azure only: nobody, not even "
            "whoever creates the cluster, may act in it unless an Entra group is its admin; name "
            "the group of whoever runs `pulumi up` (and of its administrators)",
        )
    if cluster.role == "remote" and aks.flux_access == "kubeconfig":
        problems.add(
            (*path, "aks", "fluxAccess"),
            "with localAccounts false, the remote's only kubeconfig signs in with kubelogin, "
            "which kustomize-controller does not run (it drops `exec` without "
            "--insecure-kubeconfig-exec): set fluxAccess to workload-identity",
        )


def _k3d_of(cluster: object) -> K3dConfig | None:
    """A cluster's k3d settings, whether it is a config entry or a resolved cluster."""
    settings = getattr(cluster, "k3d", None) or getattr(cluster, "provisioning", None)
    return settings if isinstance(settings, K3dConfig) else None


def _check_k3d_remote(
    problems: Problems, path: tuple[str | int, ...], remote: ClusterConfig, manager: object
) -> None:
    """A k3d remote lives in this machine's Docker: Flux reaches it only from a k3d management
    cluster on the same Docker network, at its load balancer's name (`fleet.reach`)."""
    if manager is None:
        return
    theirs = _k3d_of(manager)
    if theirs is None:
        problems.add(
            (*path, "managedBy"),
            f"'{remote.managed_by}' is not a k3d cluster: a k3d remote runs in this machine's "
            "Docker, where only a k3d management cluster on its Docker network reaches it",
        )
        return
    mine = remote.k3d.network if remote.k3d is not None else None
    if mine is None or mine != theirs.network:
        problems.add(
            (*path, "k3d", "network"),
            f"give '{remote.name}' and its management cluster '{remote.managed_by}' the same "
            "k3d.network (now "
            f"{mine or 'none'} and {theirs.network or 'none'}): Flux there reaches the remote's "
            f"API server at {reach.k3d_load_balancer(remote.name)}:{reach.K3D_API_PORT}, a name "
            "only that Docker network resolves",
        )


_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _check_labels(
    problems: Problems, path: tuple[str | int, ...], labels: Mapping[str, str]
) -> None:
    """Labels as Kubernetes validates them (`IsQualifiedName`, `IsValidLabelValue` in
    k8s.io/apimachinery/pkg/util/validation), and no two labels behind one variable."""
    seen: dict[str, str] = {}
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if not name or not _LABEL_NAME.match(name) or (prefix and not _LABEL_PREFIX.match(prefix)):
            problems.add((*path, key), f"'{key}' is not a label key ([prefix/]name, as Kubernetes)")
        if not _LABEL_NAME.match(value):
            problems.add(
                (*path, key),
                f"'{value}' is not a label value (up to 63 letters, digits, -, _ and .)",
            )
        variable = variables.label_variable(key)
        if variable in seen:
            problems.add(
                (*path, key),
                f"labels '{seen[variable]}' and '{key}' would both be the variable {variable}",
            )
        seen[variable] = key


def _member_name(member: str | MemberConfig) -> str:
    return member if isinstance(member, str) else member.name


def _check_group(problems: Problems, path: tuple[str | int, ...], cluster: ClusterConfig) -> None:
    """A group: management clusters only; attached members each bring their kubeconfig."""
    if not cluster.members:
        return
    if cluster.role != "management":
        problems.add(
            (*path, "members"),
            "only a management cluster may be a group: a remote is reconciled by one "
            "management cluster's Flux; list remotes one by one, or select them by label",
        )
    if cluster.kind == "attached" and cluster.attached is not None:
        problems.add(
            (*path, "attached"),
            "a group of attached clusters takes each member's kubeconfigSecret instead",
        )
    if cluster.k3d is not None and cluster.k3d.ports and len(cluster.members) > 1:
        problems.add(
            (*path, "k3d", "ports"),
            "each member would bind the same host ports, and only the first can: drop the "
            "port mappings of a group, or make the members single clusters",
        )
    for index, member in enumerate(cluster.members):
        name = _member_name(member)
        at = (*path, "members", index)
        check_name(problems, at, name)
        secret = member.kubeconfig_secret if isinstance(member, MemberConfig) else None
        if cluster.kind == "attached" and secret is None:
            problems.add(at, f"member '{name}' of an attached group needs its kubeconfigSecret")
        if cluster.kind != "attached" and secret is not None:
            problems.add(at, f"a member of a {cluster.kind} group is provisioned: no kubeconfig")


def _check_owners(problems: Problems, key: str, clusters: Sequence[ClusterConfig]) -> None:
    """One owner for each Azure resource group a stack creates (deleting the group deletes what
    is in it), and one cluster for each kubeconfig."""
    groups: dict[str, str] = {}
    kubeconfigs: dict[str, str] = {}
    for index, cluster in enumerate(clusters):
        if cluster.aks is not None and cluster.aks.create_resource_group:
            group = cluster.aks.resource_group
            if group in groups:
                problems.add(
                    (key, index, "aks", "resourceGroup"),
                    f"cluster {groups[group]} creates resource group '{group}' already: set "
                    "createResourceGroup: false here (it is referenced), or use another group",
                )
            groups.setdefault(group, cluster.name)
        keys: list[tuple[tuple[str | int, ...], str]] = []
        if cluster.attached is not None:
            keys.append((("attached", "kubeconfigSecret"), cluster.attached.kubeconfig_secret))
        keys += [
            (("members", m_index, "kubeconfigSecret"), member.kubeconfig_secret)
            for m_index, member in enumerate(cluster.members)
            if isinstance(member, MemberConfig) and member.kubeconfig_secret is not None
        ]
        for where, secret in keys:
            if secret in kubeconfigs:
                problems.add(
                    (key, index, *where),
                    f"'{secret}' is the kubeconfig of {kubeconfigs[secret]} already: one "
                    "cluster, one kubeconfig",
                )
            kubeconfigs.setdefault(secret, f"cluster {cluster.name}")


def check_notifications(
    problems: Problems, path: tuple[str | int, ...], notifications: Sequence[NotificationConfig]
) -> None:
    """Channels' names: DNS labels (they name a Provider, an Alert and a Secret), each once."""
    for index, notification in enumerate(notifications):
        at = (*path, "notifications", index, "name")
        check_name(problems, at, notification.name)
        check_derived(problems, at, [names.notification(notification.name)])
    check_unique(problems, (*path, "notifications"), [n.name for n in notifications], "channel")


def check_vars(
    problems: Problems,
    path: tuple[str | int, ...],
    given: Mapping[str, VarValue],
    *,
    secrets: bool,
) -> None:
    """User variables: no built-in name; secret values only where only their tenant reads them."""
    for name, value in given.items():
        if variables.is_builtin(name):
            problems.add(
                (*path, name),
                f"'{name}' is a built-in variable ({', '.join(variables.BUILTIN)} and "
                f"{variables.LABEL_PREFIX}<LABEL>): choose another name",
            )
        if isinstance(value, SecretVar) and not secrets:
            problems.add(
                (*path, name),
                "a secret value here would be handed to every tenant on the cluster: set it "
                "on the tenant or on the app",
            )
        if isinstance(value, str) and (why := _restructures(value)) is not None:
            problems.add((*path, name), why)


_YAML_INDICATORS = tuple("{[*&!|>'\"%@#`")


def _restructures(value: str) -> str | None:
    """Why a plain value would change the structure of the YAML it is substituted into, or None.

    Flux substitutes into the YAML text of each object and parses the result again
    (`SubstituteVariables` in github.com/fluxcd/pkg/kustomize), so such a value would add keys
    or break the document; a value that reads as a number or a boolean becomes one, which is
    how `replicas: ${REPLICAS}` works."""
    if "\n" in value or "\r" in value:
        return "a value on several lines would add lines to the YAML Flux substitutes it into"
    if ": " in value or " #" in value or value.endswith(":") or value.startswith(_YAML_INDICATORS):
        return (
            f"'{value}' would change the structure of the YAML Flux substitutes it into "
            "(a mapping, a comment, a flow collection or a tag): choose a plain value"
        )
    return None


def check_selection(
    problems: Problems,
    path: tuple[str | int, ...],
    refs: Sequence[ClusterRef],
    scope: Sequence[selection.Labelled],
    scope_name: str,
    unknown: Callable[[str], str],
) -> tuple[str, ...]:
    """A list of cluster names and selectors; returns what it picked. An empty list is refused:
    it would silently remove what runs on every cluster."""
    if not refs:
        problems.add(
            path,
            "an empty list puts this on no cluster, removing it everywhere: leave the key out "
            "for every cluster, or remove the entry",
        )
        return ()
    found = selection.select(refs, scope, scope_name, unknown)
    for index, message in found.errors:
        problems.add((*path, index), message)
    check_unique(problems, path, [r for r in refs if isinstance(r, str)], "cluster")
    return found.names


# ---------------------------------------------------------------- components


def reserved_namespace(namespace: str) -> str | None:
    """Why a component may not have this namespace: a cluster's own, or Flux's (main's or an
    environment's); None when it may."""
    if namespace in names.RESERVED_NAMESPACES or namespace.startswith("kube-"):
        return "a namespace every cluster has"
    if namespace == names.FLUX_NAMESPACE or namespace.endswith(f"-{names.FLUX_NAMESPACE}"):
        return "the namespace of Flux's own objects"
    return None


def check_components(
    problems: Problems,
    components: Sequence[ComponentConfig],
    clusters: Sequence[Placed],
    namespace_of: Callable[[ComponentConfig], str],
    defined: Callable[[Placed], frozenset[str]],
    taken: Mapping[str, str] | None = None,
    every: Collection[str] = (),
    patched: PatchedObjects | None = None,
) -> None:
    """Infra components at `fleet:infra`, over the clusters of the stack; `defined` names the
    variables Flux has on a cluster; `taken` are the namespaces others have, with whose
    they are; `every` names every cluster of the fleet, which an override may name; `patched`
    gives what a cluster's patches apply to (without it, targets are not matched)."""
    known = {c.name: c for c in clusters}
    owners = dict(taken or {})
    for index, component in enumerate(components):
        path: tuple[str | int, ...] = ("infra", index)
        check_name(problems, (*path, "name"), component.name)
        namespace = namespace_of(component)
        check_name(problems, (*path, "namespace"), namespace)
        owner = reserved_namespace(namespace) or owners.get(namespace)
        if owner is not None:
            problems.add(
                (*path, "namespace"),
                f"'{namespace}' is {owner}: give the component a namespace of its own",
            )
        owners.setdefault(namespace, f"component {component.name}'s namespace")
        if (component.helm is None) == (not component.manifests):
            problems.add(path, "give either helm or manifests (exactly one)")
        chart_url = component.helm.repository if component.helm is not None else ""
        if has_credentials(chart_url):
            problems.add(
                (*path, "helm", "repository"),
                f"'{redacted(chart_url)}' has a credential in its user part, which would land in "
                "git with the HelmRepository: remove it (the fleet reads chart repositories "
                "without credentials)",
            )
        elif component.helm is not None and not _CHART_URL.match(chart_url):
            problems.add(
                (*path, "helm", "repository"),
                f"'{chart_url}' is not a chart repository URL (https:// or oci://)",
            )
        if component.helm is not None and not _CHART_VERSION.match(component.helm.version):
            problems.add(
                (*path, "helm", "version"),
                f"'{component.helm.version}' is not one version: pin an exact version such as "
                "15.14.0 (a range or a wildcard would let the chart change on its own, with no "
                "change to config)",
            )
        for m_index, manifest in enumerate(component.manifests):
            metadata = manifest.get("metadata")
            complete = (
                isinstance(manifest.get("apiVersion"), str)
                and isinstance(manifest.get("kind"), str)
                and isinstance(metadata, dict)
                and isinstance(metadata.get("name"), str)
            )
            if not complete:
                problems.add(
                    (*path, "manifests", m_index),
                    "a manifest needs apiVersion, kind and metadata.name",
                )
            if manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1":
                problems.add(
                    (*path, "manifests", m_index),
                    "a Secret here would be committed to git in plain text: keep the secret in a "
                    "secret config key (`pulumi config set --secret KEY`) and hand it to a chart "
                    "with helm.valuesFrom, or create the Secret outside git",
                )
        if component.helm is not None:
            _check_values_from(problems, (*path, "helm"), component)
            _check_secret_values(problems, (*path, "helm", "values"), component.helm.values)
        selected = set(known)
        if component.clusters is not None:
            selected = set(
                check_selection(
                    problems,
                    (*path, "clusters"),
                    component.clusters,
                    clusters,
                    "this stack's clusters",
                    lambda name: _unknown_cluster(name, known),
                )
            )
        _check_references(
            problems, path, component, [known[n] for n in known if n in selected], defined
        )
        for name, override in component.overrides.items():
            # A cluster of the fleet that the component does not run on (now) is no mistake:
            # a change of labels moves clusters in and out of a selection.
            if name not in known and name not in every:
                problems.add((*path, "overrides", name), _unknown_cluster(name, known))
            if override.values and component.helm is None:
                problems.add(
                    (*path, "overrides", name, "values"),
                    "values override a Helm chart; this component has manifests: use patches",
                )
            _check_secret_values(problems, (*path, "overrides", name, "values"), override.values)
            role = known[name].role if name in known else None
            _check_patches(
                problems, path, component, namespace, name, override.patches, role, patched
            )
    check_unique(problems, ("infra",), [c.name for c in components], "component")


_SECRET_WORDS = (
    *("password", "passwd", "secret", "token"),
    *("apikey", "api_key", "api-key", "privatekey", "private_key", "private-key"),
)
_NOT_A_SECRET = re.compile(
    r"^existing|(name|names|ref|file|path|store|provider|url|uri|endpoint|issuer|audience"
    r"|ttl|expiry|expiration|duration|timeout|length|type|mode|policy|algorithm|enabled)$"
)
"""Keys that say where a secret is (`existingSecret`, `passwordSecretName`, `tokenFile`,
`tokenUrl`) or how it is handled (`tokenTTL`, `passwordPolicy`), not the secret itself."""
_REFERENCE = re.compile(r"^\$\{[^{}]+\}$")


def _check_secret_values(
    problems: Problems, path: tuple[str | int, ...], values: Mapping[str, Any]
) -> None:
    """Helm values are written to git: a value under a key that names a secret (a password, a
    token, an API or private key) must come from secret config instead."""
    for key, value in values.items():
        at = (*path, str(key))
        if isinstance(value, Mapping):
            _check_secret_values(problems, at, value)
            continue
        lowered = str(key).lower()
        looks_secret = any(word in lowered for word in _SECRET_WORDS)
        if not looks_secret or _NOT_A_SECRET.search(lowered):
            continue
        if isinstance(value, str) and value.strip() and not _REFERENCE.match(value.strip()):
            target = ".".join(str(part) for part in at[at.index("values") + 1 :])
            problems.add(
                at,
                f"'{key}' looks like a secret, and Helm values are committed to git in plain "
                "text: keep it in a secret config key (`pulumi config set --secret KEY`) and give "
                f"it to the chart with helm.valuesFrom: [{{key: KEY, targetPath: {target}}}] (a "
                "value that is no secret may come from a variable, ${NAME})",
            )


_TARGET_PATH = re.compile(r"^[^\s.]([^\s]*[^\s.])?$")


def _check_values_from(
    problems: Problems, path: tuple[str | int, ...], component: ComponentConfig
) -> None:
    """Each value from secret config has its own key in the component's Secret, a path as
    `helm --set` writes one, and the Secret's name fits."""
    helm = component.helm
    if helm is None or not helm.values_from:
        return
    taken: dict[str, int] = {}
    for index, value in enumerate(helm.values_from):
        at = (*path, "valuesFrom", index)
        if value.values_key in taken:
            written = "" if "values_key" in value.model_fields_set else " (the default)"
            problems.add(
                (*at, "valuesKey"),
                f"valuesKey '{value.values_key}'{written} is entry {taken[value.values_key]}'s "
                "already: give each entry a valuesKey of its own in the Secret, such as "
                "password",
            )
        taken.setdefault(value.values_key, index)
        target = value.target_path
        if target is not None and (not _TARGET_PATH.match(target) or ".." in target):
            problems.add(
                (*at, "targetPath"),
                f"'{target}' is not a path in the chart's values: write it as `helm --set` "
                "does, such as auth.password",
            )
    check_derived(problems, (*path, "valuesFrom"), [names.helm_values_secret(component.name)])


PatchedObjects = Callable[
    [ComponentConfig, str, str, ClusterRole | None], Sequence[Mapping[str, Any]]
]
"""(component, its namespace, cluster, the cluster's role or None) -> the objects the
cluster's patches of the component apply to, as its folders in git hold them
(`fleet.tree.patched_objects`)."""


def _check_patches(
    problems: Problems,
    path: tuple[str | int, ...],
    component: ComponentConfig,
    namespace: str,
    cluster: str,
    patches: Sequence[PatchConfig],
    role: ClusterRole | None,
    patched: PatchedObjects | None,
) -> None:
    """A patch says what it patches, and that is an object of the component on the cluster:
    kustomize stops at a patch without a target whose body names no object, and a target that
    selects nothing changes nothing, silently. A label selector is not matched: it is taken to
    select something."""
    for index, patch in enumerate(patches):
        at = (*path, "overrides", cluster, "patches", index)
        body = patch.patch
        selector: dict[str, str]
        if patch.target is not None:
            selector = patch.target.model_dump(exclude_none=True)
            if selector.pop("label_selector", None) is not None:
                continue
            where = (*at, "target")
        elif isinstance(body, list):
            problems.add(
                (*at, "target"),
                "a list of JSON 6902 operations applies to the objects its target selects: give "
                "target: {kind: ..., name: ...}",
            )
            continue
        else:
            metadata = body.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            kind = body.get("kind")
            if not isinstance(kind, str) or not isinstance(name, str):
                problems.add(
                    at,
                    "a patch without target must say what it patches: give target: "
                    "{kind: ..., name: ...}, or kind and metadata.name in the patch",
                )
                continue
            selector = {"kind": kind, "name": name}
            patch_namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
            if isinstance(patch_namespace, str):
                selector["namespace"] = patch_namespace
            where = (*at, "patch")
        if patched is None or not selector:
            continue
        candidates = patched(component, namespace, cluster, role)
        rewrites = component.helm is None  # its kustomization sets the namespace of manifests
        if not any(_selects(selector, obj, namespace, rewrites) for obj in candidates):
            chart = (
                "; the chart's own objects are Helm's to make: change them with "
                f"overrides.{cluster}.values"
                if component.helm is not None
                else ""
            )
            problems.add(
                where,
                f"{_selector_text(selector)} is no object of component {component.name} on "
                f"{cluster}, so the patch would change nothing; there it has "
                f"{_objects_text(candidates)}{chart}",
            )


def _selects(
    selector: Mapping[str, str], obj: Mapping[str, Any], namespace: str, rewrites: bool
) -> bool:
    """kustomize's selection of a patch target (`types.Selector`): group, version and kind
    equal, name and namespace as anchored regular expressions. An object written without a
    namespace, or one in a component of plain manifests, may be in the component's namespace
    (kustomize knows which kinds are namespaced; this does not, so it takes either)."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    metadata = _metadata_of(obj)
    own_namespace = str(metadata.get("namespace") or "")
    namespaces = {own_namespace}
    if rewrites or not own_namespace:
        namespaces.add(namespace)
    given = {
        "kind": [str(obj.get("kind", ""))],
        "group": [group],
        "version": [version],
        "name": [str(metadata.get("name", ""))],
        "namespace": sorted(namespaces),
    }
    for field, wanted in selector.items():
        if field in ("name", "namespace"):
            if not any(_full_match(wanted, value) for value in given[field]):
                return False
        elif wanted not in given[field]:
            return False
    return True


def _metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """An object's metadata; none where a manifest's is not a mapping (reported as such)."""
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _full_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return pattern == value


def _selector_text(selector: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in selector.items()) + "}"


def _objects_text(found: Sequence[Mapping[str, Any]], most: int = 6) -> str:
    described = []
    for obj in found:
        metadata = _metadata_of(obj)
        namespace = metadata.get("namespace")
        name = f"{namespace}/{metadata.get('name')}" if namespace else f"{metadata.get('name')}"
        described.append(f"{obj.get('kind')} {name}")
    shown = ", ".join(described[:most])
    return shown + (f" and {len(described) - most} more" if len(described) > most else "")


def _check_references(
    problems: Problems,
    path: tuple[str | int, ...],
    component: ComponentConfig,
    clusters: Sequence[Placed],
    defined: Callable[[Placed], frozenset[str]],
) -> None:
    """Every `${NAME}` in what the component applies must be defined on each cluster it runs
    on: Flux would write an empty string for it. A chart for a remote cluster is substituted
    when rendered, where the forms with a default are all there is."""
    texts: list[tuple[tuple[str | int, ...], str, str | None]] = [
        ((*path, "manifests"), _text(component.manifests), None),
        (
            (*path, "helm", "values"),
            _text(component.helm.values if component.helm else {}),
            None,
        ),
    ]
    texts += [
        ((*path, "overrides", name), _text(override.model_dump()), name)
        for name, override in component.overrides.items()
    ]
    for where, text, only in texts:
        found = variables.references(text)
        if not found:
            continue
        undefined: dict[str, list[str]] = {}
        remote_forms: list[str] = []
        forms = sorted({r.operation for r in found if r.operation and not r.has_default})
        for cluster in clusters:
            if only is not None and cluster.name != only:
                continue
            have = defined(cluster)
            for name in sorted({r.name for r in found if not r.has_default} - have):
                undefined.setdefault(name, []).append(cluster.name)
            if cluster.role == "remote" and component.helm is not None and forms:
                remote_forms.append(cluster.name)
        for name, on in undefined.items():
            problems.add(
                where,
                f"${{{name}}} is defined at no level for {_clusters_named(on)} (fleet:vars, the "
                "cluster's vars, an environment's vars) and Flux would write an empty string: "
                "define it, give a default (${NAME:=value}), or write $${NAME} for a literal "
                "${NAME}",
            )
        if remote_forms:
            problems.add(
                where,
                f"a chart for a remote ({_clusters_named(remote_forms)}) is substituted when "
                f"rendered, which supports ${{NAME}} and defaults only, not {forms[0]!r}",
            )


def _clusters_named(names_: list[str]) -> str:
    return f"cluster {names_[0]}" if len(names_) == 1 else f"clusters {', '.join(names_)}"


def _text(value: Any) -> str:
    """Config as text, to find variables in; an encrypted value shows as its placeholder."""
    return json.dumps(value, default=repr)


def _unknown_cluster(name: str, known: Iterable[str]) -> str:
    return f"'{name}' is not a cluster of this stack{did_you_mean(name, known)}"


# ---------------------------------------------------------------- stacks


def check_main_stack(
    config: MainStackConfig, patched: PatchedObjects | None = None
) -> list[Problem]:
    """The main stack; `patched` gives what a cluster's patches of a component apply to."""
    problems = Problems()
    repository = config.repository
    check_git_url(problems, ("repository", "url"), repository.url, credentials=FLEET_CREDENTIALS)
    check_branch(problems, ("repository", "branch"), repository.branch)
    check_not_held(problems, ("repository", "branch"), repository.branch)
    if is_flux_git_url(repository.url) and is_ssh_url(repository.url):
        if "github.com" not in repository.url:
            problems.add(
                ("repository", "url"),
                "SSH access is given to Flux by a GitHub deploy key; for another host use "
                "https:// with tokenSecret",
            )
        elif not repository.deploy_key:
            problems.add(
                ("repository", "deployKey"),
                "Flux reads an SSH repository with a deploy key; use https:// to do without",
            )
    if repository.push_url is not None:
        check_git_url(
            problems,
            ("repository", "pushUrl"),
            repository.push_url,
            credentials=FLEET_CREDENTIALS,
            local=True,
        )
    secret_less = [
        c.name for c in config.clusters if c.aks is not None and c.aks.flux_access != "kubeconfig"
    ]
    if secret_less and not config.flux.multitenant:
        problems.add(
            ("flux", "multitenant"),
            f"{', '.join(secret_less)} reached secret-less needs Flux's object-level workload "
            "identity, which the Flux Operator turns on with the multi-tenant lockdown: set "
            "fleet:flux.multitenant to true",
        )
    if config.flux.multitenant and _version(config.flux.version) < WORKLOAD_IDENTITY_LOCKDOWN:
        problems.add(
            ("flux", "version"),
            f"'{config.flux.version}': the multi-tenant lockdown of workload identity needs Flux "
            "2.7.0 or later",
        )
    managers = {c.name: c for c in config.clusters if c.role == "management"}
    check_clusters(problems, "clusters", config.clusters, managers)
    for index, cluster in enumerate(config.clusters):
        if cluster.aks is not None and cluster.aks.kubernetes_version is not None:
            check_kubernetes_for_flux(
                problems,
                ("clusters", index, "aks", "kubernetesVersion"),
                cluster.aks.kubernetes_version,
                config.flux.version,
            )
    if not managers:
        problems.add(("clusters",), "the fleet needs at least one management cluster")
    for index, environment in enumerate(config.environments):
        check_name(problems, ("environments", index), environment)
        check_derived(problems, ("environments", index), [names.environment_namespace(environment)])
    check_unique(problems, ("environments",), config.environments, "environment")
    check_vars(problems, ("vars",), config.vars, secrets=False)
    check_components(
        problems,
        config.infra,
        config.clusters,
        main_component_namespace,
        lambda cluster: defined_variables(cluster, None, config.vars),
        patched=patched,
    )
    return problems.items


def defined_variables(
    cluster: Placed, environment: str | None, *levels: Mapping[str, VarValue]
) -> frozenset[str]:
    """The variables Flux has in a platform Kustomization on `cluster`: the built-in ones, the
    cluster's and those of the `levels` (the fleet's, an environment's)."""
    builtins = variables.builtin(cluster.name, cluster.role, "", cluster.labels, environment)
    return frozenset(builtins).union(cluster.vars, *levels)


WORKLOAD_IDENTITY_LOCKDOWN = (2, 7, 0)
"""The first Flux whose lockdown covers workload identity (`fleet.objects.flux_instance`)."""
FLUX_KUBERNETES: dict[tuple[int, ...], tuple[int, ...]] = {
    (2, 7): (1, 32),
    (2, 8): (1, 33),
    (2, 9): (1, 33),
}
"""The oldest Kubernetes each Flux minor supports, as `flux check` requires it
(`kubernetesConstraints` in cmd/flux/check.go of fluxcd/flux2 at each release)."""


def check_kubernetes_for_flux(
    problems: Problems, path: Sequence[str | int], kubernetes: str, flux: str
) -> None:
    """An AKS version older than the pinned Flux supports is refused before anything is made."""
    minimum = FLUX_KUBERNETES.get(_version(flux)[:2])
    try:
        wanted = _version(kubernetes)[:2]
    except ValueError:
        problems.add(path, f"'{kubernetes}' is not a Kubernetes version such as 1.33")
        return
    if minimum is not None and wanted < minimum:
        problems.add(
            path,
            f"Kubernetes {kubernetes} is older than Flux {flux} supports "
            f"({minimum[0]}.{minimum[1]} or later): raise it, or pin an older fleet:flux.version",
        )


def _version(version: str) -> tuple[int, ...]:
    """`X.Y.Z` of a version (a pre-release counts as its release)."""
    return tuple(int(part) for part in re.split(r"[-+]", version)[0].split("."))


def main_component_namespace(component: ComponentConfig) -> str:
    return component.namespace or component.name


def check_environment_stack(
    config: EnvironmentStackConfig,
    environment: str,
    branch: str,
    fleet_clusters: Mapping[str, Placed],
    fleet_namespaces: Mapping[str, str] | None = None,
    lockdown: bool = True,
    fleet_vars: Mapping[str, VarValue] | None = None,
    fleet_members: Collection[str] = (),
    patched: PatchedObjects | None = None,
    main_branch: str = names.MAIN_BRANCH,
) -> list[Problem]:
    """An environment stack against the fleet's clusters, variables and common infra's
    namespaces and its branch (from the main stack), and its Flux lockdown; `patched` gives
    what a cluster's patches of a component apply to."""
    problems = Problems()
    if config.tenants and not lockdown:
        problems.add(
            ("tenants",),
            "tenants need Flux's multi-tenant lockdown, but the main stack sets "
            "fleet:flux.multitenant to false: set it to true there",
        )
    check_name(problems, ("environment", "name"), environment)
    check_derived(problems, ("environment", "name"), [names.environment_namespace(environment)])
    check_branch(problems, ("environment", "branch"), branch)
    if branch == main_branch:
        problems.add(("environment", "branch"), f"branch {branch} belongs to the main stack")
    check_not_held(problems, ("environment", "branch"), branch)
    if not config.main_stack.strip("/"):
        problems.add(("mainStack",), "name the main stack, for example organization/fleet/main")

    listed: tuple[str, ...] = ()
    if config.clusters:
        listed = check_selection(
            problems,
            ("clusters",),
            config.clusters,
            list(fleet_clusters.values()),
            "the fleet's clusters",
            lambda name: _unknown_fleet_cluster(name, fleet_clusters),
        )

    dedicated = config.dedicated_clusters
    main_names = {*fleet_clusters, *fleet_members}
    for index, cluster in enumerate(dedicated):
        if cluster.name in main_names:
            problems.add(
                ("dedicatedClusters", index, "name"),
                f"'{cluster.name}' is already a cluster of the main stack",
            )
        for m_index, member in enumerate(cluster.members):
            if _member_name(member) in main_names:
                problems.add(
                    ("dedicatedClusters", index, "members", m_index),
                    f"'{_member_name(member)}' is already a cluster of the main stack",
                )
    taking_part: dict[str, Placed] = {n: fleet_clusters[n] for n in listed}
    taking_part.update({c.name: c for c in dedicated})
    managers = {n: c for n, c in taking_part.items() if c.role == "management"}
    check_clusters(problems, "dedicatedClusters", dedicated, managers)
    for index, ref in enumerate(config.clusters):
        picked = selection.select([ref], list(fleet_clusters.values()), "", lambda n: n).names
        for name in picked:
            remote = taking_part[name]
            if remote.role == "remote" and remote.managed_by not in managers:
                problems.add(
                    ("clusters", index),
                    f"remote cluster '{name}' is managed by '{remote.managed_by}', "
                    "which is not in this environment",
                )
    if not taking_part:
        problems.add(("clusters",), "an environment needs at least one cluster")
    check_vars(problems, ("vars",), config.vars, secrets=False)

    remotes = [n for n, c in taking_part.items() if c.role == "remote"]
    check_derived(problems, ("clusters",), [names.remote_tenants(r) for r in remotes])
    taken = {
        names.environment_namespace(environment): "the environment's namespace",
        **(fleet_namespaces or {}),
    }
    for t_index, tenant in enumerate(config.tenants):
        channels = [(("name",), names.tenant_namespace(environment, tenant.name))] + [
            (
                ("releases", r_index, "name"),
                names.release_namespace(environment, r.name, tenant.name),
            )
            for r_index, r in enumerate(tenant.releases)
        ]
        for where, namespace in channels:
            owner = reserved_namespace(namespace) or taken.get(namespace)
            if owner is not None:
                problems.add(
                    ("tenants", t_index, *where),
                    f"the tenant's namespace '{namespace}' is {owner}: a tenant is admin in its "
                    "namespaces, so they must be its own; rename the tenant or the channel",
                )
            taken.setdefault(namespace, f"tenant {tenant.name}'s namespace")
    check_components(
        problems,
        config.infra,
        list(taking_part.values()),
        lambda component: environment_component_namespace(environment, component),
        lambda cluster: defined_variables(cluster, environment, fleet_vars or {}, config.vars),
        taken,
        every=[*fleet_clusters, *taking_part],
        patched=patched,
    )
    for index, tenant in enumerate(config.tenants):
        _check_tenant(
            problems,
            ("tenants", index),
            tenant,
            environment,
            list(taking_part.values()),
            remotes,
            [*fleet_clusters, *taking_part],
        )
    check_unique(problems, ("tenants",), [t.name for t in config.tenants], "tenant")
    check_notifications(problems, (), config.notifications)
    _check_platform_objects(problems, config, environment, remotes)
    if config.environment.rollout is not None:
        _check_rollout(problems, config.environment.rollout, taking_part)
    return problems.items


def _check_rollout(
    problems: Problems, rollout: RolloutConfig, clusters: Mapping[str, Placed]
) -> None:
    """Every management cluster is on one of the rings (its label); a remote is reconciled by
    its management cluster's Flux, from its source, so it can only be on that cluster's ring."""
    path = ("environment", "rollout")
    check_unique(problems, (*path, "rings"), rollout.rings, "ring")
    where = "its labels (fleet:clusters of the main stack, or fleet:dedicatedClusters)"
    for name, cluster in clusters.items():
        ring = cluster.labels.get(rollout.label)
        if ring is None:
            if cluster.role == "management":
                problems.add(
                    (*path, "label"),
                    f"cluster '{name}' has no label '{rollout.label}': give every management "
                    f"cluster of the environment one of the rings {list(rollout.rings)} in {where}",
                )
            continue
        if ring not in rollout.rings:
            problems.add(
                (*path, "rings"),
                f"cluster '{name}' is labelled {rollout.label}={ring}, which is not a ring of "
                f"this environment: add it to the rings or relabel the cluster in {where}",
            )
            continue
        manager = clusters.get(cluster.managed_by or "")
        if manager is not None and manager.labels.get(rollout.label, ring) != ring:
            problems.add(
                (*path, "label"),
                f"remote cluster '{name}' is labelled {rollout.label}={ring}, but its "
                f"management cluster '{manager.name}' is on ring "
                f"{manager.labels[rollout.label]}: Flux there reconciles the remote from its own "
                "source, so the remote follows its ring; drop the label or make them agree",
            )


def _check_platform_objects(
    problems: Problems, config: EnvironmentStackConfig, environment: str, remotes: Sequence[str]
) -> None:
    """The Flux objects the environment's namespace holds on a management cluster (its own,
    its remotes', and the tenants' sources and apps for remotes) have names derived from
    several entities: no two may meet, or one would overwrite the other."""
    kustomizations: dict[str, str] = {
        names.INFRASTRUCTURE: "the environment's infrastructure",
        names.TENANTS: "the environment's tenants",
    }
    for remote in remotes:
        kustomizations[names.remote_infrastructure(remote)] = f"remote {remote}'s infrastructure"
        kustomizations[names.remote_tenants(remote)] = f"remote {remote}'s tenants"
    sources: dict[str, str] = {names.environment_namespace(environment): "the environment's source"}
    secrets: dict[str, str] = {
        names.environment_namespace(environment): "the environment's git credentials",
        **{names.kubeconfig_secret(r): f"remote {r}'s kubeconfig" for r in remotes},
    }
    seen: set[str] = set()
    for index, tenant in enumerate(config.tenants):
        if tenant.name in seen:
            continue  # a duplicate tenant, reported as such
        seen.add(tenant.name)
        if remotes:
            for a_index, config_app in enumerate(tenant.apps):
                given = [*tenant.vars.values(), *config_app.vars.values()]
                if any(isinstance(v, SecretVar) for v in given):
                    name = names.app_variables_secret(tenant.name, config_app.name)
                    owner = f"the secret variables of tenant {tenant.name}'s app {config_app.name}"
                    at = ("tenants", index, "apps", a_index)
                    _claim(problems, at, secrets, name, "Secret", owner)
            if tenant.repository.credentials_secret:
                name = names.tenant_git_credentials(tenant.name)
                owner = f"tenant {tenant.name}'s git credentials"
                _claim(problems, ("tenants", index, "name"), secrets, name, "Secret", owner)
        channels = [(("name",), None)] + [
            (("releases", r_index, "name"), r.name) for r_index, r in enumerate(tenant.releases)
        ]
        for where, release in channels:
            path = ("tenants", index, *where)
            source = (
                names.tenant_source(tenant.name)
                if release is None
                else names.release_source(tenant.name, release)
            )
            owner = f"tenant {tenant.name}'s source" + (f" of channel {release}" if release else "")
            _claim(problems, path, sources, source, "GitRepository", owner)
            for remote in remotes:
                for app in dict.fromkeys(a.name for a in tenant.apps):
                    name = names.remote_tenant_app(remote, tenant.name, app, release)
                    owner = f"tenant {tenant.name}'s app {app} on {remote}"
                    _claim(problems, path, kustomizations, name, "Kustomization", owner)


def _claim(
    problems: Problems,
    path: tuple[str | int, ...],
    claimed: dict[str, str],
    name: str,
    kind: str,
    owner: str,
) -> None:
    if name in claimed:
        problems.add(
            path,
            f"{kind} '{name}' in the environment's namespace would be both {claimed[name]} and "
            f"{owner}: rename one of them",
        )
    else:
        claimed[name] = owner


def environment_component_namespace(environment: str, component: ComponentConfig) -> str:
    return component.namespace or names.environment_component_namespace(environment, component.name)


def _unknown_fleet_cluster(name: str, fleet_clusters: Mapping[str, Placed]) -> str:
    hint = did_you_mean(name, fleet_clusters)
    return f"'{name}' is not a cluster of the fleet (the main stack's clusters){hint}"


def _check_tenant(
    problems: Problems,
    path: tuple[str | int, ...],
    tenant: TenantConfig,
    environment: str,
    clusters: Sequence[Placed],
    remotes: Sequence[str],
    every: Collection[str],
) -> None:
    """A tenant on some of the environment's `clusters`; `every` names every cluster of the
    fleet, which a per-cluster path may name whether or not the app runs there now."""
    check_name(problems, (*path, "name"), tenant.name)
    names_of_environment = [c.name for c in clusters]
    own = set(names_of_environment)
    if tenant.clusters is not None:
        own = set(
            check_selection(
                problems,
                (*path, "clusters"),
                tenant.clusters,
                clusters,
                "the environment's clusters",
                lambda name: (
                    f"'{name}' is not a cluster of this environment"
                    + did_you_mean(name, names_of_environment)
                ),
            )
        )
    own_clusters = [c for c in clusters if c.name in own]
    check_vars(problems, (*path, "vars"), tenant.vars, secrets=True)
    check_notifications(problems, path, tenant.notifications)
    check_derived(
        problems,
        (*path, "name"),
        [names.notification(n.name, tenant.name) for n in tenant.notifications],
    )
    if tenant.name in names.PLATFORM_ACCOUNTS:
        problems.add(
            (*path, "name"),
            f"'{tenant.name}' is an account of the platform or of Flux: the tenant's own account "
            "is named after it, so it would act with the platform's rights; choose another name",
        )
    check_derived(
        problems,
        (*path, "name"),
        [
            names.tenant_namespace(environment, tenant.name),
            names.tenant_source(tenant.name),
            names.tenant_reconciler(tenant.name),
            *(
                [names.tenant_git_credentials(tenant.name)]
                if tenant.repository.credentials_secret
                else []
            ),
            *([names.tenant_image_pull_secret(tenant.name)] if tenant.image_pull_secret else []),
        ],
    )
    repository = tenant.repository
    check_git_url(
        problems, (*path, "repository", "url"), repository.url, credentials=TENANT_CREDENTIALS
    )
    check_branch(problems, (*path, "repository", "branch"), repository.branch)
    uses_ssh = is_flux_git_url(repository.url) and is_ssh_url(repository.url)
    if uses_ssh and not repository.credentials_secret:
        problems.add(
            (*path, "repository", "credentialsSecret"),
            _ANONYMOUS_SSH + ": set credentialsSecret to a secret config key holding a private "
            "key that may read the repository, and knownHosts, or use its https:// URL",
        )
    elif repository.credentials_secret and uses_ssh and not repository.known_hosts:
        problems.add(
            (*path, "repository", "knownHosts"),
            "an SSH repository with credentials needs the host's known_hosts line: Flux trusts "
            "only the host keys it is given (`ssh-keyscan HOST` prints them)",
        )

    for index, app in enumerate(tenant.apps):
        app_path = (*path, "apps", index)
        check_name(problems, (*app_path, "name"), app.name)
        check_derived(
            problems,
            (*app_path, "name"),
            [
                names.remote_tenant_app(r, tenant.name, app.name, release)
                for r in remotes
                for release in [None, *(x.name for x in tenant.releases)]
            ],
        )
        app_clusters = _check_part(problems, app_path, app.clusters, own_clusters)
        check_vars(problems, (*app_path, "vars"), app.vars, secrets=True)
        for name, override in app.paths.items():
            if name not in app_clusters and name not in every:
                problems.add(
                    (*app_path, "paths", name),
                    f"'{name}' is not a cluster of the fleet" + did_you_mean(name, every),
                )
            _check_repo_path(problems, (*app_path, "paths", name), override)
        if app.path is not None:
            _check_repo_path(problems, (*app_path, "path"), app.path)
    check_unique(problems, (*path, "apps"), [a.name for a in tenant.apps], "app")

    for index, release in enumerate(tenant.releases):
        release_path = (*path, "releases", index)
        check_name(problems, (*release_path, "name"), release.name)
        check_derived(
            problems,
            (*release_path, "name"),
            [
                names.release_namespace(environment, release.name, tenant.name),
                names.release_source(tenant.name, release.name),
            ],
        )
        check_branch(problems, (*release_path, "branch"), release.branch)
        _check_part(problems, release_path, release.clusters, own_clusters)
        if release.repository is not None:
            check_git_url(
                problems,
                (*release_path, "repository"),
                release.repository,
                credentials=TENANT_CREDENTIALS,
            )
            _check_release_access(problems, release_path, repository, release.repository)
    check_unique(
        problems, (*path, "releases"), [r.name for r in tenant.releases], "release channel"
    )


def _check_part(
    problems: Problems,
    path: tuple[str | int, ...],
    refs: Sequence[ClusterRef] | None,
    tenant_clusters: Sequence[Placed],
) -> list[str]:
    """An app's or a release channel's clusters: some of the tenant's."""
    within = [c.name for c in tenant_clusters]
    if refs is None:
        return within
    return list(
        check_selection(
            problems,
            (*path, "clusters"),
            refs,
            tenant_clusters,
            "the tenant's clusters",
            lambda name: f"'{name}' is not a cluster of this tenant" + did_you_mean(name, within),
        )
    )


def _check_release_access(
    problems: Problems,
    path: tuple[str | int, ...],
    tenant: TenantRepositoryConfig,
    release_url: str,
) -> None:
    """A release channel reads with the tenant's credentials, so its URL must want the same
    kind of credential: a token serves HTTPS only, a private key SSH only."""
    key = tenant.credentials_secret
    if key is None and is_flux_git_url(release_url) and is_ssh_url(release_url):
        problems.add(
            (*path, "repository"),
            _ANONYMOUS_SSH + ", and a release channel reads with the tenant's credentialsSecret, "
            "which it has none of: use the channel repository's https:// URL",
        )
        return
    wanted, given = source_access(release_url, key), source_access(tenant.url, key)
    if wanted != given:
        problems.add(
            (*path, "repository"),
            f"'{redacted(release_url)}' needs {_CREDENTIAL_OF[wanted]}, but the tenant's "
            f"credentialsSecret holds {_CREDENTIAL_OF[given]} for {redacted(tenant.url)}: use the "
            "tenant's protocol",
        )


_ANONYMOUS_SSH = "Flux cannot read an SSH repository anonymously"


_CREDENTIAL_OF: dict[GitAccess, str] = {
    "public": "no credentials",
    "https-token": "an HTTPS token",
    "ssh-key": "an SSH private key",
    "deploy-key": "a deploy key",
}


PATH_PLACEHOLDERS = ("cluster",)
"""What `{...}` may stand for in an app's path."""


def _check_repo_path(problems: Problems, path: Sequence[str | int], value: str) -> None:
    """A path in a tenant's repository, as a Kustomization's `spec.path`: relative to the
    repository's root, written `./x` as Flux's documentation and the default
    (`./<app>/{cluster}`) write it."""
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or not value.strip():
        problems.add(path, f"'{value}' must be a relative path inside the repository, like ./app")
    elif not value.startswith("./"):
        written = "./" if value == "." else f"./{value}"
        problems.add(
            path, f"'{value}' is read from the root of the tenant's repository: write {written}"
        )
    for placeholder in re.findall(r"\{([^{}]*)\}", value):
        if placeholder not in PATH_PLACEHOLDERS:
            problems.add(
                path,
                f"'{{{placeholder}}}' in '{value}' stands for nothing: a path knows {{cluster}} "
                "only (the cluster's name); for other values use ${VARIABLES} in the manifests",
            )
