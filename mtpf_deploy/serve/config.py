"""Settings of ``serve`` (the CLI builds its flags from them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings, setting


@dataclass
class ServeConfig(Settings):
    bundle: str | None = setting(None, "bundle folder (export --row-adapters: requests of different adapters share "
                                       "one pass)", required=True, path="dir")
    state: str = setting("serve_state", "folder of the app registry (registry.json) and the apps' uploaded adapters",
                         path="dir")
    host: str = setting("127.0.0.1", "TCP address to listen on (loopback by default)")
    port: int = setting(8321, "TCP port", bounds=(0, 65535))
    unix_socket: str | None = setting(None, "listen on this Unix socket instead of TCP; callers are identified by "
                                            "their uid (SO_PEERCRED), as registered with `apps add --uid`", path="file")
    threads: int | None = setting(None, "ONNX Runtime intra-op threads", bounds=(1, None), default_text="ONNX Runtime's")
    window_ms: float = setting(3.0, "batching window: how long the oldest queued request waits for others to join its "
                                    "pass", bounds=(0, 1000))
    max_batch: int = setting(32, "most rows (texts or windows) in one backbone pass", bounds=(1, 1024))
    max_queue: int = setting(256, "most requests queued or running; more are refused with 429 and Retry-After",
                             bounds=(1, None))
    deadline_ms: float = setting(5000.0, "a request not answered within this many milliseconds gets 504 (a request "
                                         "may ask for less with deadline_ms)", bounds=(1, None))
    max_texts: int = setting(64, "most texts (or pairs) in one request", bounds=(1, 100_000))
    max_chars: int = setting(20_000, "most characters in one text", bounds=(1, None))
    max_body_bytes: int = setting(1 << 20, "largest JSON request body (bytes)", bounds=(1, None))
    max_adapter_bytes: int = setting(64 << 20, "largest adapter upload (bytes)", bounds=(1, None))
    body_timeout_s: float = setting(10.0, "a request whose body has not arrived within this many seconds gets 408",
                                    bounds=(0.01, None))
    drain_s: float = setting(10.0, "on SIGTERM/SIGINT: stop accepting, answer what is queued, wait at most this long",
                             bounds=(0, None))
