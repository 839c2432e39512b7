"""The benchmark harness on a tiny fleet: the counts it reports are the program's, and its
report calls a goal met or missed by the numbers."""

from __future__ import annotations

import dataclasses
import difflib
import pickle
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run as bench
from benchmarks.fleets import Shape, generated, stack_files
from benchmarks.measure import (
    PROJECT,
    TENANT_COMPONENT,
    Census,
    Evaluation,
    diff_timed,
    evaluate,
    fair_floor,
    floor,
    import_all,
    model_of,
    models,
    render_timed,
    replay,
    simulate_timed,
    validate_timed,
)
from components.gitops_branch import GITOPS_BRANCH_TYPE
from fleet.model import EnvironmentSpec, FleetSpec, fleet_of
from fleet_cli import revisions
from fleet_cli.engine import RecordingMocks, Registered, main_stack_outputs, run

TINY = Shape(management=1, remotes_per_management=1, environments=1, tenants=2, apps_per_tenant=1)
PROVIDER = "pulumi:providers:kubernetes"


@pytest.fixture(scope="module")
def main_run() -> Evaluation:
    return evaluate(TINY, "main", runs=2)


@pytest.fixture(scope="module")
def env_run() -> Evaluation:
    return evaluate(TINY, "env-0", runs=1)


def test_the_fleets_stacks_are_main_then_each_environment() -> None:
    assert [m.stack for m in models(dataclasses.replace(TINY, environments=2))] == [
        "main",
        "env-0",
        "env-1",
    ]
    assert [m.stack for m in models(None)] == ["main", "dev", "qa"]


def test_main_stack_counts(main_run: Evaluation) -> None:
    census = main_run.census
    assert census.by_type[GITOPS_BRANCH_TYPE] == 1
    assert census.by_type[PROVIDER] == 2  # the management cluster's and the remote's
    assert census.by_type["fleet:cluster:ManagementCluster"] == 1
    assert census.by_type["fleet:cluster:RemoteCluster"] == 1
    assert census.by_type["kubernetes:core/v1:Secret"] == 1  # the remote's kubeconfig
    assert census.resources == sum(census.by_type.values())
    assert (census.management_clusters, census.remote_clusters, census.tenants) == (1, 1, 0)
    # The remote: its component, provider and binding; its kubeconfig and Kustomization on M.
    assert census.per_remote == 5
    assert census.other == census.resources - 5
    (branch,) = census.branches.items()
    assert branch[0] == "main" and branch[1].files > 0 and branch[1].bytes > branch[1].files


def test_evaluation_times_every_run_and_its_memory(main_run: Evaluation) -> None:
    assert len(main_run.walls) == 2 and all(w > 0 for w in main_run.walls)
    assert min(main_run.walls) <= main_run.median <= max(main_run.walls)
    assert main_run.peak_rss_mb >= main_run.start_rss_mb > 0
    assert "components.stacks" in main_run.modules


def test_environment_products_are_counted_apart(env_run: Evaluation) -> None:
    census = env_run.census
    assert census.by_type[TENANT_COMPONENT] == 2
    assert census.tenant_namespaces == 1 * 2  # a Namespace per tenant per management cluster
    # The remote: its kubeconfig and two Kustomizations; main grants the environment there.
    assert census.per_remote == 3
    assert census.other == census.resources - 2 - 3
    assert census.other_per_entity == census.other / (2 + 2)


def test_apps_add_files_not_resources(env_run: Evaluation) -> None:
    more_apps = evaluate(dataclasses.replace(TINY, apps_per_tenant=3), "env-0", runs=1).census
    assert more_apps.resources == env_run.census.resources
    assert more_apps.branches["env-0"].files > env_run.census.branches["env-0"].files


def test_floor_registers_exactly_the_count() -> None:
    measured = floor(7, runs=2)
    assert measured.resources == 7 and len(measured.walls) == 2


