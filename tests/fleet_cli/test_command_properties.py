"""Every command, given random bytes, random YAML or random edits of a stack settings file,
exits with a code the README lists (0, 1 for validate and simulate, 2) and never with a
traceback."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_cli.main import main
from tests.fleet.test_config_properties import ANY_VALUE, edited
from tests.support.sample import SAMPLE_STACKS, commit_all, copy_settings


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sample project's settings and program, committed in a git repository of its own
    (`fleet diff --base HEAD` renders the committed sample)."""
    folder = copy_settings(tmp_path_factory.mktemp("project"))
    commit_all(folder, "sample")
    yield folder


def _plain(value: Any) -> Any:
    """Raw config as a settings file holds it (an encrypted value as `secure:`)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool | type(None)) else {"secure": "v1"}


@st.composite
def settings_text(draw: st.DrawFn, stack: str) -> bytes:
    """Random bytes, a random YAML document, or the sample's settings with random edits."""
    kind = draw(st.sampled_from(["bytes", "yaml", "edit", "edit"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "yaml":
        document = draw(ANY_VALUE | st.dictionaries(st.just("config"), ANY_VALUE, max_size=1))
        return yaml.safe_dump(_plain(document)).encode()
    raw = draw(edited(stack))
    config = {f"fleet:{k}": _plain(v) for k, v in raw.items()}
    return yaml.safe_dump({"config": config}, sort_keys=False).encode()


def run(arguments: list[str]) -> tuple[int, str]:
    """The command's exit code and what it wrote to stderr; argparse's exit counts as one."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            code = main(arguments)
        except SystemExit as exited:
            code = int(exited.code or 0)
    return code, err.getvalue()


def attempt(project: Path, stack: str, text: bytes, arguments: list[str], codes: set[int]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    original = path.read_bytes()
    path.write_bytes(text)
    try:
        code, err = run(["--project", str(project), *arguments])
    finally:
        path.write_bytes(original)
    assert code in codes, (code, err)
    assert "Traceback" not in err


QUICK = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SLOW = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@QUICK
@given(data=st.data())
def test_check_graph_and_stacks(project: Path, data: st.DataObject) -> None:
    stack = data.draw(st.sampled_from(SAMPLE_STACKS))
    text = data.draw(settings_text(stack))
    target = data.draw(st.sampled_from(SAMPLE_STACKS))
    attempt(project, stack, text, ["check", target], {0, 2})
    attempt(project, stack, text, ["stacks"], {0, 2})
    attempt(project, stack, text, ["graph", target, "--out", str(project / "x.svg")], {0, 2})


@SLOW
@given(data=st.data())
def test_render(
    project: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    stack = data.draw(st.sampled_from(SAMPLE_STACKS))
    out = tmp_path_factory.mktemp("out")
    attempt(
        project,
        stack,
        data.draw(settings_text(stack)),
        ["render", stack, "--out", str(out)],
        {0, 2},
    )


@SLOW
@given(data=st.data())
def test_validate_and_simulate(project: Path, data: st.DataObject) -> None:
    stack = data.draw(st.sampled_from(SAMPLE_STACKS))
    text = data.draw(settings_text(stack))
    attempt(project, stack, text, ["validate", stack], {0, 1, 2})
    attempt(project, stack, text, ["simulate"], {0, 1, 2})


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_diff(project: Path, data: st.DataObject) -> None:
    stack = data.draw(st.sampled_from(SAMPLE_STACKS))
    attempt(
        project, stack, data.draw(settings_text(stack)), ["diff", stack, "--base", "HEAD"], {0, 2}
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", "../etc"],
        ["check", ""],
        ["render", "main", "--out", "/dev/null"],
        ["graph", "main", "--out", "x.txt"],
        ["diff", "main", "--base", "no-such-revision"],
        ["simulate", "--source", "nothing"],
        ["nonsense"],
        [],
    ],
)
def test_bad_arguments_exit_2_without_a_traceback(project: Path, arguments: list[str]) -> None:
    code, err = run(["--project", str(project), *arguments])
    assert code == 2, err
    assert "Traceback" not in err and err.strip()
