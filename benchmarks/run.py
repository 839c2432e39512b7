"""`make bench`: measure the benchmarked fleets, print the tables, write `benchmarks/results/`.

Every measurement runs in a fresh subprocess of this module (`--child`, its spec as JSON on
stdin), which prints its results as JSON lines: the peak RSS it reports belongs to that workload
alone, and a measurement that runs past `--timeout` is stopped without losing the others. The
measurements themselves are in `benchmarks.measure`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fleets import Shape, stack_files
from benchmarks.measure import (
    DIFF_SHAPE,
    FLEETS,
    PROJECT,
    Census,
    Evaluation,
    Floor,
    Rendering,
    Validation,
    diff_timed,
    evaluate,
    fair_floor,
    floor,
    models,
    render_timed,
    simulate_timed,
    validate_timed,
)
from fleet_cli import kustomize, revisions
from fleet_cli.kustomize import CACHE_ENV

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_RUNS = {"sample": 5, "100-teams": 5, "edge": 3, "split-10k": 1}
"""Runs per evaluation and floor (their median is reported); one render and validate each. A
split fleet is evaluated once per stack, with no floors or checks (its shards are edge's)."""
GOAL = 1.5
"""Evaluation time and peak memory within this factor of the floor's."""
FAIR_GOAL = (1.3, 400)
"""Evaluation time within this factor of the fair floor's, on stacks of this many resources
or more: what the program's own logic may add to its registrations."""
SMALL_GOAL = (0.1, 100)
"""A stack of fewer resources than this evaluates within these seconds: its fixed cost."""
DEFAULT_TIMEOUT = 300.0

Json = dict[str, Any]
Log = Callable[[str], None]


# ---------------------------------------------------------------- the child side


def child_main(spec: Mapping[str, Any]) -> int:
    """Run one measurement, print each result as soon as it is known (one JSON per line)."""
    shape = Shape(**spec["shape"]) if spec.get("shape") else None
    kind = spec["kind"]

    def emit(key: str, value: Any) -> None:
        print(json.dumps({key: dataclasses.asdict(value)}), flush=True)

    if kind == "evaluate":
        recorded = Path(spec["recorded"]) if spec.get("recorded") else None
        emit("evaluation", evaluate(shape, spec["stack"], spec["runs"], recorded))
    elif kind == "floor":
        emit("floor", floor(spec["count"], spec["runs"], spec.get("modules")))
    elif kind == "fair":
        recorded = Path(spec["recorded"])
        emit("fair", fair_floor(shape, spec["stack"], recorded, spec["runs"], spec.get("modules")))
    elif kind == "render":
        with tempfile.TemporaryDirectory(prefix="fleet-bench-") as workdir:
            _, _, rendering = render_timed(shape, spec["stack"], Path(workdir))
            emit("rendering", rendering)
            # Cold: an empty kustomize cache of its own; warm: the same validation again,
            # every build read back from that cache (an unchanged tree checked anew).
            os.environ[CACHE_ENV] = str(Path(workdir) / "kustomize-cache")
            emit("validation", validate_timed(shape, spec["stack"], Path(workdir)))
            kustomize._CACHE.clear()
            emit("validation_warm", validate_timed(shape, spec["stack"], Path(workdir)))
    elif kind == "diff":
        with tempfile.TemporaryDirectory(prefix="fleet-bench-") as workdir:
            os.environ[revisions.CACHE_ENV] = str(Path(workdir) / "render-cache")
            found = diff_timed(DIFF_SHAPE, spec["stacks"], Path(workdir))
            print(json.dumps({"diff": [dataclasses.asdict(d) for d in found]}), flush=True)
    elif kind == "simulate":
        with tempfile.TemporaryDirectory(prefix="fleet-bench-") as workdir:
            # Cold, as validate's first run: builds kept by earlier runs would make it a
            # measure of the cache.
            os.environ[CACHE_ENV] = str(Path(workdir) / "kustomize-cache")
            emit("simulation", simulate_timed(shape, Path(workdir)))
    else:
        raise ValueError(f"unknown measurement {kind!r}")
    return 0


# ---------------------------------------------------------------- the parent side


@dataclass
class Outcome:
    """What a child printed before it ended (or was stopped), and why it stopped early."""

    values: Json
    seconds: float
    error: str | None = None


def in_child(spec: Mapping[str, Any], timeout: float) -> Outcome:
    """One measurement in a fresh interpreter, stopped after `timeout` seconds."""
    command = [sys.executable, "-m", "benchmarks.run", "--child"]
    start = time.perf_counter()
    with subprocess.Popen(
        command,
        cwd=PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        error = None
        try:
            out, err = child.communicate(json.dumps(spec), timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            error = f"stopped after the {timeout:.0f} s limit"
    values: Json = {}
    for line in out.splitlines():
        if line.startswith("{"):
            values.update(json.loads(line))
    if error is None and child.returncode != 0:
        last = [line for line in err.strip().splitlines() if line.strip()][-1:]
        error = f"failed ({child.returncode}): {' '.join(last) or 'no message'}"
    return Outcome(values, time.perf_counter() - start, error)


def _shape_json(shape: Shape | None) -> Json | None:
    return dataclasses.asdict(shape) if shape is not None else None


@dataclass
class StackMeasurements:
    stack: str
    evaluation: Evaluation | None = None
    floor: Floor | None = None
    fair: Floor | None = None
    """The stack's own registrations replayed without the program (`measure.fair_floor`)."""
    rendering: Rendering | None = None
    validation: Validation | None = None
    validation_warm: Validation | None = None
    """The same validation again, its kustomize builds read back from the cache."""
    errors: list[str] = field(default_factory=list)


def measure_stack(
    fleet: str, shape: Shape | None, stack: str, runs: int, timeout: float, log: Log
) -> StackMeasurements:
    """Evaluation, then the floors (bare resources of the same number, and the stack's own
    registrations replayed), then render and validate: four children."""
    result = StackMeasurements(stack)
    scratch = tempfile.TemporaryDirectory(prefix="fleet-bench-")
    recorded = str(Path(scratch.name) / "registrations.pickle")
    spec = {"shape": _shape_json(shape), "stack": stack, "runs": runs, "recorded": recorded}

    def step(what: str, spec: Mapping[str, Any]) -> Outcome:
        outcome = in_child(spec, timeout)
        if outcome.error is not None:
            result.errors.append(f"{what}: {outcome.error}")
        return outcome

    outcome = step("evaluate", {**spec, "kind": "evaluate"})
    if "evaluation" in outcome.values:
        result.evaluation = Evaluation.from_json(outcome.values["evaluation"])
        e = result.evaluation
        log(
            f"[{fleet}] {stack}: evaluate ({runs} runs, {outcome.seconds:.1f} s): median "
            f"{e.median:.3f} s, peak {e.peak_rss_mb:.0f} MB, {e.census.resources} resources"
        )
        floor_spec = {"count": e.census.resources, "runs": runs, "modules": e.modules}
        outcome = step("floor", {**floor_spec, "kind": "floor"})
        if "floor" in outcome.values:
            result.floor = Floor.from_json(outcome.values["floor"])
            f = result.floor
            log(
                f"[{fleet}] {stack}: floor ({runs} runs, {outcome.seconds:.1f} s): median "
                f"{f.median:.3f} s, peak {f.peak_rss_mb:.0f} MB, {f.resources} bare resources"
            )
        outcome = step("fair floor", {**spec, **floor_spec, "kind": "fair"})
        if "fair" in outcome.values:
            result.fair = Floor.from_json(outcome.values["fair"])
            f = result.fair
            log(
                f"[{fleet}] {stack}: fair floor ({runs} runs, {outcome.seconds:.1f} s): median "
                f"{f.median:.3f} s, peak {f.peak_rss_mb:.0f} MB, its {f.resources} resources "
                "replayed"
            )
    scratch.cleanup()
    outcome = step("render/validate", {**spec, "kind": "render"})
    if "rendering" in outcome.values:
        result.rendering = Rendering.from_json(outcome.values["rendering"])
        log(f"[{fleet}] {stack}: fleet render {result.rendering.total:.2f} s")
    if "validation" in outcome.values:
        result.validation = Validation.from_json(outcome.values["validation"])
        log(
            f"[{fleet}] {stack}: fleet validate {result.validation.seconds:.2f} s, "
            f"{len(result.validation.findings)} findings"
        )
    if "validation_warm" in outcome.values:
        result.validation_warm = Validation.from_json(outcome.values["validation_warm"])
        log(f"[{fleet}] {stack}: fleet validate again {result.validation_warm.seconds:.2f} s")
    for error in result.errors:
        log(f"[{fleet}] {stack}: {error}")
    return result


def apps_variant(
    fleet: str, shape: Shape, measured: Sequence[StackMeasurements], timeout: float, log: Log
) -> Json | None:
    """The first environment with one app per tenant: apps must add files, not resources."""
    environment = next((m for m in measured if m.stack != "main" and m.evaluation), None)
    if shape.apps_per_tenant < 2 or environment is None or environment.evaluation is None:
        return None
    variant = dataclasses.replace(shape, apps_per_tenant=1)
    spec = {"kind": "evaluate", "shape": _shape_json(variant), "stack": environment.stack}
    outcome = in_child({**spec, "runs": 1}, timeout)
    if "evaluation" not in outcome.values:
        log(f"[{fleet}] {environment.stack} with 1 app per tenant: {outcome.error}")
        return None
    base = environment.evaluation.census
    other = Evaluation.from_json(outcome.values["evaluation"]).census
    log(
        f"[{fleet}] {environment.stack} with 1 app per tenant: {other.resources} resources "
        f"(with {shape.apps_per_tenant}: {base.resources})"
    )
    return {
        "stack": environment.stack,
        "apps_per_tenant": shape.apps_per_tenant,
        "resources": base.resources,
        "files": _files(base),
        "variant_apps_per_tenant": 1,
        "variant_resources": other.resources,
        "variant_files": _files(other),
        "resources_added_by_apps": base.resources - other.resources,
    }


def _files(census: Census) -> int:
    return sum(b.files for b in census.branches.values())


# ---------------------------------------------------------------- results as JSON


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)


def machine() -> Json:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu or platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "pulumi": importlib.metadata.version("pulumi"),
        "system": f"{platform.system()} {platform.machine()}",
    }


def stack_json(m: StackMeasurements) -> Json:
    """One stack's results, rounded so that a rerun changes only what changed."""
    out: Json = {"stack": m.stack, "errors": m.errors}
    if m.evaluation is not None:
        e, c = m.evaluation, m.evaluation.census
        out["resources"] = c.resources
        out["resources_by_type"] = c.by_type
        out["branches"] = {b: dataclasses.asdict(v) for b, v in c.branches.items()}
        out["growth"] = {
            "management_clusters": c.management_clusters,
            "remote_clusters": c.remote_clusters,
            "tenants": c.tenants,
            "tenant_namespaces": c.tenant_namespaces,
            "per_remote": c.per_remote,
            "other": c.other,
            "other_per_cluster_or_tenant": _r(c.other_per_entity, 2),
            "dependencies": c.dependencies,
        }
        if e.state is not None:
            out["state"] = {
                "bytes": e.state.bytes,
                "by_type": e.state.by_type,
                "credentials": e.state.credentials,
                "copies": e.state.copies,
            }
        out["evaluation"] = {
            "median_s": _r(e.median),
            "runs_s": [_r(w) for w in e.walls],
            "first_run_s": _r(e.walls[0]),
            "tree_s": _r(e.tree_seconds),
            "start_rss_mb": _r(e.start_rss_mb, 1),
            "peak_rss_mb": _r(e.peak_rss_mb, 1),
        }
    if m.floor is not None:
        f = m.floor
        out["floor"] = {
            "resources": f.resources,
            "median_s": _r(f.median),
            "runs_s": [_r(w) for w in f.walls],
            "first_run_s": _r(f.walls[0]),
            "modules_imported": f.imported,
            "start_rss_mb": _r(f.start_rss_mb, 1),
            "peak_rss_mb": _r(f.peak_rss_mb, 1),
        }
        if m.evaluation is not None:
            out["ratios"] = {
                "time": _r(m.evaluation.median / f.median, 2),
                "memory": _r(m.evaluation.peak_rss_mb / f.peak_rss_mb, 2),
            }
    if m.fair is not None:
        f = m.fair
        out["fair_floor"] = {
            "resources": f.resources,
            "median_s": _r(f.median),
            "runs_s": [_r(w) for w in f.walls],
            "peak_rss_mb": _r(f.peak_rss_mb, 1),
        }
        if m.evaluation is not None:
            out.setdefault("ratios", {})
            out["ratios"]["fair_time"] = _r(m.evaluation.median / f.median, 2)
            out["ratios"]["fair_memory"] = _r(m.evaluation.peak_rss_mb / f.peak_rss_mb, 2)
    if m.rendering is not None:
        rd = m.rendering
        out["render"] = {
            "total_s": _r(rd.total),
            "load_s": _r(rd.load_seconds),
            "render_stack_s": _r(rd.render_seconds),
            "write_s": _r(rd.write_seconds),
            "files": rd.files,
            "objects": rd.objects,
            "peak_rss_mb": _r(rd.peak_rss_mb, 1),
        }
        if m.validation is not None:
            v = m.validation
            out["validate"] = {
                "total_s": _r(v.seconds),
                "findings": len(v.findings),
                "first_findings": v.findings[:5],
                "peak_rss_mb": _r(v.peak_rss_mb, 1),
            }
            if m.validation_warm is not None:
                out["validate"]["warm_s"] = _r(m.validation_warm.seconds)
    return out


def measure_split(fleet: str, shape: Shape, timeout: float, log: Log) -> Json:
    """A fleet split into several main stacks: every stack evaluated once, with its state
    estimated. Its shards are alike, so the floors, checks and simulation of one are the edge
    fleet's; what this adds is the whole: every stack, and the totals."""
    measured = []
    for model in models(shape):
        spec = {"shape": _shape_json(shape), "stack": model.stack, "runs": 1, "kind": "evaluate"}
        outcome = in_child(spec, timeout)
        result = StackMeasurements(model.stack)
        if outcome.error is not None:
            result.errors.append(f"evaluate: {outcome.error}")
        if "evaluation" in outcome.values:
            result.evaluation = Evaluation.from_json(outcome.values["evaluation"])
            e = result.evaluation
            log(
                f"[{fleet}] {model.stack}: evaluate {e.median:.1f} s, peak "
                f"{e.peak_rss_mb:.0f} MB, {e.census.resources} resources"
            )
        measured.append(result)
    return {
        "fleet": fleet,
        "shape": _shape_json(shape),
        "config_lines": config_lines(shape),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "runs": 1,
        "split": [stack_json(m) for m in measured],
        "stacks": [],
    }


def measure_fleet(fleet: str, runs: int, timeout: float, with_variant: bool, log: Log) -> Json:
    shape = FLEETS[fleet]
    if shape is not None and shape.shards > 1:
        return measure_split(fleet, shape, timeout, log)
    measured = [
        measure_stack(fleet, shape, model.stack, runs, timeout, log) for model in models(shape)
    ]
    variant = apps_variant(fleet, shape, measured, timeout, log) if shape and with_variant else None
    simulated = in_child({"shape": _shape_json(shape), "kind": "simulate"}, timeout)
    simulation = simulated.values.get("simulation")
    if simulation is not None:
        log(
            f"[{fleet}] fleet simulate: {simulation['seconds']:.2f} s, "
            f"{len(simulation['findings'])} findings"
        )
    elif simulated.error:
        log(f"[{fleet}] fleet simulate: {simulated.error}")
    diffs = None
    if shape is not None and shape.remotes_per_management:
        diffed = in_child({"kind": "diff", "stacks": ["env-0", "main"]}, timeout)
        diffs = diffed.values.get("diff")
        for d in diffs or []:
            log(
                f"[{fleet}] fleet diff {d['stack']} of one remote added to {d['remotes']}: "
                f"{d['cold_seconds']:.2f} s, base read back {d['warm_seconds']:.2f} s"
            )
        if diffed.error:
            log(f"[{fleet}] fleet diff: {diffed.error}")
    return {
        "fleet": fleet,
        "shape": _shape_json(shape),
        "config_lines": config_lines(shape),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "runs": runs,
        "stacks": [stack_json(m) for m in measured],
        "apps_variant": variant,
        "diff": None
        if diffs is None
        else [
            {
                "stack": d["stack"],
                "remotes": d["remotes"],
                "cold_s": _r(d["cold_seconds"]),
                "warm_s": _r(d["warm_seconds"]),
                "lines": d["lines"],
            }
            for d in diffs
        ],
        "simulate": None
        if simulation is None
        else {
            "seconds": _r(simulation["seconds"]),
            "findings": len(simulation["findings"]),
            "first_findings": simulation["findings"][:5],
            "peak_rss_mb": _r(simulation["peak_rss_mb"], 1),
        },
    }


def config_lines(shape: Shape | None) -> dict[str, int]:
    """Lines of YAML per stack file, as a user writes the fleet (the sample's own files)."""
    if shape is None:
        texts = {
            path.name.removeprefix("Pulumi.").removesuffix(".yaml"): path.read_text()
            for path in sorted(PROJECT.glob("Pulumi.*.yaml"))
        }
    else:
        texts = stack_files(shape)
    return {stack: text.count("\n") for stack, text in texts.items()}


def config_lines_text(results: Sequence[Json]) -> list[str]:
    return [
        f"config: {r['fleet']}: "
        + ", ".join(f"{stack} {lines}" for stack, lines in r["config_lines"].items())
        + " lines of YAML"
        for r in results
        if r.get("config_lines")
    ]


def write_json(result: Json, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result['fleet']}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_results(folder: Path) -> list[Json]:
    """Every fleet's latest results, in the order of `FLEETS`."""
    found = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}
    return [found[name] for name in FLEETS if name in found]