def test_floor_imports_the_programs_modules_that_import() -> None:
    assert import_all(["json", "no_such_module_anywhere", "__main__"]) == 2


def test_render_and_validate_the_tiny_fleet(tmp_path: Path, env_run: Evaluation) -> None:
    _, _, rendering = render_timed(TINY, "env-0", tmp_path)
    assert rendering.files == env_run.census.branches["env-0"].files
    assert (tmp_path / "out" / "env-0" / "resources.json").exists()
    assert rendering.total >= rendering.render_seconds > 0
    validation = validate_timed(TINY, "env-0", tmp_path)
    assert validation.stack == "env-0" and validation.seconds > 0
    assert validation.findings == []


def test_census_round_trips_through_json(env_run: Evaluation) -> None:
    data: dict[str, Any] = dataclasses.asdict(env_run)
    assert Evaluation.from_json(data) == env_run
    assert isinstance(Census.from_json(data["census"]).branches["env-0"].files, int)


def _result(ratio_time: float, ratio_memory: float, apps_added: int) -> dict[str, Any]:
    stack = {
        "stack": "env-0",
        "errors": [],
        "resources": 10,
        "ratios": {"time": ratio_time, "memory": ratio_memory},
        "growth": {
            "management_clusters": 1,
            "remote_clusters": 1,
            "tenants": 2,
            "tenant_namespaces": 2,
            "per_remote": 5,
            "other": 6,
            "other_per_cluster_or_tenant": 1.5,
        },
    }
    variant = {"stack": "env-0", "apps_per_tenant": 2, "resources": 10, "files": 9}
    variant |= {"variant_apps_per_tenant": 1, "variant_resources": 10 - apps_added}
    variant |= {"variant_files": 5, "resources_added_by_apps": apps_added}
    return {"fleet": "tiny", "shape": {}, "stacks": [stack], "apps_variant": variant}


def test_goals_are_met_or_missed_by_the_numbers() -> None:
    met = bench.goals_lines([_result(1.4, 1.1, 0)])
    assert met[0].startswith("evaluation time <= 1.5x the floor: met")
    assert met[1].startswith("peak memory <= 1.5x the floor: met")
    assert "grow with clusters + tenants: met" in met[2]
    missed = bench.goals_lines([_result(2.0, 1.6, 3)])
    assert "MISSED on 1 of 1 stacks; worst 2.00x" in missed[0]
    assert "MISSED on 1 of 1 stacks; worst 1.60x" in missed[1]
    assert "grow with clusters + tenants: MISSED" in missed[2]


def test_the_simulation_goal_is_met_or_missed_by_the_numbers() -> None:
    def simulated(fleet: str, seconds: float, findings: int) -> dict[str, Any]:
        outcome = {"seconds": seconds, "findings": findings, "peak_rss_mb": 300.0}
        return {"fleet": fleet, "shape": None, "stacks": [], "simulate": outcome}

    assert bench.goals_lines([simulated("100-teams", 29.0, 0)]) == [
        "fleet simulate of 100-teams within 30 s: met (29.0 s, clean)"
    ]
    (slow,) = bench.goals_lines([simulated("100-teams", 31.0, 0)])
    assert slow.endswith("MISSED (31.0 s, 0 findings)")
    (unclean,) = bench.goals_lines([simulated("100-teams", 10.0, 2)])
    assert unclean.endswith("MISSED (10.0 s, 2 findings)")
    assert bench.goals_lines([simulated("edge", 500.0, 0)]) == []
    assert bench.simulation_lines([simulated("edge", 500.0, 0)]) == [
        "simulate: edge: 500.0 s, peak 300 MB, 0 findings"
    ]


def test_stack_json_and_the_table(main_run: Evaluation) -> None:
    bare = floor(3, runs=1)
    data = bench.stack_json(bench.StackMeasurements("main", evaluation=main_run, floor=bare))
    assert data["resources"] == main_run.census.resources
    assert data["ratios"]["time"] == round(main_run.median / bare.median, 2)
    text = bench.timing_table([{"fleet": "tiny", "stacks": [data]}])
    header, rule, row = text.splitlines()
    assert len(rule) == len(header) and row.startswith("tiny")
    assert row.split()[2] == str(main_run.census.resources)


