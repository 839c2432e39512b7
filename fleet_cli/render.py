"""What `fleet render` writes, and reading it back (for `fleet diff`).

```
DIR/STACK/git/BRANCH/...        every file the stack commits to BRANCH
DIR/STACK/k8s/CLUSTER.yaml      every object the stack applies directly to CLUSTER
DIR/STACK/resources.json        every Pulumi resource the stack registers
DIR/STACK/branches.json         the branch names (a branch such as env/staging nests folders)
```
Secret values are `<redacted>` everywhere.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fleet import yamldoc
from fleet.objects import K8sObject

REDACTED = "<redacted>"


@dataclass(frozen=True)
class ResourceRecord:
    """One Pulumi resource as a reviewer reads it."""

    urn: str
    type: str
    name: str
    parent: str | None
    cluster: str | None
    """The cluster whose provider the resource uses, or None."""
    inputs: dict[str, Any]
    aliases: list[str] = field(default_factory=list)
    """The URNs it had before (its `aliases` option): a move, not a replacement."""


@dataclass
class StackRender:
    """Everything one stack produces: branches, objects per cluster, resources."""

    stack: str
    branches: dict[str, dict[str, str]]
    clusters: dict[str, list[K8sObject]]
    resources: list[ResourceRecord]
    placement: dict[str, list[str]] = field(default_factory=dict)
    """Which clusters each part of the stack is on (`fleet.summary.placement`); empty for a
    render written before it was recorded."""
    inventory: dict[str, Any] | None = None
    """What the removal guard compares (`fleet.safety.inventory`); None for a render written
    before it was recorded."""


MARKER = ".fleet-render"
"""The file that marks a folder as written by `fleet render`: only such a folder is replaced."""


class OutError(Exception):
    """`--out` names a place a render cannot go; the message says why."""


def write(render: StackRender, out: Path) -> Path:
    """Write under `out/STACK`, replacing an earlier render so removed files vanish. Nothing
    else is ever removed: a folder there without the marker of a render stops the write."""
    if out.exists() and not out.is_dir():
        raise OutError(f"{out}: --out names a file; name a folder")
    root = out / render.stack
    if root.is_symlink() or (root.exists() and not (root / MARKER).is_file()):
        raise OutError(
            f"{root}: exists and was not written by fleet render, so it is left alone; "
            "choose another --out or remove it yourself"
        )
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text(f"written by fleet render of stack {render.stack}\n")
    for branch, files in render.branches.items():
        for path, text in files.items():
            target = root / "git" / branch / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    k8s = root / "k8s"
    k8s.mkdir(parents=True, exist_ok=True)
    for cluster, objects in render.clusters.items():
        (k8s / f"{cluster}.yaml").write_text(yamldoc.dump_all(objects), encoding="utf-8")
    (root / "branches.json").write_text(json.dumps(sorted(render.branches)) + "\n")
    (root / PLACEMENT).write_text(json.dumps(render.placement, indent=2) + "\n")
    if render.inventory is not None:
        (root / INVENTORY).write_text(json.dumps(render.inventory, indent=2) + "\n")
    records = [asdict(r) for r in render.resources]
    (root / "resources.json").write_text(
        json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return root


def read(root: Path) -> StackRender:
    """A render written by `write`, from `DIR/STACK`."""
    branches: dict[str, dict[str, str]] = {}
    for branch in json.loads((root / "branches.json").read_text()):
        branch_dir = root / "git" / branch
        branches[branch] = {
            p.relative_to(branch_dir).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(branch_dir.rglob("*"))
            if p.is_file()
        }
    clusters = {
        p.stem: yamldoc.load_all(p.read_text(encoding="utf-8"))
        for p in sorted((root / "k8s").glob("*.yaml"))
    }
    resources = [
        ResourceRecord(**record)
        for record in json.loads((root / "resources.json").read_text(encoding="utf-8"))
    ]
    placed, inventoried = root / PLACEMENT, root / INVENTORY
    placement = json.loads(placed.read_text(encoding="utf-8")) if placed.exists() else {}
    inventory = (
        json.loads(inventoried.read_text(encoding="utf-8")) if inventoried.exists() else None
    )
    return StackRender(root.name, branches, clusters, resources, placement, inventory)


PLACEMENT = "placement.json"
INVENTORY = "inventory.json"
