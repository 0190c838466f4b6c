"""The web UI in a real headless Chromium, against demo data: find traces by service and by
attribute, open a trace and a span, follow trace → logs and log → trace, search logs (histogram,
facets, surrounding lines), services and the dependency graph, the header search box, and a
large trace whose deep subtrees load on demand. Screenshots go to target/ui-screenshots/."""
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from conftest import Server, poll
from ui_browser import browser  # noqa: F401 - fixture
from ui_data import post_spans, run_demo, wide_deep_trace


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("ui") / "data").start()
    run_demo(server)
    yield server
    server.stop()


def declined_trace(server):
    response = server.get("/api/traces", service="payments", tags='{"error":"true"}', limit=1)
    traces = response.json()["data"]
    assert traces, "the demo always declines some cards"
    return traces[0]


def query_of(driver):
    return parse_qs(urlparse(driver.current_url).query)


def assert_clean(browser):
    assert browser.dialogs() == []
    assert browser.csp_violations() == []
    assert browser.console_errors() == []


def test_every_page_sends_the_security_headers(shop):
    for path in ["/", "/traces", "/logs", "/services", "/services/checkout", "/logs/context?t=1"]:
        response = requests.get(shop.api(path), timeout=30)
        assert response.status_code == 200, (path, response.text[:300])
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "style=" not in response.text and "<script>" not in response.text, path
    missing = requests.get(shop.api("/trace/0123456789abcdef0123456789abcdef"), timeout=30)
    assert missing.status_code == 404 and "no trace with id" in missing.text
    assert requests.get(shop.api("/trace/not-an-id"), timeout=30).status_code == 400
    htmx = requests.get(shop.api("/static/htmx.min.js"), timeout=30)
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]


def test_trace_search_by_service_and_operation(shop, browser):
    browser.get(shop.api("/traces?range=1h"), "traces")
    Select(browser.one("select[name=service]")).select_by_value("payments")
    browser.wait(lambda: any(option.get_attribute("value") == "POST /charge"
                             for option in browser.css("#operation option")),
                 what="operations filled in by htmx")
    Select(browser.one("#operation")).select_by_value("POST /charge")
    browser.one("form[aria-label='Trace search'] button[type=submit]").click()
    browser.wait(lambda: query_of(browser.driver).get("operation") == ["POST /charge"], what="search")
    rows = browser.css("table.results tbody tr")
    assert rows, "the demo charges cards"
    assert all("payments" in row.text for row in rows)
    assert len(browser.css("svg.chart circle.pt")) == len(rows)
    browser.screenshot("traces-search")
    assert_clean(browser)


def test_trace_search_by_attribute_filters(shop, browser):
    browser.get(shop.api("/traces?range=1h&fk=http.route&fo=eq&fv=/charge&errors=1&limit=50"))
    rows = browser.css("table.results tbody tr")
    assert rows
    assert all("payments" in row.text and row.find_elements("css selector", ".badge.error")
               for row in rows)
    # regex OR exists: both kinds of statement match
    browser.get(shop.api("/traces?range=1h&service=postgres&fk=db.query.text&fo=re&fv=%5EUPDATE"
                         "&fk=user.id&fo=nex&fv=&match=all"))
    rows = browser.css("table.results tbody tr")
    assert rows and all("POST /checkout" in row.text for row in rows), [r.text for r in rows]
    browser.get(shop.api("/traces?range=1h&fk=http.route&fo=eq&fv=/nothing-like-this"))
    assert not browser.css("table.results tbody tr")
    assert "No trace matches" in browser.driver.page_source
    assert not browser.css("svg.chart"), "an empty result has no scatter to draw"
    # mistakes are explained on the page, which keeps the form as typed
    bad = requests.get(shop.api("/traces?min=fast&fk=http.route&fo=re&fv=%28unclosed"), timeout=30)
    assert bad.status_code == 400
    assert "min must be a duration" in bad.text and 'value="fast"' in bad.text
    bad = requests.get(shop.api("/traces?fk=http.route&fo=re&fv=%28unclosed"), timeout=30)
    assert bad.status_code == 400 and "invalid regex for http.route" in bad.text


