"""Adapter archives whose ZIP layout is not the canonical one, for the cross-reader tests.

Each is made from an honest adapter by rearranging its bytes; some (``shadow``, ``prepended``,
``trailing``, ``comment``, ...) are still read as the honest adapter by Python's ``zipfile``, and
``shadow`` is read as ANOTHER adapter by a streaming reader (Java's ``ZipInputStream``). Every reader
must refuse all of them: the Python tests (tests/formats/test_adapter_zip.py) and the Kotlin core's JVM
tests (android_demo/core/src/test/kotlin/ai/mtpf/core/CanonicalZipTest.kt) check the same files.
``core_refuses`` cases are valid adapters the Kotlin core does not run yet (a SEQ_CLS pooler head): Python reads
them, the core refuses them by name rather than running them another way.

    python scripts/hostile_archives.py SRC.mtpfa OUT_DIR     # writes OUT_DIR/*.mtpfa + cases.json
"""
from __future__ import annotations

import json
import struct
import sys
import zipfile
from pathlib import Path

END = struct.Struct("<4sHHHHIIH")


def _parts(data: bytes) -> tuple[list[bytes], list[bytes], bytes]:
    """(local entries, central entries, end record) of a canonical archive."""
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as z:
        infos = z.infolist()
    _, _, _, _, count, size, offset, _ = END.unpack_from(data, len(data) - END.size)
    starts = [i.header_offset for i in infos] + [offset]
    locals_ = [data[a:b] for a, b in zip(starts[:-1], starts[1:])]
    central, pos = [], offset
    for _ in range(count):
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        central.append(data[pos : pos + 46 + n + m + k])
        pos += 46 + n + m + k
    return locals_, central, data[pos:]


def _with_offset(entry: bytes, offset: int) -> bytes:
    return entry[:42] + struct.pack("<I", offset) + entry[46:]


def _assemble(locals_: list[bytes], central: list[bytes], lead: bytes = b"", gap: bytes = b"", comment: bytes = b"",
              tail: bytes = b"") -> bytes:
    """Local entries (after ``lead``, separated by ``gap``), a central directory with the right offsets, an end record."""
    out, offsets = bytearray(lead), []
    for i, entry in enumerate(locals_):
        if i:
            out += gap
        offsets.append(len(out))
        out += entry
    directory = len(out)
    for i, entry in enumerate(central):  # a directory longer than the members points its extra entries at the last
        out += _with_offset(entry, offsets[min(i, len(offsets) - 1)])
    out += END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(out) - directory, directory, len(comment))
    return bytes(out + comment + tail)


def _local(name: str, data: bytes, flags: int = 0, extra: bytes = b"") -> tuple[bytes, bytes]:
    """One stored member's local entry and central entry (fixed date, so the files are reproducible)."""
    import zlib

    crc = zlib.crc32(data)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, 0, 0, 0x21, crc, len(data), len(data),
                        len(name), len(extra)) + name.encode() + extra + data
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, 0, 0, 0x21, crc, len(data), len(data),
                          len(name), 0, 0, 0, 0, 0, 0) + name.encode()
    return local, central


