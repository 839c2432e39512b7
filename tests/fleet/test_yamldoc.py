"""YAML: manifests read as before; config a user writes read strictly, every mistake a
`ConfigError` naming the file and the line."""

from __future__ import annotations

import pytest

from fleet import yamldoc
from fleet.errors import ConfigError

SOURCE = "Pulumi.dev.yaml"

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
"""Nine levels of ten aliases: a billion strings from a few hundred bytes."""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        yamldoc.load_config(text, SOURCE)
    assert caught.value.source == SOURCE
    return [str(problem) for problem in caught.value.problems]


# ---------------------------------------------------------------- what programs wrote


def test_load_all_and_load_read_manifests_as_before() -> None:
    text = "a: &x 1\nb: *x\n---\n---\nc: [1, 2]\n"
    assert yamldoc.load_all(text) == [{"a": 1, "b": 1}, {"c": [1, 2]}]
    assert yamldoc.load("a: &x 1\nb: *x\n") == {"a": 1, "b": 1}


def test_dump_all_then_load_config_round_trips() -> None:
    document = {"config": {"fleet:clusters": [{"name": "a", "labels": {"tier": "hub"}}]}}
    assert yamldoc.load_config(yamldoc.dump_all([document]), SOURCE) == document


# ---------------------------------------------------------------- config a user wrote


def test_load_config_reads_plain_config() -> None:
    text = "# a comment\nconfig:\n  fleet:clusters:\n    - name: a\n      labels: {tier: hub}\n"
    assert yamldoc.load_config(text, SOURCE) == {
        "config": {"fleet:clusters": [{"name": "a", "labels": {"tier": "hub"}}]}
    }
    assert yamldoc.load_config("", SOURCE) is None
    assert yamldoc.load_config("\ufeffconfig: {}\n", SOURCE) == {"config": {}}


def test_a_billion_laughs_is_refused_before_anything_expands() -> None:
    assert len(BILLION_LAUGHS) < 800
    assert problems(BILLION_LAUGHS) == [
        f"{SOURCE}:1: anchors and aliases are not accepted in stack settings: write the values "
        "out (anchor &a)"
    ]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("a: 1\nb: &x {c: 1}\n", 2, "anchor &x"),
        ("a: 1\nb:\n  - *x\n", 3, "alias *x"),
        ("a:\n  - &item x\n", 2, "anchor &item"),
    ],
)
def test_anchors_and_aliases_are_refused(text: str, line: int, what: str) -> None:
    assert problems(text) == [
        f"{SOURCE}:{line}: anchors and aliases are not accepted in stack settings: write the "
        f"values out ({what})"
    ]


def test_merge_keys_are_refused() -> None:
    assert problems("a:\n  <<: {b: 1}\n") == [
        f"{SOURCE}:2: merge keys (<<) are not accepted in stack settings: write the values out"
    ]


def test_duplicate_keys_are_refused_at_every_depth_all_at_once() -> None:
    text = (
        "config:\n"  # 1
        "  fleet:tenants: []\n"  # 2
        "  fleet:clusters:\n"  # 3
        "    - name: a\n"  # 4
        "      labels: {tier: hub, tier: edge}\n"  # 5
        "      name: b\n"  # 6
        "  fleet:tenants:\n"  # 7
        "    - name: t\n"  # 8
        "config: {}\n"  # 9
    )
    assert problems(text) == [
        f"{SOURCE}:5: duplicate key 'tier': written at lines 5 and 5; a key may appear once in "
        "a mapping: keep one, merge what they hold",
        f"{SOURCE}:6: duplicate key 'name': written at lines 4 and 6; a key may appear once in "
        "a mapping: keep one, merge what they hold",
        f"{SOURCE}:7: duplicate key 'fleet:tenants': written at lines 2 and 7; a key may appear "
        "once in a mapping: keep one, merge what they hold",
        f"{SOURCE}:9: duplicate key 'config': written at lines 1 and 9; a key may appear once in "
        "a mapping: keep one, merge what they hold",
    ]


def test_keys_that_are_the_same_value_are_duplicates() -> None:
    """`true` and `yes` (YAML 1.1), `1` and `0x1`: one key each time."""
    assert [p.split(": ", 1)[1] for p in problems("a:\n  1: x\n  0x1: y\n")] == [
        "duplicate key 1: written at lines 2 and 3; a key may appear once in a mapping: keep "
        "one, merge what they hold"
    ]


def test_nesting_past_the_bound_is_refused() -> None:
    deep = "a: " + "[" * (yamldoc.MAX_CONFIG_DEPTH + 1) + "]" * (yamldoc.MAX_CONFIG_DEPTH + 1)
    assert problems(deep) == [
        f"{SOURCE}:1: nested more than {yamldoc.MAX_CONFIG_DEPTH} levels deep: stack settings "
        "need far fewer; flatten it"
    ]
    within = "[" * yamldoc.MAX_CONFIG_DEPTH + "]" * yamldoc.MAX_CONFIG_DEPTH
    assert yamldoc.load_config(within, SOURCE) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "config:\n  fleet:clusters: [a\n",
            f"{SOURCE}:3: not valid YAML: while parsing a flow sequence at line 2, did not find "
            "expected ',' or ']': correct the syntax there",
        ),
        (
            "config:\n  a: 1\n    b: 2\n",
            f"{SOURCE}:3: not valid YAML: mapping values are not allowed in this context: "
            "correct the syntax there",
        ),
        (
            "config: {}\n---\nconfig: {}\n",
            f"{SOURCE}:2: a second YAML document: a stack settings file holds one; remove the "
            "`---` and what follows, or merge it into the first",
        ),
        (
            "config:\n  a: é\x01\n",
            f"{SOURCE}:2: U+0001 is not allowed in YAML (control characters are not allowed): "
            'remove it, or write it as "\\u0001" in a double-quoted string',
        ),
        (
            "config:\n  a: !custom x\n",
            f"{SOURCE}:2: not valid YAML: could not determine a constructor for the tag "
            "'!custom': correct the syntax there",
        ),
        (
            "config:\n  ? [a]\n  : x\n",
            f"{SOURCE}:2: not valid YAML: while constructing a mapping, found a key that is a "
            "list or a mapping: correct the syntax there",
        ),
    ],
)
def test_broken_yaml_names_the_file_and_line(text: str, expected: str) -> None:
    assert problems(text) == [expected]