# ---------------------------------------------------------------- tables


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 2) -> str:
    """Fixed-width columns: the first `left` columns left-aligned, the numbers right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _get(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _num(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def timing_table(results: Sequence[Json]) -> str:
    headers = [
        "fleet", "stack", "resources", "files", "KiB", "eval s", "tree s", "floor s", "x time",
        "fair s", "x fair", "eval MB", "floor MB", "x mem", "x fair mem", "render s",
        "validate s", "again s",
    ]  # fmt: skip
    rows = []
    for result in results:
        for s in result["stacks"]:
            branches = s.get("branches") or {}
            files = sum(b["files"] for b in branches.values()) if branches else None
            size = sum(b["bytes"] for b in branches.values()) / 1024 if branches else None
            validate = _num(_get(s, "validate", "total_s"), ".2f")
            if _get(s, "validate", "findings"):
                validate += f" ({s['validate']['findings']} findings)"
            elif _get(s, "render") and not _get(s, "validate"):
                validate = "stopped"
            rows.append(
                [
                    result["fleet"],
                    s["stack"],
                    _num(s.get("resources"), "d"),
                    _num(files, "d"),
                    _num(size, ".0f"),
                    _num(_get(s, "evaluation", "median_s"), ".3f"),
                    _num(_get(s, "evaluation", "tree_s"), ".3f"),
                    _num(_get(s, "floor", "median_s"), ".3f"),
                    _num(_get(s, "ratios", "time"), ".2f"),
                    _num(_get(s, "fair_floor", "median_s"), ".3f"),
                    _num(_get(s, "ratios", "fair_time"), ".2f"),
                    _num(_get(s, "evaluation", "peak_rss_mb"), ".0f"),
                    _num(_get(s, "floor", "peak_rss_mb"), ".0f"),
                    _num(_get(s, "ratios", "memory"), ".2f"),
                    _num(_get(s, "ratios", "fair_memory"), ".2f"),
                    _num(_get(s, "render", "total_s"), ".2f"),
                    validate,
                    _num(_get(s, "validate", "warm_s"), ".2f"),
                ]
            )
    return table(headers, rows)


def growth_table(results: Sequence[Json]) -> str:
    headers = [
        "fleet", "stack", "mgmt", "remotes", "tenants", "resources", "tenant ns*", "mgmt x T",
        "remote*", "per remote", "other", "other/(C+T)", "depends_on",
    ]  # fmt: skip
    rows = []
    for result in results:
        for s in result["stacks"]:
            g = s.get("growth")
            if g is None:
                continue
            tenants = g["tenants"]
            rows.append(
                [
                    result["fleet"],
                    s["stack"],
                    str(g["management_clusters"]),
                    str(g["remote_clusters"]),
                    str(tenants),
                    str(s["resources"]),
                    str(g["tenant_namespaces"]),
                    str(g["management_clusters"] * tenants),
                    str(g["per_remote"]),
                    _num(_per_remote(s), ".1f"),
                    str(g["other"]),
                    f"{g['other_per_cluster_or_tenant']:.2f}",
                    _num(g.get("dependencies"), "d"),
                ]
            )
    return table(headers, rows)


GROWTH_NOTE = """\
* per design: `tenant ns` are the Namespace `E-T` (and `E-X-T` per release channel, with the
  tenant's credentials Secrets) on each management cluster: one per tenant per management
  cluster (`mgmt x T`). `remote` is what the remotes cost: in main, each its component,
  provider and the platform's binding on it; in both, its `R-kubeconfig` Secret and the
  Kustomizations that reach it (`per remote`: how many each). `other` is everything else; C+T
  is clusters plus tenants.
  `depends_on` counts the dependency edges of all resources (the SDK resolves each one)."""


def state_table(results: Sequence[Json]) -> str:
    headers = [
        "fleet", "stack", "state MB", "credentials", "copies most", "median", "largest part",
    ]  # fmt: skip
    rows = []
    for result in results:
        for s in result["stacks"]:
            state = s.get("state")
            if state is None:
                continue
            top, top_bytes = max(state["by_type"].items(), key=lambda kv: kv[1], default=("-", 0))
            rows.append(
                [
                    result["fleet"],
                    s["stack"],
                    f"{state['bytes'] / 1e6:.2f}",
                    str(state["credentials"]),
                    str(state["copies"]["most"]),
                    str(state["copies"]["median"]),
                    f"{_short_type(top)} {top_bytes / 1e6:.2f} MB",
                ]
            )
    return table(headers, rows)


def _short_type(token: str) -> str:
    """`Secret` for `kubernetes:core/v1:Secret`, `provider kubernetes` for a provider."""
    if token.startswith("pulumi:providers:"):
        return f"provider {token.rsplit(':', 1)[-1]}"
    return token.rsplit(":", 1)[-1]


STATE_NOTE = """\
state: the checkpoint each stack would keep, estimated from what its program registered
  (`benchmarks/state.py`: inputs and outputs of every resource, pulumi-kubernetes' `__inputs`
  copy, secrets as ciphertext, kubeconfigs at 3 KB); `copies` is how many times each
  credential (a secret of 32 characters or more) is kept, the most and the median."""


def variants_lines(results: Sequence[Json]) -> list[str]:
    lines = []
    for result in results:
        v = result.get("apps_variant")
        if v:
            lines.append(
                f"apps: {result['fleet']} {v['stack']} with {v['apps_per_tenant']} apps per "
                f"tenant registers {v['resources']} resources and commits {v['files']} files; "
                f"with {v['variant_apps_per_tenant']}: {v['variant_resources']} resources, "
                f"{v['variant_files']} files. Apps add {v['resources_added_by_apps']} resources."
            )
    return lines


SIMULATION_GOAL = ("100-teams", 30.0)
"""`fleet simulate` of this fleet within these seconds."""


def diff_lines(results: Sequence[Json]) -> list[str]:
    """`fleet diff` of one added remote: the base rendered, then read back."""
    return [
        f"diff: {d['stack']} of one remote added to {d['remotes']}: {d['cold_s']:.1f} s, "
        f"{d['warm_s']:.1f} s with the base read back ({d['lines']} lines)"
        for r in results
        for d in r.get("diff") or []
    ]


DIFF_GOAL = 5.0
"""`fleet diff` of one added remote in a 300-remote fleet, base read back, within seconds."""


def simulation_lines(results: Sequence[Json]) -> list[str]:
    """`fleet simulate` of each fleet: its time, memory and findings."""
    lines = []
    for result in results:
        simulated = result.get("simulate")
        if result.get("split"):
            continue  # its shards are the edge fleet's
        if simulated is None:
            lines.append(f"simulate: {result['fleet']}: not measured")
            continue
        lines.append(
            f"simulate: {result['fleet']}: {simulated['seconds']:.1f} s, peak "
            f"{simulated['peak_rss_mb']:.0f} MB, {simulated['findings']} findings"
        )
    return lines


def _per_remote(stack: Json) -> float | None:
    remotes = _get(stack, "growth", "remote_clusters")
    return stack["growth"]["per_remote"] / remotes if remotes else None


def split_lines(results: Sequence[Json]) -> list[str]:
    """A fleet split into main stacks: each stack, and the whole, one stack after the other
    and as the deploy workflow runs them (main stacks side by side, then environments)."""
    lines: list[str] = []
    for result in results:
        stacks = result.get("split") or []
        measured = [s for s in stacks if "evaluation" in s]
        if not measured:
            continue
        headers = ["fleet", "stack", "resources", "per remote", "eval s", "eval MB", "state MB"]
        rows = [
            [
                result["fleet"],
                s["stack"],
                _num(s["resources"], "d"),
                _num(_per_remote(s), ".1f"),
                _num(s["evaluation"]["median_s"], ".2f"),
                _num(s["evaluation"]["peak_rss_mb"], ".0f"),
                _num((_get(s, "state", "bytes") or 0) / 1e6, ".2f"),
            ]
            for s in measured
        ]
        shape = result["shape"]
        remotes = shape["shards"] * shape["management"] * shape["remotes_per_management"]
        mains = [s for s in measured if s["stack"].startswith("main")]
        others = [s for s in measured if not s["stack"].startswith("main")]

        def slowest(group: Sequence[Json]) -> float:
            return max((s["evaluation"]["median_s"] for s in group), default=0.0)

        state = sum(_get(s, "state", "bytes") or 0 for s in measured) / 1e6
        lines += [
            table(headers, rows),
            f"split: {result['fleet']}: {remotes:,} remotes in {len(stacks)} stacks "
            f"({len(mains)} main): {sum(s['resources'] for s in measured):,} resources, "
            f"at most {max(s['resources'] for s in measured):,} a stack; evaluation "
            f"{sum(s['evaluation']['median_s'] for s in measured):.0f} s one after the other, "
            f"{slowest(mains) + slowest(others):.0f} s as the deploy workflow runs them; peak "
            f"{max(s['evaluation']['peak_rss_mb'] for s in measured):.0f} MB a stack; state "
            f"{state:.0f} MB in all, at most "
            f"{max((_get(s, 'state', 'bytes') or 0) for s in measured) / 1e6:.1f} MB a stack",
        ]
        lines += [f"not measured: {s['stack']}: {e}" for s in stacks for e in s["errors"]]
    return lines


def goals_lines(results: Sequence[Json]) -> list[str]:
    """Each goal: met or missed, on how many stacks, and the worst case."""
    lines = []
    fleet, seconds = SIMULATION_GOAL
    for result in results:
        if result["fleet"] == fleet:
            simulated = result.get("simulate")
            if simulated is None:
                verdict = "MISSED (not measured)"
            elif simulated["seconds"] <= seconds and simulated["findings"] == 0:
                verdict = f"met ({simulated['seconds']:.1f} s, clean)"
            else:
                verdict = f"MISSED ({simulated['seconds']:.1f} s, {simulated['findings']} findings)"
            lines.append(f"fleet simulate of {fleet} within {seconds:.0f} s: {verdict}")
    for key, what in (("time", "evaluation time"), ("memory", "peak memory")):
        ratios = [
            (s["ratios"][key], f"{r['fleet']} {s['stack']}")
            for r in results
            for s in r["stacks"]
            if "ratios" in s
        ]
        if not ratios:
            continue
        missed = [(ratio, where) for ratio, where in ratios if ratio > GOAL]
        worst, where = max(ratios)
        verdict = "met" if not missed else f"MISSED on {len(missed)} of {len(ratios)} stacks"
        lines.append(f"{what} <= {GOAL}x the floor: {verdict}; worst {worst:.2f}x ({where})")
    lines += _fair_goal_lines(results)
    diffs = [d for r in results for d in r.get("diff") or []]
    if diffs:
        worst = max(diffs, key=lambda d: d["warm_s"])
        verdict = "met" if worst["warm_s"] <= DIFF_GOAL else "MISSED"
        lines.append(
            f"fleet diff of one remote added to {worst['remotes']} within {DIFF_GOAL:.0f} s: "
            f"{verdict}; slowest {worst['warm_s']:.1f} s ({worst['stack']}, base read back)"
        )
    growth = [
        (s["growth"]["other_per_cluster_or_tenant"], f"{r['fleet']} {s['stack']}")
        for r in results
        if r["shape"] is not None
        for s in r["stacks"]
        if "growth" in s
    ]
    apps = [r["apps_variant"] for r in results if r.get("apps_variant")]
    if growth:
        low, high = min(growth), max(growth)
        apps_ok = all(v["resources_added_by_apps"] == 0 for v in apps)
        verdict = "met" if apps_ok and apps else "MISSED" if apps else "not checked (no variant)"
        lines.append(
            f"resources grow with clusters + tenants: {verdict}; besides the per-design "
            f"products, {low[0]:.2f} ({low[1]}) to {high[0]:.2f} ({high[1]}) resources per "
            f"cluster or tenant; apps add "
            + (", ".join(str(v["resources_added_by_apps"]) for v in apps) or "-")
            + " resources"
        )
    errors = [
        f"{r['fleet']} {s['stack']}: {e}" for r in results for s in r["stacks"] for e in s["errors"]
    ]
    lines += [f"not measured: {e}" for e in errors]
    return lines


def _fair_goal_lines(results: Sequence[Json]) -> list[str]:
    """The program's own cost over its registrations, and a small stack's fixed cost."""
    lines = []
    factor, size = FAIR_GOAL
    fair = [
        (s["ratios"]["fair_time"], f"{r['fleet']} {s['stack']}")
        for r in results
        for s in r["stacks"]
        if "fair_time" in s.get("ratios", {}) and s.get("resources", 0) >= size
    ]
    if fair:
        missed = [ratio for ratio, _ in fair if ratio > factor]
        worst, where = max(fair)
        verdict = "met" if not missed else f"MISSED on {len(missed)} of {len(fair)} stacks"
        lines.append(
            f"evaluation time <= {factor}x the fair floor on stacks of {size} resources or "
            f"more: {verdict}; worst {worst:.2f}x ({where})"
        )
    seconds, below = SMALL_GOAL
    small = [
        (s["evaluation"]["median_s"], f"{r['fleet']} {s['stack']}")
        for r in results
        for s in r["stacks"]
        if "evaluation" in s and s.get("resources", below) < below
    ]
    if small:
        worst_s, where = max(small)
        verdict = "met" if worst_s <= seconds else "MISSED"
        lines.append(
            f"a stack of under {below} resources evaluates within {seconds * 1000:.0f} ms: "
            f"{verdict}; slowest {worst_s * 1000:.0f} ms ({where})"
        )
    return lines


def report(results: Sequence[Json]) -> str:
    """The tables and the goals, as plain text."""
    parts = [
        timing_table(results),
        "",
        growth_table(results),
        GROWTH_NOTE,
        *variants_lines(results),
        "",
        state_table(results),
        STATE_NOTE,
        "",
        *simulation_lines(results),
        *diff_lines(results),
        "",
        *split_lines(results),
        "",
        *config_lines_text(results),
        "",
        *goals_lines(results),
    ]
    return "\n".join(parts)


def summary_markdown(results: Sequence[Json]) -> str:
    machines = {json.dumps(r["machine"], sort_keys=True) for r in results}
    about = []
    for m in map(json.loads, sorted(machines)):
        about.append(
            f"{m['cores']} cores ({m['cpu']}), {m['system']}, Python {m['python']}, "
            f"pulumi {m['pulumi']}"
        )
    runs = ", ".join(f"{r['fleet']} {r['runs']} ({r['date']})" for r in results)
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"Machine: {'; '.join(about)}. Runs per evaluation and floor (median) and date: "
            f"{runs}. One `fleet render` and one `fleet validate` per stack.",
            "",
            "```text",
            report(results),
            "```",
            "",
        ]
    )


# ---------------------------------------------------------------- the command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument(
        "--fleet", action="append", choices=list(FLEETS), help="a fleet to run (repeatable)"
    )
    p.add_argument("--runs", type=int, help="runs per evaluation and floor (default: per fleet)")
    p.add_argument(
        "--quick", action="store_true", help="a smoke check: 1 run each, no apps variant"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one measurement may take (default {DEFAULT_TIMEOUT:.0f})",
    )
    p.add_argument("--results", type=Path, default=RESULTS, help="where the results go")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.child:
        return child_main(json.loads(sys.stdin.read()))

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = []
    for fleet in args.fleet or list(FLEETS):
        runs = args.runs or (1 if args.quick else DEFAULT_RUNS[fleet])
        result = measure_fleet(fleet, runs, args.timeout, not args.quick, log)
        log(f"[{fleet}] written to {write_json(result, args.results)}")
        results.append(result)
    print(report(results))
    summary = args.results / "summary.md"
    summary.write_text(summary_markdown(read_results(args.results)), encoding="utf-8")
    log(f"summary of every fleet in {args.results}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
