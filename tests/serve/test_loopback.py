"""``mtpf-deploy serve`` as a real process on loopback and on a Unix socket: concurrent clients of several
adapters get the in-process results, nothing lost or duplicated, in mixed batches; kill -9 mid-load gives
clients errors, not hangs, and the registry survives; a slow client gets 408 while others are served;
SIGTERM drains; a Unix socket identifies the app by its uid. Bounded in count and time."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
from mtpf_deploy.runtime import SystemModel  # noqa: E402
from mtpf_deploy.runtime.results import result_json  # noqa: E402
from mtpf_deploy.serve.client import ServeClient, ServeError  # noqa: E402
from mtpf_deploy.serve.registry import Registry  # noqa: E402
from tests.runtime.crafting import craft  # noqa: E402

WORDS = "alice smith went to paris with bob and visited the london office of acme corp on monday".split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bundle: Path, state: Path, *extra: str, unix_socket: Path | None = None):
        self.port = free_port()
        where = ["--unix-socket", str(unix_socket)] if unix_socket else ["--port", str(self.port)]
        self.unix_socket = unix_socket
        self.proc = subprocess.Popen([sys.executable, "-m", "mtpf_deploy.cli", "serve", "--bundle", str(bundle), "--state",
                                      str(state), "--threads", "1", *where, *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        probe = ServeClient(self.url, unix_socket=unix_socket, timeout=2)
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.proc.stderr.read()[-2000:]}")
            try:
                if probe.ready():
                    break
            except Exception:  # not listening yet
                time.sleep(0.1)
        else:
            raise RuntimeError("serve did not become ready in 30 s")
        probe.close()

    def client(self, token: str | None = None, timeout: float = 10) -> ServeClient:
        return ServeClient(self.url, token=token, unix_socket=self.unix_socket, timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture()
def setup(row_bundle, tmp_path):
    """State with app a (granted ner, tc; it uploads ner2 and tc2 at the first server start)."""
    state = tmp_path / "state"
    registry = Registry(state)
    token = registry.add_app("a")
    registry.grant("a", ["ner", "tc"])
    variants = {}
    for task, factor in (("ner", 0.5), ("tc", 1.7)):
        def scale(t, factor=factor):
            for k in t:
                if k.endswith("lora_B"):
                    t[k] = t[k] * factor
        variants[f"{task}2"] = craft(row_bundle / "adapters" / f"{task}.mtpfa", tmp_path / f"{task}2.mtpfa", lora=scale)
    return state, token, variants


def reference(row_bundle, variants) -> SystemModel:
    system = SystemModel.load(row_bundle)
    for name, path in variants.items():
        system.load_adapter(path, name=name)
    return system


def load(server: Server, token: str, clients: int, per_client: int, adapters: list[str], timeout: float = 10):
    """``clients`` threads of ``per_client`` requests each, round-robin over ``adapters``; returns
    {(client, i): (adapter, texts, results or the exception)} and {(client, i): when it was answered}."""
    out: dict = {}
    done: dict = {}

    def one(c: int):
        with server.client(token, timeout) as client:
            for i in range(per_client):
                adapter = adapters[(c + i) % len(adapters)]
                texts = [f"{WORDS[(c * 7 + i) % len(WORDS)]} client {c} request {i}", " ".join(WORDS[: 3 + (i % 9)])]
                try:
                    out[c, i] = (adapter, texts, client.predict(adapter, texts))
                except Exception as exc:  # what a client sees when the server dies
                    out[c, i] = (adapter, texts, exc)
                done[c, i] = time.monotonic()

    threads = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    return threads, out, done


def test_concurrent_clients_get_in_process_results_in_mixed_batches(row_bundle, setup):
    state, token, variants = setup
    server = Server(row_bundle, state, "--window-ms", "20")
    try:
        with server.client(token) as c:
            for name, path in variants.items():
                c.upload(name, path)
        threads, out, _ = load(server, token, clients=8, per_client=10, adapters=["ner", "tc", "ner2", "tc2"])
        for t in threads:
            t.join(60)
        assert len(out) == 80  # nothing lost
        system = reference(row_bundle, variants)
        for adapter, texts, results in out.values():
            assert not isinstance(results, Exception), results
            kind = "entities" if adapter.startswith("ner") else "classification"
            expected = json.loads(json.dumps([result_json(r, kind) for r in system.predict(texts, adapter)]))
            if kind == "entities":
                assert [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in results] == \
                       [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in expected]
            else:
                assert [r["label"] for r in results] == [r["label"] for r in expected]
                assert max(abs(r["score"] - e["score"]) for r, e in zip(results, expected)) <= 1e-3
        metrics = server.client().http.get("/metrics").text
        lines = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("mtpf_batch_adapters_"))
        assert float(lines["mtpf_batch_adapters_count"]) < 80 * 2  # rows were batched together
        assert float(lines['mtpf_batch_adapters_bucket{le="1.0"}']) < float(lines["mtpf_batch_adapters_count"])  # mixed
    finally:
        server.stop()


def test_kill_9_mid_load_gives_errors_not_hangs_and_the_registry_survives(row_bundle, setup):
    state, token, variants = setup
    server = Server(row_bundle, state)
    with server.client(token) as c:
        c.upload("ner2", variants["ner2"])
    threads, out, _ = load(server, token, clients=6, per_client=2000, adapters=["ner", "tc", "ner2"], timeout=5)
    while len(out) < 60:  # mid-load: some answered, most still to come
        time.sleep(0.01)
    server.proc.send_signal(signal.SIGKILL)
    start = time.monotonic()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads) and time.monotonic() - start < 30  # no client hangs
    failed = [r for _, _, r in out.values() if isinstance(r, Exception)]
    assert failed and all(not isinstance(r, ServeError) or r.status >= 500 for r in failed)
    assert Registry(state).apps()["a"].uploads.keys() == {"ner2"}
    again = Server(row_bundle, state)  # the upload is loaded again at start
    try:
        with again.client(token) as c:
            assert c.predict("ner2", ["alice smith went to paris"]) and c.predict("tc", ["monday"])
    finally:
        again.stop()


def test_a_slow_client_gets_408_while_others_are_served(row_bundle, setup):
    state, token, _ = setup
    server = Server(row_bundle, state, "--body-timeout-s", "1")
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() +
                     b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"adap")
        with server.client(token) as c:
            assert c.predict("tc", ["monday"])  # served meanwhile
        slow.settimeout(10)
        answer = b""
        while b"slow_client" not in answer:  # headers and body may come in separate segments
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"slow_client" in answer, answer
        slow.close()
    finally:
        server.stop()


def test_sigterm_drains_what_is_admitted(row_bundle, setup):
    state, token, _ = setup
    server = Server(row_bundle, state)
    threads, out, done = load(server, token, clients=4, per_client=5000, adapters=["ner", "tc"])
    while len(out) < 40:
        time.sleep(0.01)
    server.proc.send_signal(signal.SIGTERM)
    term = time.monotonic()
    for t in threads:
        t.join(30)
    assert server.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
    assert "Traceback" not in server.proc.stderr.read()
    answered = {k for k, (_, _, r) in out.items() if not isinstance(r, Exception)}
    refused = [r for _, _, r in out.values() if isinstance(r, Exception)]
    assert any(done[k] > term for k in answered)  # in flight at SIGTERM, answered after it
    assert refused and all(not isinstance(r, ServeError) or r.status == 503 for r in refused)  # then: no more


def test_a_unix_socket_identifies_the_app_by_its_uid(row_bundle, tmp_path):
    state = tmp_path / "state"
    registry = Registry(state)
    registry.add_app("me", uid=os.getuid(), token=False)
    registry.grant("me", ["tc"])
    other = registry.add_app("other")
    registry.grant("other", ["tc"])
    sock = tmp_path / "mtpf.sock"
    server = Server(row_bundle, state, unix_socket=sock)
    try:
        with server.client() as c:  # no token: the kernel says who calls
            assert c.predict("tc", ["monday"])[0]["label"]
            assert [a["name"] for a in c.adapters()] == ["tc"]
        with server.client(other) as c:  # a token of another app on this uid's connection
            with pytest.raises(ServeError) as refused:
                c.predict("tc", ["monday"])
            assert refused.value.status == 403
    finally:
        server.stop()