def test_trace_view_span_panel_and_its_logs(shop, browser):
    trace = declined_trace(shop)
    trace_id = trace["traceID"]
    browser.get(shop.api(f"/trace/{trace_id}?range=1h"), "trace")
    assert len(browser.css(".wf-row")) == len(trace["spans"])
    assert browser.css("rect.bar.crit"), "critical path drawn"
    charge = next(row for row in browser.css(".wf-row")
                  if "payments" in row.text and "POST /charge" in row.text)
    browser.click(charge.find_element("css selector", "svg.wf-bar"))  # a click on the bar selects
    browser.wait(lambda: "POST /charge" in browser.one("#span-panel h2").text, what="span panel")
    stack = browser.wait(lambda: browser.css("#span-panel pre.stack"), what="stack trace")
    assert "Traceback (most recent call last)" in stack[0].text
    assert "span" in query_of(browser.driver), "the selected span is in the URL"
    browser.wait(lambda: "selected" in charge.get_attribute("class"), what="row marked selected")
    # collapse and reopen the root's subtree
    root = browser.css("details.wf-node")[0]
    root.find_element("css selector", ".twisty").click()
    browser.wait(lambda: root.get_attribute("open") is None, what="subtree collapsed")
    root.find_element("css selector", ".twisty").click()
    browser.wait(lambda: root.get_attribute("open") is not None, what="subtree reopened")
    assert len(browser.css(".logrow")) >= 3, "each service logs inside the trace"
    browser.screenshot("trace-view")
    browser.color_scheme("dark")
    browser.screenshot("trace-view-dark")
    browser.color_scheme("light")
    assert_clean(browser)
    # trace → logs
    browser.click(browser.one("#trace-logs + p a"))
    browser.wait(lambda: query_of(browser.driver).get("q") == [f"trace_id:{trace_id}"], what="logs")
    assert browser.css(".logrow")
    assert_clean(browser)


def test_log_to_trace(shop, browser):
    browser.get(shop.api("/logs?q=declined&range=1h"), "logs")
    row = browser.one(".logrow")
    browser.click(row.find_element("css selector", "summary"))
    browser.wait(lambda: row.get_attribute("open") is not None, what="row expanded")
    browser.click(row.find_element("link text", "Open trace"))
    browser.wait(lambda: "/trace/" in browser.driver.current_url, what="trace page")
    browser.wait(lambda: browser.css("#span-panel h2"), what="the log's span selected")
    assert "span" in query_of(browser.driver)
    assert_clean(browser)


def test_log_search_histogram_facets_and_surrounding_lines(shop, browser):
    browser.get(shop.api("/logs?range=1h"))
    bars = browser.css("rect.hbar")
    assert len(bars) == 60
    assert any(float(bar.get_attribute("height")) > 0 for bar in bars)
    facet = browser.wait(lambda: [link for link in browser.css(".facets a") if link.text == "payments"],
                         what="payments facet")[0]
    count = int(facet.find_element("xpath", "./ancestor::li").find_element("css selector", ".num").text)
    assert count == shop.logs('service:"payments"', limit=1)["total"], "facet counts are exact"
    browser.click(facet)
    browser.wait(lambda: "service:" in query_of(browser.driver).get("q", [""])[0], what="narrowed")
    services = {chip.text for chip in browser.css(".logrow summary .chip")}
    assert services == {"payments"}, services
    # a bar zooms into its bucket
    zoom = next(bar for bar in browser.css("rect.hbar") if float(bar.get_attribute("height")) > 0)
    href = zoom.find_element("xpath", "..").get_dom_attribute("href")
    browser.get(shop.api(href))
    assert query_of(browser.driver)["range"] == ["custom"]
    assert browser.css(".logrow")
    # surrounding lines from the same file
    browser.get(shop.api("/logs?q=service:frontend&range=1h"))
    row = browser.one(".logrow")
    browser.click(row.find_element("css selector", "summary"))
    button = browser.wait(lambda: row.find_element("xpath", ".//button[contains(., 'Surrounding lines')]"))
    assert "same file" in button.text
    browser.click(button)
    target = browser.wait(lambda: row.find_elements("css selector", ".context-lines tr.context-target"),
                          what="surrounding lines")
    assert "frontend-access.log" in row.find_element("css selector", ".context-lines h4").text
    assert len(row.find_elements("css selector", ".context-lines tr")) > 1
    assert target[0].text
    browser.screenshot("logs")
    assert_clean(browser)


