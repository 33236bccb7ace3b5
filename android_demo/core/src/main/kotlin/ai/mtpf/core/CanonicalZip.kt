package ai.mtpf.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.zip.CRC32

/** The one canonical reading of an `.mtpfa` archive, the same rules as the Python reader
 *  (mtpf_deploy/formats/adapter_zip.py): local entries back to back from byte 0 in the order
 *  manifest.json, lora.safetensors, head.safetensors; stored, flags 0, no extra field, CRC-32 right;
 *  then the central directory, entry for entry equal to the local headers; then the end record with
 *  no comment, and nothing after it. A file either means the same adapter to every reader or is
 *  refused by all. */
object CanonicalZip {
    private val ORDER = listOf("manifest.json", "lora.safetensors", "head.safetensors")
    private const val LOCAL = 0x04034b50
    private const val CENTRAL = 0x02014b50
    private const val END = 0x06054b50
    private const val MAX_MANIFEST = 1 shl 20

    private class Local(val offset: Int, val name: String, val fields: List<Long>)

    /** The members, name -> bytes in archive order; a [BundleException] says what differs from the layout. */
    fun members(bytes: ByteArray, where: String): LinkedHashMap<String, ByteArray> {
        val b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
        fun bad(why: String) = BundleException("$where: $why (an adapter archive has one canonical layout)")
        fun u16(at: Int): Long = (b.getShort(at).toInt() and 0xffff).toLong()
        fun u32(at: Int): Long = b.getInt(at).toLong() and 0xffffffffL
        fun sig(at: Int): Int = if (at + 4 <= bytes.size) b.getInt(at) else 0
        val out = LinkedHashMap<String, ByteArray>()
        val locals = ArrayList<Local>()
        var pos = 0
        while (sig(pos) == LOCAL) {
            if (pos + 30 > bytes.size) throw BundleException("$where: corrupt or truncated file (a local header is cut off)")
            // version needed, flags, method, time, date, crc, compressed size, size
            val fields = listOf(u16(pos + 4), u16(pos + 6), u16(pos + 8), u16(pos + 10), u16(pos + 12),
                u32(pos + 14), u32(pos + 18), u32(pos + 22))
            val n = u16(pos + 26).toInt()
            val m = u16(pos + 28).toInt()
            if (pos + 30 + n > bytes.size) throw BundleException("$where: corrupt or truncated file (a member name is cut off)")
            val name = String(bytes, pos + 30, n, Charsets.UTF_8)
            if (name !in ORDER) throw BundleException("$where: unexpected member $name")
            if (out.containsKey(name)) throw BundleException("$where: member $name appears twice")
            if (fields[2] != 0L || fields[6] != fields[7]) throw BundleException("$where: member $name is compressed")
            if (fields[1] != 0L) throw bad("member $name has general-purpose flags ${fields[1]} (data descriptor or encryption)")
            if (m != 0) throw bad("member $name has an extra field")
            val size = fields[7]
            if (name == ORDER[0] && size > MAX_MANIFEST) throw BundleException("$where: member $name claims $size bytes")
            val start = pos + 30 + n
            if (start + size > bytes.size) throw BundleException("$where: corrupt or truncated file (member $name ends past the end)")
            val body = bytes.copyOfRange(start, start + size.toInt())
            val crc = CRC32()
            crc.update(body)
            if (crc.value != fields[5]) throw BundleException("$where: corrupt or truncated file (member $name fails its CRC-32)")
            if (out.isNotEmpty() && ORDER.indexOf(name) < ORDER.indexOf(out.keys.last())) {
                throw bad("member $name comes after ${out.keys.last()}")
            }
            locals.add(Local(pos, name, fields))
            out[name] = body
            pos = start + size.toInt()
        }
        if (out.isEmpty()) throw BundleException("$where: corrupt or truncated file (not a canonical adapter archive)")
        if (out.keys.first() != ORDER[0]) throw bad("the first member is ${out.keys.first()}, not ${ORDER[0]}")
        val directory = pos
        if (pos + 46 > bytes.size) throw BundleException("$where: corrupt or truncated file (it ends before its central directory)")
        for (local in locals) {
            if (sig(pos) != CENTRAL || pos + 46 > bytes.size) throw bad("the central directory does not follow the members directly")
            val fields = listOf(u16(pos + 6), u16(pos + 8), u16(pos + 10), u16(pos + 12), u16(pos + 14),
                u32(pos + 16), u32(pos + 20), u32(pos + 24))
            val n = u16(pos + 28).toInt()
            if (pos + 46 + n > bytes.size) throw BundleException("$where: corrupt or truncated file (a directory name is cut off)")
            val name = String(bytes, pos + 46, n, Charsets.UTF_8)
            if (name != local.name || fields != local.fields) {
                throw bad("the central directory's entry for $name differs from the local header of ${local.name}")
            }
            if (u16(pos + 30) != 0L || u16(pos + 32) != 0L || u16(pos + 34) != 0L || u32(pos + 42) != local.offset.toLong()) {
                throw bad("the central directory's entry for $name has an extra field, a comment or another offset")
            }
            pos += 46 + n
        }
        if (sig(pos) == CENTRAL) throw bad("the central directory lists more entries than the archive holds")
        if (sig(pos) != END || pos + 22 > bytes.size) throw bad("the end-of-central-directory record does not follow the directory")
        val count = locals.size.toLong()
        val end = listOf(u16(pos + 4), u16(pos + 6), u16(pos + 8), u16(pos + 10), u32(pos + 12), u32(pos + 16), u16(pos + 20))
        if (end != listOf(0L, 0L, count, count, (pos - directory).toLong(), directory.toLong(), 0L)) {
            throw bad("the end-of-central-directory record does not describe this directory (or carries a comment)")
        }
        if (pos + 22 != bytes.size) throw bad("${bytes.size - pos - 22} bytes follow the end of the archive")
        return out
    }
}
