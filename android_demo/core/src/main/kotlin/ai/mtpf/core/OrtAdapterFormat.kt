package ai.mtpf.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Writes ONNX Runtime's LoRA adapter file (`.onnx_adapter`: the FlatBuffers schema
 * `onnxruntime/lora/adapter_format/adapter_schema.fbs`, file identifier "TORT", format version 1), which
 * `OrtLoraAdapter.create(path)` loads. The `.mtpfa` keeps its LoRA as safetensors; the backbone service
 * turns a validated adapter's slot tensors into this file once, when it loads the adapter.
 *
 * The buffer is laid out front to back (every offset points forward, vtables precede their tables), with
 * the alignment the FlatBuffers verifier checks: tables and vectors on 4 bytes, `dims` elements and
 * `raw_data` (force_align 8) on 8.
 */
object OrtAdapterFormat {
    const val FLOAT = 1
    const val INT8 = 3

    /** One named tensor: its dims, ONNX Runtime data type and little-endian bytes. */
    class Param(val name: String, val dims: LongArray, val dataType: Int, val raw: ByteArray)

    fun floatParam(name: String, t: Tensor): Param {
        val b = ByteBuffer.allocate(t.data.size * 4).order(ByteOrder.LITTLE_ENDIAN)
        for (v in t.data) b.putFloat(v)
        return Param(name, t.shape.map { it.toLong() }.toLongArray(), FLOAT, b.array())
    }

    /** The slot inputs of an adapter: fp32 factors, or int8 per column (+ scales) for an int8-LoRA backbone. */
    fun slotParams(lora: Map<String, Tensor>, int8: Boolean): List<Param> {
        val out = ArrayList<Param>()
        for ((name, t) in lora.toSortedMap()) {
            if (!int8) { out.add(floatParam(name, t)); continue }
            val q = LoraInt8.quantizeColumns(LoraInt8.transpose(t))
            out.add(Param(name, longArrayOf(t.shape[1].toLong(), t.shape[0].toLong()), INT8, q.q))
            out.add(floatParam("$name.scale", Tensor(intArrayOf(q.scale.size), q.scale)))
        }
        return out
    }

    private class Buf {
        var bytes = ByteArray(1024)
        var size = 0
        private fun ensure(n: Int) { if (size + n > bytes.size) bytes = bytes.copyOf(maxOf(bytes.size * 2, size + n)) }
        fun pad(to: Int, remainder: Int = 0) { while (size % to != remainder) { ensure(1); bytes[size++] = 0 } }
        fun u8(v: Int) { ensure(1); bytes[size++] = v.toByte() }
        fun u16(v: Int) { u8(v and 0xff); u8((v ushr 8) and 0xff) }
        fun i32(v: Int) { for (k in 0 until 4) u8((v ushr (8 * k)) and 0xff) }
        fun i64(v: Long) { for (k in 0 until 8) u8(((v ushr (8 * k)) and 0xff).toInt()) }
        fun raw(b: ByteArray) { ensure(b.size); System.arraycopy(b, 0, bytes, size, b.size); size += b.size }
        fun patch(at: Int, v: Int) { for (k in 0 until 4) bytes[at + k] = ((v ushr (8 * k)) and 0xff).toByte() }
        /** Patch the uoffset at ``at`` to point to ``target`` (forward). */
        fun point(at: Int, target: Int) { require(target > at); patch(at, target - at) }
    }

    /** A vtable for a table of 4-byte fields (offsets 4, 8, ...) followed by that table; returns the table's field positions. */
    private fun table(buf: Buf, fields: Int): IntArray {
        buf.pad(2)
        val vtable = buf.size
        buf.u16(4 + 2 * fields)
        buf.u16(4 + 4 * fields)
        for (f in 0 until fields) buf.u16(4 + 4 * f)
        buf.pad(4)
        val start = buf.size
        buf.i32(start - vtable)
        val positions = IntArray(fields) { buf.size + 4 * it }
        repeat(fields) { buf.i32(0) }
        return positions
    }

    fun write(params: List<Param>, adapterVersion: Int = 0, modelVersion: Int = 0): ByteArray {
        val buf = Buf()
        buf.i32(0)  // root offset
        buf.raw("TORT".toByteArray(Charsets.US_ASCII))
        val adapter = table(buf, 4)
        buf.point(0, adapter[0] - 4)
        buf.patch(adapter[0], 1)  // format_version
        buf.patch(adapter[1], adapterVersion)
        buf.patch(adapter[2], modelVersion)
        buf.pad(4)
        buf.point(adapter[3], buf.size)
        buf.i32(params.size)
        val slots = IntArray(params.size) { buf.size + 4 * it }
        repeat(params.size) { buf.i32(0) }
        for ((k, p) in params.withIndex()) {
            val fields = table(buf, 4)  // name, dims, data_type, raw_data
            buf.point(slots[k], fields[0] - 4)
            buf.patch(fields[2], p.dataType)
            val name = p.name.toByteArray(Charsets.UTF_8)
            buf.pad(4)
            buf.point(fields[0], buf.size)
            buf.i32(name.size); buf.raw(name); buf.u8(0)
            buf.pad(8, 4)
            buf.point(fields[1], buf.size)
            buf.i32(p.dims.size); for (d in p.dims) buf.i64(d)
            buf.pad(8, 4)
            buf.point(fields[3], buf.size)
            buf.i32(p.raw.size); buf.raw(p.raw)
        }
        buf.pad(8)
        return buf.bytes.copyOf(buf.size)
    }
}
