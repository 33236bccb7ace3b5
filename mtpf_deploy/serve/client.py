"""A Python client of ``serve`` (httpx): TCP with a token, or a Unix socket (the uid identifies the app)."""
from __future__ import annotations

import base64
from pathlib import Path

import httpx

from ..errors import MtpfError


class ServeError(MtpfError):
    """A refusal of the service: ``status`` (HTTP), ``reason`` and the service's message."""

    def __init__(self, status: int, reason: str, message: str, retry_after: str | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.retry_after = status, reason, retry_after


class ServeClient:
    """``ServeClient("http://127.0.0.1:8321", token=...)`` or ``ServeClient(unix_socket="/run/mtpf.sock")``."""

    def __init__(self, url: str = "http://127.0.0.1:8321", token: str | None = None, unix_socket: str | Path | None = None,
                 timeout: float = 30.0):
        transport = httpx.HTTPTransport(uds=str(unix_socket)) if unix_socket else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url="http://mtpf" if unix_socket else url, headers=headers, timeout=timeout,
                                 transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServeClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _answer(self, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                reason, message = error["reason"], error["message"]
            except (ValueError, KeyError, TypeError):
                reason, message = "http", response.text[:300]
            raise ServeError(response.status_code, reason, message, response.headers.get("retry-after"))
        return response.json()

    def predict(self, adapter: str, texts: list[str] | None = None, pairs: list[tuple[str, str]] | None = None,
                top_k: int = 0, deadline_ms: float | None = None) -> list[dict]:
        """The adapter's result per text (or pair), as JSON objects (``runtime/results.result_json``)."""
        body: dict = {"adapter": adapter, "top_k": top_k}
        if pairs is not None:
            body["pairs"] = [list(p) for p in pairs]
        else:
            body["texts"] = list(texts or [])
        if deadline_ms is not None:
            body["deadline_ms"] = deadline_ms
        return self._answer(self.http.post("/v1/predict", json=body))["results"]

    def embed(self, texts: list[str], adapter: str | None = None) -> list[list[float]]:
        return self._answer(self.http.post("/v1/embed", json={"texts": list(texts), "adapter": adapter}))["embeddings"]

    def adapters(self) -> list[dict]:
        return self._answer(self.http.get("/v1/adapters"))["adapters"]

    def upload(self, name: str, adapter: str | Path, signature: str | Path | None = None) -> dict:
        """Upload an adapter file as this app's ``name`` (with its ``.sig`` file when the service requires signing)."""
        headers = {"Content-Type": "application/octet-stream"}
        if signature is not None:
            headers["X-Adapter-Signature"] = base64.b64encode(Path(signature).read_bytes()).decode("ascii")
        return self._answer(self.http.put(f"/v1/adapters/{name}", content=Path(adapter).read_bytes(), headers=headers))

    def delete(self, name: str) -> dict:
        return self._answer(self.http.delete(f"/v1/adapters/{name}"))

    def ready(self) -> bool:
        return self.http.get("/readyz").status_code == 200
