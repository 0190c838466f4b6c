"""Spans sent by the unmodified Python SDK come back exactly (ids, ns times, typed
attributes, events, links, status, resource, scope), over gRPC and over HTTP+gzip."""
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from conftest import poll
from otlp_values import decode_attributes, hex_span_id, hex_trace_id, normalize

ATTRIBUTES = {
    "http.request.method": "GET",
    "http.response.status_code": 503,
    "retry.ratio": 0.25,
    "cache.hit": False,
    "big.int": 9007199254740993,
    "tags": ["a", "b", "ünïcødé"],
    "codes": [1, 2, 3],
    "weights": [0.5, 1.5],
    "flags": [True, False],
}


def emit_trace(exporter, service):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment.name": "test", "host.cores": 2}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e.scope", "1.2.3", attributes={"scope.attr": "yes"})
    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER, attributes=ATTRIBUTES) as root:
        root.add_event("cache miss", {"key": "cart:42", "attempt": 2})
        with tracer.start_as_current_span("SELECT carts", kind=SpanKind.CLIENT) as child:
            child.set_attribute("db.system.name", "postgresql")
            try:
                raise ValueError("boom")
            except ValueError as err:
                child.record_exception(err)
                child.set_status(Status(StatusCode.ERROR, "query failed"))
        linked = root.get_span_context()
    with tracer.start_as_current_span("async job", kind=SpanKind.CONSUMER, links=[Link(linked, {"link.kind": "follows"})]):
        pass
    provider.force_flush()
    provider.shutdown()
    return memory.get_finished_spans()


def check_span_matches(sent, got):
    otlp = got["otlp"]
    assert otlp["traceId"] == hex_trace_id(sent.context.trace_id)
    assert otlp["spanId"] == hex_span_id(sent.context.span_id)
    assert otlp["parentSpanId"] == (hex_span_id(sent.parent.span_id) if sent.parent else "")
    assert otlp["name"] == sent.name
    assert otlp["kind"] == sent.kind.value + 1
    assert int(otlp["startTimeUnixNano"]) == sent.start_time
    assert int(otlp["endTimeUnixNano"]) == sent.end_time
    assert decode_attributes(otlp["attributes"]) == normalize(dict(sent.attributes))
    assert otlp["status"]["code"] == sent.status.status_code.value
    assert otlp["status"]["message"] == (sent.status.description or "")
    assert len(otlp["events"]) == len(sent.events)
    for sent_event, got_event in zip(sent.events, otlp["events"]):
        assert got_event["name"] == sent_event.name
        assert int(got_event["timeUnixNano"]) == sent_event.timestamp
        assert decode_attributes(got_event["attributes"]) == normalize(dict(sent_event.attributes))
    assert len(otlp["links"]) == len(sent.links)
    for sent_link, got_link in zip(sent.links, otlp["links"]):
        assert got_link["traceId"] == hex_trace_id(sent_link.context.trace_id)
        assert got_link["spanId"] == hex_span_id(sent_link.context.span_id)
        assert decode_attributes(got_link["attributes"]) == normalize(dict(sent_link.attributes))
    assert decode_attributes(otlp["resource"]["attributes"]) == normalize(dict(sent.resource.attributes))
    assert otlp["scope"]["name"] == sent.instrumentation_scope.name
    assert otlp["scope"]["version"] == sent.instrumentation_scope.version
    assert decode_attributes(otlp["scope"]["attributes"]) == normalize(dict(sent.instrumentation_scope.attributes))
    # The Jaeger view of the same span (what Grafana reads).
    assert got["startTime"] == sent.start_time // 1000
    assert got["operationName"] == sent.name


def check_all_spans_stored(server, sent_spans):
    by_trace = {}
    for span in sent_spans:
        by_trace.setdefault(hex_trace_id(span.context.trace_id), []).append(span)
    for trace_id, spans in by_trace.items():
        trace = poll(lambda: (t := server.trace(trace_id)) and len(t["spans"]) == len(spans) and t,
                     what=f"trace {trace_id}")
        got_by_id = {span["spanID"]: span for span in trace["spans"]}
        for sent in spans:
            check_span_matches(sent, got_by_id[hex_span_id(sent.context.span_id)])


