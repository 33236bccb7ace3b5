"""``migrate_adapter``: teacher targets (cached), the student trained epoch by epoch (checkpointed: a killed run
resumes where it stopped and ends as an uninterrupted one would), the result packed for the new bundle with
its lineage, and a report of teacher/student agreement on held-back texts — measured on what ships (the
packed adapter in the new bundle's runtime) — below ``min_agreement`` the adapter is refused."""
from __future__ import annotations

import hashlib
import json
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel
from safetensors.numpy import load_file, save_file
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from ...backbones import resolve_backbone
from ...data.tokenization import load_tokenizer, special_ids
from ...errors import MtpfError
from ...evaluation.shipped import entity_prf
from ...formats.adapter_dir import AdapterDir, write_adapter_dir
from ...formats.adapter_file import read_adapter_bytes
from ...formats.atomic import atomic_file
from ...formats.bundle import read_bundle_manifest
from ...formats.hashing import backbone_weights_sha256
from ...runtime import SystemModel
from .config import MigrateConfig
from .student import Student, batch_loss, build_student, examples, load_checkpoint, lora_layout, save_checkpoint, soft_logreg_head
from .teacher import Targets, teacher_targets

MAX_HELDOUT = 2000


def texts_digest(inputs: list) -> str:
    return hashlib.sha256(json.dumps(inputs, ensure_ascii=False).encode("utf-8")).hexdigest()


def split_inputs(inputs: list, cfg: MigrateConfig) -> tuple[list, list]:
    """(train, held back): distinct inputs, a seeded shuffle, at most ``max_texts``."""
    unique = list(dict.fromkeys(tuple(x) if isinstance(x, list) else x for x in inputs))
    random.Random(cfg.seed).shuffle(unique)
    unique = unique[: cfg.max_texts]
    held = min(MAX_HELDOUT, max(1, int(len(unique) * cfg.heldout)))
    if len(unique) - held < 1:
        raise MtpfError(f"--texts: {len(unique)} distinct texts leave nothing to train on after holding {held} back")
    return unique[held:], unique[:held]


def _cached_targets(work: Path, system: SystemModel, adapter, inputs: list, key: dict, log) -> Targets:
    """Teacher targets of ``inputs``, from ``work`` when an earlier run of the same key wrote them."""
    meta, data = work / "teacher.json", work / "teacher.safetensors"
    if meta.is_file() and data.is_file() and json.loads(meta.read_text()) == key:
        arrays = load_file(str(data))
        offsets = arrays["offsets"]
        soft = [arrays["soft"][offsets[i]:offsets[i + 1]] for i in range(len(inputs))]
        if adapter.task != "ner":
            soft = [s[0] for s in soft]
        spans = [[tuple(map(int, s)) for s in arrays["spans"][offsets[i]:offsets[i + 1]]] for i in range(len(inputs))]
        log(f"teacher targets of {len(inputs)} inputs read from {data}")
        return Targets(adapter.task, adapter.labels, inputs, soft, spans if adapter.task == "ner" else [[]] * len(inputs))
    log(f"teacher: {adapter.name} on the old backbone, {len(inputs)} inputs ...")
    targets = teacher_targets(system, adapter, inputs)
    rows = [s if adapter.task == "ner" else s[None] for s in targets.soft]
    offsets = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    spans = np.array([s for t in targets.spans for s in t], np.int64).reshape(-1, 2) if adapter.task == "ner" \
        else np.zeros((int(offsets[-1]), 2), np.int64)
    work.mkdir(parents=True, exist_ok=True)
    with atomic_file(data) as tmp:
        save_file({"soft": np.concatenate(rows).astype(np.float32), "offsets": offsets, "spans": spans}, str(tmp))
    with atomic_file(meta) as tmp:
        tmp.write_text(json.dumps(key))
    return targets


