"""Large-trace paint time (issue 5: "a 100k-span trace paints in ≤2 s"; Bench only, not
collected by pytest, nothing asserted).

    PERISCOPE_BIN=target/release/periscope python tests/e2e/bench_trace_paint.py [SPANS]

Starts a fresh server, stores one trace of SPANS spans (default 100 000: a root, 50 children,
50 grandchildren each, the rest spread as leaves; 4 services, a few attributes per span), opens
`/trace/{id}` in headless Chromium (Debian's, as the UI tests use) several times and prints
the median and range of
  * server time: the browser's responseStart − requestStart for the page,
  * first contentful paint, and load-event end (every deferred script run),
  * the HTML size,
plus `GET /api/traces/{id}` time for the same trace, for comparison.
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Server, poll  # noqa: E402
from otlp_raw import new_span_id, new_trace_id, span, traces_request  # noqa: E402
from ui_browser import CHROMEDRIVER, CHROMIUM, Browser  # noqa: E402

SERVICES = ["frontend", "checkout", "payments", "inventory"]
BATCH = 2000
RUNS = 5


def big_trace(total):
    """Spans of one trace, as (service, span) pairs: breadth first, so parents come first."""
    trace_id = new_trace_id()
    start = time.time_ns() - 60_000_000_000
    root = span("GET /checkout", trace_id=trace_id, start=start, end=start + 30_000_000_000)
    spans = [(SERVICES[0], root)]
    children = [
        span(f"step {i}", trace_id=trace_id, parent=root.span_id,
             start=start + i * 500_000_000, end=start + i * 500_000_000 + 400_000_000,
             attributes={"step": i, "component": "workflow"})
        for i in range(50)
    ]
    spans += [(SERVICES[1], s) for s in children]
    grandchildren = []
    for i, parent in enumerate(children):
        for j in range(50):
            begin = parent.start_time_unix_nano + j * 7_000_000
            grandchildren.append(span(f"call {j}", trace_id=trace_id, parent=parent.span_id,
                                      start=begin, end=begin + 6_000_000,
                                      attributes={"rpc.method": f"Call{j}", "peer": "db"}))
    spans += [(SERVICES[2], s) for s in grandchildren]
    leaves = total - len(spans)
    for k in range(max(leaves, 0)):
        parent = grandchildren[k % len(grandchildren)]
        begin = parent.start_time_unix_nano + (k // len(grandchildren)) * 100_000
        spans.append((SERVICES[3], span("db.query", trace_id=trace_id, parent=parent.span_id,
                                         span_id=new_span_id(), start=begin, end=begin + 90_000,
                                         attributes={"db.statement": f"SELECT * FROM items WHERE id = {k}",
                                                     "db.system": "postgresql"})))
    return trace_id.hex(), spans


def send(server, spans):
    url = f"{server.otlp_http}/v1/traces"
    headers = {"content-type": "application/x-protobuf"}
    for offset in range(0, len(spans), BATCH):
        chunk = spans[offset:offset + BATCH]
        by_service = {}
        for service, item in chunk:
            by_service.setdefault(service, []).append(item)
        for service, items in by_service.items():
            body = traces_request(items, service=service).SerializeToString()
            response = requests.post(url, data=body, headers=headers, timeout=60)
            assert response.status_code == 200, response.text


PAINT = """
const nav = performance.getEntriesByType("navigation")[0];
const fcp = performance.getEntriesByName("first-contentful-paint")[0];
return {server: nav.responseStart - nav.requestStart, fcp: fcp ? fcp.startTime : null,
        load: nav.loadEventEnd, bytes: nav.transferSize};
"""


def summary(values):
    return f"median {statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f})"


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as work:
        server = Server(Path(work) / "data").start()
        try:
            trace_id, spans = big_trace(total)
            began = time.monotonic()
            send(server, spans)
            print(f"stored {len(spans)} spans in {time.monotonic() - began:.1f} s")
            poll(lambda: requests.get(server.api(f"/api/traces/{trace_id}"), timeout=60).status_code == 200,
                 timeout=60, what="the trace")

            api_ms = []
            for _ in range(RUNS):
                began = time.monotonic()
                response = requests.get(server.api(f"/api/traces/{trace_id}"), timeout=60)
                api_ms.append((time.monotonic() - began) * 1000)
                assert len(response.json()["data"][0]["spans"]) == len(spans)

            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
                options.add_argument(argument)
            driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            browser = Browser(driver)
            try:
                samples = []
                for _ in range(RUNS):
                    browser.get(server.api(f"/trace/{trace_id}"))
                    browser.wait(lambda: driver.execute_script(PAINT)["load"] > 0, what="load event")
                    samples.append(driver.execute_script(PAINT))
                rows = len(driver.find_elements("css selector", ".wf-row"))
                Path("../../target").mkdir(exist_ok=True)
                browser.driver.save_screenshot("../../target/trace-100k.png")
            finally:
                driver.quit()
        finally:
            server.stop()

    print(f"trace of {len(spans)} spans, {RUNS} runs each")
    print(f"  GET /api/traces/{{id}}        {summary(api_ms)}")
    print(f"  page server time            {summary([s['server'] for s in samples])}")
    print(f"  first contentful paint      {summary([s['fcp'] for s in samples])}")
    print(f"  load event end              {summary([s['load'] for s in samples])}")
    print(f"  page HTML {samples[-1]['bytes'] / 1024:.0f} KiB, {rows} rows in the first paint; "
          f"screenshot target/trace-100k.png")


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    main()
