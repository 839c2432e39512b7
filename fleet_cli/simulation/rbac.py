"""The Kubernetes RBAC authorizer, offline: may this identity make this request on this cluster?

The simulation asks it before every object lands: first the authorization the API server runs on
each request (the RBAC authorizer), then, for Roles and bindings, the privilege escalation
prevention the RBAC storage runs on create and update. Both are modelled as upstream writes them,
over the Roles, ClusterRoles and bindings the cluster holds at that moment, built-in ones included.
Ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet_cli.simulation.kinds import kind_of_object

RBAC_GROUP = "rbac.authorization.k8s.io"
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE
SYSTEM_MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"

# Verbs on a collection: the request names no object. Above all `create`, whose object has no
# name in the URL, so rules restricted by resourceNames never allow it.
# Ref: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go
_COLLECTION_VERBS = frozenset({"create", "list", "watch", "deletecollection"})
_ESCALATION_CHECKED_VERBS = frozenset({"create", "update", "patch"})
_AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"


@dataclass(frozen=True)
class User:
    """An authenticated identity: what the authorizer sees of whoever sends the request."""

    name: str
    groups: frozenset[str] = frozenset()

    @classmethod
    def service_account(cls, namespace: str, name: str) -> User:
        """A service account, with the groups the API server gives an impersonated one.

        Impersonating a service account without asking for groups yields the fixed groups of
        service accounts and of its namespace, plus system:authenticated.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go
        """
        return cls(
            service_account_name(namespace, name),
            frozenset(
                {"system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED}
            ),
        )

    @property
    def is_master(self) -> bool:
        return SYSTEM_MASTERS in self.groups

    def __str__(self) -> str:
        return self.name


ADMIN = User("kubernetes-admin", frozenset({SYSTEM_MASTERS, AUTHENTICATED}))
"""An admin kubeconfig's identity: system:masters passes every authorization and escalation
check."""


def service_account_name(namespace: str, name: str) -> str:
    """The user name a service account authenticates as."""
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True)
class Request:
    """The attributes the authorizer decides on, for a resource request."""

    verb: str
    group: str
    resource: str
    namespace: str = ""
    """Empty for a cluster-wide request."""
    name: str = ""
    subresource: str = ""

    def __str__(self) -> str:
        return (
            f"{self.verb} {_target(self.resource, self.group, self.subresource)}{_named(self.name)}"
        )


def request_for(obj: Mapping[str, Any], verb: str) -> Request:
    """The request a client makes to `verb` this object.

    As the API server's RequestInfo reads the URL: namespaced kinds carry the object's namespace
    (a namespaced object without one makes a cluster-wide request: Flux refuses to apply those);
    a request that names a Namespace (`/api/v1/namespaces/x`) also carries it as its namespace,
    which is why a RoleBinding in x can grant `get namespaces` on x itself; and collection verbs,
    `create` first, carry no name.
    Ref: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go
    """
    kind = kind_of_object(obj)
    namespace, name = _namespace_and_name(obj)
    if verb in _COLLECTION_VERBS:
        name = ""
    if not kind.namespaced:
        namespace = name if (kind.group, kind.kind) == ("", "Namespace") else ""
    return Request(verb, kind.group, kind.resource, namespace, name)


@dataclass(frozen=True)
class Rule:
    """A PolicyRule: verbs on resources of API groups (optionally by name), or on URLs."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any]) -> Rule:
        return cls(
            verbs=_strings(rule.get("verbs")),
            api_groups=_strings(rule.get("apiGroups")),
            resources=_strings(rule.get("resources")),
            resource_names=_strings(rule.get("resourceNames")),
            non_resource_urls=_strings(rule.get("nonResourceURLs")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verbs": list(self.verbs)}
        for key, values in (
            ("apiGroups", self.api_groups),
            ("resources", self.resources),
            ("resourceNames", self.resource_names),
            ("nonResourceURLs", self.non_resource_urls),
        ):
            if values:
                out[key] = list(values)
        return out

    def allows(self, request: Request) -> bool:
        """Whether this rule allows a resource request.

        A resource matches as "*", as itself or "resource/subresource", or as "*/subresource";
        a rule with resourceNames allows only requests that name one of them.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/rbac/v1/evaluation_helpers.go
        Ref: https://github.com/kubernetes/kubernetes/blob/master/plugin/pkg/auth/authorizer/rbac/rbac.go
        """
        if not ("*" in self.verbs or request.verb in self.verbs):
            return False
        if not ("*" in self.api_groups or request.group in self.api_groups):
            return False
        combined = request.resource
        if request.subresource:
            combined = f"{request.resource}/{request.subresource}"
        if not (
            "*" in self.resources
            or combined in self.resources
            or (request.subresource and f"*/{request.subresource}" in self.resources)
        ):
            return False
        return not self.resource_names or request.name in self.resource_names

    def atoms(self) -> tuple[Rule, ...]:
        """The rule broken into one verb on one resource of one group (and one name), or one verb
        on one URL: the parts escalation checks compare one by one.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/validation/policy_comparator.go
        """
        return _atoms(self)

    def __str__(self) -> str:
        verbs = ",".join(self.verbs) or "(no verb)"
        if self.non_resource_urls and not self.resources:
            return f"{verbs} {','.join(self.non_resource_urls)}"
        targets = ",".join(_target(r, g) for g in self.api_groups for r in self.resources)
        names = ",".join(f'"{n}"' for n in self.resource_names)
        return f"{verbs} {targets or '(nothing)'}" + (f" {names}" if names else "")


@functools.cache
def _atoms(rule: Rule) -> tuple[Rule, ...]:
    parts: list[Rule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    parts.extend(
                        Rule((verb,), (group,), (resource,), (name,))
                        for name in rule.resource_names
                    )
                else:
                    parts.append(Rule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        parts.extend(Rule((verb,), non_resource_urls=(url,)) for verb in rule.verbs)
    return tuple(parts)


@dataclass(frozen=True)
class Decision:
    """An answer and why: what grants it, or one sentence saying what is refused."""

    allowed: bool
    reason: str


FULL_AUTHORITY = (
    Rule(("*",), ("*",), ("*",)),
    Rule(("*",), non_resource_urls=("*",)),
)
"""cluster-admin's rules, which setting an aggregationRule requires."""


def _rule(verbs: Iterable[str], groups: Iterable[str], resources: str) -> dict[str, Any]:
    """A PolicyRule as a dict; `resources` separated by blanks."""
    return {"apiGroups": list(groups), "resources": resources.split(), "verbs": list(verbs)}


def _cluster_role(
    name: str,
    rules: Iterable[Mapping[str, Any]] = (),
    *,
    labels: Mapping[str, str] | None = None,
    aggregate: str = "",
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        },
        "rules": [dict(r) for r in rules],
    }
    if aggregate:
        selector = {"matchLabels": {_AGGREGATE_TO + aggregate: "true"}}
        role["aggregationRule"] = {"clusterRoleSelectors": [selector]}
    return role


_CORE, _APPS, _BATCH, _EXT = "", "apps", "batch", "extensions"
_NET, _POLICY, _HPA = "networking.k8s.io", "policy", "autoscaling"
_DRA, _EVENTS, _LEASES = "resource.k8s.io", "events.k8s.io", "coordination.k8s.io"

BUILTIN_OBJECTS: tuple[Mapping[str, Any], ...] = (
    _cluster_role(
        "cluster-admin",
        [_rule(["*"], ["*"], "*"), {"nonResourceURLs": ["*"], "verbs": ["*"]}],
    ),
    _cluster_role("admin", aggregate="admin"),
    _cluster_role("edit", labels={_AGGREGATE_TO + "admin": "true"}, aggregate="edit"),
    _cluster_role("view", labels={_AGGREGATE_TO + "edit": "true"}, aggregate="view"),
    _cluster_role(
        "system:aggregate-to-admin",
        [
            _rule(["create"], ["authorization.k8s.io"], "localsubjectaccessreviews"),
            _rule(READ_WRITE, [RBAC_GROUP], "roles rolebindings"),
        ],
        labels={_AGGREGATE_TO + "admin": "true"},
    ),
    _cluster_role(
        "system:aggregate-to-edit",
        [
            # read on resources that escalate
            _rule(
                READ,
                [_CORE],
                "pods/attach pods/proxy pods/exec pods/portforward secrets services/proxy",
            ),
            _rule(["impersonate"], [_CORE], "serviceaccounts"),
            _rule(
                WRITE,
                [_CORE],
                "pods pods/attach pods/proxy pods/exec pods/portforward",
            ),
            _rule(["create"], [_CORE], "pods/eviction"),
            _rule(
                WRITE,
                [_CORE],
                (
                    "replicationcontrollers replicationcontrollers/scale serviceaccounts services "
                    "services/proxy persistentvolumeclaims configmaps secrets"
                ),
            ),
            _rule(["create"], [_CORE], "serviceaccounts/token"),
            _rule(WRITE, [_CORE, _EVENTS], "events"),
            _rule(
                WRITE,
                [_APPS],
                (
                    "statefulsets statefulsets/scale daemonsets deployments deployments/scale "
                    "deployments/rollback replicasets replicasets/scale"
                ),
            ),
            _rule(WRITE, [_HPA], "horizontalpodautoscalers"),
            _rule(WRITE, [_BATCH], "jobs cronjobs"),
            _rule(
                WRITE,
                [_EXT],
                (
                    "daemonsets deployments deployments/scale deployments/rollback ingresses "
                    "replicasets replicasets/scale replicationcontrollers/scale networkpolicies"
                ),
            ),
            _rule(WRITE, [_POLICY], "poddisruptionbudgets"),
            _rule(WRITE, [_NET], "networkpolicies ingresses"),
            _rule(READ_WRITE, [_LEASES], "leases"),
            _rule(WRITE, [_DRA], "resourceclaims resourceclaimtemplates"),
        ],
        labels={_AGGREGATE_TO + "edit": "true"},
    ),
    _cluster_role(
        "system:aggregate-to-view",
        [
            _rule(
                READ,
                [_CORE],
                (
                    "pods replicationcontrollers replicationcontrollers/scale serviceaccounts "
                    "services services/status endpoints persistentvolumeclaims "
                    "persistentvolumeclaims/status configmaps"
                ),
            ),
            _rule(
                READ,
                [_CORE],
                (
                    "limitranges resourcequotas bindings pods/status resourcequotas/status "
                    "namespaces/status replicationcontrollers/status pods/log"
                ),
            ),
            # read on the namespace itself, at namespace scope: this one namespace
            _rule(READ, [_CORE], "namespaces"),
            _rule(READ, [_CORE, _EVENTS], "events"),
            _rule(READ, ["discovery.k8s.io"], "endpointslices"),
            _rule(
                READ,
                [_APPS],
                (
                    "controllerrevisions statefulsets statefulsets/status statefulsets/scale "
                    "daemonsets daemonsets/status deployments deployments/status deployments/scale "
                    "replicasets replicasets/status replicasets/scale"
                ),
            ),
            _rule(READ, [_HPA], "horizontalpodautoscalers horizontalpodautoscalers/status"),
            _rule(READ, [_BATCH], "jobs jobs/status cronjobs cronjobs/status"),
            _rule(
                READ,
                [_EXT],
                (
                    "daemonsets daemonsets/status deployments deployments/scale deployments/status "
                    "ingresses ingresses/status replicasets replicasets/scale replicasets/status "
                    "replicationcontrollers/scale networkpolicies"
                ),
            ),
            _rule(READ, [_POLICY], "poddisruptionbudgets poddisruptionbudgets/status"),
            _rule(READ, [_NET], "ingresses ingresses/status networkpolicies"),
            _rule(READ, [_DRA], "resourceclaims resourceclaims/status resourceclaimtemplates"),
        ],
        labels={_AGGREGATE_TO + "view": "true"},
    ),
    {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": "cluster-admin",
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": SYSTEM_MASTERS}],
    },
)
"""What the API server bootstraps on every cluster that this model needs: cluster-admin (bound to
system:masters), the aggregated admin, edit and view, and the roles that feed them.
Ref: https://github.com/kubernetes/kubernetes/blob/master/plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go
(rules as in its testdata/cluster-roles.yaml, Kubernetes 1.34)
"""


@dataclass(frozen=True)
class _Selector:
    """A label selector of an aggregationRule."""

    match_labels: tuple[tuple[str, str], ...]
    expressions: tuple[tuple[str, str, frozenset[str]], ...]

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any]) -> _Selector:
        labels = selector.get("matchLabels") or {}
        expressions = [
            (
                str(e.get("key", "")),
                str(e.get("operator", "")),
                frozenset(_strings(e.get("values"))),
            )
            for e in selector.get("matchExpressions") or ()
        ]
        return cls(tuple((str(k), str(v)) for k, v in labels.items()), tuple(expressions))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """metav1.LabelSelector semantics: all requirements hold; an empty selector matches all.

        An unknown operator makes the selector invalid: the controller then aggregates nothing.
        Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements
        """
        if any(labels.get(key) != value for key, value in self.match_labels):
            return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In":
                ok = present and labels[key] in values
            elif operator == "NotIn":
                ok = not present or labels[key] not in values
            elif operator == "Exists":
                ok = present
            elif operator == "DoesNotExist":
                ok = not present
            else:
                return False
            if not ok:
                return False
        return True


@dataclass(frozen=True)
class _ClusterRole:
    name: str
    labels: Mapping[str, str]
    rules: tuple[Rule, ...]
    selectors: tuple[_Selector, ...] | None
    """None without an aggregationRule; its rules are then the role's own."""


@dataclass(frozen=True)
class _Binding:
    """A RoleBinding (namespace set) or ClusterRoleBinding, its subjects resolved to user names
    and groups."""

    namespace: str
    name: str
    role_kind: str
    role_name: str
    users: frozenset[str]
    groups: frozenset[str]

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], namespace: str, name: str) -> _Binding:
        """Subjects as the authorizer matches them: a User by name, a Group by any of the user's
        groups, a ServiceAccount by its user name, its namespace defaulting to the binding's
        (so never matching from a ClusterRoleBinding without one).
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/validation/rule.go
        """
        users: set[str] = set()
        groups: set[str] = set()
        for subject in obj.get("subjects") or ():
            kind, subject_name = subject.get("kind"), str(subject.get("name", ""))
            if kind == "User":
                users.add(subject_name)
            elif kind == "Group":
                groups.add(subject_name)
            elif kind == "ServiceAccount":
                sa_namespace = str(subject.get("namespace") or namespace)
                if sa_namespace:
                    users.add(service_account_name(sa_namespace, subject_name))
        ref = obj.get("roleRef") or {}
        role_kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        return cls(namespace, name, role_kind, role_name, frozenset(users), frozenset(groups))

    def subject_keys(self) -> list[str]:
        return [_user_key(u) for u in self.users] + [_group_key(g) for g in self.groups]

    def __str__(self) -> str:
        if self.namespace:
            return f"RoleBinding {self.namespace}/{self.name} -> {self.role_kind} {self.role_name}"
        return f"ClusterRoleBinding {self.name} -> {self.role_kind} {self.role_name}"


