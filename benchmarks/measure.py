"""One measurement of one stack, in this process.

`benchmarks.run` runs each of these in a fresh subprocess, so that the peak RSS it reports
belongs to that workload alone; the tests call them directly on a tiny fleet. Every child
imports this module, so the floor's baseline memory (pulumi, pulumi_kubernetes, the components,
the fleet package) is the same as the program's.
"""

from __future__ import annotations

import contextlib
import copy
import cProfile
import gc
import importlib
import io
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes
import yaml

from benchmarks.fleets import Shape, configs, generated_shards, main_config
from benchmarks.state import StateSize, state_size
from components import tree_store
from components.gitops_branch import GITOPS_BRANCH_TYPE
from components.stack_config import secret_config
from components.stacks import build
from fleet import tree
from fleet.config import CONFIG_NAMESPACE
from fleet.model import ENCRYPTED, EnvironmentSpec, FleetSpec, StackSpec, fleet_of
from fleet.stackfile import deploy_order, environments_of, load_stack
from fleet_cli import render as render_files
from fleet_cli.engine import (
    RecordingMocks,
    Registered,
    fake_kubeconfig,
    main_stack_outputs,
    render_stack,
    run,
    stack_config,
)
from fleet_cli.main import main as fleet_main
from fleet_cli.render import StackRender
from fleet_cli.simulation.report import report
from fleet_cli.simulation.simulation import simulation

PROJECT = Path(__file__).resolve().parent.parent
"""The project: its sample stacks, `Pulumi.yaml` and `__main__.py`."""

FLEETS: dict[str, Shape | None] = {
    "sample": None,
    "100-teams": Shape(
        management=3, remotes_per_management=0, environments=3, tenants=100, apps_per_tenant=2
    ),
    "edge": Shape(
        management=10, remotes_per_management=100, environments=1, tenants=5, apps_per_tenant=1
    ),
    "split-10k": Shape(
        management=10,
        remotes_per_management=100,
        environments=1,
        tenants=5,
        apps_per_tenant=1,
        shards=10,
    ),
}
"""The benchmarked fleets; None is the project's own sample stacks."""

BARE_TYPE = "bench:index:Bare"
TENANT_COMPONENT = "fleet:environment:Tenant"
SECRET_TYPE = "kubernetes:core/v1:Secret"
_IMPORTED = (pulumi_kubernetes.__name__,)
"""Imported for the baseline memory only: the floor's process holds what the program's holds."""

Model = StackSpec


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- the fleets' stacks


def models(shape: Shape | None) -> list[Model]:
    """Every stack of the fleet, main first; `None` is the sample fleet, read from its files."""
    if shape is None:
        main_path = PROJECT / "Pulumi.main.yaml"
        return [load_stack(main_path), *environments_of(main_path)]
    found: list[Model] = []
    for fleet, environments in generated_shards(shape):
        found += [fleet, *environments]
    return found


def model_of(shape: Shape | None, stack: str) -> Model:
    for model in models(shape):
        if model.stack == stack:
            return model
    raise KeyError(f"no stack {stack!r} in this fleet")


# ---------------------------------------------------------------- what a run registered


@dataclass(frozen=True)
class Branch:
    """What the stack commits to one branch (the GitOpsBranch resource's `files` input)."""

    files: int
    bytes: int


@dataclass(frozen=True)
class Census:
    """What one run of a stack's program registered, sorted by what its count grows with."""

    resources: int
    by_type: dict[str, int]
    branches: dict[str, Branch]
    management_clusters: int
    remote_clusters: int
    tenants: int
    tenant_namespaces: int
    """Children of a Tenant: the tenant's Namespace (and its credentials) in each tenant
    namespace on each management cluster. Per design."""
    per_remote: int
    """What each remote costs the stack: its component, its provider, the platform's binding
    on it, its `R-kubeconfig` Secret and the Kustomizations that reach it."""
    dependencies: int
    """`depends_on` edges the engine is told about, summed over resources: the SDK resolves
    each one, so they cost time even where the resources are few."""

    @property
    def clusters(self) -> int:
        return self.management_clusters + self.remote_clusters

    @property
    def other(self) -> int:
        """The resources that must grow with clusters plus tenants."""
        return self.resources - self.tenant_namespaces - self.per_remote

    @property
    def other_per_entity(self) -> float:
        return self.other / max(1, self.clusters + self.tenants)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Census:
        return Census(
            **{
                **data,
                "branches": {b: Branch(**v) for b, v in data["branches"].items()},
            }
        )


