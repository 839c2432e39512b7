"""The offline RBAC authorizer: rule matching, binding scope, subjects, built-in and aggregated
roles, and privilege escalation prevention, as the API server decides them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from fleet_cli.simulation.rbac import (
    ADMIN,
    RBAC_GROUP,
    READ,
    WRITE,
    Authorizer,
    Decision,
    Request,
    Rule,
    User,
    request_for,
)

RBAC = f"{RBAC_GROUP}/v1"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
APPLIER = User.service_account("team-a", "applier")


# --- objects -------------------------------------------------------------------------------


def rule(
    verbs: Sequence[str], groups: list[str], resources: list[str], **more: Any
) -> dict[str, Any]:
    return {"verbs": list(verbs), "apiGroups": groups, "resources": resources, **more}


def role(namespace: str, name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace}
    return {"apiVersion": RBAC, "kind": "Role", "metadata": metadata, "rules": list(rules)}


def cluster_role(
    name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata = {"name": name, "labels": labels or {}}
    return {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": metadata, "rules": list(rules)}


def sa(namespace: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name, "apiGroup": RBAC_GROUP}


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": RBAC_GROUP}


def binding(
    namespace: str, name: str, role_kind: str, role_name: str, *subjects: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC,
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def cluster_binding(name: str, role_name: str, *subjects: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role_name},
        "subjects": list(subjects),
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def obj(api_version: str, kind: str, ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}}


def applier_with(cluster_role_name: str, ns: str = "team-a") -> Authorizer:
    """A cluster where the tenant's applier holds a built-in ClusterRole in its namespace."""
    bound = binding(ns, "applier", "ClusterRole", cluster_role_name, sa("team-a", "applier"))
    return Authorizer([bound])


def allowed(
    authz: Authorizer, who: User, verb: str, resource: str, ns: str = "", **kw: str
) -> bool:
    res, _, group_ = resource.partition(".")
    res, _, subresource = res.partition("/")
    request = Request(verb, group_, res, ns, kw.get("name", ""), subresource)
    return authz.authorize(who, request).allowed


# --- rules ---------------------------------------------------------------------------------


def test_rule_matches_verbs_and_groups_exactly_or_by_wildcard() -> None:
    any_verb = Rule(("*",), ("apps",), ("deployments",))
    assert any_verb.allows(Request("delete", "apps", "deployments", "t"))
    assert not any_verb.allows(Request("delete", "extensions", "deployments", "t"))
    any_group = Rule(("get",), ("*",), ("deployments",))
    assert any_group.allows(Request("get", "extensions", "deployments", "t"))
    assert not any_group.allows(Request("list", "apps", "deployments", "t"))
    assert not Rule(("get",), ("apps",), ("*",)).allows(Request("get", "", "pods", "t"))
    assert Rule(("get",), ("",), ("*",)).allows(Request("get", "", "pods", "t"))


def test_rule_matches_subresources_only_when_named() -> None:
    pods = Rule(("get",), ("",), ("pods",))
    log = Request("get", "", "pods", "t", "p", "log")
    assert pods.allows(Request("get", "", "pods", "t", "p"))
    assert not pods.allows(log)
    assert Rule(("get",), ("",), ("pods/log",)).allows(log)
    assert not Rule(("get",), ("",), ("pods/log",)).allows(Request("get", "", "pods", "t", "p"))
    assert Rule(("get",), ("",), ("*",)).allows(log)
    any_status = Rule(("update",), ("apps",), ("*/status",))
    assert any_status.allows(Request("update", "apps", "deployments", "t", "d", "status"))
    assert not any_status.allows(Request("update", "apps", "deployments", "t", "d"))
    assert not any_status.allows(Request("update", "apps", "deployments", "t", "d", "scale"))


