"""YAML in and out, the same way everywhere: deterministic block style out, safe parsing in.

libyaml's emitter and parser where PyYAML has them: a big fleet has tens of thousands of files.
`load_all` and `load` read what programs wrote (rendered manifests, kustomize's output);
`load_config` reads what a user wrote (a stack settings file), refusing what config never needs.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import yaml

from fleet.errors import ConfigError, Problem

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


# ---------------------------------------------------------------- config users write

MAX_CONFIG_DEPTH = 100
"""How deep a stack settings file may nest: far more than config needs, far less than Python's
recursion limit."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NO_ALIASES = "anchors and aliases are not accepted in stack settings: write the values out"


class _ConfigLoader(_Loader):  # type: ignore[misc,valid-type]
    """libyaml's parser, a composer that refuses anchors, aliases and deep nesting as their
    events arrive (so nothing is ever expanded), and a constructor that notes duplicate keys.

    The composer is PyYAML's, less what it does with anchors; it is written out here because
    the C loader composes in C, out of reach."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self.problems: list[Problem] = []
        self.depth = 0

    def refuse(self, mark: Any, message: str) -> ConfigError:
        return ConfigError([Problem(f"{self.source}:{mark.line + 1}", message)], self.source)

    def get_single_node(self) -> yaml.Node | None:
        self.get_event()  # the stream's start
        document = None
        if not self.check_event(yaml.StreamEndEvent):
            self.get_event()  # the document's start
            document = self.compose_node()
            self.get_event()  # the document's end
        if not self.check_event(yaml.StreamEndEvent):
            event = self.get_event()
            raise self.refuse(
                event.start_mark,
                "a second YAML document: a stack settings file holds one; remove the `---` "
                "and what follows, or merge it into the first",
            )
        self.get_event()
        return document

    def compose_node(self) -> yaml.Node:
        event = self.get_event()
        if isinstance(event, yaml.AliasEvent):
            raise self.refuse(event.start_mark, f"{_NO_ALIASES} (alias *{event.anchor})")
        if event.anchor is not None:
            raise self.refuse(event.start_mark, f"{_NO_ALIASES} (anchor &{event.anchor})")
        tag, start, end = event.tag, event.start_mark, event.end_mark
        if isinstance(event, yaml.ScalarEvent):
            if tag is None or tag == "!":
                tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
            return yaml.ScalarNode(tag, event.value, start, end, style=event.style)
        self.depth += 1
        if self.depth > MAX_CONFIG_DEPTH:
            raise self.refuse(
                start,
                f"nested more than {MAX_CONFIG_DEPTH} levels deep: stack settings need far "
                "fewer; flatten it",
            )
        node: yaml.Node
        if isinstance(event, yaml.SequenceStartEvent):
            if tag is None or tag == "!":
                tag = self.resolve(yaml.SequenceNode, None, event.implicit)
            items: list[yaml.Node] = []
            node = yaml.SequenceNode(tag, items, start, None, event.flow_style)
            while not self.check_event(yaml.SequenceEndEvent):
                items.append(self.compose_node())
        else:
            if tag is None or tag == "!":
                tag = self.resolve(yaml.MappingNode, None, event.implicit)
            pairs: list[tuple[yaml.Node, yaml.Node]] = []
            node = yaml.MappingNode(tag, pairs, start, None, event.flow_style)
            while not self.check_event(yaml.MappingEndEvent):
                key = self.compose_node()
                pairs.append((key, self.compose_node()))
        node.end_mark = self.get_event().end_mark
        self.depth -= 1
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping; a key written twice is noted (YAML forbids it; PyYAML keeps the last)."""
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        mapping: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                raise self.refuse(
                    key_node.start_mark,
                    "merge keys (<<) are not accepted in stack settings: write the values out",
                )
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a key that is a list or a mapping",
                    key_node.start_mark,
                )
            if key in lines:
                message = (
                    f"duplicate key {key!r}: written at lines {lines[key]} and {line}; "
                    "a key may appear once in a mapping: keep one, merge what they hold"
                )
                self.problems.append(Problem(f"{self.source}:{line}", message))
            else:
                lines[key] = line
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def load_config(text: str, source: str) -> Any:
    """One document of config a user wrote (a stack settings file), read from `source`.

    Stricter than `load`: anchors and aliases (a billion laughs expands from a few hundred
    bytes), merge keys, duplicate keys and nesting past `MAX_CONFIG_DEPTH` are refused, and
    every mistake is a `ConfigError` naming `source` and the line."""
    loader = None
    try:
        loader = _ConfigLoader(text, source)  # PyYAML's own reader checks characters here
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        context = error.context
        begun = error.context_mark
        if context and begun is not None and mark is not None and begun.line != mark.line:
            context += f" at line {begun.line + 1}"
        detail = ", ".join(str(part) for part in (context, error.problem) if part)
        message = f"not valid YAML: {detail}: correct the syntax there"
        raise ConfigError([Problem(where, message)], source) from None
    except yaml.reader.ReaderError as error:
        raise ConfigError([_reader_problem(error, text, source)], source) from None
    except yaml.YAMLError as error:
        raise ConfigError([Problem(source, f"not valid YAML: {error}")], source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.problems:
        raise ConfigError(loader.problems, source)
    return document


def _reader_problem(error: yaml.reader.ReaderError, text: str, source: str) -> Problem:
    """A character YAML does not allow; libyaml counts its position in UTF-8 bytes."""
    before = text.encode("utf-8")[: error.position] if _Loader is not yaml.SafeLoader else None
    newlines = before.count(b"\n") if before is not None else text[: error.position].count("\n")
    code = error.character if isinstance(error.character, int) else ord(str(error.character)[0])
    message = (
        f"U+{code:04X} is not allowed in YAML ({error.reason}): remove it, or write it as "
        f'"\\u{code:04x}" in a double-quoted string'
    )
    return Problem(f"{source}:{newlines + 1}", message)
