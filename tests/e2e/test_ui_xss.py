"""Stored XSS (shared/RELIABILITY.md S4): hostile text in every telemetry field the UI shows
(service names, span and event names, attribute keys and values, status messages, exception
stack traces, link attributes, log bodies, resource attributes) executes nothing on any page:
no dialog, no CSP violation, no element or link the payload tried to create."""
import time
from urllib.parse import quote

import pytest
import requests

from conftest import Server, poll
from ui_browser import browser  # noqa: F401 - fixture
from ui_data import attr, hex_id, json_span, post_logs, post_spans

PAYLOADS = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "'><svg onload=alert(3)>",
    "</td></tr></table><script>alert(4)</script>",
    "javascript:alert(5)",
    "<a href=\"javascript:alert(6)\">click</a>",
    "{{7*7}} ${7*7} {% raw %}",
    "<div hx-get=\"/api/services\" hx-trigger=\"load\" hx-swap=\"outerHTML\">hx</div>",
    "\u202eevil\u202c <b>rtl</b>",
    "<iframe src=\"data:text/html,<script>alert(8)</script>\"></iframe>",
    "<style>body{display:none}</style>",
    "\" style=\"background:url(javascript:alert(9))",
    "<svg><animate onbegin=alert(10) attributeName=x dur=1s>",
    "]]><!-- --><script>alert(11)</script>",
]
EVIL = " ".join(PAYLOADS)
SERVICE = "xss<script>alert('svc')</script>\"><img src=x onerror=alert('svc')>"
MARKER = "xssmarker"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("xss") / "data").start()
    trace_id, root, child = hex_id(16), hex_id(8), hex_id(8)
    now = time.time_ns() - 2_000_000_000
    evil_attributes = [attr(payload, payload) for payload in PAYLOADS]
    evil_attributes.append(attr("url.full", "javascript:alert('url')"))
    event = {"timeUnixNano": str(now + 1_000_000), "name": "exception" ,
             "attributes": [attr("exception.type", PAYLOADS[0]),
                            attr("exception.message", PAYLOADS[1]),
                            attr("exception.stacktrace", "\n".join(PAYLOADS))]}
    other_event = {"timeUnixNano": str(now + 2_000_000), "name": EVIL, "attributes": evil_attributes}
    link = {"traceId": hex_id(16), "spanId": hex_id(8), "attributes": evil_attributes}
    spans = [
        json_span(trace_id, root, EVIL, now, 50_000_000, attributes=evil_attributes,
                  status={"code": 2, "message": EVIL}, events=[event, other_event], links=[link]),
        json_span(trace_id, child, PAYLOADS[3], now + 1_000_000, 20_000_000, parent=root,
                  attributes=evil_attributes),
    ]
    resource = [attr("host.name", PAYLOADS[1])] + evil_attributes[:4]
    post_spans(server, SERVICE, spans, resource)
    # a second service calls the hostile one, so the dependency graph shows it
    caller_span = hex_id(8)
    post_spans(server, PAYLOADS[2], [json_span(trace_id, caller_span, PAYLOADS[5], now - 1_000_000,
                                               60_000_000)], [])
    spans[0]["parentSpanId"] = caller_span
    post_spans(server, SERVICE, [spans[0]], resource)
    records = [{
        "timeUnixNano": str(now + index * 1_000_000),
        "severityNumber": 17,
        "severityText": payload,
        "body": {"stringValue": f"{MARKER} {payload}"},
        "traceId": trace_id,
        "spanId": root,
        "attributes": evil_attributes + [attr("log.file.path", payload),
                                         {"key": "log.file.offset", "value": {"intValue": str(index * 100)}}],
    } for index, payload in enumerate(PAYLOADS)]
    post_logs(server, SERVICE, records, resource)
    metric_points = [{"timeUnixNano": str(now - index * 1_000_000_000), "asDouble": float(index),
                      "attributes": [attr("label", payload)]} for index, payload in enumerate(PAYLOADS)]
    metrics_body = {"resourceMetrics": [{
        "resource": {"attributes": [attr("service.name", SERVICE)] + resource},
        "scopeMetrics": [{"metrics": [{"name": EVIL, "unit": PAYLOADS[2], "description": PAYLOADS[0],
                                       "gauge": {"dataPoints": metric_points}}]}]}]}
    response = requests.post(f"{server.otlp_http}/v1/metrics", json=metrics_body, timeout=30)
    assert response.status_code == 200 and "rejected" not in response.text, response.text
    poll(lambda: server.trace(trace_id), what="hostile trace")
    poll(lambda: server.logs(MARKER, limit=1)["total"] == len(PAYLOADS), what="hostile logs")
    yield server, trace_id, root
    server.stop()