def test_rules_restricted_by_name_never_allow_create() -> None:
    named = Rule(("create", "update"), (RBAC_GROUP,), ("rolebindings",), ("x",))
    rb = binding("t", "x", "ClusterRole", "view")
    assert request_for(rb, "create") == Request("create", RBAC_GROUP, "rolebindings", "t")
    assert not named.allows(request_for(rb, "create"))
    assert named.allows(request_for(rb, "update"))
    assert not named.allows(request_for(binding("t", "y", "ClusterRole", "view"), "update"))


def test_rule_from_dict_reads_kubernetes_keys() -> None:
    parsed = Rule.from_dict(
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]}
    )
    assert parsed == Rule(("get",), ("",), ("secrets",), ("s",))
    assert Rule.from_dict(
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    ).non_resource_urls == ("/healthz",)
    assert Rule.from_dict(parsed.to_dict()) == parsed


def test_a_request_naming_a_namespace_is_in_that_namespace() -> None:
    assert request_for(namespace("t"), "get") == Request("get", "", "namespaces", "t", "t")
    assert request_for(namespace("t"), "create") == Request("create", "", "namespaces")
    cm = obj("v1", "ConfigMap", "t", "c")
    assert request_for(cm, "patch") == Request("patch", "", "configmaps", "t", "c")
    crb = cluster_binding("b", "view")
    assert request_for(crb, "delete") == Request(
        "delete", RBAC_GROUP, "clusterrolebindings", "", "b"
    )


# --- bindings and subjects -----------------------------------------------------------------


def test_a_role_binding_grants_only_in_its_namespace() -> None:
    alice = User("alice")
    authz = Authorizer(
        [
            role("t", "cm", rule(["get"], [""], ["configmaps"])),
            binding("t", "alice", "Role", "cm", user("alice")),
        ]
    )
    assert allowed(authz, alice, "get", "configmaps", "t")
    assert not allowed(authz, alice, "get", "configmaps", "u")
    assert not allowed(authz, alice, "get", "configmaps")
    assert not allowed(authz, User("bob"), "get", "configmaps", "t")


def test_a_role_binding_only_reaches_a_role_in_its_own_namespace() -> None:
    alice = User("alice")
    authz = Authorizer(
        [
            role("u", "cm", rule(["get"], [""], ["configmaps"])),
            binding("t", "alice", "Role", "cm", user("alice")),
        ]
    )
    assert not allowed(authz, alice, "get", "configmaps", "t")
    assert not allowed(authz, alice, "get", "configmaps", "u")


def test_a_cluster_role_binding_grants_in_every_namespace_and_cluster_wide() -> None:
    alice = User("alice")
    authz = Authorizer(
        [
            cluster_role("reader", rule(["get"], [""], ["configmaps", "nodes"])),
            cluster_binding("alice", "reader", user("alice")),
        ]
    )
    assert allowed(authz, alice, "get", "configmaps", "t")
    assert allowed(authz, alice, "get", "configmaps", "u")
    assert allowed(authz, alice, "get", "nodes")
    assert not allowed(authz, alice, "list", "nodes")


def test_a_role_binding_to_a_cluster_role_is_confined_to_its_namespace() -> None:
    alice = User("alice")
    authz = Authorizer(
        [
            cluster_role("reader", rule(["get"], [""], ["configmaps", "nodes"])),
            binding("t", "alice", "ClusterRole", "reader", user("alice")),
        ]
    )
    assert allowed(authz, alice, "get", "configmaps", "t")
    assert not allowed(authz, alice, "get", "configmaps", "u")
    # nodes are cluster-scoped: a RoleBinding can never reach them
    assert not allowed(authz, alice, "get", "nodes")


def test_a_service_account_subject_defaults_to_the_binding_namespace() -> None:
    unqualified = {"kind": "ServiceAccount", "name": "app"}
    authz = Authorizer(
        [
            cluster_role("reader", rule(["get"], [""], ["configmaps"])),
            binding("t", "app", "ClusterRole", "reader", unqualified),
            cluster_binding("app", "reader", unqualified),
        ]
    )
    assert allowed(authz, User.service_account("t", "app"), "get", "configmaps", "t")
    assert not allowed(authz, User.service_account("u", "app"), "get", "configmaps", "t")
    # in a ClusterRoleBinding the unqualified subject names nobody
    assert not allowed(authz, User.service_account("t", "app"), "get", "configmaps", "u")


