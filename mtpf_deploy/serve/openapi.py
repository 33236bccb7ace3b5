"""The service's OpenAPI 3.1 document (served at ``/openapi.json``; committed as docs/serve/openapi.json,
which a test keeps equal to this)."""
from __future__ import annotations

from .. import __version__

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "reason", "message"],
    "properties": {"status": {"type": "integer"}, "reason": {"type": "string"}, "message": {"type": "string"}}}}}
_TEXTS = {"type": "array", "items": {"type": "string"}, "description": "texts (at most --max-texts, each at most --max-chars)"}
_PAIRS = {"type": "array", "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
          "description": "[text_a, text_b] pairs, for pair-tc and sts adapters"}
_DEADLINE = {"type": "number", "exclusiveMinimum": 0, "description": "answer within this many ms or get 504 "
             "(at most the service's --deadline-ms)"}


def _errors(*codes: int) -> dict:
    text = {400: "not JSON", 401: "no or unknown credentials", 403: "not this app's adapter", 404: "no such adapter",
            408: "the body arrived too slowly", 409: "the name is taken", 413: "too large (body, texts or a text)",
            422: "a field or the adapter is invalid", 429: "queue full (Retry-After)", 500: "the runtime failed",
            503: "shutting down (Retry-After)", 504: "the deadline passed"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for c in codes}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(schema: dict, code: str = "200", what: str = "done") -> dict:
    return {code: {"description": what, "content": {"application/json": {"schema": schema}}}}


def openapi_spec() -> dict:
    secured: list[dict] = [{"bearer": []}]
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}}
    result = {"type": "object", "description": "per task: {entities: [...]} (ner), {label, score, probabilities, truncated, "
              "tokens, empty} (tc, pair-tc), {score} (sts)"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "mtpf-deploy serve", "version": __version__,
                 "description": "One backbone for many apps; requests of any adapters batched into one pass."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "the token `mtpf-deploy apps add` printed (on a Unix socket the "
                                                          "caller's uid may identify it instead)"}},
            "schemas": {"Error": _ERROR},
        },
        "paths": {
            "/healthz": {"get": {"summary": "the process is alive", "responses": _ok({"type": "object"})}},
            "/readyz": {"get": {"summary": "the service takes requests", "responses": {
                **_ok({"type": "object"}), **_errors(503)}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/v1/adapters": {"get": {"summary": "the adapters this app may use", "security": secured, "responses": {
                **_ok({"type": "object", "required": ["app", "adapters"], "properties": {
                    "app": {"type": "string"}, "adapters": {"type": "array", "items": {"type": "object"}}}}),
                **_errors(401, 403, 500)}}},
            "/v1/adapters/{name}": {
                "put": {"summary": "upload this app's own adapter (a .mtpfa, validated like load_adapter; signed under "
                                   "the bundle's trust policy)", "security": secured, "parameters": [name, {
                    "name": "X-Adapter-Signature", "in": "header", "required": False,
                    "schema": {"type": "string"}, "description": "the adapter's .sig file, base64"}],
                        "requestBody": {"required": True, "content": {"application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}}}},
                        "responses": {**_ok({"type": "object"}, "201", "stored"), **_errors(401, 403, 408, 409, 413, 422, 500)}},
                "delete": {"summary": "remove this app's uploaded adapter", "security": secured, "parameters": [name],
                           "responses": {**_ok({"type": "object"}), **_errors(401, 403, 404, 500)}},
            },
            "/v1/predict": {"post": {
                "summary": "run an adapter's task on texts (or pairs)", "security": secured,
                "requestBody": _json_body({"type": "object", "required": ["adapter"], "properties": {
                    "adapter": {"type": "string"}, "texts": _TEXTS, "pairs": _PAIRS,
                    "top_k": {"type": "integer", "minimum": 0, "description": "tc: most probable labels to list (0: all)"},
                    "deadline_ms": _DEADLINE}}),
                "responses": {**_ok({"type": "object", "required": ["adapter", "task", "results"], "properties": {
                    "adapter": {"type": "string"}, "task": {"type": "string"},
                    "results": {"type": "array", "items": result}}}),
                    **_errors(400, 401, 403, 404, 408, 413, 422, 429, 500, 503, 504)}}},
            "/v1/embed": {"post": {
                "summary": "sentence embeddings, with an adapter's LoRA or none", "security": secured,
                "requestBody": _json_body({"type": "object", "required": ["texts"], "properties": {
                    "texts": _TEXTS, "adapter": {"type": ["string", "null"]}, "deadline_ms": _DEADLINE}}),
                "responses": {**_ok({"type": "object", "required": ["embeddings"], "properties": {
                    "adapter": {"type": ["string", "null"]},
                    "embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}}),
                    **_errors(400, 401, 403, 404, 408, 413, 422, 429, 500, 503, 504)}}},
        },
    }