def test_services_and_dependency_graph(shop, browser):
    browser.get(shop.api("/services?range=1h"), "services")
    names = [row.find_element("css selector", "td").text for row in browser.css("table.stats tbody tr")]
    assert sorted(names) == ["checkout", "frontend", "inventory", "payments", "postgres"]
    assert len(browser.css("svg.spark polyline")) == 5
    source = browser.driver.page_source
    for edge in ["frontend → inventory", "frontend → checkout", "checkout → payments",
                 "checkout → inventory", "inventory → postgres"]:
        assert edge in source, edge
    assert "errors" in " ".join(label.text for label in browser.css("text.edge-label"))
    browser.screenshot("services")
    node = next(link for link in browser.css("svg.graph a") if "payments" in link.text)
    browser.get(shop.api(node.get_dom_attribute("href")), "service")
    assert "POST /charge" in browser.one("table.stats").text
    assert "checkout" in browser.driver.page_source
    browser.screenshot("service")
    assert_clean(browser)


def test_header_search_box(shop, browser):
    trace = declined_trace(shop)
    trace_id = trace["traceID"]
    span_id = trace["spans"][-1]["spanID"]
    browser.get(shop.api("/services"))
    body = browser.one("body")
    body.send_keys("/")
    browser.wait(lambda: browser.driver.switch_to.active_element.get_attribute("id") == "jump-q",
                 what="/ focuses the search box")
    box = browser.driver.switch_to.active_element
    box.send_keys(trace_id.upper(), Keys.ENTER)
    browser.wait(lambda: f"/trace/{trace_id}" in browser.driver.current_url, what="trace by id")
    box = browser.one("#jump-q")
    box.clear()
    box.send_keys(f"00-{trace_id}-{span_id}-01", Keys.ENTER)
    browser.wait(lambda: query_of(browser.driver).get("span") == [span_id], what="traceparent")
    assert browser.css("#span-panel h2")
    box = browser.one("#jump-q")
    box.clear()
    box.send_keys(trace_id[16:], Keys.ENTER)  # a 64-bit id: the low half of the stored one
    browser.wait(lambda: f"/trace/{trace_id[16:]}" in browser.driver.current_url, what="short id")
    assert trace_id in browser.one(".summary-grid").text
    box = browser.one("#jump-q")
    box.clear()
    box.send_keys("declined", Keys.ENTER)
    browser.wait(lambda: "/logs" in browser.driver.current_url, what="log search")
    assert query_of(browser.driver)["q"] == ["declined"]
    assert browser.css(".logrow")
    assert_clean(browser)


def test_large_trace_loads_deep_subtrees_on_demand(shop, browser):
    trace_id, spans = wide_deep_trace()
    post_spans(shop, "bigsvc", spans)
    poll(lambda: shop.trace(trace_id) and len(shop.trace(trace_id)["spans"]) == len(spans),
         what="the large trace")
    browser.get(shop.api(f"/trace/{trace_id}"), "large trace")
    rendered = len(browser.css(".wf-row"))
    assert rendered < len(spans), "deep subtrees start collapsed"
    lazy = browser.css("details.wf-node[hx-get]")
    assert lazy
    before = len(browser.css(".wf-row"))
    browser.click(lazy[0].find_element("css selector", "summary .twisty"))
    browser.wait(lambda: len(browser.css(".wf-row")) > before, what="subtree fetched")
    assert_clean(browser)


