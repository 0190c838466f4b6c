"""A real `periscope-agent` process for end-to-end tests, plus helpers to count what reached
Periscope. The binary comes from PERISCOPE_AGENT_BIN (scripts/test.sh exports it)."""
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import poll

AGENT_BIN = os.environ.get("PERISCOPE_AGENT_BIN", "")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Agent:
    """One agent process with its config and data dir; restartable (also after SIGKILL).
    Create agents through the `agents` fixture so a failing test leaves none running."""

    def __init__(self, work_dir: Path, config: str, env=None):
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.work_dir / "agent-data"
        self.config_path = self.work_dir / "agent.toml"
        self.config_path.write_text(f'data_dir = "{self.data_dir}"\n' + config)
        self.log_path = self.work_dir / "agent.log"
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("RUST_LOG", "info")
        self.process = None
        self.addresses = {}

    def start(self):
        assert AGENT_BIN, "set PERISCOPE_AGENT_BIN to the periscope-agent binary (scripts/test.sh does)"
        listen = self.data_dir / "listen.json"
        if listen.exists():
            listen.unlink()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([AGENT_BIN, "--config", str(self.config_path)],
                                        env=self.env, stdout=log, stderr=log)

        def listening():
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited with {self.process.returncode}; see {self.log_path}")
            return listen.exists() and json.loads(listen.read_text())

        self.addresses = poll(listening, timeout=30, what="agent to listen")
        return self

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        return self.process.returncode

    def metrics(self):
        """Prometheus text → {"name{labels}": value}."""
        text = requests.get(f"http://{self.addresses['metrics']}/metrics", timeout=5).text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values


def count_lines(server, prefix):
    """(rows, distinct bodies) in Periscope whose body starts with `prefix`."""
    result = server.sql(
        f"SELECT count(*) AS n, count(DISTINCT body) AS d FROM logs WHERE body LIKE '{prefix}%'")
    n, d = result["rows"][0]
    return int(n), int(d)


def missing_buckets(server, prefix, expected, bucket=1000):
    """Which thousands of seqs are short in Periscope, for a readable failure message."""
    short = []
    for start in range(0, expected, bucket):
        end = min(start + bucket, expected)
        got = len(stored_seqs(server, prefix, start, end))
        if got != end - start:
            short.append((start, end, got))
    return short


def stored_seqs(server, prefix, start, end):
    """The distinct seqs in [start, end) stored for lines `<prefix><seq:08d> …`."""
    lo, hi = f"{prefix}{start:08d}", f"{prefix}{end:08d}"
    rows = server.sql(
        f"SELECT DISTINCT substr(body, {len(prefix) + 1}, 8) AS seq FROM logs "
        f"WHERE body >= '{lo}' AND body < '{hi}' AND body LIKE '{prefix}%'")
    return {int(row[0]) for row in rows["rows"]}


def locate_missing(server, prefix, expected, log_dir, show=12):
    """The first missing seqs of `<prefix><seq>` lines, each with the file and byte offset
    that holds it now: tells a line the agent skipped from one it lost after reading."""
    missing = []
    for start, end, _ in missing_buckets(server, prefix, expected):
        stored = stored_seqs(server, prefix, start, end)
        missing.extend(seq for seq in range(start, end) if seq not in stored)
    where = {}
    wanted = {f"{prefix}{seq:08d}".encode(): seq for seq in missing[:show]}
    for path in sorted(Path(log_dir).iterdir()):
        data = path.read_bytes()
        for needle, seq in wanted.items():
            at = data.find(needle)
            if at >= 0:
                where[seq] = f"{path.name}@{at}/{len(data)}"
    ranges = []
    for seq in missing:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return {"missing": len(missing), "ranges": ranges[:20],
            "found_on_disk": {seq: where.get(seq, "not on disk") for seq in missing[:show]}}


@pytest.fixture
def agents():
    """Makes agents and kills whatever is still running when the test ends."""
    created = []

    def make(work_dir, config, env=None):
        agent = Agent(work_dir, config, env)
        created.append(agent)
        return agent

    yield make
    for agent in created:
        if agent.process and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait()