def train_student(student: Student, targets: Targets, backbone: Path, max_length: int, cfg: MigrateConfig,
                  work: Path, log) -> list[float]:
    """Epochs of soft-target training, a checkpoint after each (resumed from the last one found)."""
    exs = examples(backbone, targets, max_length)
    _, _, pad = special_ids(load_tokenizer(backbone))
    head = list(student.head.parameters())
    lora = [p for n, p in student.named_parameters() if "lora_" in n]
    for p in student.parameters():
        p.requires_grad_(False)
    for p in head + lora:
        p.requires_grad_(True)
    groups = [{"params": head, "lr": cfg.head_lr}] + ([{"params": lora, "lr": cfg.lora_lr}] if lora else [])
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    steps = cfg.epochs * -(-len(exs) // cfg.batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    checkpoint = work / "checkpoint"
    done, losses = (load_checkpoint(checkpoint, student, optimizer, scheduler) if (checkpoint / "state.json").is_file()
                    else (0, []))
    if done:
        log(f"resuming after epoch {done} from {checkpoint}")
    student.train()
    for epoch in range(done + 1, cfg.epochs + 1):
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout and order depend only on (seed, epoch): resumable
        order = list(range(len(exs)))
        random.Random(cfg.seed * 1000 + epoch).shuffle(order)
        total, count = 0.0, 0
        for k in tqdm(range(0, len(order), cfg.batch_size), desc=f"migrate epoch {epoch}/{cfg.epochs}", unit="batch",
                      leave=False):
            loss = batch_loss(student, order[k: k + cfg.batch_size], exs, targets, pad)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head + lora, 1.0)
            optimizer.step()
            scheduler.step()
            total, count = total + float(loss), count + 1
        losses.append(total / max(count, 1))
        log(f"epoch {epoch}: soft-target loss {losses[-1]:.4f}")
        save_checkpoint(checkpoint, student, optimizer, scheduler, epoch, losses)
    student.eval()
    return losses


def fit_tc_head(student: Student, targets: Targets, backbone: Path, max_length: int, cfg: MigrateConfig, log) -> dict:
    """The tc student's head: a logistic regression on its embeddings of the training texts, fitted to the
    teacher's class distributions (``soft_logreg_head``); the epochs, if any, start from it."""
    from ..adapt.tc import embed_texts

    x = embed_texts(student.encoder, load_tokenizer(backbone), list(targets.inputs), max_length, cfg.batch_size,
                    student.normalize, desc="embedding texts")
    head, selection = soft_logreg_head(x, np.stack(targets.soft), cfg.seed)
    with torch.no_grad():
        student.head.weight.copy_(torch.from_numpy(head["weight"]))
        student.head.bias.copy_(torch.from_numpy(head["bias"]))
    tried = ", ".join(f"C={c:g}: {v:.4f}" for c, v in selection["validation_cross_entropy"].items())
    log(f"tc head: logistic regression on {len(x)} embeddings fitted to the teacher's distributions, C={selection['C']:g}"
        f" (soft cross-entropy on 20 % held out: {tried})")
    return selection


def write_student(student: Student, manifest: dict, backbone: Path, out: Path) -> None:
    """The student as an adapter folder (PEFT LoRA + head + task.json) for ``pack``."""
    if isinstance(student.encoder, PeftModel):
        student.encoder.save_pretrained(out)
    task = manifest["task"]
    head_kind = {"ner": "linear", "tc": "linear", "pair-tc": "linear", "sts": "cosine"}[task]
    head = {"weight": student.head.weight.detach().numpy().copy(), "bias": student.head.bias.detach().numpy().copy()}
    write_adapter_dir(out, AdapterDir(task=task, labels=list(manifest["labels"]), head=head, head_kind=head_kind,
                                      pooling="mean" if task in ("tc",) else None, normalize=bool(manifest["normalize"]),
                                      max_length=int(manifest["max_length"]),
                                      backbone={"name": str(backbone), "weights_sha256": backbone_weights_sha256(backbone)},
                                      card=_next_version(dict(manifest.get("card") or {}))))


def _next_version(card: dict) -> dict:
    """The migrated adapter's card: the parent's, a new version (``X+migrated``)."""
    card["version"] = f"{card.get('version') or '0'}+migrated"[:64]
    return card


