"""Metric points sent by the Python SDK (protobuf and JSON) are stored exactly and can be
queried with SQL, attributes included."""
import json

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from conftest import poll


def emit_metrics(exporter, service):
    exported = []
    send = exporter.export

    def record_and_send(metrics_data, *args, **kwargs):
        exported.append(metrics_data)  # exactly what the unmodified exporter sends
        return send(metrics_data, *args, **kwargs)

    exporter.export = record_and_send
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": service}), metric_readers=[reader])
    meter = provider.get_meter("e2e.metrics", "2.0")
    meter.create_counter("orders", unit="1", description="orders placed").add(5, {"region": "eu", "vip": True})
    meter.create_up_down_counter("queue.depth").add(-2, {"queue": "payments"})
    meter.create_histogram("latency", unit="ms").record(3.5, {"route": "/pay"})
    meter.create_gauge("temperature").set(21.25, {"room": "lab"})
    provider.shutdown()  # the one export
    assert len(exported) == 1
    sent = exported[0]
    points = {}
    for resource_metrics in sent.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    points[metric.name] = point
    return points


def check_metrics(server, service, points):
    def rows():
        result = server.sql(
            "SELECT metric_name, metric_type, value, value_int, count, sum, is_monotonic, temporality, "
            "time_unix_nano, start_time_unix_nano, attributes, distribution, unit, scope_name "
            f"FROM metrics WHERE service_name = '{service}' ORDER BY metric_name")
        return len(result["rows"]) == 4 and result

    result = poll(rows, what="metrics stored")
    columns = result["columns"]
    stored = {row[0]: dict(zip(columns, row)) for row in result["rows"]}

    orders = stored["orders"]
    assert orders["metric_type"] == "sum" and orders["is_monotonic"] is True and orders["temporality"] == 2
    assert orders["value_int"] == points["orders"].value == 5
    assert orders["start_time_unix_nano"] == points["orders"].start_time_unix_nano
    assert orders["time_unix_nano"] == points["orders"].time_unix_nano
    assert orders["attributes"] == {"region": "eu", "vip": "true"}
    assert orders["unit"] == "1" and orders["scope_name"] == "e2e.metrics"

    depth = stored["queue.depth"]
    assert depth["metric_type"] == "sum" and depth["is_monotonic"] is False
    assert depth["value_int"] == -2

    latency = stored["latency"]
    assert latency["metric_type"] == "histogram"
    assert latency["count"] == 1 and latency["sum"] == 3.5
    distribution = json.loads(latency["distribution"])
    assert distribution["bucket_counts"] == list(points["latency"].bucket_counts)
    assert distribution["explicit_bounds"] == list(points["latency"].explicit_bounds)

    temperature = stored["temperature"]
    assert temperature["metric_type"] == "gauge" and temperature["value"] == 21.25
    assert temperature["value_int"] is None


def test_metrics_over_http_protobuf(server):
    points = emit_metrics(HttpMetricExporter(endpoint=f"{server.otlp_http}/v1/metrics"), "metrics-proto")
    check_metrics(server, "metrics-proto", points)


def test_metrics_over_http_json(server):
    from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter as JsonMetricExporter

    points = emit_metrics(JsonMetricExporter(endpoint=f"{server.otlp_http}/v1/metrics"), "metrics-json")
    check_metrics(server, "metrics-json", points)


def test_metrics_over_grpc(server):
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter

    exporter = GrpcMetricExporter(endpoint=f"http://{server.otlp_grpc}", insecure=True)
    points = emit_metrics(exporter, "metrics-grpc")
    check_metrics(server, "metrics-grpc", points)


@pytest.mark.parametrize("statement", [
    "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
    "COPY (SELECT 1) TO '/tmp/periscope-copy.csv'",
    "INSERT INTO spans SELECT * FROM spans",
    "DROP TABLE spans",
    "SET datafusion.execution.batch_size = 1",
    "SELECT 1; SELECT 2",
])
def test_sql_refuses_anything_but_one_read_only_query(server, statement):
    response = server.get("/healthz")
    assert response.status_code == 200
    import requests
    refused = requests.post(server.api("/api/sql"), json={"sql": statement}, timeout=30)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"]


def test_sql_errors_are_400_with_a_message(server):
    import requests
    response = requests.post(server.api("/api/sql"), json={"sql": "SELECT nope FROM spans"}, timeout=30)
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]
    response = requests.post(server.api("/api/sql"), data="not json", headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400