def test_a_qualified_service_account_subject_can_name_another_namespace() -> None:
    authz = Authorizer(
        [
            cluster_role("reader", rule(["get"], [""], ["configmaps"])),
            binding("t", "flux", "ClusterRole", "reader", sa("flux-system", "kc")),
        ]
    )
    assert allowed(authz, User.service_account("flux-system", "kc"), "get", "configmaps", "t")
    assert not allowed(authz, User.service_account("t", "kc"), "get", "configmaps", "t")


def test_group_subjects_match_any_group_of_the_user() -> None:
    authz = Authorizer(
        [
            cluster_role("reader", rule(["get"], [""], ["configmaps"])),
            binding("t", "all-sa", "ClusterRole", "reader", group("system:serviceaccounts:t")),
            binding("u", "devs", "ClusterRole", "reader", group("devs")),
        ]
    )
    assert allowed(authz, User.service_account("t", "anyone"), "get", "configmaps", "t")
    assert not allowed(authz, User.service_account("u", "anyone"), "get", "configmaps", "t")
    assert allowed(authz, User("carol", frozenset({"devs", "ops"})), "get", "configmaps", "u")
    assert not allowed(authz, User("carol", frozenset({"ops"})), "get", "configmaps", "u")


def test_a_service_account_has_its_impersonation_groups() -> None:
    account = User.service_account("t", "app")
    assert str(account) == "system:serviceaccount:t:app"
    assert account.groups == {
        "system:serviceaccounts",
        "system:serviceaccounts:t",
        "system:authenticated",
    }


def test_system_masters_passes_without_any_binding() -> None:
    authz = Authorizer(builtin_roles=False)
    assert allowed(authz, ADMIN, "create", "namespaces")
    assert allowed(authz, ADMIN, "delete", "secrets", "t", name="s")
    decision = authz.authorize_write(ADMIN, cluster_binding("root", "cluster-admin", user("x")))
    assert decision.allowed and decision.reason == "system:masters"
    assert authz.uncovered(ADMIN, "", [Rule(("*",), ("*",), ("*",))]) == []
    assert not allowed(authz, User("kubernetes-admin"), "create", "namespaces")


def test_a_binding_to_a_missing_role_grants_nothing_until_the_role_lands() -> None:
    alice = User("alice")
    authz = Authorizer([binding("t", "alice", "Role", "later", user("alice"))])
    assert not allowed(authz, alice, "get", "configmaps", "t")
    assert authz.rules_for(alice, "t") == []
    authz.add(role("t", "later", rule(["get"], [""], ["configmaps"])))
    assert allowed(authz, alice, "get", "configmaps", "t")


def test_adding_and_removing_objects_changes_decisions_already_made() -> None:
    alice = User("alice")
    authz = Authorizer([role("t", "cm", rule(["get"], [""], ["configmaps"]))])
    assert not allowed(authz, alice, "get", "configmaps", "t")
    rb = binding("t", "alice", "Role", "cm", user("alice"))
    authz.add(rb)
    assert allowed(authz, alice, "get", "configmaps", "t")
    authz.add(role("t", "cm", rule(["list"], [""], ["configmaps"])))  # replaces the Role
    assert not allowed(authz, alice, "get", "configmaps", "t")
    assert allowed(authz, alice, "list", "configmaps", "t")
    authz.remove(rb)
    assert not allowed(authz, alice, "list", "configmaps", "t")
    authz.add(cluster_role("lister", rule(["list"], [""], ["configmaps"])))
    authz.add(cluster_binding("alice", "lister", user("alice")))
    assert allowed(authz, alice, "list", "configmaps", "t")
    authz.remove(cluster_role("lister"))
    assert not allowed(authz, alice, "list", "configmaps", "t")