def agreement(task: str, teacher: SystemModel, old, student: SystemModel, new, heldout: list) -> dict:
    """How closely the packed adapter in the new bundle reproduces the teacher on held-back inputs."""
    if task == "ner":
        t = [{(e.label, e.start, e.end) for e in es} for es in teacher.entities(heldout, old)]
        s = [{(e.label, e.start, e.end) for e in es} for es in student.entities(heldout, new)]
        prf = entity_prf(t, s)
        return {"score": prf["f1"], "measure": "entity F1 against the teacher's entities", "teacher_entities": prf["gold"],
                "student_entities": prf["predicted"]}
    if task == "sts":
        a, b = np.array(teacher.similarity(heldout, old)), np.array(student.similarity(heldout, new))
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        return {"score": r, "measure": "Pearson r against the teacher's scores", "mean_abs_difference": float(np.abs(a - b).mean())}
    call = "classify" if task == "tc" else "classify_pairs"
    a = [r.label for r in getattr(teacher, call)(heldout, old)]
    b = [r.label for r in getattr(student, call)(heldout, new)]
    return {"score": float(np.mean([x == y for x, y in zip(a, b)])), "measure": "label agreement with the teacher"}


def resolve_new_backbone(cfg: MigrateConfig, new_manifest: dict) -> tuple[Path, Path | None]:
    """(the new backbone's weights folder, the run folder it belongs to, if any)."""
    given = cfg.new_backbone or new_manifest["backbone"].get("source")
    if given is None:
        raise MtpfError("--new-backbone: the new bundle does not say where its backbone's weights are; give the folder")
    path = Path(given)
    if (path / "backbone").is_dir():
        return path / "backbone", path
    try:
        return resolve_backbone(given), (path.parent if path.name == "backbone" and (path.parent / "adapters").is_dir()
                                         else None)
    except Exception:
        raise MtpfError(f"--new-backbone {given}: no backbone folder there (give 'default', a Hugging Face folder or "
                        "a pretrain run)") from None


