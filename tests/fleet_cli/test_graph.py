"""`fleet graph`: the layout of the picture, and the pictures it writes."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from matplotlib import image

from benchmarks.fleets import Shape, generated
from fleet.model import EnvironmentSpec, FleetSpec
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
    # Release channels run on management clusters only.
    assert rows["dev: kaizentm"]["k3s-america-south"] == ("azure-vote",)
    assert rows["dev: infra"]["k3d-america"] == ("redis*",)


def test_a_cluster_outside_an_environment_has_no_cell() -> None:
    fleet = load_sample("main")
    qa = load_sample("qa", lambda raw: raw.update(clusters=["pacific-aks"]))
    assert isinstance(fleet, FleetSpec) and isinstance(qa, EnvironmentSpec)
    (_, tenant_row) = layout(fleet, [qa], "qa").rows
    assert set(tenant_row.cells) == {"pacific-aks"}


def test_png_of_the_sample_is_an_image(tmp_path: Path) -> None:
    path = tmp_path / "fleet.png"
    draw(sample_picture(), path)
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert width > height > 300


def test_svg_is_valid_and_the_same_for_the_same_fleet(tmp_path: Path) -> None:
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    draw(sample_picture(), first)
    draw(sample_picture(), second)
    assert ElementTree.parse(first).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert first.read_bytes() == second.read_bytes()


def test_fifty_clusters_stay_legible(tmp_path: Path) -> None:
    fleet, environments = generated(Shape(management=10, remotes_per_management=4, tenants=4))
    picture = layout(fleet, environments, "fifty")
    assert len(picture.columns) == 50
    path = tmp_path / "fifty.png"
    draw(picture, path)
    width = image.imread(path).shape[1]
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
