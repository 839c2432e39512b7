"""`fleet graph`: the layout of the picture, and the pictures it writes."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmarks.fleets import Shape, environment_config, generated, main_config
from fleet.model import EnvironmentSpec, FleetSpec, load_environment, load_main
from fleet_cli import graph
from fleet_cli.graph import Picture, draw, layout
from fleet_cli.main import EXIT_OK, main
from tests.support.sample import PROJECT, load_sample


def sample_picture() -> Picture:
    fleet, dev, qa = load_sample("main"), load_sample("dev"), load_sample("qa")
    assert (
        isinstance(fleet, FleetSpec)
        and isinstance(dev, EnvironmentSpec)
        and isinstance(qa, EnvironmentSpec)
    )
    return layout(fleet, [dev, qa], "sample")


def picture_of(
    shape: Shape, nginx_on: Sequence[str] | None = None, env_on: Sequence[str] | None = None
) -> Picture:
    """A generated fleet's picture; nginx and the environment optionally on some clusters."""
    raw_main = main_config(shape)
    if nginx_on is not None:
        raw_main["infra"][0]["clusters"] = list(nginx_on)
    fleet = load_main(raw_main, "main", source="main")
    raw_env: dict[str, Any] = environment_config(shape, 0)
    if env_on is not None:
        raw_env["clusters"] = list(env_on)
    return layout(fleet, [load_environment(raw_env, "env-0", fleet, source="env-0")], "test")


@functools.cache
def big_picture() -> Picture:
    """1,000 remotes under 5 management clusters, 300 tenants over 3 environments."""
    fleet, environments = generated(
        Shape(management=5, remotes_per_management=200, environments=3, tenants=100)
    )
    return layout(fleet, environments, "big")


def png_size(picture: Picture, path: Path) -> tuple[int, int]:
    """(width, height) of the picture drawn as PNG; drawing needs the `picture` extra."""
    image = pytest.importorskip("matplotlib.image")
    draw(picture, path)
    height, width = image.imread(path).shape[:2]
    return int(width), int(height)


def test_columns_put_each_remote_after_the_cluster_that_reconciles_it() -> None:
    picture = sample_picture()
    assert [(c.cluster, c.role) for c in picture.columns] == [
        ("k3d-america", "management"),
        ("k3s-america-south", "remote"),
        ("pacific-aks", "management"),
    ]
    assert picture.reconciles == [("k3d-america", "k3s-america-south")]


def test_rows_say_what_runs_where() -> None:
    rows = {row.label: row.cells for row in sample_picture().rows}
    assert list(rows) == [
        "main: common infra",
        "dev: infra",
        "dev: kaizentm",
        "dev: yakuza",
        "qa: kaizentm",
    ]
    assert rows["main: common infra"]["k3d-america"] == ("nginx*",)
    assert rows["main: common infra"]["pacific-aks"] == ("nginx",)
    assert rows["dev: kaizentm"]["k3d-america"] == ("azure-vote", "1-0-x: azure-vote")
    # A release channel runs wherever its tenant does, remotes included.
    assert rows["dev: kaizentm"]["k3s-america-south"] == ("azure-vote", "1-0-x: azure-vote")
    assert rows["dev: infra"]["k3d-america"] == ("redis*",)


def test_a_cluster_outside_an_environment_has_no_cell() -> None:
    fleet = load_sample("main")
    qa = load_sample("qa", lambda raw: raw.update(clusters=["pacific-aks"]))
    assert isinstance(fleet, FleetSpec) and isinstance(qa, EnvironmentSpec)
    (_, tenant_row) = layout(fleet, [qa], "qa").rows
    assert set(tenant_row.cells) == {"pacific-aks"}


def test_a_cluster_a_component_skips_has_no_cell() -> None:
    fleet = load_sample("main", lambda raw: raw["infra"][0].update(clusters=["k3d-america"]))
    assert isinstance(fleet, FleetSpec)
    (common,) = layout(fleet, [], "main").rows
    assert common.cells == {"k3d-america": ("nginx*",)}


def test_up_to_24_clusters_each_has_a_column_with_counts() -> None:
    picture = picture_of(Shape(management=4, remotes_per_management=5))
    assert len(picture.columns) == 24 and picture.compact
    assert not any(c.remotes for c in picture.columns)
    assert picture.reconciles[:2] == [("mgmt-00", "edge-00-0000"), ("mgmt-00", "edge-00-0001")]
    assert picture.rows[0].cells["edge-03-0004"] == ("1",)