class _RuleIndex:
    """One role's rules indexed by (verb, group, resource), so that a request or an atomic rule
    is a few lookups instead of a match against every rule. Built once per set of rules and
    shared by everyone bound to it."""

    __slots__ = ("_resources", "_urls", "rules")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = frozenset(rules)
        self._resources: dict[tuple[str, str, str], list[frozenset[str] | None]] = {}
        self._urls: dict[str, list[str]] = {}
        for rule in rules:
            names = frozenset(rule.resource_names) or None
            for verb in rule.verbs:
                for group in rule.api_groups:
                    for resource in rule.resources:
                        self._resources.setdefault((verb, group, resource), []).append(names)
                for url in rule.non_resource_urls:
                    self._urls.setdefault(verb, []).append(url)

    def matches(self, verb: str, group: str, resource: str, name: str, covering: bool) -> bool:
        """Whether a rule matches (resource may be "resource/subresource").

        Authorizing, a rule with resourceNames matches the request's name; covering (escalation
        checks), a part without a name is covered only by rules without resourceNames.
        """
        subresource = resource.partition("/")[2]
        resources = (resource, "*", f"*/{subresource}") if subresource else (resource, "*")
        for v in (verb, "*"):
            for g in (group, "*"):
                for r in resources:
                    for names in self._resources.get((v, g, r), ()):
                        if names is None or ((name or not covering) and name in names):
                            return True
        return False

    def covers_url(self, verb: str, url: str) -> bool:
        return any(
            owner == url or (owner.endswith("*") and url.startswith(owner.rstrip("*")))
            for v in (verb, "*")
            for owner in self._urls.get(v, ())
        )