def test_a_child_reports_its_measurement_and_a_slow_one_is_stopped() -> None:
    outcome = bench.in_child({"kind": "floor", "count": 3, "runs": 1}, timeout=60)
    assert outcome.error is None and outcome.values["floor"]["resources"] == 3
    stopped = bench.in_child({"kind": "floor", "count": 3, "runs": 1}, timeout=0.01)
    assert stopped.error is not None and "stopped" in stopped.error


def test_a_new_edge_cluster_is_one_entry_in_one_file() -> None:
    """The generated fleets select clusters by label: an environment's file stays the same
    whatever the number of clusters, and the main stack's grows by the cluster's entry (and
    its kubeconfig's secret key) only."""
    before = stack_files(dataclasses.replace(TINY, remotes_per_management=3))
    after = stack_files(dataclasses.replace(TINY, remotes_per_management=4))
    assert before["env-0"] == after["env-0"]
    changes = list(difflib.unified_diff(before["main"].splitlines(), after["main"].splitlines()))
    added = [line[1:].strip() for line in changes[2:] if line.startswith("+")]
    removed = [line for line in changes[2:] if line.startswith("-")]
    assert added[0] == "- name: edge-00-0003"
    assert "fleet:kubeconfig-edge-00-0003:" in added
    assert removed == []
    _, environments = generated(dataclasses.replace(TINY, remotes_per_management=4))
    assert [c.name for c in environments[0].clusters][-1] == "edge-00-0003"


def test_the_report_gives_each_fleets_lines_of_yaml() -> None:
    lines = bench.config_lines(TINY)
    assert set(lines) == {"main", "env-0"}
    assert bench.config_lines_text([{"fleet": "tiny", "config_lines": lines}]) == [
        f"config: tiny: main {lines['main']}, env-0 {lines['env-0']} lines of YAML"
    ]
    sample = (PROJECT / "Pulumi.dev.yaml").read_text()
    assert bench.config_lines(None)["dev"] == sample.count("\n")


def test_the_fair_floor_replays_exactly_what_the_program_registered(tmp_path: Path) -> None:
    recorded = tmp_path / "registrations.pickle"
    evaluation = evaluate(TINY, "env-0", runs=1, recorded=recorded)
    program: list[Registered] = pickle.loads(recorded.read_bytes())
    assert len(program) == evaluation.census.resources
    mocks = RecordingMocks(main_stack_outputs(fleet_of(model_of(TINY, "env-0"))))
    run("env-0", mocks, lambda: replay(program))

    def shape(r: Registered) -> tuple[Any, ...]:
        return (r.urn, r.parent, r.provider, r.dependencies, r.secret_inputs, r.custom, r.aliases)

    assert sorted(map(shape, mocks.resources)) == sorted(map(shape, program))
    assert {r.urn: r.inputs for r in mocks.resources} == {r.urn: r.inputs for r in program}
    fair = fair_floor(TINY, "env-0", recorded, runs=1)
    assert fair.resources == len(program) and fair.median > 0


def test_the_fair_floor_goal_is_met_or_missed_by_the_numbers() -> None:
    def stack(resources: int, fair: float, median: float) -> dict[str, Any]:
        return {
            "stack": "s",
            "errors": [],
            "resources": resources,
            "ratios": {"fair_time": fair},
            "evaluation": {"median_s": median},
        }

    met = bench._fair_goal_lines([{"fleet": "f", "stacks": [stack(500, 1.2, 1.0)]}])
    assert met[0].startswith("evaluation time <= 1.3x the fair floor on stacks of 400")
    assert ": met; worst 1.20x (f s)" in met[0]
    missed = bench._fair_goal_lines(
        [{"fleet": "f", "stacks": [stack(500, 1.4, 1.0), stack(20, 9.0, 0.25)]}]
    )
    assert "MISSED on 1 of 1 stacks; worst 1.40x" in missed[0]  # the small one is not counted
    assert (
        missed[1] == "a stack of under 100 resources evaluates within 100 ms: MISSED; "
        "slowest 250 ms (f s)"
    )