def test_non_rbac_objects_are_ignored() -> None:
    authz = Authorizer(builtin_roles=False)
    authz.add(obj("v1", "ConfigMap", "t", "c"))
    authz.add({"apiVersion": "example.com/v1", "kind": "RoleBinding", "metadata": {"name": "x"}})
    assert authz.rules_for(User("alice"), "t") == []


def test_rules_for_joins_cluster_and_namespace_bindings() -> None:
    alice = User("alice")
    authz = Authorizer(
        [
            cluster_role("nodes", rule(["get"], [""], ["nodes"])),
            cluster_binding("alice", "nodes", user("alice")),
            role("t", "cm", rule(["get"], [""], ["configmaps"])),
            binding("t", "alice", "Role", "cm", user("alice")),
        ],
        builtin_roles=False,
    )
    nodes, cms = Rule(("get",), ("",), ("nodes",)), Rule(("get",), ("",), ("configmaps",))
    assert authz.rules_for(alice, "t") == [nodes, cms]
    assert authz.rules_for(alice, "u") == [nodes]
    assert authz.rules_for(alice, "") == [nodes]


# --- built-in roles ------------------------------------------------------------------------


def test_view_reads_workloads_but_not_secrets() -> None:
    authz, viewer = applier_with("view"), APPLIER
    assert allowed(authz, viewer, "get", "pods", "team-a")
    assert allowed(authz, viewer, "get", "pods/log", "team-a")
    assert allowed(authz, viewer, "list", "deployments.apps", "team-a")
    assert allowed(authz, viewer, "watch", "endpointslices.discovery.k8s.io", "team-a")
    assert not allowed(authz, viewer, "get", "secrets", "team-a")
    assert not allowed(authz, viewer, "create", "configmaps", "team-a")


def test_edit_reads_secrets_and_writes_workloads_but_not_rbac() -> None:
    authz, editor = applier_with("edit"), APPLIER
    assert allowed(authz, editor, "get", "secrets", "team-a")
    assert allowed(authz, editor, "create", "secrets", "team-a")
    assert allowed(authz, editor, "create", "deployments.apps", "team-a")
    assert allowed(authz, editor, "create", "pods/exec", "team-a")
    assert allowed(authz, editor, "create", "serviceaccounts/token", "team-a")
    assert allowed(authz, editor, "impersonate", "serviceaccounts", "team-a")
    assert allowed(authz, editor, "update", "leases.coordination.k8s.io", "team-a")
    assert not allowed(authz, editor, "create", "rolebindings." + RBAC_GROUP, "team-a")
    assert not allowed(authz, editor, "create", "endpoints", "team-a")
    assert not allowed(authz, editor, "update", "limitranges", "team-a")


def test_admin_manages_rbac_but_not_namespaces_quotas_or_limits() -> None:
    authz, admin = applier_with("admin"), APPLIER
    assert allowed(authz, admin, "create", "rolebindings." + RBAC_GROUP, "team-a")
    assert allowed(
        authz, admin, "create", "localsubjectaccessreviews.authorization.k8s.io", "team-a"
    )
    assert allowed(authz, admin, "get", "secrets", "team-a")
    assert not allowed(authz, admin, "update", "resourcequotas", "team-a")
    assert not allowed(authz, admin, "create", "limitranges", "team-a")
    assert not authz.authorize_write(admin, namespace("team-b")).allowed
    assert not authz.authorize_write(admin, namespace("team-a"), "update").allowed


def test_cluster_admin_may_do_everything() -> None:
    authz = Authorizer([cluster_binding("root", "cluster-admin", user("root"))])
    root = User("root")
    assert allowed(authz, root, "create", "namespaces")
    assert allowed(authz, root, "escalate", "clusterroles." + RBAC_GROUP)
    assert allowed(authz, root, "frobnicate", "widgets.example.com", "t", name="w")
    assert authz.authorize_write(root, cluster_binding("x", "cluster-admin", user("y"))).allowed


