"""Reading stack settings files: the sample reads as before; every way a file can be wrong or
unreadable is a `ConfigError` naming the file (and the line) and saying what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.errors import ConfigError
from fleet.model import ENCRYPTED, FleetSpec
from fleet.stackfile import load_stack, main_stacks_of, read_raw_config
from tests.fleet.test_yamldoc import BILLION_LAUGHS
from tests.support.sample import PROJECT, SAMPLE_STACKS

DUPLICATE = "a key may appear once in a mapping: keep one, merge what they hold"


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_raw_config(path)
    assert caught.value.source == str(path)
    return [str(problem) for problem in caught.value.problems]


def sample_copy(project: Path) -> None:
    for stack in SAMPLE_STACKS:
        (project / f"Pulumi.{stack}.yaml").write_bytes(
            (PROJECT / f"Pulumi.{stack}.yaml").read_bytes()
        )


def line_of(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def _hidden(value: Any) -> Any:
    if isinstance(value, dict):
        return ENCRYPTED if set(value) == {"secure"} else {k: _hidden(v) for k, v in value.items()}
    return [_hidden(v) for v in value] if isinstance(value, list) else value


# ---------------------------------------------------------------- what reads as before


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_the_sample_reads_as_plain_yaml_does(stack: str) -> None:
    path = PROJECT / f"Pulumi.{stack}.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))["config"]
    expected = {k.removeprefix("fleet:"): _hidden(v) for k, v in config.items()}
    assert read_raw_config(path) == expected


def test_empty_files_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    empty = tmp_path / "Pulumi.empty.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert read_raw_config(empty) == {}
    bom = tmp_path / "Pulumi.bom.yaml"
    bom.write_bytes("config:\n  fleet:mainStack: o/fleet/main\n".encode("utf-8-sig"))
    assert read_raw_config(bom) == {"mainStack": "o/fleet/main"}


# ---------------------------------------------------------------- YAML config never needs


def test_a_billion_laughs_in_a_settings_file_is_refused(tmp_path: Path) -> None:
    """Refused at its first anchor: nothing is expanded (it would otherwise take gigabytes)."""
    path = tmp_path / "Pulumi.dev.yaml"
    indented = "".join(f"  fleet:{line}\n" for line in BILLION_LAUGHS.splitlines())
    path.write_text("config:\n" + indented, encoding="utf-8")
    assert problems(path) == [
        f"{path}:2: anchors and aliases are not accepted in stack settings: write the values "
        "out (anchor &a)"
    ]


def test_an_alias_in_the_sample_is_refused_and_load_stack_says_so(tmp_path: Path) -> None:
    sample_copy(tmp_path)
    dev = tmp_path / "Pulumi.dev.yaml"
    text = dev.read_text(encoding="utf-8")
    text = text.replace("  fleet:clusters:\n", "  fleet:clusters: &all\n", 1)
    dev.write_text(text + "  fleet:extraClusters: *all\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_stack(dev)
    assert [str(p) for p in caught.value.problems] == [
        f"{dev}:{line_of(text, '  fleet:clusters: &all')}: anchors and aliases are not "
        "accepted in stack settings: write the values out (anchor &all)"
    ]


def test_a_second_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    """A second `fleet:tenants:` used to drop the first silently; a second
    `fleet:maxRemovals:` used to win over the first."""
    sample_copy(tmp_path)
    dev = tmp_path / "Pulumi.dev.yaml"
    text = dev.read_text(encoding="utf-8")
    text += "  fleet:maxRemovals: 1\n  fleet:tenants: []\n  fleet:maxRemovals: 5\n"
    dev.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    tenants, removals = line_of(text, "  fleet:tenants:"), len(lines) - 2
    assert problems(dev) == [
        f"{dev}:{len(lines) - 1}: duplicate key 'fleet:tenants': written at lines {tenants} "
        f"and {len(lines) - 1}; {DUPLICATE}",
        f"{dev}:{len(lines)}: duplicate key 'fleet:maxRemovals': written at lines {removals} "
        f"and {len(lines)}; {DUPLICATE}",
    ]
    with pytest.raises(ConfigError):
        load_stack(dev)


def test_a_second_key_deep_inside_is_refused(tmp_path: Path) -> None:
    sample_copy(tmp_path)
    dev = tmp_path / "Pulumi.dev.yaml"
    text = (PROJECT / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    tenant = "        branch: dev\n"
    text = text.replace(tenant, tenant + "        branch: main\n", 1)
    dev.write_text(text, encoding="utf-8")
    first = line_of(text, tenant.rstrip("\n"))
    assert problems(dev) == [
        f"{dev}:{first + 1}: duplicate key 'branch': written at lines {first} and {first + 1}; "
        f"{DUPLICATE}"
    ]


# ---------------------------------------------------------------- files that cannot be read


@pytest.mark.parametrize(
    ("data", "line", "byte"),
    [
        ("config:\n  fleet:mainStack: café\n".encode("latin-1"), 2, 0xE9),
        ("config:\n  fleet:mainStack: o/fleet/main\n".encode("utf-16"), 1, 0xFF),
    ],
)
def test_a_file_that_is_not_utf8_is_refused(
    tmp_path: Path, data: bytes, line: int, byte: int
) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(data)
    assert problems(path) == [
        f"{path}:{line}: not UTF-8 text (byte 0x{byte:02x} is not UTF-8): save the file as "
        "UTF-8, as pulumi config set writes it"
    ]


FOLDER = (
    "a folder, not a stack settings file: a stack's settings are the file Pulumi.<stack>.yaml; "
    "rename or remove the folder"
)


def test_a_folder_named_like_a_settings_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "Pulumi.x.yaml"
    folder.mkdir()
    assert problems(folder) == [f"{folder}: {FOLDER}"]
    # Listing the project's stacks reads it too.
    sample_copy(tmp_path)
    with pytest.raises(ConfigError) as caught:
        main_stacks_of(tmp_path)
    assert [str(p) for p in caught.value.problems] == [f"{folder}: {FOLDER}"]


UNREADABLE = (
    "cannot be read (permission denied): give your user read access to it (chmod u+r), or run "
    "as its owner"
)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config: {}\n", encoding="utf-8")
    path.chmod(0)
    try:
        assert problems(path) == [f"{path}: {UNREADABLE}"]
    finally:
        path.chmod(0o600)


def test_a_file_the_system_refuses_to_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the test above, where it cannot run (as root); and any other read error."""
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config: {}\n", encoding="utf-8")

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert problems(path) == [f"{path}: {UNREADABLE}"]

    def failing(self: Path) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))

    monkeypatch.setattr(Path, "read_bytes", failing)
    assert problems(path) == [f"{path}: cannot be read ({os.strerror(errno.EIO)}): check the file"]


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    assert problems(path) == [
        f"{path}: no such stack settings file: create it (pulumi stack init, then pulumi config "
        "set), or name an existing stack"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- fleet:clusters\n",
            "expected a mapping with a 'config' key, found a list: a stack settings file holds "
            "`config:` and under it keys such as `fleet:clusters:`",
        ),
        (
            "fleet:clusters\n",
            "expected a mapping with a 'config' key, found a single value ('fleet:clusters'): a "
            "stack settings file holds `config:` and under it keys such as `fleet:clusters:`",
        ),
        (
            "config:\n  - fleet:clusters\n",
            "expected a mapping with a 'config' key, but 'config' is a list: write the keys "
            "under it, such as `fleet:clusters:`",
        ),
        (
            "config:\n",
            "expected a mapping with a 'config' key, but 'config' is nothing (an empty value): "
            "write the keys under it, such as `fleet:clusters:`",
        ),
    ],
)
def test_a_file_that_is_not_a_mapping_with_config_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text, encoding="utf-8")
    assert problems(path) == [f"{path}: {message}"]


