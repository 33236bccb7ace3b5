package ai.mtpf.demo

import ai.mtpf.core.AdapterArchive
import ai.mtpf.core.BundleException
import ai.mtpf.core.BundleManifest
import ai.mtpf.core.Classifier
import ai.mtpf.core.NerDecoder
import ai.mtpf.core.OrtAdapterFormat
import ai.mtpf.core.TrustPolicy
import ai.mtpf.core.Windows
import ai.mtpf.core.WordPieceTokenizer
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtLoraAdapter
import ai.onnxruntime.OrtSession
import org.json.JSONArray
import org.json.JSONObject
import java.io.File
import java.io.FileInputStream
import java.nio.LongBuffer
import java.security.DigestInputStream
import java.security.MessageDigest

/**
 * The system side: the bundle's backbone in ONE ONNX Runtime session, loaded once, and the adapters
 * shipped beside it. Every adapter is validated as untrusted input and must have been made for this
 * backbone (its manifest's weights hash) and, when the bundle ships a `trust.json`, signed by a key it
 * trusts for that adapter's name and task; a refused one is listed with the reason. An accepted adapter's
 * LoRA factors (the backbone's slot inputs; int8 per column for an int8-LoRA bundle) are written once as
 * an ONNX Runtime adapter file in ``cacheDir``, loaded with `OrtLoraAdapter.create`, and activated per
 * request with `RunOptions.addActiveLoraAdapter` — switching adapters never reloads the session.
 */
class Backbone(private val folder: File, private val cacheDir: File, threads: Int = 2) : AutoCloseable {
    val manifest = BundleManifest(File(folder, "manifest.json").readText(), "${folder.path}/manifest.json")
    private val tokenizer = WordPieceTokenizer(bundleFile(manifest.tokenizerFile).readText())
    private val env = OrtEnvironment.getEnvironment()
    private val session: OrtSession
    private val loaded = LinkedHashMap<String, Loaded>()
    val refused = LinkedHashMap<String, String>()
    /** The vendor's trust policy shipped in the bundle (`trust.json`); without one: development mode. */
    val trust: TrustPolicy? = File(folder, "trust.json").takeIf { it.isFile }?.let { TrustPolicy(it.readText(), it.path) }

    private class Loaded(val archive: AdapterArchive, val lora: OrtLoraAdapter?, val options: OrtSession.RunOptions)

    init {
        val model = bundleFile(manifest.backboneFile)
        val sha = sha256(model)
        if (sha != manifest.backboneFileSha256) {
            throw BundleException("${model.path}: sha256 $sha is not the manifest's ${manifest.backboneFileSha256}")
        }
        val options = OrtSession.SessionOptions()
        options.setIntraOpNumThreads(threads)
        session = env.createSession(model.path, options)
        for ((name, rel) in manifest.adapters) {
            try {
                val bytes = bundleFile(rel).readBytes()  // verified and parsed from this one read
                val signature = File(folder, "$rel.sig").takeIf { it.isFile }?.readText()
                val archive = trust?.load(bytes, signature, rel)?.first ?: AdapterArchive.read(bytes, rel)
                archive.checkFits(manifest, rel)
                loaded[name] = load(name, archive)
            } catch (e: BundleException) {
                refused[name] = e.message ?: "refused"
            }
        }
    }

    private fun bundleFile(rel: String): File {
        if (rel.startsWith("/") || rel.split('/').contains("..")) throw BundleException("bundle path $rel leaves the bundle folder")
        val file = File(folder, rel)
        if (!file.isFile) throw BundleException("${file.path}: missing from the bundle")
        return file
    }

    /** The adapter's LoRA as an ONNX Runtime adapter, active in this adapter's run options. */
    private fun load(name: String, archive: AdapterArchive): Loaded {
        val options = OrtSession.RunOptions()
        if (archive.lora.isEmpty()) return Loaded(archive, null, options)
        val file = File(cacheDir, "adapters/$name.onnx_adapter")
        file.parentFile?.mkdirs()
        file.writeBytes(OrtAdapterFormat.write(OrtAdapterFormat.slotParams(archive.lora, manifest.loraPrecision == "int8")))
        val lora = OrtLoraAdapter.create(file.absolutePath)
        options.addActiveLoraAdapter(lora)
        return Loaded(archive, lora, options)
    }