def assert_inert(browser, page, allow_network_errors=False):
    driver = browser.driver
    created = driver.execute_script("""
        return document.querySelectorAll(
          'img[src="x"], iframe, [onerror], [onload], [onbegin], animate, body style, ' +
          'a[href^="javascript" i], a[href^="data" i], main script, [hx-trigger="load"]').length""")
    assert created == 0, f"{page}: the payload created elements"
    assert browser.dialogs() == [], page
    assert browser.csp_violations() == [], page
    errors = browser.console_errors()
    if allow_network_errors:
        errors = [entry for entry in errors if entry.get("source") != "network"]
    assert errors == [], (page, errors)
    assert driver.execute_script("return document.body.offsetHeight") > 100, f"{page}: page hidden"


def test_hostile_telemetry_executes_nothing(hostile, browser):
    server, trace_id, root = hostile
    pages = {
        "traces": "/traces?range=1h",
        "traces of the hostile service": "/traces?range=1h&service=" + quote(SERVICE, safe=""),
        "trace": f"/trace/{trace_id}?range=1h&span={root}",
        "logs": f"/logs?range=1h&q={MARKER}",
        "services": "/services?range=1h",
        "service": "/services/" + quote(SERVICE, safe="") + "?range=1h",
        "operations fragment": "/ui/operations?service=" + quote(SERVICE, safe=""),
        "metrics": "/metrics/explore?range=1h&by=label&metric=" + quote(EVIL, safe=""),
    }
    for name, path in pages.items():
        browser.get(server.api(path))
        browser.wait(lambda: browser.driver.execute_script("return document.readyState") == "complete")
        assert_inert(browser, name)
    # the payloads are shown, as text
    browser.get(server.api(pages["metrics"]))
    legend = browser.one(".legend-table").text
    assert len(browser.css(".legend-table tbody tr")) == len(PAYLOADS)
    assert "<script>alert(1)</script>" in legend
    browser.get(server.api(f"/trace/{trace_id}?range=1h&span={root}"))
    panel = browser.one("#span-panel").text
    assert "<script>alert(1)</script>" in panel and "javascript:alert('url')" in panel
    browser.screenshot("xss-trace")
    # every log row expanded, with its surrounding lines loaded through htmx
    browser.get(server.api(f"/logs?range=1h&q={MARKER}"))
    for row in browser.css(".logrow"):
        browser.click(row.find_element("css selector", "summary"))
    first = browser.css(".logrow")[0]
    browser.click(first.find_element("xpath", ".//button[contains(., 'Surrounding lines')]"))
    browser.wait(lambda: first.find_elements("css selector", ".context-lines tr"), what="context")
    assert_inert(browser, "logs expanded")
    assert "<script>alert(1)</script>" in browser.one(".logrows").text
    browser.screenshot("xss-logs")
    # an echoed hostile query (invalid syntax: a 400 page)
    browser.get(server.api("/search?q=" + quote(PAYLOADS[1] + " AND (", safe="")))
    assert_inert(browser, "hostile search", allow_network_errors=True)
