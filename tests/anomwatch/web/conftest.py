"""Fixtures of the web tests: a populated store on each backend and a logged-in client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from site_data import PASSWORD, USER, Site, build_site  # noqa: E402

from anomwatch.web.app import create_app  # noqa: E402


@pytest.fixture
def site(store, databases, tmp_path: Path) -> Site:  # type: ignore[no-untyped-def]
    return build_site(store, databases.new("src"), tmp_path / "home")


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    app = create_app(site.settings, site.store, site.credentials)
    with TestClient(app, headers={"accept": "text/html"}) as c:
        c.auth = (USER, PASSWORD)
        yield c