def test_traces_over_grpc(server):
    exporter = GrpcSpanExporter(endpoint=f"http://{server.otlp_grpc}", insecure=True)
    sent = emit_trace(exporter, "checkout-grpc")
    assert len(sent) == 3
    check_all_spans_stored(server, sent)
    services = server.get("/api/services").json()["data"]
    assert "checkout-grpc" in services
    operations = server.get("/api/services/checkout-grpc/operations").json()["data"]
    assert operations == ["GET /checkout", "SELECT carts", "async job"]


def test_traces_over_http_protobuf_gzip(server):
    exporter = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces", compression=Compression.Gzip)
    sent = emit_trace(exporter, "checkout-http")
    check_all_spans_stored(server, sent)


def test_traces_over_http_json(server):
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter

    sent = emit_trace(JsonSpanExporter(endpoint=f"{server.otlp_http}/v1/traces"), "checkout-json")
    check_all_spans_stored(server, sent)


def test_spans_survive_restart_and_flush(server):
    exporter = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces")
    sent = emit_trace(exporter, "restarted")
    assert server.stop() == 0
    server.start()
    check_all_spans_stored(server, sent)
    files = server.sql("SELECT count(*) AS n FROM spans WHERE service_name = 'restarted'")
    assert files["rows"] == [[3]]
    assert list((server.data_dir / "spans").glob("*.parquet")), "shutdown must flush spans to Parquet"


@pytest.mark.parametrize("form", ["upper", "short", "traceparent"])
def test_trace_lookup_accepts_common_id_forms(server, form):
    exporter = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces")
    sent = emit_trace(exporter, "id-forms")
    trace_id = hex_trace_id(sent[0].context.trace_id)
    poll(lambda: server.trace(trace_id), what="trace visible")
    typed = {
        "upper": trace_id.upper(),
        "short": trace_id[16:],
        "traceparent": f"00-{trace_id}-{hex_span_id(sent[0].context.span_id)}-01",
    }[form]
    # A 16-hex id matches the low half of a 128-bit id, as Jaeger and Zipkin users expect.
    response = server.get(f"/api/traces/{typed}")
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["traceID"] == trace_id


def test_missing_trace_is_jaeger_404(server):
    response = server.get("/api/traces/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert response.json() == {"data": None, "total": 0, "limit": 0, "offset": 0,
                               "errors": [{"code": 404, "msg": "trace not found"}]}


def test_trace_search_like_grafana(server):
    exporter = HttpSpanExporter(endpoint=f"{server.otlp_http}/v1/traces")
    sent = emit_trace(exporter, "search-me")
    root = next(span for span in sent if span.name == "GET /checkout")
    trace_id = hex_trace_id(root.context.trace_id)
    poll(lambda: server.trace(trace_id), what="trace visible")
    start_us = root.start_time // 1000 - 1_000_000
    end_us = root.end_time // 1000 + 1_000_000

    def search(**params):
        response = server.get("/api/traces", service="search-me", start=start_us, end=end_us, lookback="custom", **params)
        assert response.status_code == 200, response.text
        return [trace["traceID"] for trace in response.json()["data"]]

    assert search() == [hex_trace_id(sent[-1].context.trace_id), trace_id]  # newest first
    assert trace_id in search(operation="GET /checkout")
    assert trace_id in search(tags='{"http.request.method":"GET"}')
    assert search(tags='{"http.request.method":"POST"}') == []
    assert trace_id in search(tags='{"error":"true"}')
    assert search(minDuration="1h") == []
    assert trace_id in search(maxDuration="1h", limit=5)
    bad = server.get("/api/traces", service="search-me", minDuration="fast")
    assert bad.status_code == 400
    assert "minDuration" in bad.json()["errors"][0]["msg"]
