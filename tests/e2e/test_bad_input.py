"""Bad input gets a clear 4xx (or gRPC status) naming the problem, never a 5xx; bad records
are rejected one by one while the rest of the batch is stored (shared/RELIABILITY.md §3.4:
B2, B3, B4, B5, B6, B7, B8, B9, B11 at smoke size)."""
import gzip
import os
import time

import grpc
import pytest
import requests
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import poll
import otlp_raw as raw

PROTOBUF = {"content-type": "application/x-protobuf"}
LIMIT = 20 << 20
NOW = time.time_ns()
DAY = 86_400 * 10**9


def post(server, path, body, headers=None):
    return requests.post(f"{server.otlp_http}{path}", data=body, headers=headers or PROTOBUF, timeout=60)


def export_traces(server, spans):
    response = post(server, "/v1/traces", raw.traces_request(spans).SerializeToString())
    assert response.status_code == 200, response.text
    return raw.partial_success(response.content, trace_service_pb2.ExportTraceServiceResponse)


def span_count(server, trace_id):
    trace = server.trace(trace_id.hex())
    return len(trace["spans"]) if trace else 0


def grpc_call(server, path, body, compression=None):
    channel = grpc.insecure_channel(server.otlp_grpc, options=[("grpc.max_send_message_length", 256 << 20)])
    call = channel.unary_unary(path)
    try:
        call(body, timeout=30, compression=compression)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as err:
        return err.code(), err.details()
    finally:
        channel.close()


# B2 — decompression bombs ------------------------------------------------------------------
def test_gzip_bomb_is_413(server):
    bomb = gzip.compress(b"\0" * (LIMIT * 5), compresslevel=9)
    assert len(bomb) < 1 << 20
    response = post(server, "/v1/traces", bomb, {**PROTOBUF, "content-encoding": "gzip"})
    assert response.status_code == 413
    assert "after decompression" in response.text
    assert requests.get(server.api("/healthz"), timeout=5).status_code == 200


def test_nested_gzip_is_unsupported(server):
    body = gzip.compress(gzip.compress(raw.traces_request([raw.span()]).SerializeToString()))
    response = post(server, "/v1/traces", body, {**PROTOBUF, "content-encoding": "gzip, gzip"})
    assert response.status_code == 415


def test_grpc_gzip_bomb_is_resource_exhausted(server):
    code, details = grpc_call(server, raw.TRACE_PATH, b"\0" * (LIMIT + 1024), compression=grpc.Compression.Gzip)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details


# B3 — oversize ------------------------------------------------------------------------------
def test_limit_plus_one_byte_is_413(server):
    response = post(server, "/v1/traces", b"\0" * (LIMIT + 1))
    assert response.status_code == 413
    assert "Retry-After" not in response.headers


def test_grpc_oversize_is_resource_exhausted_not_out_of_range(server):
    code, _ = grpc_call(server, raw.TRACE_PATH, b"\0" * (LIMIT + 1))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_too_many_records_is_413(server):
    spans = [raw.span() for _ in range(100_001)]
    body = raw.traces_request(spans).SerializeToString()
    response = post(server, "/v1/traces", body)
    assert response.status_code == 413
    assert "max_records_per_request" in response.text


# B4 — malformed protobuf --------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    os.urandom(4096),
    b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # overlong varint length
    b"\x0a\x05\x0a\x03",  # truncated nested message
    b"\x0d\x00\x00",  # fixed32 field cut short
])
def test_malformed_protobuf_is_400_never_5xx(server, body):
    response = post(server, "/v1/traces", body)
    assert response.status_code == 400, response.text
    code, details = grpc_call(server, raw.TRACE_PATH, body)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details


def test_unknown_fields_are_ignored(server):
    trace_id = raw.new_trace_id()
    body = raw.traces_request([raw.span(trace_id=trace_id)]).SerializeToString() + b"\xf8\x07\x01"  # field 127
    assert post(server, "/v1/traces", body).status_code == 200
    poll(lambda: span_count(server, trace_id) == 1, what="span with unknown trailing field")


