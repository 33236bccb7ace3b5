package ai.mtpf.core

import java.util.concurrent.locks.ReentrantReadWriteLock

/** What a caller sees of one adapter it may use. */
class AdapterView(val name: String, val task: String, val version: String, val labels: List<String>, val ownedByCaller: Boolean)

/**
 * The system side's logic, without Android: the bundle's adapters behind one [BackboneEngine], who may
 * run which (per-package grants; an adapter an app registers is that app's alone), quotas, input caps,
 * typed errors, bounded replies, cancellation, and a close that waits for the requests running.
 *
 * Every adapter is untrusted input: its name is checked, it is verified against the bundle's trust
 * policy (when there is one), checked against the backbone, loaded into the engine from the bytes that
 * were verified, and test-run once; whatever fails refuses that adapter alone, with the reason.
 * BackboneService is this plus binder: the calling UID's package, death notifications, parcels.
 */
class BackboneHost(
    val manifest: BundleManifest,
    private val tokenizer: WordPieceTokenizer,
    private val engine: BackboneEngine,
    private val trust: TrustPolicy?,
    val policy: ServicePolicy,
    /** the service's own package: it may run every bundle adapter */
    private val ownPackage: String,
    nanoTime: () -> Long = System::nanoTime
) : java.io.Closeable {
    private class Loaded(val archive: AdapterArchive, val engineAdapter: EngineAdapter)

    private val bundleAdapters = LinkedHashMap<String, Loaded>()
    private val registered = HashMap<String, LinkedHashMap<String, Loaded>>()  // package → name → adapter
    private val refusedAdapters = LinkedHashMap<String, String>()
    private val quotas = Quotas(policy, nanoTime)
    private val lock = ReentrantReadWriteLock()
    @Volatile private var closed = false

    /** Bundle adapters that were refused, with the reason. */
    val refused: Map<String, String> get() = synchronized(refusedAdapters) { LinkedHashMap(refusedAdapters) }

    /** Loads a bundle adapter ([bytes] read once; [signature]: its `.sig` document, if any). */
    fun addBundleAdapter(name: String, bytes: ByteArray, signature: String?, where: String) {
        try {
            val loaded = prepare(name, bytes, signature, where)
            synchronized(bundleAdapters) { bundleAdapters[name] = loaded }
        } catch (e: Exception) {
            synchronized(refusedAdapters) { refusedAdapters[name] = reason(e) }
        }
    }

    /** Records a bundle adapter that could not even be read (missing file, path outside the bundle). */
    fun refuse(name: String, why: String) = synchronized(refusedAdapters) { refusedAdapters[name] = why }

    /** An adapter [pkg] ships itself: usable by [pkg] only, replacing its earlier one of that name. */
    fun register(pkg: String, name: String, bytes: ByteArray, signature: String?): Reply = whileOpen {
        val (mine, replaces) = synchronized(registered) { registered[pkg].let { Pair(it?.size ?: 0, it?.containsKey(name) == true) } }
        if (mine >= MAX_REGISTERED && !replaces) {
            return@whileOpen Reply.error(ErrorCode.QUOTA_EXCEEDED, "$pkg has registered $mine adapters (at most $MAX_REGISTERED)")
        }
        val loaded = try { prepare(name, bytes, signature, "adapter $name from $pkg") } catch (e: Exception) {
            return@whileOpen Reply.error(ErrorCode.ADAPTER_REFUSED, reason(e))
        }
        val old = synchronized(registered) { registered.getOrPut(pkg) { LinkedHashMap() }.put(name, loaded) }
        old?.engineAdapter?.close()
        Reply(ErrorCode.OK, task = loaded.archive.task, adapter = loaded.archive.version, backbone = manifest.version)
    }

    /** [block] under the read lock, unless the host is closed (checked before queueing behind close(), and again inside). */
    private inline fun whileOpen(block: () -> Reply): Reply {
        if (closed) return Reply.error(ErrorCode.SERVICE_CLOSED, "the backbone service is shutting down")
        lock.readLock().lock()
        try {
            if (closed) return Reply.error(ErrorCode.SERVICE_CLOSED, "the backbone service is shutting down")
            return block()
        } finally {
            lock.readLock().unlock()
        }
    }

    /** The adapters [pkg] may run: its own registered ones, then the bundle's it is granted. */
    fun adapters(pkg: String): List<AdapterView> {
        val own = synchronized(registered) { registered[pkg]?.entries?.toList() ?: emptyList() }
        val bundle = synchronized(bundleAdapters) { bundleAdapters.entries.toList() }
        return own.map { view(it.key, it.value, true) } +
            bundle.filter { (name, _) -> own.none { it.key == name } && mayUse(pkg, name) }.map { view(it.key, it.value, false) }
    }

    private fun view(name: String, a: Loaded, owned: Boolean) = AdapterView(name, a.archive.task, a.archive.version, a.archive.labels, owned)

    private fun mayUse(pkg: String, name: String) = pkg == ownPackage || policy.granted(pkg, name)

    /** Runs [adapterName] on [text] for the package [pkg]; never throws. */
    fun run(pkg: String, adapterName: String, text: String, cancel: CancelSignal = CancelSignal()): Reply = whileOpen {
        val adapter = resolve(pkg, adapterName)
        if (adapter == null) {
            val why = synchronized(refusedAdapters) { refusedAdapters[adapterName] }
            return@whileOpen when {
                why != null && mayUse(pkg, adapterName) -> Reply.error(ErrorCode.ADAPTER_REFUSED, "adapter $adapterName was refused: $why")
                synchronized(bundleAdapters) { bundleAdapters.containsKey(adapterName) } ->
                    Reply.error(ErrorCode.NOT_GRANTED, "$pkg is not granted adapter $adapterName (policy.json grants)")
                else -> Reply.error(ErrorCode.NO_SUCH_ADAPTER, "no adapter named ${clip(adapterName, Limits.LABEL_CHARS)} for $pkg")
            }
        }
        if (text.length > policy.maxInputChars) {
            return@whileOpen Reply.error(ErrorCode.INPUT_TOO_LONG, "the text has ${text.length} chars; this service takes at most ${policy.maxInputChars}")
        }
        quotas.acquire(pkg)?.let { return@whileOpen Reply.error(ErrorCode.QUOTA_EXCEEDED, it) }
        try {
            infer(adapter, text, cancel)
        } catch (e: Exception) {
            if (cancel.cancelled) Reply.error(ErrorCode.CANCELLED, "the request was cancelled")
            else Reply.error(ErrorCode.RUN_FAILED, "adapter $adapterName failed: ${reason(e)}")
        } finally {
            quotas.release(pkg)
        }
    }

    private fun resolve(pkg: String, name: String): Loaded? {
        synchronized(registered) { registered[pkg]?.get(name) }?.let { return it }
        if (!mayUse(pkg, name)) return null
        return synchronized(bundleAdapters) { bundleAdapters[name] }
    }

    /** New requests get SERVICE_CLOSED at once; then waits for the running ones and frees the engine. */
    override fun close() {
        closed = true
        lock.writeLock().lock()
        try {
            val all = synchronized(bundleAdapters) { bundleAdapters.values.toList() } +
                synchronized(registered) { registered.values.flatMap { it.values } }
            for (a in all) a.engineAdapter.close()
            engine.close()
        } finally {
            lock.writeLock().unlock()
        }
    }

    // ------------------------------------------------------------------ loading

    private fun prepare(name: String, bytes: ByteArray, signature: String?, where: String): Loaded {
        if (!NAME.matches(name)) throw BundleException("$where: adapter name ${clip(name, Limits.LABEL_CHARS)} is not 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)")
        val archive = trust?.load(bytes, signature, where)?.first ?: AdapterArchive.read(bytes, where)
        archive.checkFits(manifest, where)
        if (archive.task != "ner" && archive.task != "tc") throw BundleException("$where: a ${archive.task} adapter; this service runs ner and tc")
        if (archive.head["weight"] == null || archive.head["bias"] == null) throw BundleException("$where: no linear head (weight, bias)")
        archive.labels.firstOrNull { it.length > Limits.LABEL_CHARS }?.let { throw BundleException("$where: label ${clip(it, 20)}… is longer than ${Limits.LABEL_CHARS} chars") }
        val ortBytes = if (archive.lora.isEmpty()) null else OrtAdapterFormat.write(OrtAdapterFormat.slotParams(archive.lora, manifest.loraPrecision == "int8"))
        val engineAdapter = engine.loadAdapter(name, ortBytes)
        try {
            val h = engine.hidden(intArrayOf(tokenizer.clsId, tokenizer.sepId), engineAdapter, CancelSignal())
            if (h.size != 2 || h.any { it.size != manifest.hiddenSize }) throw BundleException("$where: the test run gave hidden states of shape [${h.size}, ${h.firstOrNull()?.size}], not [2, ${manifest.hiddenSize}]")
            if (h.any { row -> row.any { !it.isFinite() } }) throw BundleException("$where: the test run gave non-finite hidden states")
        } catch (e: Exception) {
            engineAdapter.close()
            throw e
        }
        return Loaded(archive, engineAdapter)
    }

    // ------------------------------------------------------------------ inference

    private fun hidden(row: IntArray, adapter: Loaded, cancel: CancelSignal): Array<FloatArray> {
        if (cancel.cancelled) throw EngineException("cancelled")
        return engine.hidden(row, adapter.engineAdapter, cancel)
    }

    private fun infer(adapter: Loaded, text: String, cancel: CancelSignal): Reply {
        val started = System.nanoTime()
        val archive = adapter.archive
        val maxLength = minOf(archive.maxLength, manifest.maxLength)
        val enc = tokenizer.encode(text)
        val weight = archive.head.getValue("weight").rows()
        val bias = archive.head.getValue("bias").data
        fun ms() = (System.nanoTime() - started) / 1e6f
        if (archive.task == "ner") {
            var found = emptyList<Entity>()
            if (enc.ids.isNotEmpty()) {
                val size = maxLength - 2
                val spans = Windows.windows(enc.ids.size, size, Windows.defaultStride(size))
                val windowLogits = spans.map { s ->
                    val row = intArrayOf(tokenizer.clsId) + enc.ids.copyOfRange(s[0], s[1]) + intArrayOf(tokenizer.sepId)
                    val h = hidden(row, adapter, cancel)
                    Array(row.size - 2) { t -> FloatArray(bias.size) { c -> var z = bias[c]; for (j in h[t + 1].indices) z += weight[c][j] * h[t + 1][j]; z } }
                }
                val pick = Windows.bestWindowPerToken(enc.ids.size, spans)
                found = NerDecoder.decode(text, enc, Array(enc.ids.size) { t -> windowLogits[pick[t][0]][pick[t][1]] }, archive.labels)
            }
            val out = found.take(Limits.MAX_ENTITIES).map {
                EntityOut(it.label, clip(it.text, Limits.ENTITY_TEXT_CHARS), text.offsetByCodePoints(0, it.start),
                    text.offsetByCodePoints(0, it.end), it.score.toFloat())
            }
            return Reply(ErrorCode.OK, task = "ner", entities = out, entitiesDropped = found.size - out.size, latencyMs = ms(),
                backbone = manifest.version, adapter = archive.version)
        }
        val row = intArrayOf(tokenizer.clsId) + enc.ids.copyOfRange(0, minOf(enc.ids.size, maxLength - 2)) + intArrayOf(tokenizer.sepId)
        val probs = Classifier.probabilities(Classifier.meanPool(hidden(row, adapter, cancel), archive.normalize), weight, bias)
        val order = probs.indices.sortedByDescending { probs[it] }.take(Limits.TOP_LABELS)
        return Reply(ErrorCode.OK, task = "tc", label = archive.labels[order[0]], topLabels = order.map { archive.labels[it] },
            topProbabilities = order.map { probs[it] }, truncated = enc.ids.size > maxLength - 2, latencyMs = ms(),
            backbone = manifest.version, adapter = archive.version)
    }

    companion object {
        /** Adapter names: what may be shown, logged and used as a key (never a path). */
        val NAME = Regex("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
        /** adapters one package may register */
        const val MAX_REGISTERED = 8

        /** At most [n] UTF-16 chars of [s], never half of a surrogate pair. */
        fun clip(s: String, n: Int): String {
            if (s.length <= n) return s
            return s.substring(0, if (Character.isHighSurrogate(s[n - 1])) n - 1 else n)
        }

        /** An exception as a reason a person can read: our own messages as they are, others with their type. */
        fun reason(e: Exception): String = when (e) {
            is BundleException, is EngineException -> e.message ?: e.javaClass.simpleName
            else -> "${e.javaClass.simpleName}: ${e.message}"
        }
    }
}
