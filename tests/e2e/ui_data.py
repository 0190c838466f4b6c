"""Data for the UI tests: the demo shop, and hand-built OTLP/JSON traces and logs."""
import os
import subprocess
import time

import requests

from conftest import BIN, poll


def run_demo(server, seconds=3, backfill="4m", rate=6):
    """Runs `periscope demo` against the server and waits until its data is queryable.
    The link the demo prints must lead to this server's UI."""
    ui = server.api("/")
    result = subprocess.run(
        [BIN, "demo", "--otlp-grpc", server.otlp_grpc, "--duration", f"{seconds}s",
         "--backfill", backfill, "--rate", str(rate), "--ui", ui],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout, result.stdout
    assert f"open {ui} to see it" in result.stdout, result.stdout
    page = requests.get(ui, timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"], page.text
    poll(lambda: len(server.get("/api/services").json()["data"]) == 5, timeout=30,
         what="the demo's five services")
    poll(lambda: server.logs("service:payments", limit=1)["total"] > 0, timeout=30,
         what="the demo's logs")


def hex_id(length_bytes):
    return os.urandom(length_bytes).hex()


def attr(key, value):
    return {"key": key, "value": {"stringValue": value}}


def post_spans(server, service, spans, resource_attributes=()):
    body = {"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", service), *resource_attributes]},
        "scopeSpans": [{"scope": {"name": "ui-test"}, "spans": spans}]}]}
    response = requests.post(f"{server.otlp_http}/v1/traces", json=body, timeout=30)
    assert response.status_code == 200 and "rejected" not in response.text, response.text
    return body


def post_logs(server, service, records, resource_attributes=()):
    body = {"resourceLogs": [{
        "resource": {"attributes": [attr("service.name", service), *resource_attributes]},
        "scopeLogs": [{"scope": {"name": "ui-test"}, "logRecords": records}]}]}
    response = requests.post(f"{server.otlp_http}/v1/logs", json=body, timeout=30)
    assert response.status_code == 200 and "rejected" not in response.text, response.text


def json_span(trace_id, span_id, name, start_ns, duration_ns, parent="", attributes=(), **extra):
    span = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 2,
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + duration_ns),
            "attributes": list(attributes)}
    if parent:
        span["parentSpanId"] = parent
    span.update(extra)
    return span


def wide_deep_trace(fanout=4, depth=5):
    """A trace whose deep subtrees the UI leaves collapsed: `fanout` children per span down
    to depth 4, then chains of one."""
    trace_id = hex_id(16)
    now = time.time_ns() - 5_000_000_000
    spans = []
    root = hex_id(8)
    spans.append(json_span(trace_id, root, "big root", now, 900_000_000))
    level = [root]
    for current_depth in range(1, depth + 1):
        next_level = []
        children_each = fanout if current_depth < depth else 1
        for parent in level:
            for child in range(children_each):
                span_id = hex_id(8)
                start = now + current_depth * 1_000_000 + child * 100_000
                spans.append(json_span(trace_id, span_id, f"level {current_depth}", start,
                                       800_000_000 // (current_depth + 1), parent=parent))
                next_level.append(span_id)
        level = next_level
    return trace_id, spans