# B5 — deep nesting ------------------------------------------------------------------------
def test_nesting_beyond_the_limit_rejects_only_that_span(server):
    shallow, deep = raw.new_trace_id(), raw.new_trace_id()
    result = export_traces(server, [
        raw.span(trace_id=shallow, attributes={"ok": raw.nested(16)}),
        raw.span(trace_id=deep, attributes={"too.deep": raw.nested(30)}),
    ])
    assert result.partial_success.rejected_spans == 1
    assert "nested" in result.partial_success.error_message
    poll(lambda: span_count(server, shallow) == 1, what="shallow span stored")
    assert span_count(server, deep) == 0
    # Far deeper than any decoder should recurse: a clear refusal, no stack overflow.
    for depth in (100, 10_000):
        body = raw.deep_span_request(depth)
        code, details = grpc_call(server, raw.TRACE_PATH, body)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert post(server, "/v1/traces", body).status_code == 400
    assert requests.get(server.api("/healthz"), timeout=5).status_code == 200


# B6 — invalid UTF-8 -----------------------------------------------------------------------
def test_invalid_utf8_is_replaced_not_fatal(server):
    trace_id = raw.new_trace_id()
    body = raw.traces_request([raw.span(name="PLACEHOLDERNAME", trace_id=trace_id, attributes={"PLACEHOLDERKEY": "PLACEHOLDERVALUE"})]).SerializeToString()
    for placeholder in ("PLACEHOLDERNAME", "PLACEHOLDERKEY", "PLACEHOLDERVALUE"):
        body = raw.with_invalid_utf8(body, placeholder)
    assert post(server, "/v1/traces", body).status_code == 200
    trace = poll(lambda: server.trace(trace_id.hex()), what="span with invalid UTF-8")
    assert "\ufffd" in trace["spans"][0]["operationName"]
    code, details = grpc_call(server, raw.TRACE_PATH, body)
    assert code == grpc.StatusCode.OK, details
    metrics = requests.get(server.api("/metrics"), timeout=5).text
    assert "periscope_invalid_utf8_total" in metrics


def test_invalid_utf8_in_json_is_400(server):
    response = post(server, "/v1/logs", b'{"resourceLogs": [{"x": "\xff"}]}', {"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"]


# B7 — content types and encodings -----------------------------------------------------------
@pytest.mark.parametrize("content_type,encoding,status", [
    ("application/x-protobuf", None, 200),
    ("application/json", None, 200),
    ("application/json; charset=utf-8", None, 200),
    ("text/plain", None, 415),
    (None, None, 415),
    ("application/x-protobuf", "gzip", 200),
    ("application/x-protobuf", "zstd", 200),
    ("application/x-protobuf", "br", 415),
    ("application/x-protobuf", "gzip, gzip", 415),
])
def test_content_type_matrix(server, content_type, encoding, status):
    request = raw.traces_request([raw.span()])
    if content_type and "json" in content_type:
        from google.protobuf.json_format import MessageToJson
        body = MessageToJson(request).encode()
    else:
        body = request.SerializeToString()
    if encoding == "gzip":
        body = gzip.compress(body)
    if encoding == "zstd":
        import zstandard
        body = zstandard.ZstdCompressor().compress(body)
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if encoding:
        headers["content-encoding"] = encoding
    response = requests.post(f"{server.otlp_http}/v1/traces", data=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    if status == 200 and content_type:
        assert response.headers["content-type"].split(";")[0] == content_type.split(";")[0]


def test_json_base64_ids_and_enum_names_are_accepted(server):
    import base64
    trace_id = raw.new_trace_id()
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": base64.b64encode(trace_id).decode(),
        "spanId": base64.b64encode(raw.new_span_id()).decode(),
        "name": "from tempo", "kind": "SPAN_KIND_SERVER",
        "startTimeUnixNano": str(NOW), "endTimeUnixNano": NOW + 5,
        "status": {"code": "STATUS_CODE_ERROR"},
    }]}]}]}
    response = requests.post(f"{server.otlp_http}/v1/traces", json=body, timeout=30)
    assert response.status_code == 200, response.text
    trace = poll(lambda: server.trace(trace_id.hex()), what="base64-id span")
    span = trace["spans"][0]["otlp"]
    assert span["kind"] == 2 and span["status"]["code"] == 2 and int(span["endTimeUnixNano"]) == NOW + 5