@functools.lru_cache(maxsize=4096)
def _index(rules: tuple[Rule, ...]) -> _RuleIndex:
    return _RuleIndex(rules)


class _Permissions:
    """What one user holds at one scope: the bindings that apply, with their roles' rules."""

    __slots__ = ("_indexes", "grants")

    def __init__(self, grants: list[tuple[_Binding, tuple[Rule, ...]]]) -> None:
        self.grants = grants
        self._indexes: list[_RuleIndex] | None = None

    def rules(self) -> list[Rule]:
        return [rule for _, rules in self.grants for rule in rules]

    def indexes(self) -> list[_RuleIndex]:
        if self._indexes is None:
            self._indexes = [_index(rules) for _, rules in self.grants]
        return self._indexes

    def first_allowing(
        self, verb: str, group: str, resource: str, name: str, *, covering: bool = False
    ) -> int | None:
        """The position of the first grant whose rules match, in the authorizer's visit order."""
        for ordinal, index in enumerate(self.indexes()):
            if index.matches(verb, group, resource, name, covering):
                return ordinal
        return None

    def covers(self, atom: Rule) -> bool:
        """Whether some rule held covers an atomic rule.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/validation/policy_comparator.go
        """
        if atom.non_resource_urls:
            url = atom.non_resource_urls[0]
            return any(index.covers_url(atom.verbs[0], url) for index in self.indexes())
        name = atom.resource_names[0] if atom.resource_names else ""
        found = self.first_allowing(
            atom.verbs[0], atom.api_groups[0], atom.resources[0], name, covering=True
        )
        return found is not None

    def uncovered(self, rules: Iterable[Rule]) -> list[Rule]:
        missing: list[Rule] = []
        indexes = self.indexes()
        for rule in rules:
            if any(rule in index.rules for index in indexes):
                continue  # a rule held verbatim covers all its parts
            missing.extend(atom for atom in rule.atoms() if not self.covers(atom))
        return missing


