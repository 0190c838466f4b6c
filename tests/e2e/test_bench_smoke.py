"""`periscope bench run` at smoke size: the suite starts its own server, drives every
scenario and proves sent == stored. No timing is asserted here (benchmarks measure, tests
check behaviour)."""
import json
import subprocess

from conftest import BIN, poll


def bench(*args, timeout=900):
    return subprocess.run([BIN, "bench", *args], capture_output=True, text=True, timeout=timeout)


def test_bench_run_smoke_runs_every_scenario(tmp_path):
    completed = bench("run", "--scale", "smoke", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["scenarios"] == ["S1", "S9", "S5", "S6", "S2", "S3", "S7", "S8", "S4", "UI", "S10"]
    assert results["s1"]["sent"] == results["s1"]["stored"] == 2000
    for encoding in ("protobuf_gzip", "json"):
        assert results["s2"][encoding]["sent"] == results["s2"][encoding]["stored"] == 1000, encoding
    assert results["s3"]["records"]["sent"] == results["s3"]["records"]["stored"] == 2000
    # OTLP records hold the body and more (attributes, ids, times): both readings of "log MB".
    assert results["s3"]["record_bytes"] > results["s3"]["body_bytes"] > 0
    assert results["s3"]["record_mb_per_cpu_second"] > results["s3"]["mb_per_cpu_second"] > 0
    assert results["s4"]["sent"] == results["s4"]["stored"] == 3000
    # Server CPU split by thread name: the gRPC workers served S1, and the parts add up to the
    # whole (threads that ended in between are reported as such).
    s1_threads = results["s1"]["cpu_by_thread"]
    assert "tokio-rt-worker" in s1_threads, s1_threads
    assert abs(sum(s1_threads.values()) - results["s1"]["cpu_seconds"]) < 0.1, s1_threads
    assert results["s3"]["records"]["cpu_by_thread"], "S3 has its split too"
    assert len(results["s5"]) == 1 and results["s5"][0]["found"]["count"] == 20
    assert results["s5"][0]["missing"]["count"] == 20
    assert results["s6"]["count"] == 20
    assert results["s7"]["rare_token"]["count"] > 0 and results["s7"]["rare_token_hits"] > 0
    assert results["s7"]["trace_id"]["count"] > 0
    assert results["s8"]["latency"]["count"] == 20 and results["s8"]["hits"] > 0
    assert results["s9"]["count"] > 0
    assert len(results["pages"]) == 7
    assert all(page["latency"]["count"] == 3 for page in results["pages"])
    steady = results["s10"]
    assert steady["spans_sent"] == steady["spans_stored"] > 0
    assert steady["logs_sent"] == steady["logs_stored"] > 0
    assert steady["rss_max_mib"] > 0
    disk = results["disk"]
    assert disk["bytes_per_span"] > 0 and disk["log_index_bytes_per_raw_byte"] > 0
    assert 0 < disk["log_index_bytes_per_record_byte"] < disk["log_index_bytes_per_raw_byte"]
    assert disk["bytes_per_metric_point"] > 0
    table = (tmp_path / "results.md").read_text()
    for row in ("S1 spans (gRPC) per server CPU-second", "S2 spans (HTTP JSON)", "S4 metric points",
                "S8 log aggregate", "UI trace view", "S10 RSS median / max",
                "S3 log MB indexed per server CPU-second: OTLP records",
                "S1 server CPU seconds by thread"):
        assert row in table, row


def test_bench_run_selects_scenarios_and_loads_what_they_need(tmp_path):
    completed = bench("run", "S5", "s7", "S9", "--spans", "500", "--s5-also-at", "200", "--logs", "500",
                      "--lookups", "5", "--probes", "5", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["scenarios"] == ["S9", "S5", "S7"]
    # S1 and S3 were not asked for: their data went in, their figures are not reported.
    assert results["s1"] is None and results["s3"] is None and results["s10"] is None
    assert "S1 not reported" in completed.stderr and "S3 not reported" in completed.stderr
    # S5 after the first 200 spans (S1 and the S9 probes paused), then after all 500.
    assert [s5["spans_stored"] for s5 in results["s5"]] == [200, 500]
    assert all(s5["found"]["count"] == 5 for s5 in results["s5"])
    assert results["s9"]["count"] == 5
    assert results["s7"]["lines_stored"] == 500


def test_bench_run_refuses_an_unknown_scenario(tmp_path):
    completed = bench("run", "S12", "--out", str(tmp_path))
    assert completed.returncode != 0
    assert "unknown scenario \"S12\"" in completed.stderr


def test_bench_gen_sends_to_a_running_server(server):
    completed = bench("gen", "--otlp-http", server.addresses["otlp_http"], "--signal", "logs",
                      "--total", "500", "--per-request", "50", "--connections", "2", "--gzip", timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("sent 500 records")
    poll(lambda: server.logs("bench.client:(bench-0 OR bench-1)", limit=1)["total"] == 500, what="generated logs stored")


def test_bench_gen_sends_json_spans_and_metrics(server):
    completed = bench("gen", "--otlp-http", server.addresses["otlp_http"], "--json",
                      "--total", "300", "--per-request", "30", "--connections", "2", timeout=300)
    assert completed.returncode == 0, completed.stderr
    rows = server.sql("SELECT count(*) FROM spans WHERE attributes['bench.client'] LIKE 'bench-%'")["rows"]
    assert rows[0][0] == 300
    completed = bench("gen", "--otlp-grpc", server.otlp_grpc, "--signal", "metrics",
                      "--total", "2000", "--per-request", "500", "--connections", "2", timeout=300)
    assert completed.returncode == 0, completed.stderr
    rows = server.sql("SELECT count(*), count(DISTINCT metric_name) FROM metrics "
                      "WHERE resource_attributes['bench.client'] LIKE 'bench-%'")["rows"]
    assert rows[0] == [2000, 6]