def test_past_24_clusters_remotes_fold_under_their_management_cluster() -> None:
    picture = picture_of(Shape(management=5, remotes_per_management=4))
    assert [c.lines for c in picture.columns] == [(f"mgmt-0{m}", "+ 4 remotes") for m in range(5)]
    assert picture.columns[0].remotes == tuple(f"edge-00-000{r}" for r in range(4))
    assert picture.reconciles == []
    assert not picture.compact
    assert [row.label for row in picture.rows] == [
        "main: common infra",
        "env-0: team-000",
        "env-0: team-001",
    ]
    assert picture.rows[0].cells["mgmt-04"] == ("mgmt + all 4",)


def test_a_folded_cell_counts_the_remotes_a_row_runs_on() -> None:
    remotes_of_01 = [f"edge-01-{r:04d}" for r in range(9)]
    picture = picture_of(
        Shape(management=3, remotes_per_management=9, tenants=2),
        nginx_on=["mgmt-00", "edge-00-0000", "edge-00-0001", "edge-00-0002", *remotes_of_01],
        env_on=["mgmt-00", "mgmt-01", "edge-01-0000"],
    )
    common, tenant, _ = picture.rows
    assert common.cells == {"mgmt-00": ("mgmt + 3/9",), "mgmt-01": ("all 9",)}
    assert tenant.cells == {"mgmt-00": ("mgmt",), "mgmt-01": ("mgmt + 1/9",)}


def test_up_to_30_tenants_each_has_a_row() -> None:
    picture = picture_of(Shape(tenants=30))
    assert len(picture.rows) == 1 + 30
    assert picture.rows[-1].label == "env-0: team-029"


def test_past_30_tenants_they_fold_into_a_row_that_counts_them_per_column() -> None:
    picture = picture_of(
        Shape(management=3, remotes_per_management=9, tenants=31),
        env_on=["mgmt-00", "mgmt-01", "edge-01-0000"],
    )
    assert [row.label for row in picture.rows] == ["main: common infra", "env-0: 31 tenants"]
    assert picture.rows[1].cells == {"mgmt-00": ("31",), "mgmt-01": ("31",)}


def test_a_thousand_remotes_and_300_tenants_fold_into_a_small_matrix() -> None:
    picture = big_picture()
    assert [c.lines for c in picture.columns] == [(f"mgmt-0{m}", "+ 200 remotes") for m in range(5)]
    assert [row.label for row in picture.rows] == [
        "main: common infra",
        "env-0: 100 tenants",
        "env-1: 100 tenants",
        "env-2: 100 tenants",
    ]
    assert {row.cells["mgmt-03"] for row in picture.rows} == {("mgmt + all 200",), ("100",)}


def test_png_of_a_thousand_remotes_stays_readable(tmp_path: Path) -> None:
    picture = big_picture()
    width, height = png_size(picture, tmp_path / "big.png")
    assert width <= 4000 and height <= 4000
    # Each column keeps room for its name and its cells' text.
    assert width / len(picture.columns) >= 150


def test_png_of_the_sample_is_an_image(tmp_path: Path) -> None:
    width, height = png_size(sample_picture(), tmp_path / "fleet.png")
    assert width > height > 300


def test_svg_is_valid_and_the_same_for_the_same_fleet(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    draw(sample_picture(), first)
    draw(sample_picture(), second)
    assert ElementTree.parse(first).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert first.read_bytes() == second.read_bytes()


def test_24_clusters_stay_legible(tmp_path: Path) -> None:
    fleet, environments = generated(Shape(management=4, remotes_per_management=5, tenants=4))
    picture = layout(fleet, environments, "twenty-four")
    width, _ = png_size(picture, tmp_path / "twenty-four.png")
    # Each cluster's column keeps at least 40 pixels.
    assert width / len(picture.columns) >= 40


@pytest.mark.parametrize(
    ("stack", "rows"),
    [
        (
            "main",
            ["main: common infra", "dev: infra", "dev: kaizentm", "dev: yakuza", "qa: kaizentm"],
        ),
        ("qa", ["main: common infra", "qa: kaizentm"]),
    ],
)
def test_graph_command_draws_a_stack(
    stack: str,
    rows: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[Picture] = []
    monkeypatch.setattr(graph, "draw", lambda picture, path: drawn.append(picture))
    out = tmp_path / "pictures" / "fleet.svg"
    assert main(["--project", str(PROJECT), "graph", stack, "--out", str(out)]) == EXIT_OK
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert [row.label for row in drawn[0].rows] == rows
    assert out.parent.is_dir()


def test_graph_command_refuses_another_format(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--project", str(PROJECT), "graph", "main", "--out", str(tmp_path / "f.jpg")])
    assert exit_.value.code == 2