def test_a_role_binding_lets_its_subject_get_its_own_namespace_but_not_create_namespaces() -> None:
    authz = applier_with("view")
    assert authz.authorize_write(APPLIER, namespace("team-a"), "get").allowed
    assert not authz.authorize_write(APPLIER, namespace("team-b"), "get").allowed
    assert not authz.authorize_write(APPLIER, namespace("team-c")).allowed


def test_without_builtin_roles_admin_does_not_exist() -> None:
    bound = binding("team-a", "applier", "ClusterRole", "admin", sa("team-a", "applier"))
    authz = Authorizer([bound], builtin_roles=False)
    assert not allowed(authz, APPLIER, "get", "pods", "team-a")


# --- aggregation ---------------------------------------------------------------------------


FLUX_SOURCES = cluster_role(
    "flux-sources-admin",
    rule(["*"], ["source.toolkit.fluxcd.io"], ["gitrepositories"]),
    labels={AGGREGATE_TO + "admin": "true"},
)


def test_a_cluster_role_labelled_for_admin_extends_admin_until_removed() -> None:
    authz = applier_with("admin")
    git = "gitrepositories.source.toolkit.fluxcd.io"
    assert not allowed(authz, APPLIER, "create", git, "team-a")
    authz.add(FLUX_SOURCES)
    assert allowed(authz, APPLIER, "create", git, "team-a")
    assert not allowed(applier_with_added("edit", FLUX_SOURCES), APPLIER, "create", git, "team-a")
    authz.remove(FLUX_SOURCES)
    assert not allowed(authz, APPLIER, "create", git, "team-a")


def applier_with_added(cluster_role_name: str, *objects: dict[str, Any]) -> Authorizer:
    authz = applier_with(cluster_role_name)
    for added in objects:
        authz.add(added)
    return authz


def test_a_cluster_role_labelled_for_view_reaches_edit_and_admin_too() -> None:
    reader = cluster_role(
        "flux-reader",
        rule(READ, ["kustomize.toolkit.fluxcd.io"], ["kustomizations"]),
        labels={AGGREGATE_TO + "view": "true"},
    )
    ks = "kustomizations.kustomize.toolkit.fluxcd.io"
    for name in ("view", "edit", "admin"):
        assert allowed(applier_with_added(name, reader), APPLIER, "list", ks, "team-a"), name
        assert not allowed(applier_with(name), APPLIER, "list", ks, "team-a"), name


def test_aggregation_selectors_use_match_expressions() -> None:
    aggregated = {
        "apiVersion": RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": "aggregated"},
        "aggregationRule": {
            "clusterRoleSelectors": [
                {
                    "matchLabels": {"team": "a"},
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["web", "db"]},
                        {"key": "env", "operator": "NotIn", "values": ["prod"]},
                        {"key": "owner", "operator": "Exists"},
                        {"key": "retired", "operator": "DoesNotExist"},
                    ],
                }
            ]
        },
        "rules": [rule(["*"], ["*"], ["*"])],  # overwritten by the controller
    }
    base = {"team": "a", "tier": "web", "owner": "x"}
    variants = {
        "match": (base, True),
        "other-tier": ({**base, "tier": "cache"}, False),
        "prod": ({**base, "env": "prod"}, False),
        "no-owner": ({"team": "a", "tier": "db"}, False),
        "retired": ({**base, "retired": "yes"}, False),
        "other-team": ({**base, "team": "b"}, False),
    }
    alice = User("alice")
    for name, (labels, expected) in variants.items():
        authz = Authorizer(
            [
                aggregated,
                cluster_role(name, rule(["get"], [""], ["configmaps"]), labels=labels),
                cluster_binding("alice", "aggregated", user("alice")),
            ],
            builtin_roles=False,
        )
        assert allowed(authz, alice, "get", "configmaps", "t") is expected, name
        assert not allowed(authz, alice, "delete", "secrets", "t"), name


# --- escalation prevention -----------------------------------------------------------------


