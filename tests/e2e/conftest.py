"""Shared fixtures: a real `periscope serve` process on free ports and a temp data dir.

Tests poll with a deadline (never sleep-and-hope) and talk to the server only through its
public surfaces: OTLP, the JSON API and signals.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

BIN = os.environ.get("PERISCOPE_BIN", "")


def poll(predicate, timeout=20.0, interval=0.05, what="condition"):
    """Calls predicate until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - keep polling through transient failures
            last_error = err
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}")


class Server:
    """One periscope process. Restartable on the same data dir."""

    def __init__(self, data_dir: Path, env=None, otlp_grpc_addr="127.0.0.1:0", otlp_http_addr="127.0.0.1:0"):
        self.data_dir = Path(data_dir)
        # Fixed addresses let a client (the agent) reach the server again after a restart.
        self.otlp_grpc_addr = otlp_grpc_addr
        self.otlp_http_addr = otlp_http_addr
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("RUST_LOG", "warn")
        self.process = None
        self.addresses = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self):
        assert BIN, "set PERISCOPE_BIN to the periscope binary (scripts/test.sh does)"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        listen_file = self.data_dir / "listen.json"
        if listen_file.exists():
            listen_file.unlink()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [BIN, "serve", "--data-dir", str(self.data_dir),
             "--otlp-grpc-addr", self.otlp_grpc_addr, "--otlp-http-addr", self.otlp_http_addr,
             "--http-addr", "127.0.0.1:0"],
            env=self.env, stdout=log, stderr=log)

        def listening():
            if self.process.poll() is not None:
                raise AssertionError(f"periscope exited with {self.process.returncode}; see {self.log_path}")
            return listen_file.exists() and json.loads(listen_file.read_text())

        self.addresses = poll(listening, timeout=60, what="periscope to listen")
        poll(lambda: requests.get(self.api("/readyz"), timeout=2).status_code == 200,
             timeout=30, what="/readyz")
        return self

    def api(self, path):
        return f"http://{self.addresses['http']}{path}"

    @property
    def otlp_http(self):
        return f"http://{self.addresses['otlp_http']}"

    @property
    def otlp_grpc(self):
        return self.addresses["otlp_grpc"]

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        return self.process.returncode

    # JSON API helpers -----------------------------------------------------------------
    def get(self, path, **params):
        return requests.get(self.api(path), params=params, timeout=30)

    def sql(self, query):
        response = requests.post(self.api("/api/sql"), json={"sql": query}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def trace(self, trace_id_hex):
        response = self.get(f"/api/traces/{trace_id_hex}")
        return response.json()["data"][0] if response.status_code == 200 else None

    def logs(self, query, limit=100):
        response = self.get("/api/logs/search", query=query, limit=limit)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def server(tmp_path):
    instance = Server(tmp_path / "data").start()
    yield instance
    instance.stop()


@pytest.fixture
def server_factory(tmp_path):
    created = []

    def make(name="data", env=None, **addresses):
        instance = Server(tmp_path / name, env=env, **addresses)
        created.append(instance)
        return instance

    yield make
    for instance in created:
        if instance.process and instance.process.poll() is None:
            instance.process.kill()
            instance.process.wait()