def test_a_number_set_with_pulumi_config_set_reads_as_the_program_reads_it(
    tmp_path: Path,
) -> None:
    """`pulumi config set fleet:maxRemovals 2` writes the string "2"; under `pulumi up` the
    program JSON-decodes it (components.stack_config.raw_config): offline reads agree."""
    settings = tmp_path / "Pulumi.dev.yaml"
    settings.write_text('config:\n  fleet:maxRemovals: "2"\n  fleet:name: "not json"\n')
    assert read_raw_config(settings) == {"maxRemovals": 2, "name": "not json"}


# ---------------------------------------------------------------- environments main grants


def set_environments(project: Path, environments: list[str]) -> None:
    path = project / "Pulumi.main.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["fleet:environments"] = environments
    path.write_text(yaml.safe_dump(document))


UNLISTED = (
    "fleet:environments: environment '{env}' (Pulumi.{stack}.yaml) runs on this fleet and is not "
    "listed: the main stack grants the listed environments on its remotes. List it and run "
    "`pulumi up` on the main stack before the environment's; to remove an environment, destroy "
    "its stack and delete Pulumi.{stack}.yaml first"
)


def test_an_environment_main_does_not_list_is_refused_where_main_lists_them(
    tmp_path: Path,
) -> None:
    sample_copy(tmp_path)
    set_environments(tmp_path, ["dev"])
    with pytest.raises(ConfigError) as caught:
        load_stack(tmp_path / "Pulumi.qa.yaml")
    # The problem is in the main stack's file: that is where it is mended.
    assert caught.value.source == str(tmp_path / "Pulumi.main.yaml")
    assert [str(p) for p in caught.value.problems] == [UNLISTED.format(env="qa", stack="qa")]
    # dev is listed and reads as before.
    assert load_stack(tmp_path / "Pulumi.dev.yaml").stack == "dev"


