"""The web view in headless Chromium (Selenium), against a real `anomwatch web` process.

Skipped, with the reason, where Debian's chromium / chromium-driver are not installed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import (  # noqa: E402
    chromium,
    image_loaded,
    log_in,
    missing_browser,
    response_statuses,
    web_server,
)
from site_data import PASSWORD, SCRIPT, SERIES, USER, Site, build_site  # noqa: E402

from anomwatch.store.db import Store  # noqa: E402
from anomwatch.store.schema import anomalies, events  # noqa: E402
from anomwatch.web.passwords import hash_password  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    tmp = tmp_path_factory.mktemp("web")
    store = Store(f"sqlite:///{tmp / 'store.db'}")
    store.migrate()
    site = build_site(store, f"sqlite:///{tmp / 'source.db'}", tmp / "home")
    env = {
        "ANOMWATCH_HOME": str(tmp / "home"),
        "ANOMWATCH_STORE_URL": store.url,
        "ANOMWATCH_MONITORS_FILE": str(site.settings.monitors_file),
        "ANOMWATCH_WEB_USERS": f"{USER}:{hash_password(PASSWORD)}",
    }
    with web_server(env) as url:
        yield url, site
    store.dispose()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as d:
        yield d


def _wait(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting in the browser")
        time.sleep(0.2)


def test_401_without_login_and_the_script_series_is_text(
    served: tuple[str, Site], driver: Any
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    url, site = served
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    response_statuses(driver)  # drop what earlier pages logged
    driver.get(f"{url}/monitors/web")
    assert response_statuses(driver).get(f"{url}/monitors/web") == 401
    assert "Events" not in driver.page_source and "host=a" not in driver.page_source
    log_in(driver, USER, PASSWORD)
    with site.store.begin() as conn:
        event = conn.execute(select(events.c.id).where(events.c.series == SERIES[1])).scalar()
    driver.get(f"{url}/events/{event}")
    heading = driver.find_element(By.TAG_NAME, "h1").text
    assert heading == f"Event {event}: host={SCRIPT},metric=cpu"
    assert driver.find_elements(By.TAG_NAME, "script") == []
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - no alert(1) ran


def test_log_in_filter_open_event_see_plot_and_mark_false_positive(
    served: tuple[str, Site], driver: Any
) -> None:
    from selenium.webdriver.common.by import By

    url, site = served
    log_in(driver, USER, PASSWORD)
    driver.get(f"{url}/")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Monitors"
    driver.find_element(By.LINK_TEXT, "web").click()
    series = driver.find_element(By.NAME, "series")
    series.clear()
    series.send_keys("host=a*")
    driver.find_element(By.ID, "apply").click()
    _wait(lambda: "series=host" in driver.current_url, 10)
    rows = driver.find_elements(By.CSS_SELECTOR, "#anomalies tr")[1:]
    assert len(rows) == 2 and all("host=a,metric=cpu" in r.text for r in rows)
    event_links = driver.find_elements(By.CSS_SELECTOR, "#events a")
    assert len(event_links) == 1
    event_links[0].click()
    plot = driver.find_element(By.ID, "plot")
    _wait(lambda: image_loaded(driver, plot))
    # the matplotlib PNG (900 x 306), not the 800 x 60 "no plot" image
    assert int(plot.get_property("naturalWidth")) == 900
    assert int(plot.get_property("naturalHeight")) == 306
    driver.find_element(By.ID, "false-positive").click()
    _wait(lambda: "Saved: false_positive on 2 anomalies" in driver.page_source)
    statuses = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#points td.label")]
    assert statuses == ["false_positive", "false_positive"]
    with site.store.begin() as conn:
        stored = conn.execute(
            select(anomalies.c.label, anomalies.c.status, anomalies.c.labelled_by).where(
                anomalies.c.series == SERIES[0]
            )
        ).all()
    assert [tuple(r) for r in stored] == [("false_positive", "false_positive", f"web:{USER}")] * 2
