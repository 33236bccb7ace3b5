package ai.mtpf.core

import org.junit.Assert.assertEquals
import org.junit.Test

/** The ONNX Runtime adapter file's framing (ONNX Runtime itself reads it in OrtRuntimeTest). */
class OrtAdapterFormatTest {
    @Test fun headerAndAlignment() {
        val raw = ByteArray(12) { it.toByte() }
        val bytes = OrtAdapterFormat.write(listOf(OrtAdapterFormat.Param("w", longArrayOf(3, 4), OrtAdapterFormat.INT8, raw)))
        assertEquals("TORT", String(bytes, 4, 4, Charsets.US_ASCII))
        val root = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0)
        assertEquals(0, root % 4)
        assertEquals(0, bytes.size % 8)
        // the raw data follows its length and starts on 8 bytes
        val at = (0 until bytes.size - raw.size).first { k -> (raw.indices).all { bytes[k + it] == raw[it] } }
        assertEquals(0, at % 8)
        assertEquals(raw.size, java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(at - 4))
    }
}
