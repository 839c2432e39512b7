"""Every test session keeps the kustomize builds it makes in a folder of its own, never in the
user's cache (`fleet_cli.kustomize`): runs do not depend on each other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fleet_cli.kustomize import CACHE_ENV


@pytest.fixture(autouse=True, scope="session")
def kustomize_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("kustomize-cache")))
        yield
