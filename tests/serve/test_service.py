"""``serve`` in process (Starlette's TestClient): apps and grants, uploads, refusals with clear messages,
backpressure, deadlines, the committed OpenAPI spec, and schemathesis against it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from mtpf_deploy.runtime import SystemModel  # noqa: E402
from mtpf_deploy.runtime.results import result_json  # noqa: E402
from mtpf_deploy.serve.app import build_app  # noqa: E402
from mtpf_deploy.serve.config import ServeConfig  # noqa: E402
from mtpf_deploy.serve.openapi import openapi_spec  # noqa: E402
from mtpf_deploy.serve.registry import Registry  # noqa: E402

SPEC = Path(__file__).resolve().parents[2] / "docs" / "serve" / "openapi.json"
TEXTS = ["alice smith went to paris", "bob visited the london office of acme corp", "monday"]


@pytest.fixture()
def service(row_bundle, tmp_path):
    """A service of the tiny row-adapter bundle with apps a (granted ner and tc) and b (granted tc)."""
    registry = Registry(tmp_path / "state")
    tokens = {"a": registry.add_app("a"), "b": registry.add_app("b")}
    registry.grant("a", ["ner", "tc"])
    registry.grant("b", ["tc"])
    cfg = ServeConfig(bundle=str(row_bundle), state=str(tmp_path / "state"), max_texts=4, max_chars=200,
                      max_body_bytes=4096)
    app = build_app(cfg)
    with TestClient(app) as client:
        yield client, tokens, app.state.service


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_results_equal_the_in_process_runtime(service, row_bundle):
    client, tokens, _ = service
    system = SystemModel.load(row_bundle)
    for adapter in ("ner", "tc"):
        r = client.post("/v1/predict", json={"adapter": adapter, "texts": TEXTS}, headers=auth(tokens["a"]))
        assert r.status_code == 200, r.text
        kind = "entities" if adapter == "ner" else "classification"
        assert r.json()["results"] == json.loads(json.dumps([result_json(x, kind) for x in system.predict(TEXTS, adapter)]))
    r = client.post("/v1/embed", json={"texts": TEXTS}, headers=auth(tokens["b"]))
    assert r.status_code == 200
    assert abs(r.json()["embeddings"][1][0] - float(system.embed(TEXTS)[1][0])) < 1e-6


@pytest.mark.parametrize("headers,status,reason", [
    ({}, 401, "unauthenticated"), ({"Authorization": "Bearer nope"}, 401, "unauthenticated"),
    ({"Authorization": "Basic abc"}, 401, "unauthenticated")])
def test_no_or_bad_credentials_are_401(service, headers, status, reason):
    client, _, _ = service
    r = client.post("/v1/predict", json={"adapter": "tc", "texts": TEXTS}, headers=headers)
    assert r.status_code == status and r.json()["error"]["reason"] == reason


def test_grants_and_uploads_belong_to_their_app(service, row_bundle, tmp_path):
    client, tokens, svc = service
    r = client.post("/v1/predict", json={"adapter": "ner", "texts": TEXTS}, headers=auth(tokens["b"]))
    assert r.status_code == 403 and "not granted" in r.json()["error"]["message"]
    data = (row_bundle / "adapters" / "ner.mtpfa").read_bytes()
    r = client.put("/v1/adapters/mine", content=data, headers=auth(tokens["b"]))
    assert r.status_code == 201, r.text
    assert client.put("/v1/adapters/mine", content=data, headers=auth(tokens["b"])).status_code == 409
    assert client.put("/v1/adapters/ner", content=data, headers=auth(tokens["b"])).status_code == 409  # a bundle name
    mine = client.post("/v1/predict", json={"adapter": "mine", "texts": TEXTS}, headers=auth(tokens["b"]))
    theirs = client.post("/v1/predict", json={"adapter": "ner", "texts": TEXTS}, headers=auth(tokens["a"]))
    assert mine.status_code == 200 and mine.json()["results"] == theirs.json()["results"]
    r = client.post("/v1/predict", json={"adapter": "mine", "texts": TEXTS}, headers=auth(tokens["a"]))
    assert r.status_code == 403 and "another app" in r.json()["error"]["message"]
    assert [a["name"] for a in client.get("/v1/adapters", headers=auth(tokens["b"])).json()["adapters"]] == ["tc", "mine"]
    # the registry on disk says so, and a new service loads the upload again
    assert Registry(svc.registry.folder).apps()["b"].uploads["mine"]["file"] == "uploads/b/mine.mtpfa"
    assert client.delete("/v1/adapters/mine", headers=auth(tokens["b"])).status_code == 200
    assert client.post("/v1/predict", json={"adapter": "mine", "texts": TEXTS}, headers=auth(tokens["b"])).status_code == 404


def test_a_bad_upload_is_refused_with_the_runtimes_reason(service):
    client, tokens, svc = service
    r = client.put("/v1/adapters/junk", content=b"PK\x03\x04 not really", headers=auth(tokens["a"]))
    assert r.status_code == 422 and r.json()["error"]["reason"] == "bad_adapter"
    assert "junk" not in svc.registry.apps()["a"].uploads
    assert not list((svc.registry.folder / "uploads" / "a").glob("*"))  # nothing half-written


@pytest.mark.parametrize("body,status,words", [
    (b"{not json", 400, "not JSON"), (b"[1, 2]", 422, "JSON object"), (b'{"adapter": 3, "texts": []}', 422, "adapter"),
    (b'{"adapter": "tc", "texts": "abc"}', 422, "'texts' must be a list"),
    (b'{"adapter": "tc", "texts": [1]}', 422, "texts[0]"),
    (b'{"adapter": "tc", "pairs": [["a", "b"]]}', 422, "give 'texts'"),
    (b'{"adapter": "tc", "texts": ["a", "b", "c", "d", "e"]}', 413, "at most 4"),
    (b'{"adapter": "tc", "texts": ["' + b"x" * 300 + b'"]}', 413, "at most 200"),
    (b'{"adapter": "tc", "texts": ["' + b"x" * 5000 + b'"]}', 413, "at most 4096"),
    (b'{"adapter": "tc", "texts": ["a"], "top_k": -1}', 422, "top_k"),
    (b'{"adapter": "nope", "texts": ["a"]}', 404, "no adapter 'nope'"),
    (b"\xff\xfe", 400, "not UTF-8")])
def test_malformed_requests_get_4xx_with_a_clear_message_and_the_service_goes_on(service, body, status, words):
    client, tokens, _ = service
    r = client.post("/v1/predict", content=body, headers={**auth(tokens["a"]), "Content-Type": "application/json"})
    assert r.status_code == status and words in r.json()["error"]["message"], r.text
    assert client.post("/v1/predict", json={"adapter": "tc", "texts": TEXTS}, headers=auth(tokens["a"])).status_code == 200


def test_a_full_queue_is_429_and_draining_is_503_with_retry_after(service):
    client, tokens, svc = service
    svc.in_flight = svc.cfg.max_queue
    r = client.post("/v1/predict", json={"adapter": "tc", "texts": TEXTS}, headers=auth(tokens["a"]))
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    svc.in_flight = 0
    svc.draining = True
    r = client.post("/v1/predict", json={"adapter": "tc", "texts": TEXTS}, headers=auth(tokens["a"]))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert client.get("/readyz").status_code == 503 and client.get("/healthz").status_code == 200
    svc.draining = False
    metrics = client.get("/metrics").text
    assert 'mtpf_refusals_total{reason="queue_full"} 1.0' in metrics and "mtpf_batch_rows_bucket" in metrics


def test_a_passed_deadline_is_504(service):
    client, tokens, _ = service
    r = client.post("/v1/predict", json={"adapter": "tc", "texts": TEXTS, "deadline_ms": 1e-6}, headers=auth(tokens["a"]))
    assert r.status_code == 504 and r.json()["error"]["reason"] == "deadline"


def test_the_committed_openapi_spec_is_the_served_one(service):
    client, _, _ = service
    assert client.get("/openapi.json").json() == openapi_spec() == json.loads(SPEC.read_text())


def test_schemathesis_against_the_committed_spec(service):
    """Generated requests (valid and not) never get a 500 nor a status the spec does not list."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    client, tokens, _ = service
    schema = schemathesis.openapi.from_dict(json.loads(SPEC.read_text()))
    for operation in schema.get_all_operations():
        op = operation.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case):
            headers = {**(case.headers or {}), **auth(tokens["a"])}
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            r = client.request(kwargs.pop("method"), kwargs.pop("url").replace("http://testserver", ""),
                               **{k: v for k, v in kwargs.items() if k in ("headers", "params", "content", "json")})
            assert r.status_code < 500 or r.status_code == 504, (case.method, case.path, r.text)  # 504: a tiny deadline_ms
            listed = case.operation.definition.raw["responses"]
            assert str(r.status_code) in listed, (case.method, case.path, r.status_code, r.text)

        check()


