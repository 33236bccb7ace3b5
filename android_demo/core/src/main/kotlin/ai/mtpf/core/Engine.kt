package ai.mtpf.core

/** Why the engine could not load or run something (ONNX Runtime's own exception, wrapped). */
class EngineException(message: String) : Exception(message)

/** One adapter's LoRA as loaded into an engine (ONNX Runtime: an `OrtLoraAdapter`). */
interface EngineAdapter : java.io.Closeable

/**
 * What runs the backbone: ONE session over the bundle's backbone bytes, opened with the manifest's
 * [OrtSettings]; adapters are activated per call, never by reloading the session. The app uses ONNX
 * Runtime's Java API (`ai.onnxruntime`), the JVM tests its C API through JNA; [BackboneHost] holds
 * everything else. Implementations must allow [hidden] from several threads at once.
 */
interface BackboneEngine : java.io.Closeable {
    /** The adapter's slot inputs, in ONNX Runtime's adapter format ([OrtAdapterFormat.write]), loaded
     *  from these bytes (never a file another process could swap); null: no LoRA (the plain backbone). */
    fun loadAdapter(name: String, onnxAdapter: ByteArray?): EngineAdapter

    /** Hidden states [len][H] of one row of token ids with [adapter] active; [cancel] stops the run
     *  (ONNX Runtime: `RunOptions.setTerminate`) and makes it throw [EngineException]. */
    fun hidden(ids: IntArray, adapter: EngineAdapter, cancel: CancelSignal): Array<FloatArray>
}

/** A request's cancellation: set once (the client died, the service is closing); hooks run once. */
class CancelSignal {
    private val hooks = ArrayList<() -> Unit>()
    @Volatile var cancelled: Boolean = false
        private set

    fun cancel() {
        val run: List<() -> Unit>
        synchronized(hooks) {
            if (cancelled) return
            cancelled = true
            run = ArrayList(hooks)
            hooks.clear()
        }
        for (h in run) h()
    }

    /** Runs [hook] on cancellation (at once if already cancelled); the returned function unregisters it. */
    fun onCancel(hook: () -> Unit): () -> Unit {
        synchronized(hooks) {
            if (!cancelled) { hooks.add(hook); return { synchronized(hooks) { hooks.remove(hook) } } }
        }
        hook()
        return {}
    }
}
