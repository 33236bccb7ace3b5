"""The one canonical reading of an ``.mtpfa`` archive: a file means the same adapter to every reader
(Python here, the Kotlin core's ``CanonicalZip``) or is refused by all.

A ZIP has two descriptions of its members: the local headers in front of each member's bytes (what a
streaming reader such as Java's ``ZipInputStream`` follows) and the central directory at the end
(what Python's ``zipfile`` follows). A file whose two descriptions differ can show each reader another
adapter. An adapter archive is therefore accepted only in this strict layout, which ``zipfile``
writes for stored members (``write_adapter_file``):

- local entries back to back from byte 0, in the order ``manifest.json``, ``lora.safetensors``,
  ``head.safetensors`` (each of the last two only when present); each stored (method 0), general
  purpose flags 0 (no data descriptor, no encryption), no extra field, sizes equal, CRC-32 right;
- then the central directory, immediately: one entry per local entry, in the same order, with the
  same name, version needed, flags, method, time, date, CRC-32 and sizes, its offset pointing at that
  local header, no extra field, no comment, disk 0;
- then the end-of-central-directory record, immediately: one disk, counts, size and offset of the
  directory as found, no comment; and nothing after it.

docs/formats.md, "Adapter archive layout"."""
from __future__ import annotations

import struct
import zlib

from ..errors import AdapterError

ORDER = ("manifest.json", "lora.safetensors", "head.safetensors")
LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"
END = b"PK\x05\x06"
LOCAL_FIXED = struct.Struct("<4sHHHHHIIIHH")  # signature, version needed, flags, method, time, date, crc, csize, usize, n, m
CENTRAL_FIXED = struct.Struct("<4sHHHHHHIIIHHHHHII")
END_FIXED = struct.Struct("<4sHHHHIIH")


def canonical_members(data: bytes, where: str, max_manifest: int) -> dict[str, bytes]:
    """The members of an adapter archive in the canonical layout (name -> bytes, in archive order);
    anything else is an ``AdapterError`` saying what differs."""
    def bad(why: str) -> AdapterError:
        return AdapterError(f"{where}: {why} (an adapter archive has one canonical layout: docs/formats.md)")

    entries: list[tuple[tuple, int, str]] = []  # (header fields, offset, name)
    members: dict[str, bytes] = {}
    pos = 0
    while data[pos : pos + 4] == LOCAL:
        if pos + LOCAL_FIXED.size > len(data):
            raise AdapterError(f"{where}: corrupt or truncated file (a local header is cut off)")
        fields = LOCAL_FIXED.unpack_from(data, pos)
        _, _, flags, method, _, _, crc, csize, usize, n, m = fields
        raw_name = data[pos + LOCAL_FIXED.size : pos + LOCAL_FIXED.size + n]
        name = raw_name.decode("utf-8", "replace")
        if name not in ORDER:
            raise AdapterError(f"{where}: unexpected member {name!r} (an adapter holds only {', '.join(ORDER)})")
        if name in members:
            raise AdapterError(f"{where}: member {name} appears twice")
        if method != 0 or csize != usize:
            raise AdapterError(f"{where}: member {name} is compressed; adapter members must be stored")
        if flags != 0:
            raise bad(f"member {name} has general-purpose flags {flags:#06x} (data descriptor or encryption)")
        if m != 0:
            raise bad(f"member {name} has an extra field")
        if name == ORDER[0] and usize > max_manifest:
            raise AdapterError(f"{where}: member {name} claims {usize} bytes, more than it can hold")
        start = pos + LOCAL_FIXED.size + n
        if start + usize > len(data):
            raise AdapterError(f"{where}: corrupt or truncated file (member {name} ends past the end of the file)")
        body = data[start : start + usize]
        if zlib.crc32(body) != crc:
            raise AdapterError(f"{where}: corrupt or truncated file (member {name} fails its CRC-32)")
        if members and ORDER.index(name) < ORDER.index(list(members)[-1]):
            raise bad(f"member {name} comes after {list(members)[-1]}; the order is {', '.join(ORDER)}")
        entries.append((fields, pos, name))
        members[name] = body
        pos = start + usize
    if not members:
        if data[:4] != LOCAL and END not in data[-(22 + 0xFFFF) :]:
            raise AdapterError(f"{where}: corrupt or truncated file (not a ZIP archive)")
        raise bad("it does not start with a member")
    if ORDER[0] not in members:
        raise AdapterError(f"{where}: no {ORDER[0]} inside (not an mtpf adapter file)")
    if list(members)[0] != ORDER[0]:
        raise bad(f"the first member is {list(members)[0]}, not {ORDER[0]}")
    directory = pos
    if pos + CENTRAL_FIXED.size > len(data):
        raise AdapterError(f"{where}: corrupt or truncated file (it ends before its central directory)")
    for fields, offset, name in entries:
        if data[pos : pos + 4] != CENTRAL or pos + CENTRAL_FIXED.size > len(data):
            raise bad(f"the central directory does not follow the members directly (at byte {pos})")
        c = CENTRAL_FIXED.unpack_from(data, pos)
        _, _, needed, flags, method, time, date, crc, csize, usize, n, m, k, disk, _, _, local_at = c
        c_name = data[pos + CENTRAL_FIXED.size : pos + CENTRAL_FIXED.size + n].decode("utf-8", "replace")
        if (c_name, needed, flags, method, time, date, crc, csize, usize) != (name, *fields[1:9]):
            raise bad(f"the central directory's entry for {c_name!r} differs from the local header of {name}")
        if (m, k, disk, local_at) != (0, 0, 0, offset):
            raise bad(f"the central directory's entry for {name} has an extra field, a comment or another offset")
        pos += CENTRAL_FIXED.size + n
    if data[pos : pos + 4] == CENTRAL:
        raise bad("the central directory lists more entries than the archive holds")
    if data[pos : pos + 4] != END or pos + END_FIXED.size > len(data):
        raise bad(f"the end-of-central-directory record does not follow the directory (at byte {pos})")
    _, disk, cd_disk, on_disk, total, size, offset, comment = END_FIXED.unpack_from(data, pos)
    if (disk, cd_disk, on_disk, total, size, offset, comment) != (0, 0, len(entries), len(entries), pos - directory,
                                                                  directory, 0):
        raise bad("the end-of-central-directory record does not describe this directory (or carries a comment)")
    if pos + END_FIXED.size != len(data):
        raise bad(f"{len(data) - pos - END_FIXED.size} bytes follow the end of the archive")
    return members