class Authorizer:
    """The RBAC state of one cluster: its Roles, ClusterRoles and bindings, kept as objects land."""

    def __init__(
        self, objects: Iterable[Mapping[str, Any]] = (), *, builtin_roles: bool = True
    ) -> None:
        self._roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._cluster_roles: dict[str, _ClusterRole] = {}
        self._effective: dict[str, tuple[Rule, ...]] | None = None
        self._cluster_bindings: dict[str, _Binding] = {}
        self._bindings: dict[tuple[str, str], _Binding] = {}
        # subject key -> names of the ClusterRoleBindings naming it (a dict as an ordered set)
        self._cluster_subjects: dict[str, dict[str, None]] = {}
        # (namespace, subject key) -> names of the RoleBindings in that namespace naming it
        self._subjects: dict[tuple[str, str], dict[str, None]] = {}
        # namespace -> user -> what they hold there; dropped when RBAC in scope changes
        self._permissions: dict[str, dict[User, _Permissions]] = {}
        self._decisions: dict[str, dict[tuple[User, Request], Decision]] = {}
        if builtin_roles:
            for obj in BUILTIN_OBJECTS:
                self.add(obj)
        for obj in objects:
            self.add(obj)

    # --- state ---------------------------------------------------------------------------

    def add(self, obj: Mapping[str, Any]) -> None:
        """Record an RBAC object, replacing one of the same kind, namespace and name; other
        objects are ignored."""
        kind = _rbac_kind(obj)
        if not kind:
            return
        self.remove(obj)
        namespace, name = _namespace_and_name(obj)
        if kind == "Role":
            rules = tuple(Rule.from_dict(r) for r in obj.get("rules") or ())
            self._roles[(namespace, name)] = rules
        elif kind == "ClusterRole":
            self._cluster_roles[name] = _cluster_role_of(obj, name)
        elif kind == "RoleBinding":
            binding = _Binding.from_dict(obj, namespace, name)
            self._bindings[(namespace, name)] = binding
            for key in binding.subject_keys():
                self._subjects.setdefault((namespace, key), {})[name] = None
        else:
            binding = _Binding.from_dict(obj, "", name)
            self._cluster_bindings[name] = binding
            for key in binding.subject_keys():
                self._cluster_subjects.setdefault(key, {})[name] = None
        self._changed(kind, namespace)

    def remove(self, obj: Mapping[str, Any]) -> None:
        """Forget an RBAC object, found by kind, namespace and name."""
        kind = _rbac_kind(obj)
        if not kind:
            return
        namespace, name = _namespace_and_name(obj)
        if kind == "Role":
            found = self._roles.pop((namespace, name), None) is not None
        elif kind == "ClusterRole":
            found = self._cluster_roles.pop(name, None) is not None
        elif kind == "RoleBinding":
            binding = self._bindings.pop((namespace, name), None)
            found = binding is not None
            for key in binding.subject_keys() if binding else ():
                self._subjects[(namespace, key)].pop(name, None)
        else:
            binding = self._cluster_bindings.pop(name, None)
            found = binding is not None
            for key in binding.subject_keys() if binding else ():
                self._cluster_subjects[key].pop(name, None)
        if found:
            self._changed(kind, namespace)

    def _changed(self, kind: str, namespace: str) -> None:
        """Drop what the change may have made stale: a Role or RoleBinding only decides requests
        in its own namespace; a ClusterRole or ClusterRoleBinding decides them everywhere."""
        if kind in ("Role", "RoleBinding"):
            self._permissions.pop(namespace, None)
            self._decisions.pop(namespace, None)
            return
        if kind == "ClusterRole":
            self._effective = None
        self._permissions.clear()
        self._decisions.clear()

    def _cluster_role_rules(self) -> dict[str, tuple[Rule, ...]]:
        """Every ClusterRole's rules, aggregated ones as the clusterrole-aggregation controller
        keeps them: the union of the rules of every other ClusterRole matched by one of its
        selectors, repeated until nothing changes (an aggregated role can feed another, as view
        feeds edit and edit feeds admin).
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go
        """
        if self._effective is not None:
            return self._effective
        rules = {name: role.rules for name, role in self._cluster_roles.items()}
        members: dict[str, list[str]] = {}
        names = sorted(self._cluster_roles)
        for name in names:
            selectors = self._cluster_roles[name].selectors
            if selectors is None:
                continue
            rules[name] = ()
            members[name] = [
                other
                for selector in selectors
                for other in names
                if other != name and selector.matches(self._cluster_roles[other].labels)
            ]
        for _ in range(len(members) + 1):
            changed = False
            for name, sources in members.items():
                union = tuple(dict.fromkeys(r for source in sources for r in rules[source]))
                if union != rules[name]:
                    rules[name], changed = union, True
            if not changed:
                break
        self._effective = rules
        return rules

    def _role_rules(self, kind: str, name: str, namespace: str) -> tuple[Rule, ...] | None:
        """The rules of a binding's roleRef, looked up as GetRoleReferenceRules does: a Role in
        the binding's namespace, or a ClusterRole; None when it does not exist."""
        if kind == "ClusterRole":
            return self._cluster_role_rules().get(name)
        if kind == "Role" and namespace:
            return self._roles.get((namespace, name))
        return None

    def _held(self, user: User, namespace: str) -> _Permissions:
        held = self._permissions.setdefault(namespace, {})
        found = held.get(user)
        if found is None:
            found = held[user] = _Permissions(self._grants(user, namespace))
        return found

    def _grants(self, user: User, namespace: str) -> list[tuple[_Binding, tuple[Rule, ...]]]:
        """The bindings that apply to the user at a scope, with their roles' rules: every
        ClusterRoleBinding, then (for a namespace) the RoleBindings in it, as the authorizer
        visits them. A binding to a role that does not exist grants nothing.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/validation/rule.go
        """
        keys = [_user_key(user.name)] + [_group_key(g) for g in sorted(user.groups)]
        grants: list[tuple[_Binding, tuple[Rule, ...]]] = []
        cluster_names = {n for key in keys for n in self._cluster_subjects.get(key, ())}
        for name in sorted(cluster_names):
            binding = self._cluster_bindings[name]
            rules = self._role_rules(binding.role_kind, binding.role_name, "")
            if rules is not None:
                grants.append((binding, rules))
        if namespace:
            names = {n for key in keys for n in self._subjects.get((namespace, key), ())}
            for name in sorted(names):
                binding = self._bindings[(namespace, name)]
                rules = self._role_rules(binding.role_kind, binding.role_name, namespace)
                if rules is not None:
                    grants.append((binding, rules))
        return grants

    # --- questions -----------------------------------------------------------------------

    def namespaces_binding(self, user: User) -> set[str]:
        """The namespaces where a RoleBinding names the user or one of its groups."""
        keys = {_user_key(user.name), *(_group_key(g) for g in user.groups)}
        return {
            namespace for (namespace, key), bound in self._subjects.items() if key in keys and bound
        }

    def rules_for(self, user: User, namespace: str) -> list[Rule]:
        """The rules the user holds at a scope: from ClusterRoleBindings, plus for a namespace
        the RoleBindings in it."""
        return self._held(user, namespace).rules()

    def authorize(self, user: User, request: Request) -> Decision:
        """The RBAC authorizer's decision on one request.

        system:masters is allowed before RBAC is asked, as the API server's privileged-group
        authorizer does.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/plugin/pkg/auth/authorizer/rbac/rbac.go
        """
        if user.is_master:
            return Decision(True, SYSTEM_MASTERS)
        decided = self._decisions.setdefault(request.namespace, {})
        key = (user, request)
        decision = decided.get(key)
        if decision is None:
            held = self._held(user, request.namespace)
            resource = request.resource
            if request.subresource:
                resource = f"{resource}/{request.subresource}"
            found = held.first_allowing(request.verb, request.group, resource, request.name)
            if found is None:
                decision = Decision(False, f"{user} may not {request} {_scope(request.namespace)}")
            else:
                decision = Decision(True, str(held.grants[found][0]))
            decided[key] = decision
        return decision

    def authorize_write(self, user: User, obj: Mapping[str, Any], verb: str = "create") -> Decision:
        """Whether the user may write the object: authorization, then for Roles and bindings
        the escalation checks of the RBAC storage on create, update and patch.
        Ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
        """
        request = request_for(obj, verb)
        decision = self.authorize(user, request)
        if not decision.allowed or user.is_master or verb not in _ESCALATION_CHECKED_VERBS:
            return decision
        kind = _rbac_kind(obj)
        if kind in ("Role", "ClusterRole"):
            return self._confirm_role(user, obj, kind, request, decision)
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            return self._confirm_binding(user, obj, kind, request, decision)
        return decision

    def _confirm_role(
        self, user: User, obj: Mapping[str, Any], kind: str, request: Request, allowed: Decision
    ) -> Decision:
        """A Role or ClusterRole may only grant what its author holds at its scope, unless the
        author may `escalate` it. The escalate check names the role only when the request does:
        on create it does not, so only an escalate rule without resourceNames lets a create by.
        Setting (or having had) an aggregationRule needs cluster-admin's rules.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/escalation_check.go
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/clusterrole/policybased/storage.go
        """
        escalate = Request(
            "escalate", RBAC_GROUP, request.resource, request.namespace, request.name
        )
        may_escalate = self.authorize(user, escalate)
        if may_escalate.allowed:
            return Decision(True, f"{allowed.reason}; escalate via {may_escalate.reason}")
        scope = _scope(request.namespace)
        refused = f"{user} may not {_write(request, obj)} {scope}"
        rules = [Rule.from_dict(r) for r in obj.get("rules") or ()]
        missing = self.uncovered(user, request.namespace, rules)
        if missing:
            return Decision(
                False,
                f"{refused}: it grants {missing[0]}, which {user} does not hold {scope}, "
                f"and {escalate.verb} on {_target(escalate.resource, RBAC_GROUP)} is not granted",
            )
        if kind == "ClusterRole":
            _, name = _namespace_and_name(obj)
            old = self._cluster_roles.get(name) if request.verb != "create" else None
            if _has_aggregation(obj) or (old is not None and bool(old.selectors)):
                lacking = self.uncovered(user, "", FULL_AUTHORITY)
                if lacking:
                    return Decision(
                        False,
                        f"{refused}: an aggregationRule needs cluster-admin's rules, and {user} "
                        f"does not hold {lacking[0]} cluster-wide",
                    )
        return allowed

    def _confirm_binding(
        self, user: User, obj: Mapping[str, Any], kind: str, request: Request, allowed: Decision
    ) -> Decision:
        """A binding may only grant a role its author may `bind` (by the role's name, at the
        binding's scope) or whose every rule the author already holds at that scope; a binding
        to a role that does not exist is refused unless bind is granted.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/escalation_check.go
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/rolebinding/policybased/storage.go
        """
        namespace = request.namespace if kind == "RoleBinding" else ""
        ref = obj.get("roleRef") or {}
        role_kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        resource = {"Role": "roles", "ClusterRole": "clusterroles"}.get(role_kind, "")
        bind = Request("bind", RBAC_GROUP, resource, namespace, role_name)
        if resource:
            may_bind = self.authorize(user, bind)
            if may_bind.allowed:
                return Decision(True, f"{allowed.reason}; bind via {may_bind.reason}")
        scope = _scope(namespace)
        refused = f"{user} may not {_write(request, obj)} {scope}"
        no_bind = f"and {bind} is not granted {scope}"
        rules = self._role_rules(role_kind, role_name, namespace)
        if rules is None:
            where = f" in namespace {namespace}" if role_kind == "Role" and namespace else ""
            return Decision(
                False, f"{refused}: {role_kind} {role_name}{where} does not exist, {no_bind}"
            )
        missing = self.uncovered(user, namespace, rules)
        if missing:
            return Decision(
                False,
                f"{refused}: {role_kind} {role_name} grants {missing[0]}, which {user} does not "
                f"hold {scope}, {no_bind}",
            )
        return allowed

    def uncovered(self, user: User, namespace: str, rules: Iterable[Rule]) -> list[Rule]:
        """The atomic parts of `rules` that the user's rules at that scope do not cover: what
        granting them would escalate. Empty for system:masters.
        Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/validation/rule.go
        """
        if user.is_master:
            return []
        return self._held(user, namespace).uncovered(rules)