def test_uploads_are_held_to_the_bundles_trust_policy(row_bundle, tmp_path):
    """A bundle that ships trust.json: an unsigned upload is refused with the reason; signed, it is stored."""
    import base64
    import shutil

    from tests.formats.test_signature import _keygen, _policy, _sign

    bundle = tmp_path / "bundle"
    shutil.copytree(row_bundle, bundle)
    key, entry = _keygen(tmp_path, "acme")
    shutil.copy(_policy(tmp_path, [entry]), bundle / "trust.json")
    registry = Registry(tmp_path / "state")
    token = registry.add_app("a")
    upload = tmp_path / "ner.mtpfa"
    shutil.copy(bundle / "adapters" / "ner.mtpfa", upload)
    with TestClient(build_app(ServeConfig(bundle=str(bundle), state=str(tmp_path / "state")))) as client:
        r = client.put("/v1/adapters/mine", content=upload.read_bytes(), headers=auth(token))
        assert r.status_code == 422 and "is not signed" in r.json()["error"]["message"]
        signature = base64.b64encode(_sign(upload, key).read_bytes()).decode()
        r = client.put("/v1/adapters/mine", content=upload.read_bytes(), headers={**auth(token),
                                                                                  "X-Adapter-Signature": signature})
        assert r.status_code == 201, r.text
        r = client.put("/v1/adapters/other", content=upload.read_bytes(), headers={**auth(token),
                                                                                   "X-Adapter-Signature": "%%%"})
        assert r.status_code == 422 and r.json()["error"]["reason"] == "bad_signature"
        assert client.post("/v1/predict", json={"adapter": "mine", "texts": TEXTS}, headers=auth(token)).status_code == 200