# B8 — invalid ids ---------------------------------------------------------------------------
def test_invalid_ids_reject_only_those_spans(server):
    good = raw.new_trace_id()
    result = export_traces(server, [
        raw.span(trace_id=good),
        raw.span(trace_id=bytes(16)),
        raw.span(trace_id=os.urandom(15)),
        raw.span(trace_id=os.urandom(17)),
        raw.span(trace_id=b""),
        raw.span(span_id=bytes(8)),
        raw.span(parent=b"\x01\x02"),
    ])
    assert result.partial_success.rejected_spans == 6
    assert "invalid trace id" in result.partial_success.error_message
    assert "invalid span id" in result.partial_success.error_message
    poll(lambda: span_count(server, good) == 1, what="good span stored")


def test_logs_with_bad_ids_keep_the_record_without_ids(server):
    token = os.urandom(6).hex()
    request = raw.logs_request([raw.log_record(body=f"bad ids {token}", trace_id=bytes(16), span_id=b"\x01")])
    response = post(server, "/v1/logs", request.SerializeToString())
    assert response.status_code == 200
    assert response.content == b""  # full success: partial_success unset
    hits = poll(lambda: (r := server.logs(token)) and r["total"] == 1 and r, what="log stored")["hits"]
    assert hits[0]["trace_id"] is None and hits[0]["span_id"] is None


# B9 — timestamps ----------------------------------------------------------------------------
def test_timestamps_outside_the_window_are_rejected_per_record(server):
    good = raw.new_trace_id()
    result = export_traces(server, [
        raw.span(trace_id=good, start=NOW - DAY, end=NOW - DAY + 10),
        raw.span(start=0, end=1),
        raw.span(start=1, end=2),
        raw.span(start=2**64 - 2, end=2**64 - 1),
        raw.span(start=NOW - 400 * DAY),
        raw.span(start=NOW + 400 * DAY),
        raw.span(start=NOW, end=NOW - 10),
    ])
    assert result.partial_success.rejected_spans == 6
    assert "window" in result.partial_success.error_message
    assert "end time before start time" in result.partial_success.error_message
    poll(lambda: span_count(server, good) == 1, what="in-window span stored")


def test_log_time_zero_uses_observed_time(server):
    token = os.urandom(6).hex()
    observed = NOW - 5 * 10**9
    request = raw.logs_request([raw.log_record(body=f"observed only {token}", time_unix_nano=0, observed=observed)])
    response = post(server, "/v1/logs", request.SerializeToString())
    assert response.status_code == 200
    hit = poll(lambda: (r := server.logs(token)) and r["total"] == 1 and r, what="log stored")["hits"][0]
    assert hit["timestamp"] == observed


# B11 — empty and edge ----------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"", trace_service_pb2.ExportTraceServiceRequest().SerializeToString(),
                                  raw.traces_request([]).SerializeToString()])
def test_empty_requests_succeed(server, body):
    response = post(server, "/v1/traces", body)
    assert response.status_code == 200
    assert response.content == b""
    code, details = grpc_call(server, raw.TRACE_PATH, body)
    assert code == grpc.StatusCode.OK, details
    response = requests.post(f"{server.otlp_http}/v1/logs", json={}, timeout=10)
    assert response.status_code == 200 and response.json() == {}


def test_partial_success_over_json_uses_otlp_json_shape(server):
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1", "body": {"stringValue": "ancient"}},
        {"body": {"stringValue": "fine"}},
    ]}]}]}
    response = requests.post(f"{server.otlp_http}/v1/logs", json=body, timeout=10)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "window" in partial["errorMessage"]
    protobuf = raw.logs_request([raw.log_record(time_unix_nano=1)]).SerializeToString()
    result = raw.partial_success(post(server, "/v1/logs", protobuf).content, logs_service_pb2.ExportLogsServiceResponse)
    assert result.partial_success.rejected_log_records == 1