def census(model: Model, resources: list[Registered]) -> Census:
    """Count what was registered, the per-design products apart: the Tenant components'
    children, and what belongs to each remote (found by its name in the resource's)."""
    tenants = {r.urn for r in resources if r.type == TENANT_COMPONENT}
    remotes = [c.name for c in model.clusters if c.role == "remote"]

    def of_a_remote(name: str) -> bool:
        return any(
            name == r or name.startswith(f"{r}-") or name.endswith(f"-{r}") or f"-{r}-" in name
            for r in remotes
        )

    tenant_namespaces = per_remote = 0
    branches: dict[str, Branch] = {}
    for r in resources:
        if r.type == GITOPS_BRANCH_TYPE:
            files = tree_store.load(r.inputs["tree"])
            size = sum(len(text.encode("utf-8")) for text in files.values())
            branches[str(r.inputs["branch"])] = Branch(len(files), size)
        if r.parent in tenants:
            tenant_namespaces += 1
        elif of_a_remote(r.name):
            per_remote += 1
    management = sum(1 for c in model.clusters if c.role == "management")
    return Census(
        resources=len(resources),
        by_type=dict(sorted(Counter(r.type for r in resources).items())),
        branches=branches,
        management_clusters=management,
        remote_clusters=len(remotes),
        tenants=len(model.tenants) if isinstance(model, EnvironmentSpec) else 0,
        tenant_namespaces=tenant_namespaces,
        per_remote=per_remote,
        dependencies=sum(len(r.dependencies) for r in resources),
    )


# ---------------------------------------------------------------- program evaluation


@dataclass(frozen=True)
class Evaluation:
    """The stack's program under the recording mocks, `runs` times."""

    stack: str
    census: Census
    walls: list[float]
    """Wall time of each `run(...)`, in seconds."""
    tree_seconds: float
    """Of which the program's own rendering of the branch (`fleet.tree`), measured apart."""
    start_rss_mb: float
    """Peak RSS before the first run: the imports and the model."""
    peak_rss_mb: float
    state: StateSize | None = None
    """What the stack would keep in its Pulumi state (`benchmarks.state`)."""
    modules: list[str] = field(default_factory=list)
    """Every module loaded by the end (the SDK loads most lazily, in the first run): the floor
    imports them all, so that both start from the same baseline memory."""

    @property
    def median(self) -> float:
        return median(self.walls)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Evaluation:
        state = data.get("state")
        return Evaluation(
            **{
                **data,
                "census": Census.from_json(data["census"]),
                "state": StateSize.from_json(state) if state is not None else None,
            }
        )


def run_program(
    model: Model, profiler: cProfile.Profile | None = None
) -> tuple[RecordingMocks, float]:
    """The program as `__main__.py` builds it after loading the config, under fresh mocks.

    Every secret key the stack names gets a kubeconfig-sized value; the wall time (and the
    `profiler`, if any) covers `run(...)` alone, not the making of the mocks."""
    secrets = {ref.key: fake_kubeconfig(ref.key) for ref in model.secret_keys}
    mocks = RecordingMocks(main_stack_outputs(fleet_of(model)))
    with stack_config(secrets, list(secrets)):
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        try:
            run(model.stack, mocks, lambda: build(model, secret_config(model)))
        finally:
            if profiler is not None:
                profiler.disable()
        wall = time.perf_counter() - start
    return mocks, wall


