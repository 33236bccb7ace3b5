package ai.mtpf.demo

import ai.mtpf.core.BackboneEngine
import ai.mtpf.core.CancelSignal
import ai.mtpf.core.EngineAdapter
import ai.mtpf.core.EngineException
import ai.mtpf.core.OrtSettings
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtException
import ai.onnxruntime.OrtLoraAdapter
import ai.onnxruntime.OrtSession
import java.nio.LongBuffer

/**
 * [BackboneEngine] on ONNX Runtime's Java API (the official AAR): one session opened from the backbone
 * bytes that were hashed (no second read of a file that could be swapped), with exactly the manifest's
 * [OrtSettings] and no spin-waiting threads; each adapter loaded with `OrtLoraAdapter.create(bytes)`
 * (no cache file); per call one `RunOptions` with the adapter active, terminated on cancel.
 * Every `OrtException` becomes an [EngineException]. The JVM tests run the same steps through
 * ONNX Runtime's C API (core/src/test/kotlin/ai/mtpf/core/JnaOrtEngine.kt).
 */
class OrtJavaEngine(model: ByteArray, settings: OrtSettings, threads: Int) : BackboneEngine {
    private val env = OrtEnvironment.getEnvironment()
    private val session: OrtSession

    private class Adapter(val lora: OrtLoraAdapter?) : EngineAdapter {
        override fun close() { lora?.close() }
    }

    init {
        session = ort {
            OrtSession.SessionOptions().closing { options ->
                options.setIntraOpNumThreads(threads)
                options.setInterOpNumThreads(1)
                options.setSessionLogLevel(LOG_LEVELS[settings.logSeverityLevel.coerceIn(0, 4)])
                options.setOptimizationLevel(LEVELS.getValue(settings.graphOptimizationLevel))
                for ((k, v) in settings.sessionConfig) options.addConfigEntry(k, v)
                // a background service must not keep cores busy between requests
                options.addConfigEntry("session.intra_op.allow_spinning", "0")
                env.createSession(model, options)
            }
        }
    }

    override fun loadAdapter(name: String, onnxAdapter: ByteArray?): EngineAdapter =
        Adapter(onnxAdapter?.let { ort { OrtLoraAdapter.create(it) } })

    override fun hidden(ids: IntArray, adapter: EngineAdapter, cancel: CancelSignal): Array<FloatArray> = ort {
        OrtSession.RunOptions().closing { run ->
            (adapter as Adapter).lora?.let { run.addActiveLoraAdapter(it) }
            val unhook = cancel.onCancel { try { run.setTerminate(true) } catch (e: OrtException) { } }
            val shape = longArrayOf(1, ids.size.toLong())
            try {
                OnnxTensor.createTensor(env, LongBuffer.wrap(LongArray(ids.size) { ids[it].toLong() }), shape).closing { input ->
                    OnnxTensor.createTensor(env, LongBuffer.wrap(LongArray(ids.size) { 1L }), shape).closing { mask ->
                        session.run(mapOf("input_ids" to input, "attention_mask" to mask), run).closing { result ->
                            @Suppress("UNCHECKED_CAST")
                            (result.get(0).value as Array<Array<FloatArray>>)[0]
                        }
                    }
                }
            } finally {
                unhook()
            }
        }
    }

    override fun close() = session.close()

    private companion object {
        val LEVELS = mapOf("disable_all" to OrtSession.SessionOptions.OptLevel.NO_OPT, "basic" to OrtSession.SessionOptions.OptLevel.BASIC_OPT,
            "extended" to OrtSession.SessionOptions.OptLevel.EXTENDED_OPT, "all" to OrtSession.SessionOptions.OptLevel.ALL_OPT)
        val LOG_LEVELS = arrayOf(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE, ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO,
            ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL)

        inline fun <T> ort(block: () -> T): T = try { block() } catch (e: OrtException) { throw EngineException(e.message ?: "ONNX Runtime error") }
    }
}

/** `use` for AutoCloseable (the Kotlin stdlib for Java 6 targets has it for Closeable only). */
private inline fun <T : AutoCloseable, R> T.closing(block: (T) -> R): R {
    try {
        return block(this)
    } finally {
        close()
    }
}
