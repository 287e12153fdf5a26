"""Every page reads with a store role granted only SELECT (PostgreSQL)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from site_data import PASSWORD, USER, build_site  # noqa: E402

from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.schema import anomalies, events  # noqa: E402
from anomwatch.web.app import create_app  # noqa: E402


@pytest.mark.parametrize("databases", ["postgresql"], indirect=True)
def test_pages_work_with_a_select_only_role(databases, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    owner = Store(databases.new("store"))
    owner.migrate()
    site = build_site(owner, databases.new("src"), tmp_path / "home")
    role = f"aw_reader_{uuid.uuid4().hex[:8]}"
    admin = create_engine(owner.url, isolation_level="AUTOCOMMIT")
    database = make_url(owner.url).database
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {role}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    reader = Store(make_url(owner.url).set(username=role).render_as_string(hide_password=False))
    try:
        with owner.begin() as conn:
            event = conn.execute(select(events.c.id)).scalars().first()
            point = conn.execute(select(anomalies.c.id)).scalars().first()
        app = create_app(site.settings, reader, site.credentials)
        with TestClient(app, headers={"accept": "text/html"}) as client:
            client.auth = (USER, PASSWORD)
            for path in [
                "/",
                "/monitors/web",
                "/monitors/web?series=host%3Da*&severity=critical",
                f"/events/{event}",
                f"/anomalies/{point}",
                f"/anomalies/{point}/plot.png",
                "/monitors/web/report?since=2026-11-19",
                "/monitors/web/report/per-series.png?since=2026-11-19",
            ]:
                assert client.get(path).status_code == 200, path
            token = client.get(f"/anomalies/{point}").text.split('name="csrf" value="')[1][:64]
            refused = client.post(
                f"/anomalies/{point}/feedback", data={"action": "real", "csrf": token}
            )
            assert refused.status_code == 503
            assert "permission denied" in refused.text
    finally:
        reader.dispose()
        owner.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
            conn.execute(text(f"REVOKE ALL ON SCHEMA public FROM {role}"))
            conn.execute(text(f"REVOKE ALL ON DATABASE {database} FROM {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
