"""D1 at smoke size: clients send seq-numbered spans (gRPC and HTTP+gzip, batches of 100,
retrying like OTLP exporters) while the server is SIGKILLed and restarted; afterwards every
acknowledged span is stored, duplicates stay rare."""
import gzip
import os
import random
import threading
import time

import grpc
import requests

from conftest import poll
import otlp_raw as raw

SCALE = os.environ.get("PERISCOPE_TEST_SCALE", "smoke")
MIN_SPANS_PER_CLIENT = 5_000 if SCALE == "smoke" else 100_000
BATCH = 100
KILLS = 5 if SCALE == "smoke" else 30
# Clients send back to back, with a short pause so they do not saturate a 2-core machine,
# until the kill loop is over: every kill then lands while both clients are sending.
PAUSE_BETWEEN_BATCHES_SECS = 0.02


class Client(threading.Thread):
    """Sends its spans in order, each batch until acknowledged."""

    def __init__(self, name, transport, server, stop):
        super().__init__(daemon=True)
        self.stop = stop
        self.name_ = name
        self.transport = transport
        self.server = server
        self.acked = set()
        self.failed_attempts = 0
        self.trace_id = os.urandom(16)
        self.errors = []

    def batch(self, first):
        spans = [raw.span(name=f"{self.name_}-{seq}", trace_id=self.trace_id,
                          attributes={"client": self.name_, "seq": seq})
                 for seq in range(first, first + BATCH)]
        return raw.traces_request(spans, service="crash-loop").SerializeToString()

    def send(self, body):
        addresses = self.server.addresses  # re-read: ports change on restart
        if self.transport == "grpc":
            channel = grpc.insecure_channel(addresses["otlp_grpc"])
            try:
                channel.unary_unary(raw.TRACE_PATH)(body, timeout=10, compression=grpc.Compression.Gzip)
                return True
            except grpc.RpcError as err:
                if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                      grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN,
                                      grpc.StatusCode.INTERNAL):
                    self.errors.append(f"final grpc status {err.code()}: {err.details()}")
                return False
            finally:
                channel.close()
        try:
            response = requests.post(f"http://{addresses['otlp_http']}/v1/traces", data=gzip.compress(body),
                                     headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
                                     timeout=10)
        except requests.RequestException:
            return False
        if response.status_code == 200:
            return True
        if response.status_code not in (429, 502, 503, 504):
            self.errors.append(f"final http status {response.status_code}: {response.text}")
        return False

    def run(self):
        first = 0
        while not self.stop.is_set() or first < MIN_SPANS_PER_CLIENT:
            time.sleep(PAUSE_BETWEEN_BATCHES_SECS)
            body = self.batch(first)
            delay = 0.05
            while not self.send(body):
                if self.errors:
                    return
                self.failed_attempts += 1
                time.sleep(delay)  # client retry back-off, as OTLP exporters do
                delay = min(delay * 1.5, 1.0)
            self.acked.update(range(first, first + BATCH))
            first += BATCH


def test_acknowledged_spans_survive_sigkill_loop(server_factory):
    seed = int(os.environ.get("PERISCOPE_TEST_SEED", random.randrange(1 << 30)))
    print(f"PERISCOPE_TEST_SEED={seed}")
    rng = random.Random(seed)
    server = server_factory("crash").start()
    stop = threading.Event()
    clients = [Client("grpc-client", "grpc", server, stop), Client("http-client", "http", server, stop)]
    for client in clients:
        client.start()
    for kill in range(KILLS):
        time.sleep(rng.uniform(1.0, 3.0))  # the kill interval of D1, not a wait for a result
        assert all(client.is_alive() for client in clients), f"a client stopped before kill {kill + 1}"
        server.kill()
        restarted_at = time.monotonic()
        server.start()
        assert time.monotonic() - restarted_at < 10, "accepting again took too long (D1 asks for 5 s)"
    stop.set()
    for client in clients:
        client.join(timeout=300)
        assert not client.is_alive(), "client did not finish"
        assert not client.errors, client.errors
        assert len(client.acked) >= MIN_SPANS_PER_CLIENT
        assert client.failed_attempts > 0, "the kills never interrupted this client"
        print(f"{client.name_}: {client.failed_attempts} failed attempts retried")

    def stored(client):
        """seq → copies stored, read in pages (the SQL API caps rows per answer)."""
        copies = {}
        page = 4000
        for low in range(0, max(client.acked) + 1, page):
            result = server.sql(
                "SELECT CAST(attributes['seq'] AS BIGINT) AS seq, count(*) AS copies FROM spans "
                f"WHERE trace_id = '{client.trace_id.hex()}' "
                f"AND CAST(attributes['seq'] AS BIGINT) BETWEEN {low} AND {low + page - 1} GROUP BY 1")
            assert not result["truncated"]
            copies.update({row[0]: row[1] for row in result["rows"]})
        return copies

    for client in clients:
        last = {}

        def all_visible():
            last["copies"] = stored(client)
            return client.acked <= set(last["copies"])

        try:
            poll(all_visible, timeout=60, what=f"{client.name_} spans visible")
        except AssertionError:
            missing = sorted(client.acked - set(last.get("copies", {})))
            raise AssertionError(f"{len(missing)} of {len(client.acked)} acknowledged spans missing, e.g. {missing[:10]}")
        copies = last["copies"]
        missing = client.acked - set(copies)
        assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {sorted(missing)[:10]}"
        duplicates = sum(count - 1 for count in copies.values())
        # A lost acknowledgement duplicates one batch; at most one per client per kill.
        assert duplicates <= BATCH * KILLS, f"{duplicates} duplicates"
        # The trace API shows each (trace_id, span_id) once.
        trace = server.trace(client.trace_id.hex())
        assert len(trace["spans"]) == len(copies)
