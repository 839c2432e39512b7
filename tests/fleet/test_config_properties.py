"""Random edits of the sample configs either validate or raise the fleet's own error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.errors import ConfigError
from fleet.model import ENCRYPTED, load_environment, load_main
from tests.support.sample import SAMPLE_STACKS, sample_raw

Path = tuple[str | int, ...]

NAMES = ["k3d-america", "pacific-aks", "k3s-america-south", "kaizentm", "azure-vote", "main", ""]
ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=5,
) | st.just(ENCRYPTED)


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a value inside the raw config."""
    found: list[Path] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def parent_of(raw: dict[str, Any], path: Path) -> Any:
    node: Any = raw
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def edited(draw: st.DrawFn, stack: str) -> dict[str, Any]:
    raw = sample_raw(stack)
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(raw)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = parent_of(raw, path)
        operation = draw(st.sampled_from(["delete", "replace", "rename"]))
        if operation == "delete":
            del parent[path[-1]]
        elif operation == "replace":
            parent[path[-1]] = draw(ANY_VALUE)
        else:
            parent[path[-1]] = draw(st.sampled_from(NAMES) | st.text(max_size=12))
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_edits_validate_or_raise_config_error(data: st.DataObject) -> None:
    stack = data.draw(st.sampled_from(SAMPLE_STACKS))
    main_raw = data.draw(edited("main")) if data.draw(st.booleans()) else sample_raw("main")
    try:
        fleet = load_main(main_raw, "main", source="main")
        if stack != "main":
            load_environment(data.draw(edited(stack)), stack, fleet, source=stack)
    except ConfigError as error:
        assert error.problems, "a ConfigError always names at least one problem"
        assert all(p.path.startswith("fleet:") for p in error.problems)