def test_export_streams_every_match_as_ndjson_and_csv(shop):
    total = shop.logs("*", limit=1)["total"]
    assert total > 1000, "enough records to need several pages"
    response = requests.get(shop.api("/logs/export?range=1h&format=ndjson"), timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.text.splitlines()
    import json
    records = [json.loads(line) for line in lines]
    assert len(records) == total
    assert len({(r["timestamp"], r["service"], r["body"]) for r in records}) == total, "no repeats"
    csv_response = requests.get(shop.api("/logs/export?range=1h&format=csv&q=service:payments"), timeout=60)
    assert csv_response.status_code == 200
    import csv
    import io
    rows = list(csv.reader(io.StringIO(csv_response.text)))
    assert rows[0][:4] == ["time_unix_nano", "severity_text", "severity_number", "service"]
    payments = shop.logs("service:payments", limit=1)["total"]
    assert len(rows) - 1 == payments
    assert {row[3] for row in rows[1:]} == {"payments"}
    bad = requests.get(shop.api("/logs/export?q=%28unclosed"), timeout=30)
    assert bad.status_code == 400
    page = requests.get(shop.api("/logs?q=%28unclosed"), timeout=30)
    assert page.status_code == 400 and "not understood" in page.text
    assert 'value="(unclosed"' in page.text, "the query box keeps the query"


def test_live_tail_pushes_new_records(shop, browser):
    from ui_data import post_logs
    import time
    marker = f"tailmarker{time.time_ns()}"
    browser.get(shop.api(f"/logs/tail?q={marker}"))
    browser.wait(lambda: browser.one("#tail-status").text == "Live", what="event stream open")
    assert not browser.css("#tail-rows tr")
    post_logs(shop, "tailsvc", [{"timeUnixNano": str(time.time_ns()), "severityText": "WARN",
                                 "severityNumber": 13, "body": {"stringValue": f"{marker} arrived"}}])
    row = browser.wait(lambda: browser.css("#tail-rows tr"), timeout=20, what="tailed record")[0]
    assert f"{marker} arrived" in row.text and "tailsvc" in row.text
    browser.screenshot("logs-tail")
    assert_clean(browser)


def test_empty_state_teaches_how_to_send_data(server, browser):
    for path in ["/", "/logs", "/services"]:
        browser.get(server.api(path))
        snippet = browser.one("#exporter-snippet").text
        assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318" in snippet, path
        assert "periscope demo" in browser.one("#demo-snippet").text
    browser.screenshot("empty-state")
    assert_clean(browser)


def test_metrics_chart_by_service(shop, browser):
    browser.get(shop.api("/metrics/explore?range=1h"), "metrics")
    names = [option.get_attribute("value") for option in browser.css("select[name=metric] option")]
    assert names == ["http.server.requests", "process.memory.usage"]
    Select(browser.one("select[name=metric]")).select_by_value("http.server.requests")
    Select(browser.one("select[name=agg]")).select_by_value("max")
    browser.one("input[name=by]").send_keys("service")
    browser.one("form[aria-label='Metric chart'] button[type=submit]").click()
    browser.wait(lambda: query_of(browser.driver).get("by") == ["service"], what="chart")
    labels = sorted(row.find_element("css selector", ".chip").text
                    for row in browser.css(".legend-table tbody tr"))
    assert labels == ["checkout", "frontend", "inventory", "payments"]
    assert len(browser.css("svg.chart .series polyline")) >= 4
    browser.screenshot("metrics")
    # filtered to one route: one series left
    browser.get(shop.api("/metrics/explore?range=1h&metric=http.server.requests&agg=max&by=service"
                         "&fk=http.route&fo=eq&fv=/charge"))
    labels = [row.text for row in browser.css(".legend-table tbody tr .chip")]
    assert labels == ["payments"]
    assert_clean(browser)