def test_the_diff_of_one_added_remote_is_timed_with_its_base_made_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(revisions.CACHE_ENV, str(tmp_path / "renders"))
    (diffed,) = diff_timed(TINY, ["env-0"], tmp_path)
    assert diffed.stack == "env-0" and diffed.remotes == 1
    assert diffed.cold_seconds > 0 and diffed.warm_seconds > 0 and diffed.lines > 3
    assert len(list((tmp_path / "renders").iterdir())) == 1  # the base, kept once
    timed: dict[str, Any] = {**dataclasses.asdict(diffed), "cold_s": 12.0, "warm_s": 6.0}
    result: dict[str, Any] = {"fleet": "tiny", "shape": None, "stacks": [], "diff": [timed]}
    assert bench.goals_lines([result]) == [
        "fleet diff of one remote added to 1 within 5 s: MISSED; slowest 6.0 s (env-0, base "
        "read back)"
    ]


# ---------------------------------------------------------------- a fleet split into shards

SPLIT = dataclasses.replace(TINY, shards=2)


def test_a_split_fleet_is_a_main_stack_per_shard_each_on_its_own_branch() -> None:
    stacks = models(SPLIT)
    assert [m.stack for m in stacks] == ["main-s0", "env-0-s0", "main-s1", "env-0-s1"]
    mains = [m for m in stacks if isinstance(m, FleetSpec)]
    assert [(m.branch, m.environments) for m in mains] == [
        ("main-s0", ("env-0-s0",)),
        ("main-s1", ("env-0-s1",)),
    ]
    clusters = [{c.name for c in m.clusters} for m in mains]
    assert clusters == [{"s0-mgmt-00", "s0-edge-00-0000"}, {"s1-mgmt-00", "s1-edge-00-0000"}]
    environments = [m for m in stacks if isinstance(m, EnvironmentSpec)]
    assert [(e.name, e.branch, e.fleet.stack) for e in environments] == [
        ("env-0-s0", "env-0-s0", "main-s0"),
        ("env-0-s1", "env-0-s1", "main-s1"),
    ]
    # A fleet of one shard is named as before.
    assert [m.stack for m in models(TINY)] == ["main", "env-0"]


def test_a_split_fleet_deploys_clean_shard_by_shard_into_one_repository(tmp_path: Path) -> None:
    simulated = simulate_timed(SPLIT, tmp_path)
    assert simulated.findings == []


def test_the_split_report_gives_each_stack_and_the_totals() -> None:
    def stack(name: str, resources: int, seconds: float, state: int) -> dict[str, Any]:
        return {
            "stack": name,
            "errors": [],
            "resources": resources,
            "growth": {"per_remote": 6, "remote_clusters": 2},
            "evaluation": {"median_s": seconds, "peak_rss_mb": 300.0},
            "state": {"bytes": state},
        }

    result = {
        "fleet": "split",
        "shape": dataclasses.asdict(SPLIT),
        "split": [
            stack("main-s0", 10, 2.0, 1_000_000),
            stack("env-0-s0", 20, 3.0, 2_000_000),
            stack("main-s1", 10, 4.0, 1_000_000),
            stack("env-0-s1", 20, 1.0, 2_000_000),
        ],
        "stacks": [],
    }
    *_, totals = bench.split_lines([result])
    assert totals == (
        "split: split: 2 remotes in 4 stacks (2 main): 60 resources, at most 20 a stack; "
        "evaluation 10 s one after the other, 7 s as the deploy workflow runs them; peak "
        "300 MB a stack; state 6 MB in all, at most 2.0 MB a stack"
    )
