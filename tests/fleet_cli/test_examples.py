"""The laptop stacks (`examples/k3d`) run the repository's one program from a project folder of
their own: they validate, and deploy offline with everything landing, the remote reached by
Flux inside the Docker network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.stackfile import program_dir
from fleet_cli.main import EXIT_OK, main
from tests.support.sample import PROJECT

EXAMPLE = PROJECT / "examples" / "k3d"


def test_the_example_runs_the_repositorys_program() -> None:
    assert program_dir(EXAMPLE) == PROJECT
    assert program_dir(PROJECT) == PROJECT


@pytest.mark.parametrize("stack", ["k3d-main", "k3d-dev"])
def test_the_laptop_stacks_validate(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(EXAMPLE), "check", stack]) == EXIT_OK
    assert "ok:" in capsys.readouterr().out


def test_the_laptop_fleet_deploys_offline_with_everything_landing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    assert main(["--project", str(EXAMPLE), "simulate", "--json", str(report)]) == EXIT_OK
    found = json.loads(report.read_text())
    assert found["findings"] == []
    by_cluster = {c["cluster"]: c for c in found["clusters"]}
    assert set(by_cluster) == {"hub", "shop-1"}
    # The remote got its infra and the tenant's app through hub's Flux, in the network.
    assert by_cluster["shop-1"]["landed"] > 0 and by_cluster["shop-1"]["flux"] is False
    assert all(c["not_reconciled"] == 0 and c["denied"] == 0 for c in found["clusters"])
