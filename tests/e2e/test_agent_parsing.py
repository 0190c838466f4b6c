"""periscope-agent end to end: JSON lines with trace ids and levels, and a Java stack trace
joined by a multiline pattern, as Periscope stores them."""
import json
from datetime import datetime, timezone

from agent_harness import agents  # noqa: F401 (fixture)
from conftest import poll

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def test_json_fields_trace_context_and_multiline_stack_traces(tmp_path, server, agents):
    logs = tmp_path / "logs"
    logs.mkdir()
    agent = agents(tmp_path / "agent", f"""
[sources.api]
include = ["{logs}/api.json"]
start_at = "beginning"
parser.type = "json"
service_name = "api"
resource = {{ "deployment.environment.name" = "e2e" }}
[sources.java]
include = ["{logs}/java.log"]
start_at = "beginning"
multiline.line_start_pattern = '^\\d{{4}}-\\d{{2}}-\\d{{2}}'
[sink]
endpoints = ["http://{server.otlp_grpc}"]
batch.timeout_ms = 100
[metrics]
address = "127.0.0.1:0"
""").start()

    with open(logs / "api.json", "w") as out:
        # Within the collector's timestamp window (now − 7 d … now + 10 min).
        event_time = datetime.now(timezone.utc).replace(microsecond=123000)
        out.write(json.dumps({"time": event_time.isoformat().replace("+00:00", "Z"), "level": "WARN", "msg": "slow checkout",
                              "trace_id": TRACE_ID, "span_id": SPAN_ID, "order": 42}) + "\n")
        out.write(json.dumps({"level": "error", "message": "ecs style", "trace": {"id": TRACE_ID}}) + "\n")
    with open(logs / "java.log", "w") as out:
        out.write("2024-05-01 12:00:00 ERROR request failed\n"
                  "java.lang.IllegalStateException: boom\n"
                  "\tat com.example.Checkout.pay(Checkout.java:42)\n"
                  "\tat com.example.Main.main(Main.java:7)\n"
                  "2024-05-01 12:00:01 INFO next request\n")

    hits = poll(lambda: (h := server.logs('"slow checkout"')["hits"]) and h, timeout=30, what="json record")
    record = hits[0]
    assert record["trace_id"] == TRACE_ID
    assert record["span_id"] == SPAN_ID
    assert record["severity_number"] == 13 and record["severity_text"] == "WARN"
    assert record["timestamp"] == int(event_time.timestamp()) * 1_000_000_000 + 123_000_000
    assert record["attributes"]["order"] in (42, "42")
    assert "trace_id" not in record["attributes"] and "msg" not in record["attributes"]
    assert record["attributes"]["log.file.name"] == "api.json"
    assert record["resource"]["service.name"] == "api"
    assert record["resource"]["deployment.environment.name"] == "e2e"
    ecs = poll(lambda: (h := server.logs('"ecs style"')["hits"]) and h, timeout=30, what="ecs record")[0]
    assert ecs["trace_id"] == TRACE_ID and ecs["severity_number"] == 17

    trace = poll(lambda: (h := server.logs("IllegalStateException")["hits"]) and h, timeout=30, what="stack trace")
    body = trace[0]["body"]
    assert body.startswith("2024-05-01 12:00:00 ERROR request failed\njava.lang.IllegalStateException: boom")
    assert body.endswith("\tat com.example.Main.main(Main.java:7)"), body
    assert trace[0]["attributes"]["log.file.offset"] in (0, "0")
    # The next record starts where the stack trace ended; it is flushed by the multiline timeout.
    following = poll(lambda: (h := server.logs('"next request"')["hits"]) and h, timeout=30, what="next record")[0]
    assert following["attributes"]["log.file.offset"] in (len(body) + 1, str(len(body) + 1))
    assert agent.stop() == 0
