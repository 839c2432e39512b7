"""The sample and generated fleets render exactly what `renders.json` records.

A restructuring must leave every committed file, applied object and registered resource as it
was; a change that means to alter them rewrites the record with `python -m tests.golden.snapshot`
in the same commit, so the difference is reviewed.
"""

from __future__ import annotations

import json
from typing import Any

from tests.golden.snapshot import GOLDEN, snapshot


def _differences(before: dict[str, Any], after: dict[str, Any], path: str = "") -> list[str]:
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return [] if before == after else [f"{path}: {before!r} -> {after!r}"]
    found = []
    for key in sorted(set(before) | set(after)):
        where = f"{path}/{key}"
        if key not in after:
            found.append(f"{where}: gone")
        elif key not in before:
            found.append(f"{where}: new")
        else:
            found += _differences(before[key], after[key], where)
    return found


def _moved(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The record with each resource that moved under an alias under its new URN, and its new
    parent: a moved resource keeps its state, so it counts as unchanged."""
    for fleet, stacks in current.items():
        for stack, digest in stacks.items():
            before = recorded.get(fleet, {}).get(stack, {}).get("resources", {})
            for urn, resource in digest["resources"].items():
                for alias in resource.get("aliases", []):
                    if alias in before and urn not in before:
                        before[urn] = {
                            **before.pop(alias),
                            "parent": resource["parent"],
                            "aliases": resource["aliases"],
                        }
    return recorded


def test_the_fleets_render_what_the_record_holds() -> None:
    current = snapshot()
    recorded = _moved(json.loads(GOLDEN.read_text()), current)
    differences = _differences(recorded, current)
    assert not differences, "\n".join(differences[:40])