def test_an_admin_may_bind_admin_edit_and_view_in_its_namespace() -> None:
    authz = applier_with("admin")
    for name in ("admin", "edit", "view"):
        rb = binding("team-a", name, "ClusterRole", name, sa("team-a", "app"))
        assert authz.authorize_write(APPLIER, rb).allowed, name


def test_an_admin_may_not_bind_cluster_admin_nor_create_cluster_role_bindings() -> None:
    authz = applier_with("admin")
    rb = binding("team-a", "root", "ClusterRole", "cluster-admin", sa("team-a", "app"))
    refused = authz.authorize_write(APPLIER, rb)
    assert not refused.allowed
    assert refused.reason.startswith(
        "system:serviceaccount:team-a:applier may not create "
        'rolebindings.rbac.authorization.k8s.io "root" in namespace team-a: '
        "ClusterRole cluster-admin grants * *.*, which"
    )
    assert 'bind clusterroles.rbac.authorization.k8s.io "cluster-admin"' in refused.reason
    crb = cluster_binding("root", "view", sa("team-a", "app"))
    denied = authz.authorize_write(APPLIER, crb)
    assert not denied.allowed
    assert denied.reason == (
        "system:serviceaccount:team-a:applier may not create "
        "clusterrolebindings.rbac.authorization.k8s.io cluster-wide"
    )


def test_an_admin_may_not_bind_admin_in_another_namespace() -> None:
    authz = applier_with("admin")
    authz.add(binding("team-b", "applier", "ClusterRole", "edit", sa("team-a", "applier")))
    rb = binding("team-b", "more", "ClusterRole", "admin", sa("team-a", "applier"))
    # edit in team-b lets it neither create the binding nor hold what admin grants
    assert not authz.authorize_write(APPLIER, rb).allowed


def test_an_account_cannot_bind_itself_to_more_than_it_holds() -> None:
    # the classic: an applier that may write RoleBindings grants itself a bigger role
    authz = Authorizer(
        [
            role(
                "team-a",
                "applier",
                rule(["create", "update", "patch"], [RBAC_GROUP], ["rolebindings"]),
                rule(["*"], [""], ["configmaps"]),
            ),
            binding("team-a", "applier", "Role", "applier", sa("team-a", "applier")),
        ]
    )
    grab = binding("team-a", "grab", "ClusterRole", "edit", sa("team-a", "applier"))
    refused = authz.authorize_write(APPLIER, grab)
    assert not refused.allowed
    assert (
        "ClusterRole edit grants get pods/attach, which system:serviceaccount:team-a:applier"
        in (refused.reason)
    )
    again = binding("team-a", "again", "Role", "applier", sa("team-a", "applier"))
    assert authz.authorize_write(APPLIER, again).allowed  # what it holds, it may hand on


def test_a_role_may_only_grant_what_its_author_holds() -> None:
    authz = applier_with("admin")
    fine = role("team-a", "cm", rule(["get", "update"], [""], ["configmaps", "secrets"]))
    assert authz.authorize_write(APPLIER, fine).allowed
    quota = role("team-a", "quota", rule(["get", "update"], [""], ["resourcequotas"]))
    refused = authz.authorize_write(APPLIER, quota)
    assert not refused.allowed
    assert refused.reason == (
        "system:serviceaccount:team-a:applier may not create "
        'roles.rbac.authorization.k8s.io "quota" in namespace team-a: '
        "it grants update resourcequotas, which "
        "system:serviceaccount:team-a:applier does not hold in namespace team-a, "
        "and escalate on roles.rbac.authorization.k8s.io is not granted"
    )
    star = role("team-a", "star", rule(["*"], [""], ["configmaps"]))
    assert not authz.authorize_write(APPLIER, star).allowed  # "*" is more than every verb held
    other = role("team-b", "cm", rule(["get"], [""], ["configmaps"]))
    assert not authz.authorize_write(APPLIER, other).allowed


