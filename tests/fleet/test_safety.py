"""Safety: the removal guard, no adopted objects, secret hygiene, partial failures, stable URNs."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fleets import Shape
from components.gitwriter import BranchTarget, GitWriterError, apply
from fleet import outputs
from fleet.errors import ConfigError
from fleet.model import ENCRYPTED, EnvironmentSpec, FleetSpec, load_environment, load_main
from fleet.safety import check_let_go, check_removals, inventory, leaving_clusters, removals
from fleet_cli.engine import main_stack_outputs, stack_render
from fleet_cli.render import write
from tests.fleet.test_stability import EDITS, before_and_after, only_additions, shapes
from tests.support.deployments import (
    Deployment,
    committed,
    deploy,
    program,
    run_program,
    sample_mocks,
    settle,
    stack_config,
)
from tests.support.sample import load_sample, sample_raw

# ---------------------------------------------------------------- the removal guard

DEV_CLUSTERS = ["k3d-america", "pacific-aks", "k3s-america-south"]
DEV_INVENTORY = {
    "clusters": DEV_CLUSTERS,
    "tenants": ["kaizentm", "yakuza"],
    "placements": [
        *(f"kaizentm@{c}" for c in DEV_CLUSTERS),
        *(f"kaizentm/1-0-x@{c}" for c in DEV_CLUSTERS),
        *(f"yakuza@{c}" for c in DEV_CLUSTERS),
    ],
    "apps": ["kaizentm/azure-vote", "yakuza/katana-vote"],
    "components": ["redis"],
    "identity": "environment dev on branch dev of https://github.com/kaizentm/multicluster-gitops",
    "appPlacements": [
        *(f"kaizentm/azure-vote@{c}" for c in DEV_CLUSTERS),
        *(f"yakuza/katana-vote@{c}" for c in DEV_CLUSTERS),
    ],
    "componentPlacements": [f"redis@{c}" for c in DEV_CLUSTERS],
}


def test_inventory_names_clusters_tenants_and_where_they_run() -> None:
    assert inventory(load_sample("dev")) == DEV_INVENTORY
    assert inventory(load_sample("main"))["tenants"] == []


def test_removals_lists_what_would_go() -> None:
    current = {
        **DEV_INVENTORY,
        "clusters": ["k3d-america", "pacific-aks"],
        "tenants": ["kaizentm"],
        "placements": ["kaizentm@k3d-america", "kaizentm@pacific-aks"],
        "apps": ["kaizentm/azure-vote"],
    }
    # A removed cluster or tenant takes its placements with it: counted once.
    assert removals(DEV_INVENTORY, current) == [
        "cluster k3s-america-south",
        "tenant yakuza",
        "tenant kaizentm/1-0-x from cluster k3d-america",
        "tenant kaizentm/1-0-x from cluster pacific-aks",
    ]
    assert removals({}, current) == []
    assert removals({"clusters": "not a list"}, current) == []


def test_an_app_removed_counts_and_a_renamed_environment_counts_everything() -> None:
    def without_app(raw: dict[str, Any]) -> None:
        raw["tenants"][1]["apps"] = []

    assert removals(DEV_INVENTORY, inventory(load_sample("dev", without_app))) == [
        "app yakuza/katana-vote"
    ]

    def renamed(raw: dict[str, Any]) -> None:
        raw["environment"] = {"name": "development"}

    gone = removals(DEV_INVENTORY, inventory(load_sample("dev", renamed)))
    change = (
        "(environment dev on branch dev of https://github.com/kaizentm/multicluster-gitops "
        "becomes environment development on branch development of "
        "https://github.com/kaizentm/multicluster-gitops)"
    )
    assert gone == [
        f"tenant kaizentm {change}",
        f"tenant yakuza {change}",
        f"infra component redis {change}",
        *(f"what the stack applies on {c} {change}" for c in DEV_CLUSTERS),
    ]


def test_an_app_or_a_component_leaving_a_cluster_counts() -> None:
    def narrowed(raw: dict[str, Any]) -> None:
        raw["tenants"][1]["apps"][0]["clusters"] = ["k3d-america"]
        raw["infra"][0]["clusters"] = ["k3d-america", "pacific-aks"]

    assert removals(DEV_INVENTORY, inventory(load_sample("dev", narrowed))) == [
        "app yakuza/katana-vote from cluster pacific-aks",
        "app yakuza/katana-vote from cluster k3s-america-south",
        "infra component redis from cluster k3s-america-south",
    ]


def test_the_guard_fails_closed_without_a_previous_inventory() -> None:
    env = load_sample("dev")
    with pytest.raises(ConfigError, match="left no inventory"):
        check_removals(None, env, "Pulumi.dev.yaml")
    allowed = load_sample("dev", lambda raw: raw.update(maxRemovals=6))
    check_removals(None, allowed, "Pulumi.dev.yaml")  # 3 clusters, 2 tenants, 1 component


def test_a_tenant_narrowed_to_fewer_clusters_counts_as_removals() -> None:
    def narrowed(raw: dict[str, Any]) -> None:
        raw["tenants"][1]["clusters"] = ["pacific-aks"]

    env = load_sample("dev", narrowed)
    assert removals(DEV_INVENTORY, inventory(env)) == [
        "tenant yakuza from cluster k3d-america",
        "tenant yakuza from cluster k3s-america-south",
    ]
    with pytest.raises(ConfigError, match="would remove 2 clusters, tenants, apps or components"):
        check_removals(DEV_INVENTORY, env, "Pulumi.dev.yaml")


def without(raw: dict[str, Any], remote: bool = True, tenant: bool = True) -> dict[str, Any]:
    edited = copy.deepcopy(raw)
    if remote:
        edited["clusters"] = [c for c in edited["clusters"] if c != "k3s-america-south"]
    if tenant:
        edited["tenants"] = [t for t in edited["tenants"] if t["name"] != "yakuza"]
    return edited


def test_one_removal_passes_the_default_guard() -> None:
    env = load_sample("dev", lambda raw: raw.update(without(raw, remote=False)))
    assert removals(DEV_INVENTORY, inventory(env)) == ["tenant yakuza"]
    check_removals(DEV_INVENTORY, env, "Pulumi.dev.yaml")  # one is the default allowance


def test_two_removals_stop_the_update() -> None:
    env = load_sample("dev", lambda raw: raw.update(without(raw)))
    with pytest.raises(ConfigError) as caught:
        check_removals(DEV_INVENTORY, env, "Pulumi.dev.yaml")
    assert str(caught.value) == (
        "Pulumi.dev.yaml: 1 problem\n"
        "  fleet:maxRemovals: this update would remove 2 clusters, tenants, apps or components "
        "(cluster k3s-america-south, tenant yakuza); at most 1 may go in one update. If that is "
        "meant, set fleet:maxRemovals to 2 for this update"
    )


def test_max_removals_zero_keeps_everything() -> None:
    env = load_sample("dev", lambda raw: raw.update(without(raw, remote=False), maxRemovals=0))
    with pytest.raises(ConfigError, match="tenant yakuza"):
        check_removals(DEV_INVENTORY, env, "Pulumi.dev.yaml")


def plain_config(stack: str) -> dict[str, Any]:
    return {k: v for k, v in sample_raw(stack).items() if v is not ENCRYPTED}


def test_the_program_stops_before_changing_anything() -> None:
    mocks = sample_mocks()
    mocks.previous = {outputs.INVENTORY: DEV_INVENTORY}
    with (
        stack_config(without(plain_config("dev")), secret_keys=[]),
        pytest.raises(pulumi.RunError, match=r"cluster k3s-america-south, tenant yakuza"),
    ):
        run_program("dev", mocks)
    # Only the read of the last deployment's outputs: nothing created, changed or deleted.
    assert [(r.type, r.name) for r in mocks.resources] == [
        ("pulumi:pulumi:StackReference", "dev-previous-deployment")
    ]


def test_the_program_goes_ahead_when_the_config_allows_it() -> None:
    mocks = sample_mocks()
    mocks.previous = {outputs.INVENTORY: DEV_INVENTORY}
    config = {**without(plain_config("dev")), "maxRemovals": 2}
    with stack_config(config, secret_keys=[]):
        exports = run_program("dev", mocks)
    assert exports[outputs.INVENTORY] == {
        "clusters": ["k3d-america", "pacific-aks"],
        "tenants": ["kaizentm"],
        "placements": [
            f"kaizentm{channel}@{cluster}"
            for channel in ("", "/1-0-x")
            for cluster in ("k3d-america", "pacific-aks")
        ],
        "apps": ["kaizentm/azure-vote"],
        "components": ["redis"],
        "identity": DEV_INVENTORY["identity"],
        "appPlacements": [f"kaizentm/azure-vote@{c}" for c in ("k3d-america", "pacific-aks")],
        "componentPlacements": [f"redis@{c}" for c in ("k3d-america", "pacific-aks")],
    }


# ---------------------------------------------------------------- objects not the program's


def test_no_provider_adopts_an_existing_object() -> None:
    for stack in ("main", "dev"):
        mocks = sample_mocks()
        secrets = {"k3sAmericaSouthKubeconfig": "kubeconfig"} if stack == "main" else {}
        with stack_config({**plain_config(stack), **secrets}, secret_keys=list(secrets)):
            run_program(stack, mocks)
        providers = [r for r in mocks.resources if r.type == "pulumi:providers:kubernetes"]
        # Main: two management clusters and the remote; dev: the management clusters only.
        assert len(providers) == (3 if stack == "main" else 2)
        # Creating a namespace that exists fails instead of taking it over, so removing an
        # entity can only delete what the program itself created.
        assert all(p.inputs["upsertExistingObjects"] == "false" for p in providers)


# ---------------------------------------------------------------- secret hygiene

CANARY = "CANARY-5f3a9c"


def canary_kubeconfig(cluster: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": f"https://{cluster}"}}],
            "users": [{"name": cluster, "user": {"token": f"{CANARY}-{cluster}"}}],
        }
    )


def canary_deployments() -> list[Deployment]:
    """The sample fleet with every secret a recognisable value, token-using repositories."""
    token_repository = {
        "url": "https://github.com/kaizentm/multicluster-gitops",
        "pushUrl": ".gitops/multicluster-gitops.git",
        "tokenSecret": "gitToken",
    }
    main_raw = {**plain_config("main"), "repository": token_repository}
    main_secrets = {
        "gitToken": f"ghp_{CANARY}",
        "k3sAmericaSouthKubeconfig": canary_kubeconfig("k3s-america-south"),
    }
    fleet = load_main({**main_raw, **dict.fromkeys(main_secrets, ENCRYPTED)}, "main", source="m")
    dev_raw = plain_config("dev")
    dev_raw["tenants"][0]["repository"]["credentialsSecret"] = "kaizentmToken"
    dev_raw["tenants"][0]["imagePullSecret"] = "kaizentmRegistry"
    dev_secrets = {
        "gitToken": f"ghp_{CANARY}",
        "kaizentmToken": f"tenant-{CANARY}",
        "kaizentmRegistry": f'{{"auths": {{"r": {{"auth": "{CANARY}"}}}}}}',
    }
    env = load_environment(
        {**dev_raw, **dict.fromkeys(dev_secrets, ENCRYPTED)}, "dev", fleet, source="dev"
    )
    exported = main_stack_outputs(fleet)
    for name in exported[outputs.CLUSTERS]:
        exported[outputs.CLUSTERS][name]["kubeconfig"] = canary_kubeconfig(name)
    return [
        deploy("main", program(fleet), main_raw, main_secrets, exported),
        deploy("dev", program(env), dev_raw, dev_secrets, exported),
    ]


def test_secrets_appear_nowhere_but_in_secret_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployments = canary_deployments()
    scanned = 0
    for deployment in deployments:
        # The secrets did reach the resources that need them, as secrets.
        secret_uses = [
            r for r in deployment.resources if CANARY in str(r.inputs) and r.secret_inputs
        ]
        assert secret_uses
        for resource in deployment.resources:
            plain = _without_paths(resource.inputs, resource.secret_inputs)
            assert CANARY not in str(plain), (resource.type, resource.name)
            scanned += 1
        # Committed files.
        (branch,) = deployment.of_type("dynamic:GitOpsBranch")
        assert CANARY not in str(committed(branch))
        # Outputs: plain ones hold no secret; the ones that do are secret.
        for name, value in deployment.exports.items():
            settled, is_secret = settle(value)
            assert is_secret or CANARY not in str(settled), name
        # What `fleet render` writes.
        stack = deployment.exports["summary"].split("'")[1]
        root = write(stack_render(stack, deployment.resources), tmp_path)
        for path in root.rglob("*"):
            if path.is_file():
                assert CANARY not in path.read_text(), path
    # Logs.
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    assert scanned > 40


def _without_paths(value: Any, secret_paths: frozenset[str], path: str = "") -> Any:
    if path in secret_paths:
        return None
    if isinstance(value, dict):
        return {
            k: _without_paths(v, secret_paths, f"{path}.{k}" if path else k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_paths(v, secret_paths, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def test_a_plain_text_secret_is_never_echoed_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_sample("main", lambda raw: raw.update(k3sAmericaSouthKubeconfig=CANARY))
    assert "holds a secret in plain text" in str(caught.value)
    assert CANARY not in str(caught.value)


# ---------------------------------------------------------------- partial failure


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_failed_push_leaves_the_branch_whole_and_a_rerun_converges(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(remote))
    target = BranchTarget(url=str(remote), branch="main", owner="fleet/main")
    first = {"infra/a.yaml": "a: 1\n", "infra/b.yaml": "b: 1\n"}
    apply(target, first, "first")
    tip = git("rev-parse", "main", cwd=remote)

    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'remote is down for maintenance' >&2\nexit 1\n")
    hook.chmod(0o755)
    second = {"infra/a.yaml": "a: 2\n", "infra/c.yaml": "c: 1\n"}
    with pytest.raises(GitWriterError, match="remote is down for maintenance"):
        apply(target, second, "second")
    # Nothing of the second tree landed: the branch is the first tree, whole.
    assert git("rev-parse", "main", cwd=remote) == tip

    hook.unlink()
    commit, changes = apply(target, second, "second, again")
    assert commit is not None
    assert (changes.added, changes.changed, changes.removed) == (
        ("infra/c.yaml",),
        ("infra/a.yaml",),
        ("infra/b.yaml",),
    )
    listed = git("ls-tree", "-r", "--name-only", "main", cwd=remote).splitlines()
    assert sorted(listed) == [".fleet/owned-files.json", "infra/a.yaml", "infra/c.yaml"]
    # Converged: running again changes nothing.
    assert apply(target, second, "third")[0] is None


# ---------------------------------------------------------------- stable identities


def deploy_generated(main_raw: dict[str, Any], env_raw: dict[str, Any]) -> list[Deployment]:
    fleet = load_main(main_raw, "main", source="main")
    env = load_environment(env_raw, "env-0", fleet, source="env-0")
    assert isinstance(fleet, FleetSpec) and isinstance(env, EnvironmentSpec)
    secrets = {ref.key: "kubeconfig" for ref in fleet.secret_keys}
    exported = main_stack_outputs(fleet)
    return [
        deploy("main", program(fleet), {}, secrets, exported),
        deploy("env-0", program(env), {}, {}, exported),
    ]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, edit=st.sampled_from(sorted(EDITS)))
def test_adding_an_entity_keeps_every_other_resource(shape: Shape, edit: str) -> None:
    configs_before, configs_after = before_and_after(shape, edit)
    before, after = deploy_generated(*configs_before), deploy_generated(*configs_after)
    for old, new in zip(before, after, strict=True):
        old_urns, new_urns = old.by_urn(), new.by_urn()
        assert set(old_urns) <= set(new_urns), f"adding a {edit} removed resources"
        for urn, resource in old_urns.items():
            if resource.type.endswith("dynamic:GitOpsBranch"):
                old_files, new_files = committed(resource), committed(new_urns[urn])
                assert all(only_additions(t, new_files[p]) for p, t in old_files.items())
            else:
                assert new_urns[urn].inputs == resource.inputs, (edit, resource.name)


# ---------------------------------------------------------------- a cluster leaving the fleet


def test_the_clusters_leaving_are_those_mains_last_deployment_had() -> None:
    fleet = load_sample("main")
    assert isinstance(fleet, FleetSpec)
    previous = inventory(fleet)
    assert leaving_clusters(previous, fleet) == []
    assert leaving_clusters(None, fleet) == []  # nothing known, nothing to hold back
    previous["clusters"] = [*previous["clusters"], "k3s-gone"]
    assert leaving_clusters(previous, fleet) == ["k3s-gone"]


def test_a_cluster_leaves_only_once_no_environments_last_deployment_has_it() -> None:
    dev = {"clusters": ["k3d-america", "k3s-america-south"]}
    qa = {"clusters": ["k3d-america"]}
    check_let_go(["k3s-america-south"], [], {"qa": qa, "never": None}, "Pulumi.main.yaml")
    with pytest.raises(ConfigError) as caught:
        check_let_go(
            ["k3s-america-south", "k3d-america"],
            [],
            {"qa": qa, "dev": dev, "never-deployed": None},
            "Pulumi.main.yaml",
        )
    assert caught.value.source == "Pulumi.main.yaml"
    held = [(p.message.split(" leaves")[0], p.message.split("stack ")[1].split(" ")[0])
            for p in caught.value.problems]  # fmt: skip
    assert sorted(held) == [
        ("cluster k3d-america", "dev"),
        ("cluster k3d-america", "qa"),
        ("cluster k3s-america-south", "dev"),
    ]


def test_an_environment_leaves_mains_grant_only_once_no_stack_runs_it() -> None:
    dev = {"clusters": ["k3d-america"], "identity": "environment dev on branch dev of x"}
    renamed = {"clusters": ["k3d-america"], "identity": "environment development on branch d of x"}
    # Stack dev now runs `development`: dev may go.
    check_let_go([], ["dev"], {"dev": renamed}, "Pulumi.main.yaml")
    with pytest.raises(ConfigError) as caught:
        check_let_go([], ["dev"], {"dev": dev, "qa": None}, "Pulumi.main.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "fleet:environments: environment dev leaves the list while stack dev still runs it: "
        "keep it listed until stack dev is destroyed, or deployed under its new name (list "
        "both names meanwhile)"
    ]