def _strings(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _namespace_and_name(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _rbac_kind(obj: Mapping[str, Any]) -> str:
    """The kind of an RBAC object this model keeps, or ""."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or api_version.rpartition("/")[0] != RBAC_GROUP:
        return ""
    if kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        return str(kind)
    return ""


def _has_aggregation(obj: Mapping[str, Any]) -> bool:
    aggregation = obj.get("aggregationRule") or {}
    return bool(aggregation.get("clusterRoleSelectors"))


def _cluster_role_of(obj: Mapping[str, Any], name: str) -> _ClusterRole:
    metadata = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    rules = tuple(Rule.from_dict(r) for r in obj.get("rules") or ())
    aggregation = obj.get("aggregationRule")
    selectors = None
    if aggregation is not None:
        raw = aggregation.get("clusterRoleSelectors") or ()
        selectors = tuple(_Selector.from_dict(s) for s in raw)
    return _ClusterRole(name, labels, rules, selectors)


def _user_key(name: str) -> str:
    return f"user:{name}"


def _group_key(name: str) -> str:
    return f"group:{name}"


def _target(resource: str, group: str, subresource: str = "") -> str:
    """`resource[/subresource][.group]`, the way kubectl names a resource."""
    if subresource:
        resource = f"{resource}/{subresource}"
    return f"{resource}.{group}" if group else resource


def _named(name: str) -> str:
    return f' "{name}"' if name else ""


def _scope(namespace: str) -> str:
    return f"in namespace {namespace}" if namespace else "cluster-wide"


def _write(request: Request, obj: Mapping[str, Any]) -> str:
    """The verb and object of a write, named even when the request (a create) carries no name."""
    _, name = _namespace_and_name(obj)
    return f"{request.verb} {_target(request.resource, request.group)}{_named(name)}"