def test_bind_granted_by_name_lets_a_binding_by() -> None:
    authz = applier_with("admin")
    authz.add(
        role(
            "team-a",
            "bind-cluster-admin",
            rule(["bind"], [RBAC_GROUP], ["clusterroles"], resourceNames=["cluster-admin"]),
        )
    )
    authz.add(binding("team-a", "binder", "Role", "bind-cluster-admin", sa("team-a", "applier")))
    root = binding("team-a", "root", "ClusterRole", "cluster-admin", sa("team-a", "app"))
    decision = authz.authorize_write(APPLIER, root)
    assert decision.allowed
    assert "bind via RoleBinding team-a/binder -> Role bind-cluster-admin" in decision.reason
    authz.add(cluster_role("secret-admin", rule(["*"], [""], ["secrets"])))
    other = binding("team-a", "other", "ClusterRole", "secret-admin", sa("team-a", "app"))
    assert not authz.authorize_write(APPLIER, other).allowed
    # bind granted in team-a does not reach team-b, nor cluster-wide bindings
    authz.add(binding("team-b", "applier", "ClusterRole", "admin", sa("team-a", "applier")))
    elsewhere = binding("team-b", "root", "ClusterRole", "cluster-admin", sa("team-a", "app"))
    assert not authz.authorize_write(APPLIER, elsewhere).allowed


def test_escalate_lets_a_role_grant_more_than_its_author_holds() -> None:
    authz = applier_with("admin")
    quota = role("team-a", "quota", rule(["update"], [""], ["resourcequotas"]))
    assert not authz.authorize_write(APPLIER, quota).allowed
    authz.add(role("team-a", "esc", rule(["escalate"], [RBAC_GROUP], ["roles"])))
    authz.add(binding("team-a", "esc", "Role", "esc", sa("team-a", "applier")))
    decision = authz.authorize_write(APPLIER, quota)
    assert decision.allowed and "escalate via RoleBinding team-a/esc -> Role esc" in decision.reason


def test_escalate_granted_by_name_covers_updates_of_that_role_only() -> None:
    # The escalate check names the role as the request does: a create names nothing.
    authz = applier_with("admin")
    authz.add(
        role("team-a", "esc", rule(["escalate"], [RBAC_GROUP], ["roles"], resourceNames=["quota"]))
    )
    authz.add(binding("team-a", "esc", "Role", "esc", sa("team-a", "applier")))
    quota = role("team-a", "quota", rule(["update"], [""], ["resourcequotas"]))
    assert authz.authorize_write(APPLIER, quota, "update").allowed
    assert authz.authorize_write(APPLIER, quota, "patch").allowed
    assert not authz.authorize_write(APPLIER, quota, "create").allowed
    renamed = role("team-a", "other", rule(["update"], [""], ["resourcequotas"]))
    assert not authz.authorize_write(APPLIER, renamed, "update").allowed


def test_a_binding_to_a_missing_role_is_refused_unless_bind_is_granted() -> None:
    authz = applier_with("admin")
    ghost = binding("team-a", "ghost", "Role", "ghost", sa("team-a", "app"))
    refused = authz.authorize_write(APPLIER, ghost)
    assert not refused.allowed
    assert "Role ghost in namespace team-a does not exist" in refused.reason
    authz.add(role("team-a", "binder", rule(["bind"], [RBAC_GROUP], ["roles"])))
    authz.add(binding("team-a", "binder", "Role", "binder", sa("team-a", "applier")))
    assert authz.authorize_write(APPLIER, ghost).allowed


def test_deleting_a_binding_is_not_an_escalation() -> None:
    authz = applier_with("admin")
    rb = binding("team-a", "root", "ClusterRole", "cluster-admin", sa("team-a", "app"))
    assert authz.authorize_write(APPLIER, rb, "delete").allowed
    assert not authz.authorize_write(APPLIER, rb, "update").allowed