def test_main_refuses_to_drop_an_environment_whose_stack_is_still_there(tmp_path: Path) -> None:
    sample_copy(tmp_path)
    set_environments(tmp_path, [])
    with pytest.raises(ConfigError) as caught:
        load_stack(tmp_path / "Pulumi.main.yaml")
    assert caught.value.source == str(tmp_path / "Pulumi.main.yaml")
    assert [str(p) for p in caught.value.problems] == [
        UNLISTED.format(env=env, stack=env) for env in ("dev", "qa")
    ]
    # Its stack destroyed and its file deleted, the environment may leave the list.
    (tmp_path / "Pulumi.qa.yaml").unlink()
    set_environments(tmp_path, ["dev"])
    fleet = load_stack(tmp_path / "Pulumi.main.yaml")
    assert isinstance(fleet, FleetSpec) and fleet.environments == ("dev",)


def test_an_environment_is_listed_by_its_name_not_its_stacks(tmp_path: Path) -> None:
    sample_copy(tmp_path)
    path = tmp_path / "Pulumi.qa.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["fleet:environment"]["name"] = "staging"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_stack(path)
    assert [str(p) for p in caught.value.problems] == [UNLISTED.format(env="staging", stack="qa")]
    set_environments(tmp_path, ["dev", "staging"])
    assert load_stack(path).stack == "qa"


def test_main_stacks_of_one_repository_each_need_a_branch_of_their_own(tmp_path: Path) -> None:
    """A fleet split into shards: a second main stack with clusters of its own."""
    sample_copy(tmp_path)
    sample = yaml.safe_load((PROJECT / "Pulumi.main.yaml").read_text())["config"]
    # The same repository, where the sample's main stack commits.
    repository = {k: sample["fleet:repository"][k] for k in ("url", "pushUrl")}
    shard: dict[str, dict[str, Any]] = {
        "config": {
            "fleet:repository": repository,
            "fleet:clusters": [{"name": "k3d-europe", "kind": "k3d"}],
        }
    }
    (tmp_path / "Pulumi.eu.yaml").write_text(yaml.safe_dump(shard))
    message = (
        "fleet:repository.branch: branch 'main' is stack {other}'s too "
        "(Pulumi.{other}.yaml): give each stack of the repository a branch of its own"
    )
    for stack, other in (("main", "eu"), ("eu", "main")):
        with pytest.raises(ConfigError) as caught:
            load_stack(tmp_path / f"Pulumi.{stack}.yaml")
        assert [str(p) for p in caught.value.problems] == [message.format(other=other)]
    repository["branch"] = "main-eu"
    (tmp_path / "Pulumi.eu.yaml").write_text(yaml.safe_dump(shard))
    eu = load_stack(tmp_path / "Pulumi.eu.yaml")
    assert isinstance(eu, FleetSpec) and eu.branch == "main-eu"
    assert isinstance(load_stack(tmp_path / "Pulumi.main.yaml"), FleetSpec)


def test_no_stack_takes_another_stacks_branch_of_the_repository(tmp_path: Path) -> None:
    """A shard's main stack on branch `qa` would have its cluster-admin Flux apply qa's files."""
    sample_copy(tmp_path)
    sample = yaml.safe_load((PROJECT / "Pulumi.main.yaml").read_text())["config"]
    repository = {k: sample["fleet:repository"][k] for k in ("url", "pushUrl")}
    shard: dict[str, Any] = {
        "fleet:repository": {**repository, "branch": "qa"},
        "fleet:clusters": [{"name": "k3d-europe", "kind": "k3d"}],
    }
    (tmp_path / "Pulumi.eu.yaml").write_text(yaml.safe_dump({"config": shard}))
    with pytest.raises(ConfigError) as caught:
        load_stack(tmp_path / "Pulumi.eu.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "fleet:repository.branch: branch 'qa' is stack qa's too (Pulumi.qa.yaml): give each "
        "stack of the repository a branch of its own"
    ]
    with pytest.raises(ConfigError) as caught:
        load_stack(tmp_path / "Pulumi.qa.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "fleet:environment.branch: branch 'qa' is stack eu's too (Pulumi.eu.yaml): give each "
        "stack of the repository a branch of its own"
    ]
    # The same repository spelled with `.git`, or another one: only the first collides.
    for url, collides in (("https://github.com/kaizentm/multicluster-gitops.git", True),
                          ("https://github.com/kaizentm/other", False)):  # fmt: skip
        shard["fleet:repository"] = {"url": url, "branch": "qa"}
        (tmp_path / "Pulumi.eu.yaml").write_text(yaml.safe_dump({"config": shard}))
        if collides:
            with pytest.raises(ConfigError):
                load_stack(tmp_path / "Pulumi.eu.yaml")
        else:
            assert isinstance(load_stack(tmp_path / "Pulumi.eu.yaml"), FleetSpec)
