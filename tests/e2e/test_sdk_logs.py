"""Log records sent by the Python SDK (protobuf and the JSON exporter) come back exactly
through log search, linked to their trace."""
import time
import uuid

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from conftest import poll
from otlp_values import hex_span_id, hex_trace_id


def emit_logs(exporter, service, token):
    provider = LoggerProvider(resource=Resource.create({"service.name": service, "host.name": "e2e-host"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("e2e.logs", "0.1")
    tracer = TracerProvider().get_tracer("e2e")
    now = time.time_ns()
    with tracer.start_as_current_span("work") as span:
        context = span.get_span_context()
        logger.emit(
            timestamp=now,
            observed_timestamp=now + 5,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body=f"payment declined for order {token}",
            attributes={
                "order.id": 42,
                "amount": 12.5,
                "retry": True,
                "tags": ["card", "visa"],
                "customer": {"tier": "gold", "visits": 7, "nested": {"deep": [1, 2]}},
            },
        )
    logger.emit(
        timestamp=now + 1000,
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body={"structured": token, "count": 3},
    )
    provider.force_flush()
    provider.shutdown()
    return now, context


def check_logs(server, service, token, now, context):
    result = poll(lambda: (r := server.logs(f"service:{service}")) and r["total"] == 2 and r, what="logs searchable")
    structured, declined = result["hits"]  # newest first
    assert declined["timestamp"] == now
    assert declined["observed_timestamp"] == now + 5
    assert declined["severity_text"] == "WARN"
    assert declined["severity_number"] == SeverityNumber.WARN.value
    assert declined["service"] == service
    assert declined["body"] == f"payment declined for order {token}"
    assert declined["attributes"] == {
        "order.id": 42, "amount": 12.5, "retry": True, "tags": ["card", "visa"],
        "customer": {"tier": "gold", "visits": 7, "nested": {"deep": [1, 2]}},
    }
    assert declined["resource"]["host.name"] == "e2e-host"
    assert declined["trace_id"] == hex_trace_id(context.trace_id)
    assert declined["span_id"] == hex_span_id(context.span_id)
    assert declined["scope"] == {"name": "e2e.logs", "version": "0.1"}
    assert structured["body"] == {"structured": token, "count": 3}
    assert structured["severity_number"] == SeverityNumber.ERROR.value
    assert structured["trace_id"] is None

    # The query language: words, phrases, fields, boolean operators, trace ids.
    def total(query):
        return server.logs(query)["total"]

    assert total(f"declined AND service:{service}") == 1
    assert total(f'"payment declined" AND service:{service}') == 1
    assert total(f"trace_id:{hex_trace_id(context.trace_id)}") == 1
    assert total(f"service:{service} AND NOT severity:warn") == 1
    assert total(f"order.id:42 AND service:{service}") == 1
    assert total(f"service:{service} AND (severity:error OR severity:warn)") == 2
    window = server.get("/api/logs/search", query=f"service:{service}", start=now + 500, end=now + 2000).json()
    assert window["total"] == 1
    bad = server.get("/api/logs/search", query='service:"unclosed')
    assert bad.status_code == 400
    assert bad.json()["error"]["message"]


def test_logs_over_http_protobuf(server):
    token = uuid.uuid4().hex
    now, context = emit_logs(HttpLogExporter(endpoint=f"{server.otlp_http}/v1/logs"), "logs-proto", token)
    check_logs(server, "logs-proto", token, now, context)


def test_logs_over_http_json(server):
    from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter

    token = uuid.uuid4().hex
    now, context = emit_logs(JsonLogExporter(endpoint=f"{server.otlp_http}/v1/logs"), "logs-json", token)
    check_logs(server, "logs-json", token, now, context)


def test_logs_are_queryable_with_sql(server):
    token = uuid.uuid4().hex
    emit_logs(HttpLogExporter(endpoint=f"{server.otlp_http}/v1/logs"), "logs-sql", token)
    poll(lambda: server.logs("service:logs-sql")["total"] == 2, what="logs indexed")
    result = server.sql(
        "SELECT severity_text, attributes['order.id'] AS order_id FROM logs "
        "WHERE service_name = 'logs-sql' AND attributes['retry'] = 'true'")
    assert result == {"columns": ["severity_text", "order_id"], "rows": [["WARN", "42"]], "truncated": False}


@pytest.mark.parametrize("limit", ["-1", "abc", "1000000"])
def test_log_search_rejects_bad_limits(server, limit):
    response = server.get("/api/logs/search", query="x", limit=limit)
    assert response.status_code == 400, response.text
    assert "limit" in response.json()["error"]["message"]


def test_acknowledged_logs_survive_sigkill_before_any_index_commit(server_factory):
    # A commit interval longer than the test: the only copy of the acknowledged records when
    # the server is killed is the WAL, so finding them again proves replay, field by field.
    server = server_factory(env={"PERISCOPE_STORAGE_LOG_COMMIT_INTERVAL_MS": "60000"}).start()
    token = uuid.uuid4().hex
    now, context = emit_logs(HttpLogExporter(endpoint=f"{server.otlp_http}/v1/logs"), "replayed", token)
    assert server.logs("service:replayed")["total"] == 0, "nothing may be committed before the kill"
    server.kill()
    server.start()
    check_logs(server, "replayed", token, now, context)
