"""App-side commands, on ``pip install 'mtpf-deploy[runtime]'`` alone (no torch): ``pack``, ``predict``, ``inspect``."""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import click

from ..errors import MtpfError
from ..export.config import PackConfig
from ..formats.adapter_file import read_adapter_bytes, read_adapter_file
from ..formats.atomic import atomic_file
from ..formats.bundle import bundle_path, read_bundle_manifest, sentence_embedding_of, verified_file
from ..formats.signature import (
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_key,
    read_signature,
    read_signature_file,
    sign_adapter,
    signature_path,
)
from ..formats.tasks import task_spec
from ..formats.trust import FILE as TRUST_FILE
from ..formats.trust import (
    add_trusted_key,
    check_policy_document,
    new_policy_document,
    read_policy_document,
    read_trust_policy,
)
from ..runtime.config import InspectConfig, PredictConfig, SignConfig, VerifyConfig
from ..runtime.results import result_json
from ..runtime.system import effective_max_length
from .options import friendly, settings_options
from .text_input import argument_texts, read_pairs, read_texts


@click.command("pack")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the .mtpfa to write")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists")
@friendly
@settings_options(PackConfig)
def pack_cmd(out: Path, overwrite: bool, cfg: PackConfig) -> None:
    """App side: pack one adapter folder into a .mtpfa for an existing bundle."""
    from ..export.pack import pack_single  # numpy + safetensors: no torch

    assert cfg.bundle and cfg.adapter and cfg.name  # required settings
    info = pack_single(Path(cfg.bundle), Path(cfg.adapter), cfg.name, out, overwrite,
                       assume_backbone=cfg.assume_backbone, parent=Path(cfg.parent) if cfg.parent else None,
                       labels=list(cfg.labels) or None, ort_adapter=cfg.ort_adapter,
                       card=cfg.card_fields())
    binding = info["lineage"]["backbone_binding"]
    click.echo(f"wrote {out} ({info['task']}, {out.stat().st_size / 1024:.0f} KiB; backbone binding: {binding})")
    if cfg.ort_adapter:
        from ..export.ort_adapter import ort_adapter_path

        if info["lora"] is None:
            click.echo(f"no {ort_adapter_path(out).name}: a head-only adapter has no LoRA for ONNX Runtime to apply",
                       err=True)
        else:
            click.echo(f"wrote {ort_adapter_path(out)} (ONNX Runtime LoRA adapter)")
    if binding == "assumed":
        click.echo("warning: --assume-backbone: nothing checked that this LoRA was trained on the bundle's backbone",
                   err=True)


@click.command("predict")
@click.argument("texts", nargs=-1)
@friendly
@settings_options(PredictConfig)
def predict_cmd(texts: tuple[str, ...], cfg: PredictConfig) -> None:
    """Run an adapter on texts; prints one JSON object per text (JSONL)."""
    from ..runtime import SystemModel

    assert cfg.bundle and cfg.adapter  # required settings
    if texts and cfg.input:
        raise MtpfError("give texts as arguments or --input FILE, not both")
    if not Path(cfg.bundle).is_dir():
        raise MtpfError(f"--bundle {cfg.bundle}: not a bundle folder")
    source = Path(cfg.input) if cfg.input else None
    system = SystemModel.load(cfg.bundle, threads=cfg.threads, backend=cfg.backend, trust=cfg.trust)
    ad = system.load_adapter(cfg.adapter)
    spec = task_spec(ad.task)
    inputs: list
    if spec.inputs == "pair":
        if texts:
            raise MtpfError(f"adapter {ad.name!r} is a {ad.task} adapter: it takes text pairs, one JSON object "
                            '{"text_a": ..., "text_b": ...} per line of --input FILE (or stdin)')
        inputs = read_pairs(read_texts(source), source)
    else:
        inputs = argument_texts(texts) if texts else read_texts(source)
    t0 = time.perf_counter()
    results = system.predict(inputs, ad, batch_size=cfg.batch_size) if inputs else []
    ms = (time.perf_counter() - t0) * 1000
    for item, r in zip(inputs, results):
        shown = {"text_a": item[0], "text_b": item[1]} if spec.inputs == "pair" else {"text": item}
        # allow_nan=False: the runtime never returns a non-finite score (it refuses the call instead)
        click.echo(json.dumps({**shown, "adapter": ad.name, **result_json(r, spec.result, cfg.top_k)}, ensure_ascii=False,
                              allow_nan=False))
    what = "pair(s)" if spec.inputs == "pair" else "text(s)"
    click.echo(f"{len(inputs)} {what} in {ms:.1f} ms ({ms / max(len(inputs), 1):.1f} ms/{what[:-3]})", err=True)


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@friendly
@settings_options(InspectConfig)
def inspect_cmd(path: Path, cfg: InspectConfig) -> None:
    """Show a bundle's or an adapter file's manifest, card and sizes; verify the backbone hash (bundle) or the
    adapter's signature and fit to ``--bundle``."""
    info = _inspect_bundle(path) if path.is_dir() or path.suffix == ".onnx" else _inspect_adapter(path, cfg)
    lines = info.pop("_lines")
    if cfg.json:
        click.echo(json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False))
        return
    for line in lines:
        click.echo(line)
    for warning in info.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)