    fun describe(): JSONObject {
        val adapters = JSONArray()
        for ((name, a) in loaded) {
            adapters.put(JSONObject().put("name", name).put("task", a.archive.task).put("version", a.archive.version)
                .put("labels", JSONArray(a.archive.labels)))
        }
        return JSONObject().put("backbone", manifest.version).put("adapters", adapters).put("refused", JSONObject(refused as Map<*, *>))
    }

    /** Hidden states [len][H] of one row of ids with the adapter's LoRA active. */
    private fun hidden(row: IntArray, adapter: Loaded): Array<FloatArray> {
        val shape = longArrayOf(1, row.size.toLong())
        val ids = OnnxTensor.createTensor(env, LongBuffer.wrap(LongArray(row.size) { row[it].toLong() }), shape)
        val mask = OnnxTensor.createTensor(env, LongBuffer.wrap(LongArray(row.size) { 1L }), shape)
        try {
            val inputs = HashMap<String, OnnxTensor>()
            inputs["input_ids"] = ids
            inputs["attention_mask"] = mask
            val result = session.run(inputs, adapter.options)
            try {
                @Suppress("UNCHECKED_CAST")
                return (result.get(0).value as Array<Array<FloatArray>>)[0]
            } finally {
                result.close()
            }
        } finally {
            ids.close()
            mask.close()
        }
    }

    @Synchronized
    fun run(adapterName: String, text: String): JSONObject {
        val adapter = loaded[adapterName]
            ?: return JSONObject().put("error", refused[adapterName] ?: "no adapter named $adapterName in the bundle")
        val archive = adapter.archive
        val started = System.nanoTime()
        val out = JSONObject().put("task", archive.task).put("backbone", manifest.version).put("adapter", archive.version)
        val maxLength = minOf(archive.maxLength, manifest.maxLength)
        val enc = tokenizer.encode(text)
        val weight = archive.head["weight"]?.rows()
        val bias = archive.head["bias"]?.data
        when {
            archive.task == "ner" && weight != null && bias != null -> {
                val entities = JSONArray()
                if (enc.ids.isNotEmpty()) {
                    val size = maxLength - 2
                    val spans = Windows.windows(enc.ids.size, size, Windows.defaultStride(size))
                    val windowLogits = spans.map { s ->
                        val row = intArrayOf(tokenizer.clsId) + enc.ids.copyOfRange(s[0], s[1]) + intArrayOf(tokenizer.sepId)
                        val h = hidden(row, adapter)
                        Array(row.size - 2) { t -> FloatArray(bias.size) { c -> var z = bias[c]; for (j in h[t + 1].indices) z += weight[c][j] * h[t + 1][j]; z } }
                    }
                    val pick = Windows.bestWindowPerToken(enc.ids.size, spans)
                    val logits = Array(enc.ids.size) { t -> windowLogits[pick[t][0]][pick[t][1]] }
                    for (e in NerDecoder.decode(text, enc, logits, archive.labels)) {
                        entities.put(JSONObject().put("label", e.label).put("text", e.text).put("score", e.score)
                            .put("start", text.offsetByCodePoints(0, e.start)).put("end", text.offsetByCodePoints(0, e.end)))
                    }
                }
                out.put("entities", entities)
            }
            archive.task == "tc" && weight != null && bias != null -> {
                val row = intArrayOf(tokenizer.clsId) + enc.ids.copyOfRange(0, minOf(enc.ids.size, maxLength - 2)) + intArrayOf(tokenizer.sepId)
                val probs = Classifier.probabilities(Classifier.meanPool(hidden(row, adapter), archive.normalize), weight, bias)
                val best = probs.indices.maxBy { probs[it] } ?: 0
                val top = JSONObject()
                for (k in probs.indices.sortedByDescending { probs[it] }.take(5)) top.put(archive.labels[k], probs[k].toDouble())
                out.put("label", archive.labels[best]).put("probabilities", top).put("truncated", enc.ids.size > maxLength - 2)
            }
            else -> return JSONObject().put("error", "adapter $adapterName is a ${archive.task} adapter; this demo runs ner and tc")
        }
        return out.put("latency_ms", (System.nanoTime() - started) / 1e6)
    }

    override fun close() {
        for (a in loaded.values) { a.options.close(); a.lora?.close() }
        session.close()
    }

    companion object {
        fun sha256(file: File): String {
            val digest = MessageDigest.getInstance("SHA-256")
            DigestInputStream(FileInputStream(file), digest).use { s -> val buf = ByteArray(1 shl 16); while (s.read(buf) >= 0) { } }
            return digest.digest().joinToString("") { String.format("%02x", it.toInt() and 0xff) }
        }
    }
}
