"""Every test session keeps the kustomize builds it makes (`fleet_cli.kustomize`), the trees its
programs render (`components.tree_store`) and the renders of revisions (`fleet_cli.revisions`)
in folders of its own, never in the user's cache: runs do not depend on each other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.tree_store import STORE_ENV
from fleet_cli import revisions
from fleet_cli.kustomize import CACHE_ENV


@pytest.fixture(autouse=True, scope="session")
def private_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("kustomize-cache")))
        patch.setenv(STORE_ENV, str(tmp_path_factory.mktemp("tree-store")))
        patch.setenv(revisions.CACHE_ENV, str(tmp_path_factory.mktemp("render-cache")))
        yield
