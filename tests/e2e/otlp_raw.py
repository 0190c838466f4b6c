"""Hand-built OTLP requests, for inputs no SDK would send."""
import os
import time

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def kv(key, value):
    return common_pb2.KeyValue(key=key, value=any_value(value))


def any_value(value):
    if isinstance(value, common_pb2.AnyValue):
        return value
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=[kv(k, v) for k, v in value.items()]))
    return common_pb2.AnyValue(string_value=str(value))


def nested(depth):
    """An AnyValue `depth` levels deep (1 = a scalar)."""
    value = common_pb2.AnyValue(string_value="leaf")
    for _ in range(depth - 1):
        value = common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[value]))
    return value


def new_trace_id():
    return os.urandom(16)


def new_span_id():
    return os.urandom(8)


def span(name="op", trace_id=None, span_id=None, parent=b"", start=None, end=None, attributes=None):
    start = time.time_ns() if start is None else start
    end = start + 1_000_000 if end is None else end
    return trace_pb2.Span(
        trace_id=new_trace_id() if trace_id is None else trace_id,
        span_id=new_span_id() if span_id is None else span_id,
        parent_span_id=parent,
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
    )


def traces_request(spans, service="raw"):
    resource = resource_pb2.Resource(attributes=[kv("service.name", service)])
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])
    ])


def log_record(body="hello", time_unix_nano=None, observed=0, trace_id=b"", span_id=b"", attributes=None):
    return logs_pb2.LogRecord(
        time_unix_nano=time.time_ns() if time_unix_nano is None else time_unix_nano,
        observed_time_unix_nano=observed,
        severity_number=9,
        severity_text="INFO",
        body=any_value(body),
        trace_id=trace_id,
        span_id=span_id,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
    )


def logs_request(records, service="raw"):
    resource = resource_pb2.Resource(attributes=[kv("service.name", service)])
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[
        logs_pb2.ResourceLogs(resource=resource, scope_logs=[logs_pb2.ScopeLogs(log_records=records)])
    ])


def with_invalid_utf8(serialized, placeholder):
    """Swaps an ASCII placeholder for invalid UTF-8 of the same length (protobuf libraries
    refuse to encode invalid strings themselves)."""
    assert placeholder.encode() in serialized
    bad = (b"\xff\xfe" * len(placeholder))[: len(placeholder)]
    return serialized.replace(placeholder.encode(), bad)


def partial_success(response_bytes, message_cls):
    message = message_cls()
    message.ParseFromString(response_bytes)
    return message


def _varint(number):
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_span_request(depth):
    """A request whose one span has an attribute nested `depth` levels, encoded by hand
    (protobuf libraries refuse to build such messages)."""
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth - 1):
        value = _field(5, _field(1, value))  # AnyValue.array_value -> ArrayValue.values
    attribute = _field(1, b"x") + _field(2, value)  # KeyValue
    span_bytes = span().SerializeToString() + _field(9, attribute)  # Span.attributes
    return _field(1, _field(2, _field(2, span_bytes)))  # request.resource_spans.scope_spans.spans
