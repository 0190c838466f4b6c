"""`periscope bench run` at smoke size: the suite starts its own server, drives every
scenario and proves sent == stored. No timing is asserted here (benchmarks measure, tests
check behaviour)."""
import json
import subprocess

from conftest import BIN, poll


def test_bench_run_smoke(tmp_path):
    completed = subprocess.run([BIN, "bench", "run", "--scale", "smoke", "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["spans_sent"] == results["spans_stored"] == 2000
    assert results["logs_sent"] == results["logs_stored"] == 2000
    for latency in ("ack_to_visible", "trace_by_id_found", "trace_by_id_missing", "log_needle"):
        assert results[latency]["count"] > 0, latency
    assert results["bytes_per_span"] > 0 and results["log_index_bytes_per_raw_byte"] > 0
    table = (tmp_path / "results.md").read_text()
    assert "spans ingested per server CPU-second" in table


def test_bench_gen_sends_to_a_running_server(server):
    completed = subprocess.run([BIN, "bench", "gen", "--otlp-http", server.addresses["otlp_http"], "--signal", "logs",
                                "--total", "500", "--per-request", "50", "--connections", "2", "--gzip"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("sent 500 records")
    poll(lambda: server.logs("bench.client:(bench-0 OR bench-1)", limit=1)["total"] == 500, what="generated logs stored")