def test_an_aggregation_rule_needs_cluster_admin() -> None:
    authz = Authorizer(
        [
            cluster_role("roles", rule(["create", "update"], [RBAC_GROUP], ["clusterroles"])),
            cluster_binding("alice", "roles", user("alice")),
        ]
    )
    alice = User("alice")
    plain = cluster_role("plain")
    assert authz.authorize_write(alice, plain).allowed
    aggregated = {
        **plain,
        "metadata": {"name": "agg"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]},
    }
    refused = authz.authorize_write(alice, aggregated)
    assert not refused.allowed and "aggregationRule" in refused.reason
    authz.add(aggregated)  # made by someone else; updating it away still needs cluster-admin
    assert not authz.authorize_write(alice, cluster_role("agg"), "update").allowed
    authz.add(cluster_binding("alice-root", "cluster-admin", user("alice")))
    assert authz.authorize_write(alice, aggregated).allowed


def test_uncovered_lists_the_atomic_rules_not_held() -> None:
    authz = applier_with("view")
    wanted = [
        Rule(("get", "delete"), ("",), ("pods", "secrets")),
        Rule(("get",), ("",), ("pods/log",), ("p1", "p2")),
        Rule(("get",), non_resource_urls=("/healthz",)),
    ]
    assert authz.uncovered(APPLIER, "team-a", wanted) == [
        Rule(("delete",), ("",), ("pods",)),
        Rule(("get",), ("",), ("secrets",)),
        Rule(("delete",), ("",), ("secrets",)),
        Rule(("get",), non_resource_urls=("/healthz",)),
    ]


def test_coverage_of_names_subresources_and_urls() -> None:
    authz = Authorizer(
        [
            cluster_role(
                "owner",
                rule(["get"], [""], ["configmaps"], resourceNames=["a"]),
                rule(["update"], ["apps"], ["*/scale"]),
                {"verbs": ["get"], "nonResourceURLs": ["/metrics/*"]},
            ),
            cluster_binding("alice", "owner", user("alice")),
        ],
        builtin_roles=False,
    )
    alice = User("alice")
    assert authz.uncovered(alice, "t", [Rule(("get",), ("",), ("configmaps",), ("a",))]) == []
    # an owner rule with names never covers a part without one
    unnamed = Rule(("get",), ("",), ("configmaps",))
    assert authz.uncovered(alice, "t", [unnamed]) == [unnamed]
    assert authz.uncovered(alice, "t", [Rule(("update",), ("apps",), ("deployments/scale",))]) == []
    whole = Rule(("update",), ("apps",), ("deployments",))
    assert authz.uncovered(alice, "t", [whole]) == [whole]
    assert authz.uncovered(alice, "", [Rule(("get",), non_resource_urls=("/metrics/x",))]) == []
    healthz = Rule(("get",), non_resource_urls=("/healthz",))
    assert authz.uncovered(alice, "", [healthz]) == [healthz]


# --- reasons -------------------------------------------------------------------------------


def test_reasons_name_what_grants_and_what_is_refused() -> None:
    authz = applier_with("edit")
    granted = authz.authorize(APPLIER, Request("get", "", "secrets", "team-a", "s"))
    assert granted == Decision(True, "RoleBinding team-a/applier -> ClusterRole edit")
    refused = authz.authorize(APPLIER, Request("delete", "", "nodes", "", "n1"))
    assert (
        refused.reason
        == 'system:serviceaccount:team-a:applier may not delete nodes "n1" cluster-wide'
    )
    sub = authz.authorize(APPLIER, Request("update", "apps", "deployments", "team-b", "d", "scale"))
    assert sub.reason == (
        "system:serviceaccount:team-a:applier may not update deployments/scale.apps "
        '"d" in namespace team-b'
    )
    root = Authorizer([cluster_binding("root", "cluster-admin", user("root"))])
    assert root.authorize(User("root"), Request("get", "", "pods", "t")).reason == (
        "ClusterRoleBinding root -> ClusterRole cluster-admin"
    )


@pytest.mark.parametrize("verb", READ + WRITE)
def test_view_holds_exactly_the_read_verbs_on_pods(verb: str) -> None:
    assert allowed(applier_with("view"), APPLIER, verb, "pods", "team-a") is (verb in READ)
