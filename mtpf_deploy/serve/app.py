"""The service's ASGI application (Starlette): routes, caller identity, limits, and the batcher.

Each admitted request runs its task in a worker thread attached to the service's ``MixedBatcher``
(``runtime/batching.py``): the rows of all requests queued within the batching window, of any adapters,
run together. Refusals are JSON ``{"error": {"status", "reason", "message"}}`` with the HTTP status
saying who must act: 400/413/422 the request, 401/403/404 who asks for what, 408 a slow client, 429 and
503 come back later (``Retry-After``), 504 the deadline passed."""
from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import AdapterError, InputError, MtpfError
from ..formats.tasks import task_spec
from ..runtime.batching import DeadlineExceeded, MixedBatcher
from ..runtime.results import result_json
from ..runtime.system import Adapter, SystemModel
from .config import ServeConfig
from .metrics import Metrics
from .openapi import openapi_spec
from .peercred import PEER_UID
from .registry import App, Registry, RegistryError, check_upload_name, upload_name

log = logging.getLogger("mtpf_deploy.serve")


class Refusal(Exception):
    """An answer other than 200: status, a short reason (a metrics label) and a message for the caller."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.reason, self.message, self.retry_after = status, reason, message, retry_after


@dataclass
class Service:
    """What the routes share: the runtime, its batcher, the registry, the limits and the counters."""

    cfg: ServeConfig
    system: SystemModel
    registry: Registry
    metrics: Metrics
    batcher: MixedBatcher
    limiter: anyio.CapacityLimiter
    in_flight: int = 0
    draining: bool = False

    def __post_init__(self) -> None:
        self.lock = threading.Lock()  # uploads: check, load and register one at a time


def build_app(cfg: ServeConfig, system: SystemModel | None = None) -> Starlette:
    """The service for ``cfg`` (``system``: an already loaded bundle, else ``cfg.bundle`` is loaded now).
    Every upload in the registry is loaded (validated) now too."""
    if system is None:
        assert cfg.bundle
        system = SystemModel.load(cfg.bundle, threads=cfg.threads)
    metrics = Metrics()
    service = Service(cfg, system, Registry(cfg.state), metrics,
                      MixedBatcher(system, cfg.window_ms / 1000, cfg.max_batch, metrics.on_batch),
                      anyio.CapacityLimiter(cfg.max_queue))
    for app in service.registry.apps().values():
        for name in app.uploads:  # one that no longer validates (e.g. a new trust policy) is left out, and said
            try:
                system.load_adapter(service.registry.upload_path(app.id, name), name=upload_name(app.id, name))
            except MtpfError as exc:
                log.warning(json.dumps({"event": "upload_not_loaded", "app": app.id, "adapter": name,
                                        "reason": str(exc)}, ensure_ascii=False))

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.draining = True  # uvicorn stopped accepting; what is admitted still gets its answer
        await anyio.to_thread.run_sync(service.batcher.close)

    routes = [
        Route("/healthz", lambda r: JSONResponse({"status": "ok"}), methods=["GET"]),
        Route("/readyz", _endpoint(service, _ready, "readyz"), methods=["GET"]),
        Route("/metrics", lambda r: Response(metrics.render(), media_type="text/plain; version=0.0.4"), methods=["GET"]),
        Route("/openapi.json", lambda r: JSONResponse(openapi_spec()), methods=["GET"]),
        Route("/v1/adapters", _endpoint(service, _list_adapters, "adapters"), methods=["GET"]),
        Route("/v1/adapters/{name}", _endpoint(service, _upload, "upload"), methods=["PUT"]),
        Route("/v1/adapters/{name}", _endpoint(service, _delete, "delete"), methods=["DELETE"]),
        Route("/v1/predict", _endpoint(service, _predict, "predict"), methods=["POST"]),
        Route("/v1/embed", _endpoint(service, _embed, "embed"), methods=["POST"]),
    ]
    application = Starlette(routes=routes, lifespan=lifespan)
    application.state.service = service
    return application


def _endpoint(service: Service, handler, route: str):
    """A route: the handler's answer, or its refusal as JSON; one structured log line and metrics each."""

    async def endpoint(request: Request) -> Response:
        start = time.monotonic()
        context: dict = {"route": route}
        try:
            body, status = await handler(service, request, context)
            response: Response = JSONResponse(body, status_code=status)
        except Exception as exc:  # a bug: logged with its traceback, answered as JSON
            if not isinstance(exc, Refusal):
                log.exception("unexpected error in %s", route)
                exc = Refusal(500, "internal", f"internal error ({type(exc).__name__}); see the service log")
            refusal = exc
            status = refusal.status
            service.metrics.refusals.labels(refusal.reason).inc()
            headers = {} if refusal.retry_after is None else {"Retry-After": str(math.ceil(refusal.retry_after))}
            response = JSONResponse({"error": {"status": status, "reason": refusal.reason, "message": refusal.message}},
                                    status_code=status, headers=headers)
            context["reason"] = refusal.reason
        seconds = time.monotonic() - start
        service.metrics.requests.labels(route, str(status)).inc()
        if "adapter" in context and status == 200:
            service.metrics.latency.labels(context["adapter"]).observe(seconds)
        log.info(json.dumps({"event": "request", **context, "status": status, "ms": round(seconds * 1000, 2)},
                            ensure_ascii=False))
        return response

    return endpoint