def migrate_adapter(cfg: MigrateConfig, adapter: str, out: Path, inputs: list, log: Callable[[str], None] = print,
                    overwrite: bool = False) -> dict:
    """Migrate one adapter of ``cfg.from_bundle`` to ``cfg.to``; writes ``out`` (and ``out``.report.json);
    returns the report. Raises ``MtpfError`` (nothing written) when the task or labels cannot carry over or
    the agreement is below ``cfg.min_agreement``."""
    assert cfg.from_bundle and cfg.to
    old_system = SystemModel.load(cfg.from_bundle, threads=None)
    old = old_system.load_adapter(adapter)
    path = Path(adapter) if Path(adapter).is_file() else Path(cfg.from_bundle) / old_system.manifest["adapters"][adapter]
    new_manifest = read_bundle_manifest(Path(cfg.to))
    old_bb, new_bb = old_system.backbone, new_manifest["backbone"]
    if old_bb["weights_sha256"] == new_bb["weights_sha256"]:
        raise MtpfError(f"--to {cfg.to} has the same backbone as --from {cfg.from_bundle}: the adapter needs no migration")
    if old.task not in ("ner", "tc", "pair-tc", "sts"):
        raise MtpfError(f"adapter {old.name!r} is a {old.task} adapter: only ner, tc, pair-tc and sts adapters migrate")
    listed = new_manifest.get("adapters", {}).get(old.name)
    if listed is not None:  # the new bundle ships an adapter of this name: it must be the same task and labels
        from ...formats.adapter_file import read_adapter_file

        theirs = read_adapter_file(Path(cfg.to) / listed)
        if theirs.task != old.task or list(theirs.labels) != list(old.labels):
            raise MtpfError(f"adapter {old.name!r}: bundle {cfg.to} ships an adapter of that name for another task or "
                            f"label set ({theirs.task}, {len(theirs.labels)} labels; this one: {old.task}, "
                            f"{len(old.labels)} labels); migrate it under its own bundle's name or rename it")
    backbone, run = resolve_new_backbone(cfg, new_manifest)
    if backbone_weights_sha256(backbone) != new_bb["weights_sha256"]:
        raise MtpfError(f"--new-backbone {backbone}: its weights are not the ones bundle {cfg.to} was exported from")
    init = Path(cfg.init_adapter) if cfg.init_adapter else None
    if init is None and run is not None:
        primary = run / "adapters" / ("ner" if old.task == "ner" else "tc")
        init = primary if (primary / "adapter_config.json").is_file() else None
    if init is not None and (init / "task.json").is_file():
        from ...formats.adapter_dir import read_adapter_dir

        kind = read_adapter_dir(init).task
        if kind not in ("lora", old.task) and not (kind == "tc" and old.task in ("pair-tc", "sts")):
            raise MtpfError(f"--init-adapter {init} is a {kind} adapter; adapter {old.name!r} is {old.task}")
    train, heldout = split_inputs(inputs, cfg)
    work = Path(cfg.work) if cfg.work else out.with_name(out.name + ".work")
    key = {"adapter": old.digest, "old_backbone": old_bb["weights_sha256"], "texts": texts_digest(train), "count": len(train)}
    targets = _cached_targets(work / old.name, old_system, old, train, key, log)
    manifest = dict(old.manifest)
    torch.manual_seed(cfg.seed)
    head = {"weight": old.weight, "bias": old.bias} if old.weight is not None else None
    student = build_student(backbone, manifest, head, init, log)
    head_fit = None
    if old.task == "tc":  # the head adapt tc would fit, to the teacher's distributions instead of labels
        head_fit = fit_tc_head(student, targets, backbone, old.max_length, cfg, log)
    if old.task != "tc" or lora_layout(manifest) is not None:
        losses = train_student(student, targets, backbone, old.max_length, cfg, work / old.name, log)
    else:
        losses = []
        log("head-only tc adapter: the fitted head is the migrated adapter (no epochs)")
    from ...export.pack import pack_single

    with tempfile.TemporaryDirectory(prefix=".migrate-", dir=out.parent if out.parent.exists() else None) as tmp:
        folder = Path(tmp) / "adapter"
        write_student(student, manifest, backbone, folder)
        staged = Path(tmp) / "migrated.mtpfa"
        migration = {"old_backbone_sha256": old_bb["weights_sha256"], "texts_sha256": texts_digest(train),
                     "texts": len(train), "heldout": len(heldout)}
        pack_single(Path(cfg.to), folder, old.name, staged, parent=path, migration=migration)
        new_system = SystemModel.load(cfg.to, threads=None)
        new = new_system.load_adapter(staged)
        agree = agreement(old.task, old_system, old, new_system, new, heldout)
        report = {"adapter": old.name, "task": old.task, "from": str(cfg.from_bundle), "to": str(cfg.to),
                  "parent_sha256": hashlib.sha256(read_adapter_bytes(path)).hexdigest(),
                  "old_backbone_sha256": old_bb["weights_sha256"], "new_backbone_sha256": new_bb["weights_sha256"],
                  "texts": len(train), "heldout": len(heldout), "texts_sha256": texts_digest(train),
                  "epochs": cfg.epochs, "losses": losses, "agreement": agree, "min_agreement": cfg.min_agreement,
                  "init_lora": str(init) if init else None, "tc_head": head_fit}
        if agree["score"] < cfg.min_agreement:
            raise MtpfError(f"adapter {old.name!r}: the migrated adapter agrees {agree['score']:.3f} with the teacher on "
                            f"{len(heldout)} held-back texts ({agree['measure']}), below --min-agreement "
                            f"{cfg.min_agreement}; nothing written (more texts or epochs may help)")
        with atomic_file(out, overwrite) as tmp_out:
            tmp_out.write_bytes(staged.read_bytes())
        with atomic_file(out.with_name(out.name + ".report.json")) as tmp_report:
            tmp_report.write_text(json.dumps(report, indent=2) + "\n")
    return report
