"""Digests of what the sample and generated fleets render: files, objects, resources.

`python -m tests.golden.snapshot` rewrites `renders.json`; the test compares a fresh render with
it, so any change to what a stack commits, applies or registers is a deliberate one.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.fleets import Shape
from benchmarks.measure import project_of
from fleet.stackfile import load_stack, stack_name
from fleet_cli.engine import render_stack
from fleet_cli.render import StackRender

GOLDEN = Path(__file__).with_name("renders.json")
FLEETS: dict[str, Shape | None] = {
    "sample": None,
    "small": Shape(
        management=2,
        remotes_per_management=2,
        environments=2,
        tenants=3,
        apps_per_tenant=2,
        releases_per_tenant=1,
    ),
}


def _digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digest(render: StackRender) -> dict[str, Any]:
    return {
        "files": {
            branch: {path: _digest(text) for path, text in sorted(files.items())}
            for branch, files in sorted(render.branches.items())
        },
        "objects": {cluster: _digest(objs) for cluster, objs in sorted(render.clusters.items())},
        "resources": {
            r.urn: {
                "type": r.type,
                "parent": r.parent,
                "cluster": r.cluster,
                "inputs": _digest(r.inputs),
                **({"aliases": sorted(r.aliases)} if r.aliases else {}),
            }
            for r in render.resources
        },
    }


def snapshot() -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for fleet, shape in FLEETS.items():
            project = project_of(shape, Path(scratch) / fleet)
            stacks = sorted(stack_name(p) for p in project.glob("Pulumi.*.yaml"))
            result[fleet] = {}
            for stack in stacks:
                settings = project / f"Pulumi.{stack}.yaml"
                result[fleet][stack] = digest(render_stack(settings, load_stack(settings)))
    return result


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
