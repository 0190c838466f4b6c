"""Agent resource figures (shared/RELIABILITY.md A9, Bench only; not collected by pytest).

    PERISCOPE_AGENT_BIN=target/release/periscope-agent python tests/e2e/bench_agent.py

Runs the agent against a mock OTLP/HTTP collector that accepts everything and reports:
  * throughput: MB of JSON lines tailed, parsed and shipped per agent CPU-second
  * idle RSS
  * RSS and CPU while 10 000 lines/s of 1 KiB are appended
"""
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from agent_harness import Agent  # noqa: E402
from conftest import poll  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def json_line(i, size=1024):
    head = {"time": "2024-05-01T12:00:00.000Z", "level": "info", "msg": f"request {i} served",
            "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
            "user": "bob", "status": 200, "path": "/api/items"}
    text = json.dumps(head)
    pad = size - len(text) - len(', "pad": ""}') - 1
    return text[:-1] + f', "pad": "{"x" * max(pad, 0)}"}}\n'


def main():
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}"
    work = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    logs = work / "logs"
    logs.mkdir()

    # 1. Throughput over a pre-written file.
    total_lines = int(os.environ.get("BENCH_LINES", "300000"))
    big = logs / "big.log"
    with open(big, "w") as out:
        for i in range(total_lines):
            out.write(json_line(i))
    size_mb = big.stat().st_size / 1e6
    compression = os.environ.get("BENCH_COMPRESSION", "gzip")
    agent = Agent(work / "a1", f"""
[sources.bench]
include = ["{logs}/big.log"]
start_at = "beginning"
parser.type = "json"
[sink]
endpoints = ["{endpoint}"]
protocol = "http"
compression = "{compression}"
[metrics]
address = "127.0.0.1:0"
""", env={"RUST_LOG": "warn"}).start()
    pid = agent.process.pid
    time.sleep(0.5)
    idle_rss = rss_mib(pid)
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    poll(lambda: agent.metrics().get("periscope_agent_records_sent_total", 0) >= total_lines,
         timeout=600, interval=0.2, what="all lines sent")
    cpu, wall = cpu_seconds(pid) - start_cpu, time.monotonic() - start
    peak_rss = rss_mib(pid)
    agent.stop()
    print(f"throughput: {size_mb:.0f} MB ({total_lines} JSON lines of 1 KiB), compression={compression}: "
          f"{size_mb / cpu:.1f} MB per agent CPU-second ({cpu:.1f} CPU-s, {wall:.1f} s wall, "
          f"{size_mb / wall:.1f} MB/s); RSS at the end {peak_rss:.1f} MiB")

    # 2. Idle RSS and 10k lines/s.
    live = logs / "live.log"
    live.write_text("")
    agent = Agent(work / "a2", f"""
[sources.live]
include = ["{logs}/live.log"]
start_at = "beginning"
parser.type = "json"
[sink]
endpoints = ["{endpoint}"]
protocol = "http"
compression = "{compression}"
[metrics]
address = "127.0.0.1:0"
""", env={"RUST_LOG": "warn"}).start()
    pid = agent.process.pid
    time.sleep(3)
    idle_rss = rss_mib(pid)
    idle_cpu0 = cpu_seconds(pid)
    time.sleep(5)
    idle_cpu = (cpu_seconds(pid) - idle_cpu0) / 5
    rate, seconds = 10_000, int(os.environ.get("BENCH_SECONDS", "30"))
    lines = [json_line(i) for i in range(rate // 10)]
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    rss_samples = []
    with open(live, "a") as out:
        for tick in range(seconds * 10):
            out.write("".join(lines))
            out.flush()
            rss_samples.append(rss_mib(pid))
            time.sleep(max(0.0, t0 + (tick + 1) / 10 - time.monotonic()))
    load_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    poll(lambda: agent.metrics().get("periscope_agent_records_sent_total", 0) >= rate * seconds,
         timeout=120, interval=0.2, what="all live lines sent")
    agent.stop()
    print(f"idle: RSS {idle_rss:.1f} MiB, CPU {idle_cpu * 100:.2f} % of a core")
    print(f"10k lines/s of 1 KiB JSON for {seconds} s: CPU {load_cpu * 100:.1f} % of a core, "
          f"RSS max {max(rss_samples):.1f} MiB, median {sorted(rss_samples)[len(rss_samples) // 2]:.1f} MiB")
    sink.shutdown()


if __name__ == "__main__":
    main()
