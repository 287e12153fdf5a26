"""The pages through FastAPI's TestClient on SQLite, PostgreSQL and MariaDB stores."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from site_data import (  # noqa: E402
    PASSWORD,
    SCRIPT,
    SECRET,
    SERIES,
    TOKEN,
    USER,
    Site,
    monitors_yaml,
)

from anomwatch.store.schema import anomalies, events  # noqa: E402
from anomwatch.web.app import create_app  # noqa: E402


def _ids(site: Site) -> tuple[list[int], list[int]]:
    """Event ids in SERIES order (host=a first, then the script series), anomaly ids."""
    with site.store.begin() as conn:
        by_series = dict(conn.execute(select(events.c.series, events.c.id)).all())
        an = list(conn.execute(select(anomalies.c.id).order_by(anomalies.c.id)).scalars())
    return [by_series[s] for s in SERIES], an


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def test_every_page_and_endpoint_needs_a_login(site: Site) -> None:
    events_ids, anomaly_ids = _ids(site)
    app = create_app(site.settings, site.store, site.credentials)
    paths = [
        "/",
        "/style.css",
        "/monitors/web",
        "/monitors/web/report",
        "/monitors/web/report/per-day.png",
        f"/events/{events_ids[0]}",
        f"/anomalies/{anomaly_ids[0]}",
        f"/anomalies/{anomaly_ids[0]}/plot.png",
        "/metrics",
        "/no/such/page",
    ]
    with TestClient(app) as anonymous:
        for path in paths:
            response = anonymous.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Basic")
        post = anonymous.post(f"/anomalies/{anomaly_ids[0]}/feedback", data={"action": "real"})
        assert post.status_code == 401
        assert anonymous.get("/", auth=(USER, "wrong password")).status_code == 401
        assert anonymous.get("/", auth=("nobody", PASSWORD)).status_code == 401
        assert anonymous.get("/", headers={"authorization": "Bearer nope"}).status_code == 401
        assert anonymous.get("/", headers={"authorization": "Basic !!"}).status_code == 401
        assert anonymous.get("/", auth=(USER, PASSWORD)).status_code == 200
        assert anonymous.get("/", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    with site.store.begin() as conn:
        assert (
            conn.execute(select(anomalies.c.label).where(anomalies.c.label.is_not(None))).all()
            == []
        )


def test_monitors_page_shows_health_last_run_open_events_and_lag(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/monitors/web">web</a>' in html
    assert "none yet" in html  # no run recorded in this store
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # open event of that series
    assert SCRIPT not in html
    assert "no rows scored yet" in html
    assert "0 pending, 0 dead" in html


def test_monitor_page_filters_and_pages(client: TestClient, site: Site) -> None:
    html = client.get("/monitors/web").text
    assert html.count('href="/events/') == 2
    assert html.count('href="/anomalies/') == 4
    assert SCRIPT not in html and "host=&lt;script&gt;" in html
    only_a = client.get("/monitors/web", params={"series": "host=a*"}).text
    assert only_a.count('href="/anomalies/') == 2 and "&lt;script&gt;" not in only_a
    # a LIKE wildcard typed by the user is literal: '%' matches nothing here
    for literal in ("%", "%*", "host=_*"):
        page = client.get("/monitors/web", params={"series": literal}).text
        assert page.count('href="/anomalies/') == 0, literal
    quoted = client.get("/monitors/web", params={"series": "x' OR '1'='1"})
    assert quoted.status_code == 200 and "no anomalies match" in quoted.text
    assert (
        "no anomalies match"
        in client.get("/monitors/web", params={"status": "false_positive"}).text
    )
    assert "no anomalies match" in client.get("/monitors/web", params={"notified": "no"}).text
    assert (
        client.get("/monitors/web", params={"notified": "yes"}).text.count('href="/anomalies/') == 4
    )
    assert "no anomalies match" in client.get("/monitors/web", params={"until": "2026-11-19"}).text
    bad = client.get("/monitors/web", params={"severity": "<b>x</b>"})
    assert bad.status_code == 400 and "severity must be one of" in bad.text
    assert "<b>x</b>" not in bad.text
    assert client.get("/monitors/web", params={"since": "yesterday-ish"}).status_code == 400
    assert client.get("/monitors/nope").status_code == 404


def test_paging_walks_every_anomaly_once(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import anomwatch.web.queries as queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    monkeypatch.setattr(queries.page_of_anomalies, "__defaults__", (3,))
    seen: list[str] = []
    url = "/monitors/web"
    params: dict[str, str] = {"severity": "critical"}
    for _ in range(4):
        html = client.get(url, params=params).text
        seen += re.findall(r'<td><a href="/anomalies/(\d+)">', html)
        nxt = re.search(r'id="next-anomalies" href="\?([^"]+)"', html)
        if not nxt:
            break
        from urllib.parse import parse_qsl, unquote

        params = dict(parse_qsl(unquote(nxt.group(1).replace("&amp;", "&"))))
        assert params["severity"] == "critical"
    assert len(seen) == 4 and len(set(seen)) == 4


def test_event_page_has_plot_components_sent_and_buttons(client: TestClient, site: Site) -> None:
    event_ids, _ = _ids(site)
    html = client.get(f"/events/{event_ids[0]}").text
    assert "Event" in html and 'id="plot"' in html
    assert "iforest" in html and "lstm" in html
    assert "mailto://oncall@example.com" in html and "sent" in html
    for button in ("real", "false positive", "acknowledge"):
        assert f">{button}</button>" in html
    plot_src = re.search(r'id="plot" class="plot" alt="[^"]*" src="([^"]+)"', html)
    assert plot_src
    plot = client.get(plot_src.group(1))
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png", plot.text[:300]
    assert plot.content[:8] == b"\x89PNG\r\n\x1a\n" and len(plot.content) > 10_000


def test_script_series_renders_as_text_on_every_page(client: TestClient, site: Site) -> None:
    event_ids, anomaly_ids = _ids(site)
    script_event = event_ids[1]
    pages = [
        "/",
        "/monitors/web",
        f"/events/{event_ids[0]}",
        f"/events/{event_ids[1]}",
        "/monitors/web/report?since=2026-11-19",
        *(f"/anomalies/{i}" for i in anomaly_ids),
    ]
    for path in pages:
        html = client.get(path).text
        assert SCRIPT not in html, path
    assert (
        "host=&lt;script&gt;alert(1)&lt;/script&gt;,metric=cpu"
        in client.get(f"/events/{script_event}").text
    )
    assert "default-src 'none'" in client.get("/").headers["content-security-policy"]


def test_feedback_buttons_write_the_cli_labels_and_need_the_csrf_token(
    client: TestClient, site: Site
) -> None:
    event_ids, _ = _ids(site)
    with site.store.begin() as conn:
        x, y = conn.execute(
            select(anomalies.c.id).where(anomalies.c.series == SERIES[1]).order_by(anomalies.c.ts)
        ).scalars()
    token = _csrf(client.get(f"/anomalies/{x}").text)
    url = f"/anomalies/{x}/feedback"
    for data in ({"action": "real"}, {"action": "real", "csrf": "0" * 64}):
        refused = client.post(url, data=data, follow_redirects=False)
        assert refused.status_code == 403
    assert client.post(url, data={"action": "delete", "csrf": token}).status_code == 400
    with site.store.begin() as conn:
        assert conn.execute(select(anomalies.c.label)).scalars().all() == [None] * 4
    done = client.post(url, data={"action": "real", "csrf": token}, follow_redirects=False)
    assert done.status_code == 303
    event = client.post(
        f"/events/{event_ids[0]}/feedback",
        data={"action": "false_positive", "csrf": token},
        follow_redirects=True,
    )
    assert "Saved: false_positive on 2 anomalies" in event.text
    ack = client.post(f"/anomalies/{y}/feedback", data={"action": "acknowledge", "csrf": token})
    assert ack.status_code == 200 and "Saved: acknowledge on 1 anomaly" in ack.text
    with site.store.begin() as conn:
        rows = {
            r.id: (r.series, r.status, r.label, r.labelled_by)
            for r in conn.execute(select(anomalies))
        }
    who = f"web:{USER}"
    assert rows[x] == (SERIES[1], "acknowledged", "true_positive", who)
    assert rows[y] == (SERIES[1], "acknowledged", None, who)
    host_a = [r for r in rows.values() if r[0] == SERIES[0]]
    assert host_a == [(SERIES[0], "false_positive", "false_positive", who)] * 2


def test_report_page_and_charts(client: TestClient) -> None:
    html = client.get("/monitors/web/report", params={"since": "2026-11-19"}).text
    assert "4 anomalies in 2 series" in html
    assert "<td>2026-11-20</td><td>4</td>" in html
    for chart in ("per-day", "per-series"):
        png = client.get(f"/monitors/web/report/{chart}.png", params={"since": "2026-11-19"})
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert client.get("/monitors/web/report", params={"since": "bad"}).status_code == 400


def test_source_password_never_reaches_a_page(site: Site, tmp_path: Path) -> None:
    bad = f"postgresql+psycopg://reader:{SECRET}@127.0.0.1:1/metrics"
    settings = site.settings.model_copy(
        update={"monitors_file": monitors_yaml(tmp_path / "bad.yaml", bad)}
    )
    app = create_app(settings, site.store, site.credentials)
    event_ids, anomaly_ids = _ids(site)
    with TestClient(app, headers={"accept": "text/html"}) as c:
        c.auth = (USER, PASSWORD)
        for path in [
            "/",
            "/monitors/web",
            f"/events/{event_ids[0]}",
            f"/anomalies/{anomaly_ids[0]}",
            f"/anomalies/{anomaly_ids[0]}/plot.png",
        ]:
            response = c.get(path)
            assert response.status_code == 200, path
            assert SECRET not in response.text, path
        plot = c.get(f"/anomalies/{anomaly_ids[0]}/plot.png")
        assert plot.headers["content-type"].startswith("image/svg+xml")
        assert "No plot: the source cannot be read" in plot.text


def test_an_open_health_event_shows_as_unhealthy_with_the_checks_of_the_monitor(
    client: TestClient, site: Site
) -> None:
    from sqlalchemy import insert

    from anomwatch.durations import utcnow
    from anomwatch.store.runs import record_failed_run

    assert '<span class="ok">healthy</span>' in client.get("/").text
    record_failed_run(site.store, "web", None, "source unreachable")
    now = utcnow()
    with site.store.begin() as conn:
        conn.execute(
            insert(events).values(
                monitor="web",
                series="no_data",
                kind="health",
                status="open",
                started_at=now,
                last_at=now,
                severity="critical",
                n_points=1,
                detail="no new rows for 2h",
                created_at=now,
                updated_at=now,
            )
        )
    overview = client.get("/").text
    assert "UNHEALTHY" in overview and "no_data: no new rows for 2h" in overview
    assert "#1 failed" in overview
    page = client.get("/monitors/web").text
    assert '<p id="health"><span class="bad">UNHEALTHY</span>' in page
    assert "ok failed_runs: " in page  # one failed run is not yet a failing check


def test_metrics_on_the_web_server_are_the_exporters_scrape(client: TestClient, site: Site) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    with site.store.begin() as conn:
        stored = conn.execute(
            select(func.count()).select_from(anomalies).where(anomalies.c.monitor == "web")
        ).scalar_one()
    lines = [ln for ln in response.text.splitlines() if ln.startswith("anomwatch_anomalies_total{")]
    counted = sum(float(ln.rsplit(" ", 1)[1]) for ln in lines if 'monitor="web"' in ln)
    assert stored > 0 and counted == stored
