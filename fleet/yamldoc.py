"""YAML in and out, the same way everywhere: deterministic block style out, safe parsing in.

libyaml's emitter and parser where PyYAML has them: a big fleet has tens of thousands of files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block style, insertion order, multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_all(documents: Iterable[Any]) -> str:
    """Deterministic multi-document YAML: the same documents, the same bytes."""
    return "---\n".join(
        yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for doc in documents
    )


def load_all(text: str) -> list[Any]:
    """Every non-empty document of a multi-document text (safe: plain data only)."""
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def load(text: str) -> Any:
    """One document (safe: plain data only)."""
    return yaml.load(text, Loader=_Loader)