def _inspect_bundle(path: Path) -> dict:
    folder = path if path.is_dir() else path.parent
    m = read_bundle_manifest(folder)
    bb = m["backbone"]
    backends = m.get("backends", ["onnx"])
    se = sentence_embedding_of(m)
    lines = [f"bundle {folder}  backends {', '.join(backends)}",
             f"  layers {bb['num_layers']}  hidden {bb['hidden_size']}  max length {bb['max_length']}  "
             f"{len(bb['slots'])} LoRA slots  weights {bb['weights_sha256']}",
             f"  sentence embedding: {se['pooling']} pooling, {'normalised' if se['normalize'] else 'not normalised'}, "
             f"max {se['max_length']} tokens ({se['source']})"]
    files = []
    if "onnx" in backends:
        files.append((bb["file"], bb["sha256"], "backbone file", f"{bb.get('precision')}, opset {bb.get('opset')}"))
    if "executorch" in backends:
        et = m["executorch"]
        files += [(et[k], et[f"{k}_sha256"], f"ExecuTorch {k} file", f"{et['precision']}, max rank {et['max_rank']}")
                  for k in ("program", "data")]
    sizes = {}
    for rel, sha, label, what in files:
        sizes[rel] = verified_file(folder, rel, sha, label).stat().st_size
        lines.append(f"  {label} {rel}  {sizes[rel] / 1e6:.1f} MB  {what}  sha256 {sha}")
    lines.append("  every backbone file matches the manifest's sha256")
    adapters = {}
    for name, rel in m.get("adapters", {}).items():
        target = bundle_path(folder, rel, f"bundle {folder}: adapters.{name}")
        adapters[name] = {"file": rel, "bytes": target.stat().st_size if target.is_file() else None}
        size = f"{target.stat().st_size / 1024:.0f} KiB" if target.is_file() else "MISSING"
        lines.append(f"  adapter {name}: {rel} ({size})")
    return {"kind": "bundle", "folder": str(folder), "manifest": m, "file_bytes": sizes, "files_verified": True,
            "adapters": adapters, "_lines": lines}