# ---------------------------------------------------------------------- identity and input
def _caller(service: Service, request: Request) -> App:
    """The app calling: on a Unix socket the one registered with the connection's peer uid, else (or
    also, when given) the one whose token the ``Authorization: Bearer`` header carries."""
    uid = request.scope.get("state", {}).get(PEER_UID)
    header = request.headers.get("authorization")
    try:
        by_uid = service.registry.by_uid(uid) if uid is not None else None
        if header is None:
            if by_uid is not None:
                return by_uid
            raise Refusal(401, "unauthenticated", "no credentials: send 'Authorization: Bearer TOKEN'"
                          + (f" (uid {uid} is not registered)" if uid is not None else ""))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refusal(401, "unauthenticated", "the Authorization header must be 'Bearer TOKEN'")
        app = service.registry.by_token(token.strip())
    except RegistryError as exc:
        raise Refusal(500, "registry", str(exc)) from None
    if app is None:
        raise Refusal(401, "unauthenticated", "unknown token")
    if by_uid is not None and by_uid.id != app.id:
        raise Refusal(403, "identity", f"the token is app {app.id!r}'s, the connection is uid {uid}'s (app {by_uid.id!r})")
    return app


async def _body(service: Service, request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal(413, "too_large", f"the body has {declared} bytes; at most {limit}")
    chunks, size = [], 0
    try:
        with anyio.fail_after(service.cfg.body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Refusal(413, "too_large", f"the body has more than {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Refusal(408, "slow_client", f"the body did not arrive within {service.cfg.body_timeout_s:g} s") from None
    return b"".join(chunks)


async def _json(service: Service, request: Request) -> dict:
    raw = await _body(service, request, service.cfg.max_body_bytes)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Refusal(400, "bad_json", f"the body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise Refusal(400, "bad_json", f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise Refusal(422, "bad_field", f"the body must be a JSON object, not {type(data).__name__}")
    return data


def _texts(service: Service, data: dict, field: str = "texts") -> list:
    items = data.get(field)
    if not isinstance(items, list):
        raise Refusal(422, "bad_field", f"field '{field}' must be a list")
    cap, chars = service.cfg.max_texts, service.cfg.max_chars
    if len(items) > cap:
        raise Refusal(413, "too_many_texts", f"field '{field}' has {len(items)} items; at most {cap} per request")
    for i, item in enumerate(items):
        parts = item if field == "pairs" else [item]
        if field == "pairs" and not (isinstance(item, list) and len(item) == 2):
            raise Refusal(422, "bad_field", f"{field}[{i}] must be a list of two strings")
        for t in parts:
            if not isinstance(t, str):
                raise Refusal(422, "bad_field", f"{field}[{i}] must be {'strings' if field == 'pairs' else 'a string'}, "
                              f"not {type(t).__name__}")
            if len(t) > chars:
                raise Refusal(413, "text_too_long", f"{field}[{i}] has {len(t)} characters; at most {chars}")
    return [tuple(p) for p in items] if field == "pairs" else items


def _number(data: dict, field: str, default, low: float, integer: bool = False, above: bool = False):
    """``data[field]`` (or ``default``): a number (``integer``) at least ``low`` (``above``: more than ``low``)."""
    value = data.get(field, default)
    kinds = (int,) if integer else (int, float)
    if value is not default and (isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value)
                                 or not (value > low if above else value >= low)):
        raise Refusal(422, "bad_field", f"field '{field}' must be {'an integer' if integer else 'a number'} "
                      f"{'>' if above else '>='} {low:g}")
    return value


def _adapter(service: Service, app: App, name: object) -> Adapter:
    """The adapter ``name`` as ``app`` may use it: its own upload, or a bundle adapter granted to it."""
    if not isinstance(name, str):
        raise Refusal(422, "bad_field", "field 'adapter' must be an adapter name")
    system = service.system
    if name in app.uploads and upload_name(app.id, name) in system.adapters:
        return system.adapters[upload_name(app.id, name)]
    if name in system.manifest.get("adapters", {}):
        if not app.granted(name):
            raise Refusal(403, "not_granted", f"app {app.id!r} is not granted adapter {name!r}")
        if name not in system.adapters:
            with service.lock:
                if name not in system.adapters:
                    try:
                        system.load_adapter(name)
                    except MtpfError as exc:
                        raise Refusal(500, "adapter_load", f"the bundle's adapter {name!r} does not load: {exc}") from None
        return system.adapters[name]
    if any(name in other.uploads for other in service.registry.apps().values()):
        raise Refusal(403, "not_granted", f"adapter {name!r} belongs to another app")
    raise Refusal(404, "unknown_adapter", f"no adapter {name!r} (GET /v1/adapters lists yours)")


async def _run(service: Service, data: dict, work) -> object:
    """Admit the request (or refuse: 503 draining, 429 queue full), run ``work`` in a worker thread
    attached to the batcher, map runtime errors to answers."""
    if service.draining:
        raise Refusal(503, "draining", "the service is shutting down", retry_after=1)
    if service.in_flight >= service.cfg.max_queue:
        raise Refusal(429, "queue_full", f"{service.in_flight} requests are queued (at most {service.cfg.max_queue})",
                      retry_after=1)
    budget = min(float(_number(data, "deadline_ms", service.cfg.deadline_ms, 0, above=True)), service.cfg.deadline_ms) / 1000
    deadline = time.monotonic() + budget

    def attached():
        if time.monotonic() > deadline:
            raise DeadlineExceeded("the request waited for a worker past its deadline")
        with service.batcher.attached(deadline):
            return work()

    service.in_flight += 1
    service.metrics.queue.set(service.in_flight)
    try:
        return await anyio.to_thread.run_sync(attached, limiter=service.limiter)
    except DeadlineExceeded as exc:
        raise Refusal(504, "deadline", f"{exc} ({budget * 1000:g} ms)") from None
    except InputError as exc:
        raise Refusal(422, "bad_input", str(exc)) from None
    except MtpfError as exc:
        raise Refusal(500, "runtime", str(exc)) from None
    finally:
        service.in_flight -= 1
        service.metrics.queue.set(service.in_flight)


# ---------------------------------------------------------------------- routes
async def _ready(service: Service, request: Request, context: dict):
    if service.draining:
        raise Refusal(503, "draining", "the service is shutting down", retry_after=1)
    return {"status": "ready", "row_adapters": bool(getattr(service.system.engine, "row_adapters", False))}, 200


async def _list_adapters(service: Service, request: Request, context: dict):
    app = _caller(service, request)
    context["app"] = app.id
    out = []
    for name in sorted(service.system.manifest.get("adapters", {})):
        if app.granted(name):
            out.append({"name": name, "source": "bundle"})
    for name in sorted(app.uploads):
        out.append({"name": name, "source": "upload"})
    for entry in out:
        loaded = service.system.adapters.get(upload_name(app.id, entry["name"]) if entry["source"] == "upload"
                                             else entry["name"])
        if loaded is not None:
            entry.update(task=loaded.task, labels=loaded.labels)
    return {"app": app.id, "adapters": out}, 200


async def _predict(service: Service, request: Request, context: dict):
    app = _caller(service, request)
    data = await _json(service, request)
    context["app"] = app.id
    adapter = _adapter(service, app, data.get("adapter"))
    context["adapter"] = data["adapter"]
    spec = task_spec(adapter.task)
    field = "pairs" if spec.inputs == "pair" else "texts"
    if ("pairs" if field == "texts" else "texts") in data:
        raise Refusal(422, "bad_field", f"adapter {data['adapter']!r} is a {adapter.task} adapter: give '{field}'")
    inputs = _texts(service, data, field)
    top_k = _number(data, "top_k", 0, 0, integer=True)
    context["texts"] = len(inputs)
    results = await _run(service, data, lambda: service.system.predict(inputs, adapter) if inputs else [])
    return {"adapter": data["adapter"], "task": adapter.task,
            "results": [result_json(r, spec.result, top_k) for r in results]}, 200  # type: ignore[attr-defined]


async def _embed(service: Service, request: Request, context: dict):
    app = _caller(service, request)
    data = await _json(service, request)
    context["app"] = app.id
    name = data.get("adapter")
    adapter = None if name is None else _adapter(service, app, name)
    context["adapter"] = name or "none"
    inputs = _texts(service, data)
    context["texts"] = len(inputs)
    vectors = await _run(service, data, lambda: service.system.embed(inputs, adapter))
    return {"adapter": name, "embeddings": vectors.tolist()}, 200  # type: ignore[attr-defined]


async def _upload(service: Service, request: Request, context: dict):
    app = _caller(service, request)
    name = request.path_params["name"]
    context.update(app=app.id, upload=name)
    try:
        check_upload_name(app.id, name)
    except RegistryError as exc:
        raise Refusal(422, "bad_name", str(exc)) from None
    if name in service.system.manifest.get("adapters", {}):
        raise Refusal(409, "name_taken", f"the bundle has an adapter named {name!r}; upload under another name")
    signature = request.headers.get("x-adapter-signature")
    try:
        sig = None if signature is None else base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(422, "bad_signature", "the X-Adapter-Signature header must be base64") from None
    data = await _body(service, request, service.cfg.max_adapter_bytes)

    def store():
        with service.lock:
            internal = upload_name(app.id, name)
            staged = service.registry.folder / "uploads" / app.id / f".{name}.staged.mtpfa"
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(data)  # validated exactly as load_adapter does, trust policy included
            if sig is not None:
                staged.with_name(staged.name + ".sig").write_bytes(sig)
            if name in service.registry.apps().get(app.id, app).uploads:
                raise Refusal(409, "name_taken", f"app {app.id!r} already has an adapter {name!r}; DELETE it first")
            try:
                adapter = service.system.load_adapter(staged, name=internal)
            finally:
                staged.unlink(missing_ok=True)
                staged.with_name(staged.name + ".sig").unlink(missing_ok=True)
            service.registry.add_upload(app.id, name, data, sig)
            return adapter

    try:
        adapter = await anyio.to_thread.run_sync(store)
    except AdapterError as exc:
        raise Refusal(422, "bad_adapter", str(exc)) from None
    return {"name": name, "task": adapter.task, "labels": adapter.labels, "sha256": adapter.digest}, 201


async def _delete(service: Service, request: Request, context: dict):
    app = _caller(service, request)
    name = request.path_params["name"]
    context.update(app=app.id, upload=name)
    if name not in app.uploads:
        raise Refusal(404, "unknown_adapter", f"app {app.id!r} has no uploaded adapter {name!r}")
    with service.lock:
        service.registry.remove_upload(app.id, name)
        if upload_name(app.id, name) in service.system.adapters:
            service.system.unload_adapter(upload_name(app.id, name))
    return {"deleted": name}, 200
