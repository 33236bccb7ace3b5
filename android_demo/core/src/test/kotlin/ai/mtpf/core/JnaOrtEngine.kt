package ai.mtpf.core

import com.sun.jna.Function
import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.NativeLibrary
import com.sun.jna.Pointer
import com.sun.jna.ptr.PointerByReference
import java.io.File
import java.util.Properties

/**
 * [BackboneEngine] on ONNX Runtime's C API (the Linux x64 `libonnxruntime.so` of the same release as the
 * APK's AAR), called through JNA, so the JVM tests run the real runtime with the app's session settings:
 * the manifest's [OrtSettings], `session.intra_op.allow_spinning=0`, the model and every adapter loaded
 * from bytes, one `OrtRunOptions` per call with the adapter active and `RunOptionsSetTerminate` on cancel.
 * Function-table slots come from the AAR's headers (tools/ort_api_offsets.c), never from constants here.
 */
class JnaOrtEngine(model: ByteArray, settings: OrtSettings, threads: Int = 1) : BackboneEngine {
    private val env: Pointer
    private val session: Pointer
    private val memoryInfo: Pointer

    private class Adapter(val handle: Pointer?, @Suppress("unused") val bytes: Memory?) : EngineAdapter {
        @Volatile var released = false
        override fun close() {
            if (handle != null && !released) { released = true; release("ReleaseLoraAdapter", handle) }
        }
    }

    /** NUL-terminated UTF-8 strings and the char* array pointing at them (kept alive together). */
    private class CStrings(vararg s: String) {
        val parts = s.map { x -> val b = x.toByteArray(Charsets.UTF_8); Memory(b.size + 1L).apply { write(0, b, 0, b.size); setByte(b.size.toLong(), 0) } }
        val array = Memory(s.size.toLong() * Native.POINTER_SIZE).apply { parts.forEachIndexed { i, m -> setPointer(i.toLong() * Native.POINTER_SIZE, m) } }
    }

    init {
        env = out { call("CreateEnv", settings.logSeverityLevel, "mtpf-jvm-test", it) }
        val options = out { call("CreateSessionOptions", it) }
        try {
            check(call("SetIntraOpNumThreads", options, threads))
            check(call("SetInterOpNumThreads", options, 1))
            check(call("SetSessionLogSeverityLevel", options, settings.logSeverityLevel))
            check(call("SetSessionGraphOptimizationLevel", options, LEVELS.getValue(settings.graphOptimizationLevel)))
            for ((k, v) in settings.sessionConfig) check(call("AddSessionConfigEntry", options, k, v))
            check(call("AddSessionConfigEntry", options, "session.intra_op.allow_spinning", "0"))
            val bytes = Memory(model.size.toLong()).apply { write(0, model, 0, model.size) }
            session = out { call("CreateSessionFromArray", env, bytes, model.size.toLong(), options, it) }
        } finally {
            release("ReleaseSessionOptions", options)
        }
        memoryInfo = out { call("CreateCpuMemoryInfo", 0 /* OrtDeviceAllocator */, 0 /* OrtMemTypeDefault */, it) }
    }

    override fun loadAdapter(name: String, onnxAdapter: ByteArray?): EngineAdapter {
        if (onnxAdapter == null) return Adapter(null, null)
        val bytes = Memory(onnxAdapter.size.toLong()).apply { write(0, onnxAdapter, 0, onnxAdapter.size) }
        return Adapter(out { call("CreateLoraAdapterFromArray", bytes, onnxAdapter.size.toLong(), Pointer.NULL, it) }, bytes)
    }