def hostile(honest: bytes) -> dict[str, bytes]:
    locals_, central, _ = _parts(honest)
    manifest = json.loads(zipfile.ZipFile(__import__("io").BytesIO(honest)).read("manifest.json"))
    cases: dict[str, bytes] = {}
    # the case: earlier local entries hold another adapter (no LoRA, its own head and manifest),
    # the central directory points at the honest members
    evil_manifest = dict(manifest, lora=None, members={})
    evil_local, _ = _local("manifest.json", json.dumps(evil_manifest).encode())
    out = bytearray(evil_local)  # the evil entry is in front; the central directory leaves it out
    offsets = []
    for entry in locals_:
        offsets.append(len(out))
        out += entry
    directory = len(out)
    for entry, offset in zip(central, offsets):
        out += _with_offset(entry, offset)
    out += END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(out) - directory, directory, 0)
    cases["shadow"] = bytes(out)
    cases["prepended"] = _assemble(locals_, central, lead=b"\0" * 64)
    cases["trailing"] = honest + b"\0" * 16
    cases["comment"] = _assemble(locals_, central, comment=b"hello")
    cases["gap"] = _assemble(locals_, central, gap=b"\0" * 8)
    cases["central-order"] = _assemble(locals_, central[::-1]) if len(central) > 1 else _assemble(locals_, central * 2)
    cases["member-order"] = _assemble(locals_[::-1], central[::-1]) if len(locals_) > 1 else _assemble(locals_, central,
                                                                                                        lead=b"PK")
    cases["extra-central-entry"] = _assemble(locals_, central + central[-1:])
    bad_crc = bytearray(central[0])
    bad_crc[16] ^= 0xFF
    cases["central-differs"] = _assemble(locals_, [bytes(bad_crc), *central[1:]])
    with_descriptor = bytearray(locals_[0])
    with_descriptor[6] |= 0x08
    descriptor_central = bytearray(central[0])
    descriptor_central[8] |= 0x08
    cases["data-descriptor"] = _assemble([bytes(with_descriptor), *locals_[1:]], [bytes(descriptor_central), *central[1:]])
    name = "manifest.json"
    body = zipfile.ZipFile(__import__("io").BytesIO(honest)).read(name)
    extra_local, extra_central = _local(name, body, extra=b"\x55\x54\x05\x00\x01\x00\x00\x00\x00")
    cases["local-extra-field"] = _assemble([extra_local, *locals_[1:]], [extra_central, *central[1:]])
    # canonical layout, but labels that do not fit the task (both readers check the label rules too)
    for case, labels in {"labels-not-iob2": ["O", "person", "place"], "labels-unpaired": ["O", "B-PER"],
                         "labels-control": ["O", "B-\u202ePER", "I-\u202ePER"]}.items():
        cases[case] = _relabelled(honest, labels)
    return cases


def core_refuses(honest: bytes) -> dict[str, bytes]:
    """Adapters the Python runtime runs but the Kotlin core does not yet: it must refuse them by name, never
    run them another way (one meaning per file)."""
    def seq_cls(manifest: dict, head: dict) -> dict:
        import numpy as np

        hidden = head["weight"].shape[1]
        rng = np.random.default_rng(0)
        manifest.update(task="tc", head="pooler-linear", pooling="cls", normalize=False)
        return {"weight": head["weight"][:2].copy(), "bias": head["bias"][:2].copy(),
                "pooler_weight": rng.normal(0, 0.1, (hidden, hidden)).astype(np.float32),
                "pooler_bias": np.zeros(hidden, np.float32)}

    return {"pooler-head": _relabelled(honest, ["negative", "positive"], seq_cls)}


def _relabelled(honest: bytes, labels: list[str], edit=None) -> bytes:
    """The honest adapter with ``labels`` and its head cut to as many rows (``edit(manifest, head)``: another
    head), re-hashed, written canonically."""
    import hashlib
    import io

    from safetensors.numpy import load, save

    with zipfile.ZipFile(io.BytesIO(honest)) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    head = load(parts["head.safetensors"])
    manifest = json.loads(parts["manifest.json"])
    manifest["labels"] = labels
    head = edit(manifest, head) if edit else {"weight": head["weight"][: len(labels)].copy(),
                                               "bias": head["bias"][: len(labels)].copy()}
    parts["head.safetensors"] = save(head)
    manifest["members"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                           for n, b in parts.items() if n != "manifest.json"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for name in ("manifest.json", "lora.safetensors", "head.safetensors"):
            if name not in parts:
                continue
            if name == "manifest.json":
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            else:
                data = parts[name]
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    honest = src.read_bytes()
    (out / "honest.mtpfa").write_bytes(honest)
    cases = hostile(honest)
    unsupported = core_refuses(honest)
    for name, data in {**cases, **unsupported}.items():
        (out / f"{name}.mtpfa").write_bytes(data)
    (out / "cases.json").write_text(json.dumps({"accepted": ["honest"], "refused": sorted(cases),
                                                "core_refuses": sorted(unsupported)}, indent=2) + "\n")
    print(f"wrote {len(cases) + len(unsupported) + 1} archives to {out}")


if __name__ == "__main__":
    main()
