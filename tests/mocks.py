"""Running the real Pulumi program under recording mocks (DESIGN.md section 6)."""

from __future__ import annotations

import json
import runpy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from tests.conftest import PROJECT


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource; refuses duplicate names and unknown invokes."""

    resources: list[Registered] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        with self._lock:
            if any(r.type == args.typ and r.name == args.name for r in self.resources):
                raise AssertionError(f"duplicate resource {args.typ} {args.name}")
            self.resources.append(Registered(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        raise AssertionError(f"unexpected invoke {args.token}")


@contextmanager
def stack_config(values: Mapping[str, Any], secret_keys: list[str]) -> Iterator[None]:
    """Stack config as Pulumi hands it to a program: JSON strings, secret keys named."""
    encoded = {
        f"fleet:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
    }
    runtime_config.set_all_config(encoded, [f"fleet:{key}" for key in secret_keys])
    try:
        yield
    finally:
        runtime_config.set_all_config({}, [])


def run_program(stack: str, mocks: RecordingMocks) -> dict[str, Any]:
    """Run `__main__.py` as `pulumi up -s STACK` would, returning its exports."""
    pulumi.runtime.set_mocks(mocks, project="fleet", stack=stack, preview=False)
    exports: dict[str, Any] = {}
    original = pulumi.export
    pulumi.export = lambda name, value: exports.__setitem__(name, value)
    try:
        runpy.run_path(str(Path(PROJECT) / "__main__.py"), run_name="__main__")
    finally:
        pulumi.export = original
    return exports