def branch_files(model: Model) -> dict[str, str]:
    """What the program renders for its branch: the `fleet.tree` part of its work."""
    if isinstance(model, FleetSpec):
        return tree.main_branch(model)
    return tree.environment_branch(model)


def evaluate(
    shape: Shape | None, stack: str, runs: int, recorded: Path | None = None
) -> Evaluation:
    """The program `runs` times; `recorded` keeps what the first run registered (for the
    fair floor)."""
    model = model_of(shape, stack)
    start_rss = peak_rss_mb()
    walls: list[float] = []
    counted: Census | None = None
    stored: StateSize | None = None
    for _ in range(runs):
        gc.collect()
        mocks, wall = run_program(model)
        walls.append(wall)
        counted = census(model, mocks.resources)
        if stored is None:
            stored = state_size(mocks.resources, mocks.stack_outputs)
            if recorded is not None:
                recorded.write_bytes(pickle.dumps(mocks.resources))
        del mocks
    assert counted is not None, "runs must be at least 1"
    peak = peak_rss_mb()
    start = time.perf_counter()
    branch_files(model)
    tree_seconds = time.perf_counter() - start
    return Evaluation(
        stack, counted, walls, tree_seconds, start_rss, peak, stored, sorted(sys.modules)
    )


# ---------------------------------------------------------------- the floor


@dataclass(frozen=True)
class Floor:
    """`resources` bare custom resources registered under the same mocks and `run(...)`."""

    resources: int
    walls: list[float]
    start_rss_mb: float
    peak_rss_mb: float
    imported: int = 0
    """How many of the program's modules it imported first (the rest do not import alone)."""

    @property
    def median(self) -> float:
        return median(self.walls)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Floor:
        return Floor(**data)


def _bare(count: int) -> dict[str, Any]:
    for i in range(count):
        pulumi.CustomResource(BARE_TYPE, f"bare-{i}", {})
    return {}


def import_all(modules: list[str]) -> int:
    """Import what the program's process had loaded; returns how many are loaded now."""
    for name in modules:
        if name in sys.modules or name.startswith("__"):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # a module that imports only as part of another: skip it
            continue
    return sum(1 for name in modules if name in sys.modules)


def floor(count: int, runs: int, modules: list[str] | None = None) -> Floor:
    """What registering `count` resources costs the SDK and the mocks, and nothing else.

    `modules` (the program's, from its evaluation) are imported first, so that the baseline
    memory is the program's."""
    imported = import_all(modules or [])
    start_rss = peak_rss_mb()
    walls: list[float] = []
    for _ in range(runs):
        gc.collect()
        mocks = RecordingMocks()
        start = time.perf_counter()
        run("floor", mocks, lambda: _bare(count))
        walls.append(time.perf_counter() - start)
        if len(mocks.resources) != count:
            raise RuntimeError(f"the floor registered {len(mocks.resources)}, not {count}")
        del mocks
    return Floor(count, walls, start_rss, peak_rss_mb(), imported)


def replay(recorded: list[Registered]) -> dict[str, Any]:
    """The recorded registrations again, without the program: each resource with its type,
    name, inputs (secrets as secrets), parent, provider, dependencies and aliases, in the
    order the program registered them."""
    made: dict[str, pulumi.Resource] = {}
    for r in recorded:
        opts = pulumi.ResourceOptions(
            parent=made.get(r.parent),
            depends_on=[made[d] for d in sorted(r.dependencies) if d in made],
            aliases=list(r.aliases) or None,
        )
        inputs = _secrets_wrapped(r.inputs, "", r.secret_inputs)
        resource: pulumi.Resource
        if r.type.startswith("pulumi:providers:"):
            package = r.type.rsplit(":", 1)[-1]
            resource = pulumi.ProviderResource(package, r.name, inputs, opts)
        elif not r.custom:
            resource = pulumi.ComponentResource(r.type, r.name, None, opts)
        else:
            provider = made.get(r.provider)
            if isinstance(provider, pulumi.ProviderResource):
                opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=provider))
            resource = pulumi.CustomResource(r.type, r.name, inputs, opts)
        made[r.urn] = resource
    return {}