    override fun hidden(ids: IntArray, adapter: EngineAdapter, cancel: CancelSignal): Array<FloatArray> {
        val handle = (adapter as Adapter).handle
        val run = out { call("CreateRunOptions", it) }
        val unhook = cancel.onCancel { call("RunOptionsSetTerminate", run) }
        val values = ArrayList<Pointer>()
        try {
            if (handle != null) check(call("RunOptionsAddActiveLoraAdapter", run, handle))
            val n = ids.size
            val shape = Memory(16).apply { setLong(0, 1); setLong(8, n.toLong()) }
            val idData = Memory(8L * n).apply { for (i in 0 until n) setLong(8L * i, ids[i].toLong()) }
            val maskData = Memory(8L * n).apply { for (i in 0 until n) setLong(8L * i, 1) }
            for (data in listOf(idData, maskData)) {
                values += out { call("CreateTensorWithDataAsOrtValue", memoryInfo, data, 8L * n, shape, 2L, 7 /* INT64 */, it) }
            }
            val inputNames = CStrings("input_ids", "attention_mask")
            val outputNames = CStrings("last_hidden_state")
            val inputs = Memory(2L * Native.POINTER_SIZE).apply { setPointer(0, values[0]); setPointer(Native.POINTER_SIZE.toLong(), values[1]) }
            val outputs = Memory(Native.POINTER_SIZE.toLong()).apply { setPointer(0, Pointer.NULL) }
            check(call("Run", session, run, inputNames.array, inputs, 2L, outputNames.array, 1L, outputs))
            val result = outputs.getPointer(0)
            values += result
            val info = out { call("GetTensorTypeAndShape", result, it) }
            val dims = try {
                val count = Memory(8)
                check(call("GetDimensionsCount", info, count))
                val d = Memory(8L * count.getLong(0))
                check(call("GetDimensions", info, d, count.getLong(0)))
                LongArray(count.getLong(0).toInt()) { d.getLong(8L * it) }
            } finally {
                release("ReleaseTensorTypeAndShapeInfo", info)
            }
            if (dims.size != 3 || dims[0] != 1L || dims[1] != n.toLong()) throw EngineException("output shape ${dims.toList()} is not [1, $n, H]")
            val data = out { call("GetTensorMutableData", result, it) }
            val h = dims[2].toInt()
            return Array(n) { t -> data.getFloatArray(4L * t * h, h) }
        } finally {
            unhook()
            for (v in values) release("ReleaseValue", v)
            release("ReleaseRunOptions", run)
        }
    }

    override fun close() {
        release("ReleaseMemoryInfo", memoryInfo)
        release("ReleaseSession", session)
        release("ReleaseEnv", env)
    }

    companion object {
        private val LEVELS = mapOf("disable_all" to 0, "basic" to 1, "extended" to 2, "all" to 99)
        private val slots: Properties = Properties().apply {
            File(System.getProperty("ort.api") ?: error("-Dort.api=ort_api.properties (build.sh writes it)")).inputStream().use { load(it) }
        }
        private val library: NativeLibrary = NativeLibrary.getInstance(System.getProperty("ort.lib") ?: error("-Dort.lib=libonnxruntime.so"))
        private val base: Pointer = library.getFunction("OrtGetApiBase").invokePointer(arrayOf<Any>())
        /** GetVersionString of the library loaded. */
        val version: String = Function.getFunction(base.getPointer(Native.POINTER_SIZE.toLong())).invokeString(arrayOf<Any>(), false)
        private val api: Pointer = Function.getFunction(base.getPointer(0)).invokePointer(arrayOf<Any>(slots.getProperty("ORT_API_VERSION").toInt()))
            ?: error("this libonnxruntime.so ($version) does not offer API version ${slots.getProperty("ORT_API_VERSION")}")

        private fun fn(name: String): Function {
            val slot = slots.getProperty(name)?.toLong() ?: error("$name is not in ${System.getProperty("ort.api")}")
            return Function.getFunction(api.getPointer(slot * Native.POINTER_SIZE))
        }

        /** Calls an OrtApi function that returns an OrtStatus* (null: success). */
        private fun call(name: String, vararg args: Any?): Pointer? = fn(name).invokePointer(args)

        private fun release(name: String, handle: Pointer) = fn(name).invokeVoid(arrayOf<Any>(handle))

        private fun check(status: Pointer?) {
            if (status == null) return
            val message = fn("GetErrorMessage").invokeString(arrayOf<Any>(status), false)
            release("ReleaseStatus", status)
            throw EngineException(message)
        }

        /** Runs [f] with an out-parameter and returns what it wrote there. */
        private fun out(f: (PointerByReference) -> Pointer?): Pointer {
            val ref = PointerByReference()
            check(f(ref))
            return ref.value
        }
    }
}