def _card_lines(card: dict) -> list[str]:
    if not card:
        return ["card: none (pack --card FILE or --description/--license/... to add one)"]
    lines = ["card:"]
    for key in ("version", "description", "license", "author", "base_backbone", "training_data"):
        if key in card:
            lines.append(f"  {key.replace('_', ' ')}: {card[key]}")
    if card.get("metrics"):
        lines.append("  metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in card["metrics"].items()))
    if card.get("readme"):
        lines.append(f"  readme: {len(card['readme'])} characters (inspect --json shows it)")
    return lines


def _inspect_adapter(path: Path, cfg: InspectConfig) -> dict:
    data, af = _read_once(path)  # what is verified is what is shown
    digest = hashlib.sha256(data).hexdigest()
    lineage = af.lineage
    shown = {k: v for k, v in af.manifest.items() if k != "card"}
    lines = [json.dumps(shown, indent=2, sort_keys=True), *_card_lines(af.manifest.get("card", {})),
             f"file size {path.stat().st_size / 1024:.1f} KiB  sha256 {digest}",
             f"lineage: made by {lineage['tool']}; backbone binding {lineage['backbone_binding']}; parent "
             f"{lineage['parent_sha256'] or 'none'}"]
    info: dict = {"kind": "adapter", "file": str(path), "bytes": len(data), "sha256": digest, "manifest": af.manifest,
                  "card": af.manifest.get("card", {}), "lineage": lineage,
                  "warnings": [f"this adapter changes nothing: {part}" for part in af.inert_parts()]}
    policy_file = cfg.trust or (str(Path(cfg.bundle) / TRUST_FILE) if cfg.bundle and (Path(cfg.bundle) / TRUST_FILE).is_file()
                                else None)
    raw = read_signature_file(path)
    info["signature"] = None
    if policy_file is not None:
        sig = read_trust_policy(policy_file).verify(data, af.manifest, raw, f"adapter {path}")
        lines.append(_signed_line(sig) if sig else f"unsigned; {policy_file} allows unsigned adapters")
        info["signature"] = {"verified": True, "trust_policy": policy_file, "key_id": sig.key_id,
                             "statement": sig.statement} if sig else {"verified": False, "unsigned_allowed": True}
    elif raw is not None:
        sig = read_signature(raw, f"adapter {path}.sig")
        lines.append(f"signature (not verified: no trust policy): {sig.statement['signer']} at "
                     f"{sig.statement['signed_at']}, key {sig.key_id[:16]}…")
        info["signature"] = {"verified": False, "key_id": sig.key_id, "statement": sig.statement}
    if cfg.bundle is not None:
        backbone = read_bundle_manifest(cfg.bundle)["backbone"]
        af.check_fits(backbone)
        lines.append(f"backbone hash matches {cfg.bundle}; LoRA slots and head width fit it")
        used = effective_max_length(af.max_length, backbone["max_length"])
        info["fits_bundle"] = {"bundle": cfg.bundle, "fits": True, "max_length_used": used}
        if used < af.max_length:
            lines.append(f"note: the adapter's max_length {af.max_length} is more than the backbone takes; its texts "
                         f"are cut at {used} tokens")
    info["_lines"] = lines
    return info


def _read_once(path: Path):
    """An adapter file's bytes and its validated contents, from one read."""
    data = read_adapter_bytes(path)
    return data, read_adapter_file(path, data)


def _signed_line(sig) -> str:
    st = sig.statement
    return (f"signature verified: signed by {st['signer']} at {st['signed_at']} with {st['tool']}, key {sig.key_id[:16]}…, "
            f"for backbone {st['backbone_sha256'][:16]}…, name {st['name']!r}, task {st['task']}")


@click.command("keygen")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="writes OUT.pem (private, mode 0600) and OUT.pub.pem (public: for the trust policy)")
@click.option("--overwrite", is_flag=True, help="replace existing key files")
@click.option("--policy", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also add the public key to this trust policy (created if missing; e.g. BUNDLE/trust.json)")
@click.option("--adapters", "patterns", default="*", show_default=True,
              help="with --policy: comma list of adapter-name patterns the key may sign (* and ? wildcards)")
@click.option("--tasks", default="", help="with --policy: comma list of tasks the key may sign (default: any)")
@friendly
def keygen_cmd(out: Path, overwrite: bool, policy: Path | None, patterns: str, tasks: str) -> None:
    """Make an ECDSA P-256 signing key pair (verifiable by Android's java.security from API 24)."""
    private, public = generate_key_pair()
    entry = {"name": out.name, "public_key": public.decode(), "adapters": [p for p in patterns.split(",") if p],
             "tasks": [t for t in tasks.split(",") if t] or None}
    if policy is not None:  # check the new policy before any key is written
        doc = add_trusted_key(read_policy_document(policy) if policy.exists() else new_policy_document(), entry)
        check_policy_document(doc, f"trust policy {policy}")
    key_file, pub_file = out.with_name(out.name + ".pem"), out.with_name(out.name + ".pub.pem")
    with atomic_file(key_file, overwrite) as tmp:
        tmp.write_bytes(private)
        os.chmod(tmp, 0o600)
    with atomic_file(pub_file, overwrite) as tmp:
        tmp.write_bytes(public)
    kid = key_id(load_public_key(public, str(pub_file)))
    click.echo(f"wrote {key_file} (keep it secret) and {pub_file}; key id {kid}")
    if policy is None:
        click.echo(json.dumps(entry))
        return
    with atomic_file(policy, overwrite=True) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"added key {entry['name']!r} to {policy} (may sign adapters {entry['adapters']}, tasks "
               f"{entry['tasks'] or 'any'})")


@click.command("sign")
@click.argument("adapter", type=click.Path(dir_okay=False, path_type=Path))
@friendly
@settings_options(SignConfig)
def sign_cmd(adapter: Path, cfg: SignConfig) -> None:
    """Sign an adapter file: writes ADAPTER.sig over its exact bytes, backbone, name and task."""
    assert cfg.key  # a required setting
    key = load_private_key(Path(cfg.key))
    data, af = _read_once(adapter)
    doc = sign_adapter(data, af.manifest, key, cfg.signer or Path(cfg.key).stem)
    with atomic_file(signature_path(adapter), overwrite=True) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"wrote {signature_path(adapter)} (key {doc['key_id'][:16]}…, adapter sha256 "
               f"{json.loads(doc['payload'])['adapter_sha256'][:16]}…)")


@click.command("verify")
@click.argument("adapter", type=click.Path(dir_okay=False, path_type=Path))
@friendly
@settings_options(VerifyConfig)
def verify_cmd(adapter: Path, cfg: VerifyConfig) -> None:
    """Check an adapter file and its signature against a trust policy (and a bundle's backbone)."""
    assert cfg.trust  # a required setting
    policy = read_trust_policy(cfg.trust)
    data = read_adapter_bytes(adapter)  # the signature is checked on the raw bytes before they are parsed
    sig = policy.verify_bytes(data, read_signature_file(adapter), f"adapter {adapter}")
    af = read_adapter_file(adapter, data)
    policy.check_claims(sig, af.manifest, f"adapter {adapter}")
    if cfg.bundle is not None:
        af.check_fits(read_bundle_manifest(cfg.bundle)["backbone"])
    click.echo(_signed_line(sig) if sig else f"unsigned; {cfg.trust} allows unsigned adapters")