def _secrets_wrapped(value: Any, path: str, secrets: frozenset[str]) -> Any:
    if path in secrets:
        return pulumi.Output.secret(value)
    if isinstance(value, dict):
        return {
            k: _secrets_wrapped(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_secrets_wrapped(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


def fair_floor(
    shape: Shape | None, stack: str, recorded: Path, runs: int, modules: list[str] | None = None
) -> Floor:
    """What the stack's own registrations cost the SDK and the mocks without the program: the
    resources the program registered (read from `recorded`, a pickle of them), replayed under
    the same mocks. The program's evaluation over this is what its own logic costs."""
    imported = import_all(modules or [])
    model = model_of(shape, stack)
    registrations: list[Registered] = pickle.loads(recorded.read_bytes())
    start_rss = peak_rss_mb()
    walls: list[float] = []
    for _ in range(runs):
        gc.collect()
        mocks = RecordingMocks(main_stack_outputs(fleet_of(model)))
        start = time.perf_counter()
        run(stack, mocks, lambda: replay(registrations))
        walls.append(time.perf_counter() - start)
        if len(mocks.resources) != len(registrations):
            raise RuntimeError(
                f"the replay registered {len(mocks.resources)}, not {len(registrations)}"
            )
        del mocks
    return Floor(len(registrations), walls, start_rss, peak_rss_mb(), imported)


# ---------------------------------------------------------------- fleet render and validate


@dataclass(frozen=True)
class Rendering:
    """`fleet render STACK`: load the stack file, run `__main__.py` under mocks, write it out."""

    stack: str
    load_seconds: float
    render_seconds: float
    write_seconds: float
    files: int
    objects: int
    peak_rss_mb: float

    @property
    def total(self) -> float:
        return self.load_seconds + self.render_seconds + self.write_seconds

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Rendering:
        return Rendering(**data)


@dataclass(frozen=True)
class Validation:
    """`fleet validate STACK`, or `fleet simulate` of the whole project (`stack` "*"): what the
    simulation reports, and how long it took."""

    stack: str
    seconds: float
    findings: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Validation:
        return Validation(**data)


def _stack_file(path: Path, raw: Mapping[str, Any]) -> None:
    """A settings file as `pulumi config set` would leave it; secret values encrypted."""
    config = {
        f"{CONFIG_NAMESPACE}:{key}": {"secure": "v1:benchmark"} if value is ENCRYPTED else value
        for key, value in raw.items()
    }
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False), encoding="utf-8")


def project_of(shape: Shape | None, workdir: Path) -> Path:
    """A project folder holding the fleet's stack files: the sample's is the project itself;
    a generated fleet's is written under `workdir`, beside a copy of the program."""
    if shape is None:
        return PROJECT
    project = workdir / "project"
    project.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copyfile(PROJECT / name, project / name)
    _stack_files(project, shape)
    return project


def _stack_files(project: Path, shape: Shape) -> None:
    """The generated fleet's stack settings files in `project`."""
    for stack, raw in configs(shape).items():
        _stack_file(project / f"Pulumi.{stack}.yaml", raw)


def render_timed(
    shape: Shape | None, stack: str, workdir: Path
) -> tuple[Model, StackRender, Rendering]:
    """What `fleet render STACK --out DIR` does, timed phase by phase."""
    project = project_of(shape, workdir)
    start = time.perf_counter()
    settings = project / f"Pulumi.{stack}.yaml"
    model = load_stack(settings)
    loaded = time.perf_counter()
    stack_render = render_stack(settings, model)
    rendered = time.perf_counter()
    render_files.write(stack_render, workdir / "out")
    written = time.perf_counter()
    rendering = Rendering(
        stack=stack,
        load_seconds=loaded - start,
        render_seconds=rendered - loaded,
        write_seconds=written - rendered,
        files=sum(len(files) for files in stack_render.branches.values()),
        objects=sum(len(objs) for objs in stack_render.clusters.values()),
        peak_rss_mb=peak_rss_mb(),
    )
    return model, stack_render, rendering


def validate_timed(shape: Shape | None, stack: str, workdir: Path) -> Validation:
    """What `fleet validate STACK` does: the stack deployed alone into the simulation, Flux
    reconciled, the report made."""
    project = project_of(shape, workdir)
    start = time.perf_counter()
    with simulation(project, assume_main=True) as sim:
        sim.step(f"pulumi up -s {stack}", stack)
        result = report(sim)
    seconds = time.perf_counter() - start
    return Validation(stack, seconds, [str(f) for f in result.findings], peak_rss_mb())


DIFF_SHAPE = Shape(
    management=3, remotes_per_management=100, environments=1, tenants=5, apps_per_tenant=1
)
"""The fleet `fleet diff` is measured on: 300 remotes, the edge fleet's tenants."""
CODE = ("fleet", "fleet_cli", "components", "__main__.py", "Pulumi.yaml")
"""What a revision needs for `fleet diff` to render it with its own code."""


@dataclass(frozen=True)
class Diffing:
    """`fleet diff STACK --base HEAD` after one remote was added to the fleet: with the base's
    render made (`cold`), then read back from the render cache (`warm`)."""

    stack: str
    remotes: int
    cold_seconds: float
    warm_seconds: float
    lines: int
    """Lines of the diff (the same both times)."""

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Diffing:
        return Diffing(**data)


def with_one_remote_more(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The main stack's config with one more remote, labelled as the first one is."""
    clusters = list(raw["clusters"])
    first = next(c for c in clusters if c.get("role") == "remote")
    added = {**copy.deepcopy(first), "name": "edge-added"}
    added["attached"] = {"kubeconfigSecret": "edgeAddedKubeconfig"}
    return {**raw, "clusters": [*clusters, added], "edgeAddedKubeconfig": ENCRYPTED}


def diff_timed(shape: Shape, stacks: Sequence[str], workdir: Path) -> list[Diffing]:
    """A project of the fleet in a git repository of its own with its code, one remote added
    in the working tree, then `fleet diff` of each of `stacks` against HEAD, twice."""
    project = workdir / "diffed"
    project.mkdir(parents=True)
    for name in CODE:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, project / name)
    _stack_files(project, shape)
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *command], cwd=project, check=True)
    _stack_file(project / "Pulumi.main.yaml", with_one_remote_more(main_config(shape)))
    remotes = shape.management * shape.remotes_per_management
    found = []
    for stack in stacks:
        times, outputs = [], []
        for _ in range(2):
            out = io.StringIO()
            start = time.perf_counter()
            with contextlib.redirect_stdout(out):
                code = fleet_main(["--project", str(project), "diff", stack, "--base", "HEAD"])
            times.append(time.perf_counter() - start)
            if code != 0:
                raise RuntimeError(f"fleet diff {stack} exited {code}")
            outputs.append(out.getvalue())
        if outputs[0] != outputs[1]:
            raise RuntimeError(f"fleet diff {stack} differs when the base is read back")
        found.append(Diffing(stack, remotes, times[0], times[1], len(outputs[0].splitlines())))
    return found


def simulate_timed(shape: Shape | None, workdir: Path) -> Validation:
    """What `fleet simulate` does: every stack deployed in order, Flux reconciled after each."""
    project = project_of(shape, workdir)
    start = time.perf_counter()
    with simulation(project) as sim:
        for stack in deploy_order(project):
            sim.step(f"pulumi up -s {stack}", stack)
        result = report(sim)
    seconds = time.perf_counter() - start
    return Validation("*", seconds, [str(f) for f in result.findings], peak_rss_mb())
