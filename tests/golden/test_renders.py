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


def test_the_fleets_render_what_the_record_holds() -> None:
    recorded = json.loads(GOLDEN.read_text())
    differences = _differences(recorded, snapshot())
    assert not differences, "\n".join(differences[:40])
