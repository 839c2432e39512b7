"""Where one stack's time or memory goes: the profiles that benchmarks/README.md quotes.

    .venv/bin/python -m benchmarks.profile --fleet edge --stack env-0 --phase decompose
    .venv/bin/python -m benchmarks.profile --fleet edge --stack env-0
    .venv/bin/python -m benchmarks.profile --fleet edge --stack env-0 --phase memory
    .venv/bin/python -m benchmarks.profile --fleet 100-teams --stack env-0 --phase validate

`decompose` splits a warm run's wall time without a profiler: bare resources (the floor), then
the same resources carrying the program's recorded inputs, then with its recorded `depends_on`
edges too, then the program itself. `evaluate` profiles a warm run of the program under mocks
(after one unprofiled run, as the benchmark's median leaves out the first run's lazy imports)
with cProfile on the main thread and on the engine's worker threads. `memory` traces what a
warm run allocates and still holds at its end (tracemalloc). `validate` profiles `fleet
validate`: the stack deployed alone into the simulation.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import pstats
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import pulumi

from benchmarks.fleets import Shape
from benchmarks.measure import (
    BARE_TYPE,
    FLEETS,
    PROJECT,
    branch_files,
    model_of,
    run_program,
    validate_timed,
)
from fleet_cli.engine import RecordingMocks, run

_SITE = "site-packages/"
_OWN = f"{PROJECT}/"


def _where(key: tuple[str, int, str]) -> str:
    """`file:line(function)`, the file relative to site-packages or the project."""
    filename, line, function = key
    if _SITE in filename:
        filename = filename.split(_SITE, 1)[1]
    elif filename.startswith(_OWN):
        filename = filename.removeprefix(_OWN)
    elif "/lib/python3" in filename:
        filename = "stdlib/" + filename.rsplit("/", 1)[1]
    return f"{filename}:{line}({function})" if line else function


def top(stats: pstats.Stats, count: int, key: str = "cumulative") -> str:
    """The `count` entries with the most cumulative (or own) time, one line each."""
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    entries = stats.stats  # type: ignore[attr-defined]
    index = 3 if key == "cumulative" else 2
    rows = sorted(entries.items(), key=lambda item: item[1][index], reverse=True)[:count]
    lines = [f"{'cumulative s':>12}  {'own s':>7}  {'calls':>8}  function"]
    for where, (_, calls, own, cumulative, _) in rows:
        lines.append(f"{cumulative:12.2f}  {own:7.2f}  {calls:8d}  {_where(where)}")
    return "\n".join(lines)


class ThreadProfiles:
    """cProfile on every thread started while it is installed (the engine's workers)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def _boot(self, frame: FrameType, event: str, arg: Any) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile()
        self.profiles.append(profile)
        profile.enable()

    def __enter__(self) -> ThreadProfiles:
        threading.setprofile(self._boot)
        return self

    def __exit__(self, *exc: object) -> None:
        threading.setprofile(None)

    def stats(self) -> pstats.Stats | None:
        if not self.profiles:
            return None
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            stats.add(profile)
        return stats


def profile_evaluate(shape: Shape | None, stack: str, count: int) -> str:
    model = model_of(shape, stack)
    run_program(model)  # the lazy imports, as the benchmark's median leaves them out
    main = cProfile.Profile()
    with ThreadProfiles() as workers:
        mocks, wall = run_program(model, main)
    parts = [
        f"{stack}: {len(mocks.resources)} resources, {wall:.2f} s under the profiler",
        "",
        "main thread, by cumulative time:",
        top(pstats.Stats(main), count),
        "",
        "main thread, by own time:",
        top(pstats.Stats(main), count, key="own"),
    ]
    worker_stats = workers.stats()
    if worker_stats is not None:
        parts += ["", "engine worker threads, by own time:", top(worker_stats, count, "own")]
    return "\n".join(parts)


def profile_memory(shape: Shape | None, stack: str, count: int) -> str:
    model = model_of(shape, stack)
    run_program(model)
    tracemalloc.start()
    mocks, _ = run_program(model)
    snapshot = tracemalloc.take_snapshot()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    lines = [
        f"{stack}: {len(mocks.resources)} resources; traced: peak {peak / 2**20:.0f} MB, "
        f"held at the end of the run (the recorded resources still alive) {held / 2**20:.0f} MB",
        f"{'MB':>8}  {'blocks':>8}  allocated at",
    ]
    for stat in snapshot.statistics("lineno")[:count]:
        frame = stat.traceback[0]
        where = _where((frame.filename, frame.lineno, ""))
        lines.append(f"{stat.size / 2**20:8.1f}  {stat.count:8d}  {where.rstrip('()')}")
    return "\n".join(lines)


def profile_validate(shape: Shape | None, stack: str, count: int) -> str:
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as workdir:
        main = cProfile.Profile()
        main.enable()
        validation = validate_timed(shape, stack, Path(workdir))
        main.disable()
    return "\n".join(
        [
            f"{stack}: validate {validation.seconds:.2f} s under the profiler, "
            f"{len(validation.findings)} findings",
            "",
            top(pstats.Stats(main), count),
        ]
    )


Recorded = list[tuple[str, list[str], dict[str, Any]]]
"""(urn, the URNs it depends on, inputs) of every resource a run registered, in order."""


def replay(recorded: Recorded, *, inputs: bool, dependencies: bool) -> float:
    """Register one bare resource per recorded one, with its inputs and edges or without."""
    recorded = copy.deepcopy(recorded)

    def program() -> dict[str, Any]:
        made: dict[str, pulumi.Resource] = {}
        for i, (urn, depends_on, props) in enumerate(recorded):
            edges = [made[d] for d in depends_on if d in made] if dependencies else []
            options = pulumi.ResourceOptions(depends_on=edges)
            made[urn] = pulumi.CustomResource(
                BARE_TYPE, f"bare-{i}", props if inputs else {}, options
            )
        return {}

    gc.collect()
    start = time.perf_counter()
    run("replay", RecordingMocks(), program)
    return time.perf_counter() - start


def profile_decompose(shape: Shape | None, stack: str, count: int) -> str:
    """Where the time above the floor goes: inputs, dependency edges, the program's own work."""
    model = model_of(shape, stack)
    run_program(model)
    gc.collect()
    mocks, program = run_program(model)
    recorded = [(r.urn, sorted(r.dependencies), r.inputs) for r in mocks.resources]
    del mocks
    start = time.perf_counter()
    branch_files(model)
    tree_seconds = time.perf_counter() - start
    bare = replay(recorded, inputs=False, dependencies=False)
    with_inputs = replay(recorded, inputs=True, dependencies=False)
    with_edges = replay(recorded, inputs=True, dependencies=True)
    edges = sum(len(d) for _, d, _ in recorded)
    rows = [
        ("floor: as many bare resources", bare, bare),
        ("+ the program's inputs on them", with_inputs, bare),
        (f"+ its {edges} depends_on edges", with_edges, with_inputs),
        ("the program", program, with_edges),
    ]
    lines = [f"{stack}: {len(recorded)} resources; one warm run each"]
    for label, seconds, before in rows:
        lines.append(f"  {label:40s} {seconds:8.2f} s  (+{seconds - before:.2f})")
    lines.append(f"  of which the program's own fleet.tree   {tree_seconds:8.2f} s")
    return "\n".join(lines)


PHASES = {
    "decompose": profile_decompose,
    "evaluate": profile_evaluate,
    "memory": profile_memory,
    "validate": profile_validate,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--fleet", choices=list(FLEETS), default="edge")
    parser.add_argument("--stack", default="main")
    parser.add_argument("--phase", choices=list(PHASES), default="evaluate")
    parser.add_argument("--top", type=int, default=20, help="how many entries (default 20)")
    args = parser.parse_args(argv)
    print(PHASES[args.phase](FLEETS[args.fleet], args.stack, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
