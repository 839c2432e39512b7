"""The Pulumi program reads the stack's config once, at its edge, and stops cleanly on errors."""

from __future__ import annotations

import pulumi
import pytest

from components.stack_config import raw_config
from fleet.model import ENCRYPTED
from tests.support.deployments import RecordingMocks, run_program, sample_mocks, stack_config
from tests.support.sample import sample_raw


def plain(stack: str) -> dict[str, object]:
    return {k: v for k, v in sample_raw(stack).items() if v is not ENCRYPTED}


def test_raw_config_decodes_values_and_hides_secrets() -> None:
    values = {**plain("main"), "k3sAmericaSouthKubeconfig": "apiVersion: v1"}
    with stack_config(values, secret_keys=["k3sAmericaSouthKubeconfig"]):
        raw = raw_config()
    assert raw["k3sAmericaSouthKubeconfig"] is ENCRYPTED
    assert raw["clusters"] == sample_raw("main")["clusters"]
    assert raw["repository"]["url"] == "https://github.com/kaizentm/multicluster-gitops"


def test_program_stops_without_traceback_on_a_missing_secret() -> None:
    with stack_config(plain("main"), secret_keys=[]), pytest.raises(pulumi.RunError) as caught:
        run_program("main", RecordingMocks())
    assert str(caught.value) == (
        "Pulumi.main.yaml: 1 problem\n"
        "  fleet:k3sAmericaSouthKubeconfig: not set (named by "
        "fleet:clusters[2].attached.kubeconfigSecret); run "
        "`pulumi config set --secret k3sAmericaSouthKubeconfig <value>`"
    )


def test_program_stops_on_an_invalid_config_before_creating_anything() -> None:
    values = {**plain("main"), "k3sAmericaSouthKubeconfig": "x"}
    values["clusters"][0]["kind"] = "gke"  # type: ignore[index]
    mocks = RecordingMocks()
    with (
        stack_config(values, secret_keys=["k3sAmericaSouthKubeconfig"]),
        pytest.raises(pulumi.RunError, match=r"fleet:clusters\[0\].kind"),
    ):
        run_program("main", mocks)
    assert mocks.resources == []


def test_environment_program_reads_the_fleet_from_the_main_stack_file() -> None:
    with stack_config(plain("dev"), secret_keys=[]):
        exports = run_program("dev", sample_mocks())
    assert exports["summary"].startswith("environment 'dev' (branch dev): 3 clusters")
