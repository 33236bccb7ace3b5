package ai.mtpf.core

import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest

/** A refused bundle or adapter; the message names the file and the field. */
open class BundleException(message: String) : Exception(message)

/** A float32 tensor read from safetensors: shape and row-major data. */
class Tensor(val shape: IntArray, val data: FloatArray) {
    fun rows(): Array<FloatArray> {
        require(shape.size == 2) { "not a matrix" }
        return Array(shape[0]) { r -> data.copyOfRange(r * shape[1], (r + 1) * shape[1]) }
    }
}

object Safetensors {
    /** float32 tensors of a safetensors file (8-byte little-endian header length, JSON header, data). */
    fun read(bytes: ByteArray, where: String): Map<String, Tensor> {
        if (bytes.size < 8) throw BundleException("$where: not a safetensors file (${bytes.size} bytes)")
        val headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).long
        if (headerLength <= 0 || headerLength > bytes.size - 8) throw BundleException("$where: bad safetensors header length")
        val header = try { JSONObject(String(bytes, 8, headerLength.toInt(), Charsets.UTF_8)) } catch (e: JSONException) {
            throw BundleException("$where: safetensors header is not JSON")
        }
        val base = 8 + headerLength.toInt()
        val out = LinkedHashMap<String, Tensor>()
        for (name in header.keys()) {
            if (name == "__metadata__") continue
            val info = header.getJSONObject(name)
            if (info.getString("dtype") != "F32") throw BundleException("$where: tensor $name is ${info.getString("dtype")}, not F32")
            val shapeJson = info.getJSONArray("shape")
            val shape = IntArray(shapeJson.length()) { shapeJson.getInt(it) }
            val offsets = info.getJSONArray("data_offsets")
            val begin = offsets.getLong(0)
            val end = offsets.getLong(1)
            val count = shape.fold(1L) { a, b -> a * b }
            if (begin < 0 || end < begin || base + end > bytes.size || end - begin != count * 4) {
                throw BundleException("$where: tensor $name has bad data offsets")
            }
            val buffer = ByteBuffer.wrap(bytes, base + begin.toInt(), (end - begin).toInt()).order(ByteOrder.LITTLE_ENDIAN)
            val data = FloatArray(count.toInt()) { buffer.float }
            if (data.any { it.isNaN() || it.isInfinite() }) throw BundleException("$where: tensor $name holds NaN or Inf")
            out[name] = Tensor(shape, data)
        }
        return out
    }
}

fun sha256Hex(bytes: ByteArray): String =
    MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { String.format("%02x", it.toInt() and 0xff) }

/** One LoRA slot of the backbone: the graph inputs that take an adapter's A and B for one linear layer. */
class Slot(val a: String, val b: String, val inFeatures: Int, val outFeatures: Int)

/** A bundle's `manifest.json`: the backbone the system loads once and the adapters shipped beside it. */
class BundleManifest(json: String, val where: String = "bundle manifest.json") {
    val weightsSha256: String
    val backboneFile: String
    val backboneFileSha256: String
    val hiddenSize: Int
    val maxLength: Int
    val loraPrecision: String
    val slots: List<Slot>
    val tokenizerFile: String
    val adapters: Map<String, String>
    val version: String
    /** How ONNX Runtime must open the backbone (`backbone.onnxruntime`); older bundles: [OrtSettings.DEFAULT]. */
    val onnxruntime: OrtSettings

    init {
        val root = try { JSONObject(json) } catch (e: JSONException) { throw BundleException("$where: not JSON (${e.message})") }
        if (root.optString("format") != "mtpf-bundle") throw BundleException("$where: format is not mtpf-bundle")
        val bb = root.getJSONObject("backbone")
        weightsSha256 = bb.getString("weights_sha256")
        backboneFile = bb.getString("file")
        backboneFileSha256 = bb.getString("sha256")
        hiddenSize = bb.getInt("hidden_size")
        maxLength = bb.getInt("max_length")
        loraPrecision = bb.optString("lora_precision", "fp32")
        val slotList = bb.getJSONArray("slots")
        slots = (0 until slotList.length()).map {
            val s = slotList.getJSONObject(it)
            Slot(s.getString("a"), s.getString("b"), s.getInt("in"), s.getInt("out"))
        }
        tokenizerFile = root.getString("tokenizer")
        val listed = root.optJSONObject("adapters") ?: JSONObject()
        adapters = listed.keys().asSequence().associateWith { listed.getString(it) }.toSortedMap()
        version = "${bb.optString("precision", "?")} · ${weightsSha256.take(12)}"
        onnxruntime = bb.optJSONObject("onnxruntime")?.let { OrtSettings.fromJson(it, "$where: backbone.onnxruntime") } ?: OrtSettings.DEFAULT
    }
}

/** The session settings a bundle's backbone needs (the Python runtime's `formats/bundle.py` `ONNXRUNTIME`):
 *  session config entries (today: ONNX Runtime's SkipLayerNormFusion disabled), the graph optimisation
 *  level and the log level. Every engine applies exactly these, so every engine computes the same numbers. */
class OrtSettings(val sessionConfig: Map<String, String>, val graphOptimizationLevel: String, val logSeverityLevel: Int) {
    companion object {
        /** ONNX Runtime's graph optimisation levels by the manifest's names. */
        val LEVELS = listOf("disable_all", "basic", "extended", "all")
        val DEFAULT = OrtSettings(mapOf("optimization.disable_specified_optimizers" to "SkipLayerNormFusion"), "all", 3)

        fun fromJson(o: JSONObject, where: String): OrtSettings {
            val config = o.optJSONObject("session_config") ?: JSONObject()
            val entries = config.keys().asSequence().associateWith {
                config.get(it) as? String ?: throw BundleException("$where: session_config.$it is not a string")
            }
            val level = o.optString("graph_optimization_level", "all")
            if (level !in LEVELS) throw BundleException("$where: graph_optimization_level $level is not one of ${LEVELS.joinToString()}")
            return OrtSettings(entries.toSortedMap(), level, o.optInt("log_severity_level", 3))
        }
    }
}

/** An app's `.mtpfa` adapter (a ZIP of stored members), validated as untrusted input and checked
 *  against the bundle's backbone before anything runs with it. */
class AdapterArchive private constructor(
    val name: String,
    val task: String,
    val labels: List<String>,
    val maxLength: Int,
    val normalize: Boolean,
    val backboneSha256: String,
    val lora: Map<String, Tensor>,
    val head: Map<String, Tensor>
) {
    /** The version string the screen shows: name, task, backbone hash prefix. */
    val version: String get() = "$name ($task) · ${backboneSha256.take(12)}"

    /** Refuse an adapter trained for another backbone or whose tensors do not fit this one. */
    fun checkFits(bundle: BundleManifest, where: String) {
        if (backboneSha256 != bundle.weightsSha256) {
            throw BundleException("$where: made for backbone ${backboneSha256.take(12)}…, but this bundle's backbone is " +
                "${bundle.weightsSha256.take(12)}… — re-export the adapter for this backbone")
        }
        val slots = bundle.slots.flatMap { listOf(Pair(it.a, intArrayOf(-1, it.inFeatures)), Pair(it.b, intArrayOf(it.outFeatures, -1))) }.toMap()
        for ((tensorName, t) in lora) {
            val want = slots[tensorName] ?: throw BundleException("$where: LoRA tensor $tensorName is not a slot of this backbone")
            if ((want[1] >= 0 && t.shape[1] != want[1]) || (want[0] >= 0 && t.shape[0] != want[0])) {
                throw BundleException("$where: LoRA tensor $tensorName has shape ${t.shape.toList()}, which does not fit its slot")
            }
        }
        val weight = head["weight"]
        if (weight != null && weight.shape[1] != bundle.hiddenSize) {
            throw BundleException("$where: head width ${weight.shape[1]} is not the backbone's hidden size ${bundle.hiddenSize}")
        }
    }

    companion object {
        private const val MAX_BYTES = 512L * 1024 * 1024

        fun read(bytes: ByteArray, where: String): AdapterArchive {
            if (bytes.size > MAX_BYTES) throw BundleException("$where: larger than 512 MiB")
            // the canonical layout first: local headers and central directory agree, nothing else in the file
            val members = CanonicalZip.members(bytes, where)
            val manifestBytes = members["manifest.json"] ?: throw BundleException("$where: no manifest.json (not an .mtpfa adapter)")
            val m = try { JSONObject(String(manifestBytes, Charsets.UTF_8)) } catch (e: JSONException) {
                throw BundleException("$where: manifest.json is not JSON")
            }
            try {
                if (m.optString("format") != "mtpf-adapter" || m.optInt("version") != 2) {
                    throw BundleException("$where: manifest format/version is not mtpf-adapter 2")
                }
                val declared = m.getJSONObject("members")
                if (declared.keys().asSequence().toSet() != members.keys - "manifest.json") {
                    throw BundleException("$where: manifest.members does not list exactly the archive's tensor members")
                }
                for (member in declared.keys()) {
                    val info = declared.getJSONObject(member)
                    val data = members.getValue(member)
                    if (data.size.toLong() != info.getLong("bytes") || sha256Hex(data) != info.getString("sha256")) {
                        throw BundleException("$where: member $member does not match its size/sha256 in the manifest")
                    }
                }
                val task = m.getString("task")
                if (task !in setOf("ner", "tc", "lora")) throw BundleException("$where: task $task is not ner, tc or lora")
                val headKind = if (m.isNull("head")) "none" else m.getString("head")
                val pooling = if (m.isNull("pooling")) "none" else m.getString("pooling")
                if (headKind !in setOf("linear", "logistic-regression", "none") || pooling !in setOf("mean", "none")) {
                    // e.g. a PEFT SEQ_CLS head (pooler on [CLS]): refused by name, never run another way
                    throw BundleException("$where: a '$headKind' head with '$pooling' pooling is not run by this core")
                }
                val labels = toStrings(m.getJSONArray("labels"))
                checkLabels(task, labels, where)
                val lora = members["lora.safetensors"]?.let { Safetensors.read(it, "$where: lora.safetensors") } ?: emptyMap()
                val head = members["head.safetensors"]?.let { Safetensors.read(it, "$where: head.safetensors") } ?: emptyMap()
                if (task != "lora") {
                    val w = head["weight"] ?: throw BundleException("$where: no head weight for a $task adapter")
                    val b = head["bias"] ?: throw BundleException("$where: no head bias for a $task adapter")
                    if (w.shape.size != 2 || w.shape[0] != labels.size || b.shape.toList() != listOf(labels.size)) {
                        throw BundleException("$where: head shapes do not match the ${labels.size} labels")
                    }
                }
                return AdapterArchive(m.getString("name"), task, labels, m.getInt("max_length"), m.getBoolean("normalize"),
                    m.getJSONObject("backbone").getString("weights_sha256"), lora, head)
            } catch (e: JSONException) {
                throw BundleException("$where: manifest.json is missing a field or has a wrong type (${e.message})")
            }
        }

        private fun toStrings(a: JSONArray): List<String> = (0 until a.length()).map { a.getString(it) }

        /** The label rules of the Python reader (formats/tasks.py check_labels, adapter_file.py). */
        private fun checkLabels(task: String, labels: List<String>, where: String) {
            for (l in labels) {
                val bad = l.isEmpty() || l.any { val t = Character.getType(it)
                    t == Character.CONTROL.toInt() || t == Character.FORMAT.toInt() ||
                        t == Character.LINE_SEPARATOR.toInt() || t == Character.PARAGRAPH_SEPARATOR.toInt() }
                if (bad) throw BundleException("$where: a label is empty or holds a control or formatting character")
            }
            if (labels.toSet().size != labels.size) throw BundleException("$where: labels repeat")
            if (task == "ner") {
                if ("O" !in labels) throw BundleException("$where: an ner adapter's labels must include O")
                val tags = labels.filter { it != "O" }
                if (tags.any { it.length < 3 || !(it.startsWith("B-") || it.startsWith("I-")) }) {
                    throw BundleException("$where: an ner adapter's labels must be IOB2 tags (O, B-TYPE, I-TYPE)")
                }
                if (tags.map { it.substring(2) }.toSet().any { "B-$it" !in labels || "I-$it" !in labels }) {
                    throw BundleException("$where: an ner adapter needs both B- and I- tags of each entity type")
                }
            }
            if (task == "tc" && labels.size < 2) throw BundleException("$where: a tc adapter needs at least 2 classes")
        }
    }
}

/** int8 LoRA feeds for an int8 backbone: symmetric per-column quantisation (formats/lora_int8.py). */
object LoraInt8 {
    class Quantized(val q: ByteArray, val scale: FloatArray)

    /** ``w`` [rows][cols] ≈ q * scale[col], q in [-127, 127]. */
    fun quantizeColumns(w: Array<FloatArray>): Quantized {
        val rows = w.size
        val cols = if (rows == 0) 0 else w[0].size
        val scale = FloatArray(cols) { c -> var peak = 0f; for (r in 0 until rows) peak = maxOf(peak, Math.abs(w[r][c])); (peak.toDouble() / 127.0).toFloat() }
        val q = ByteArray(rows * cols)
        for (r in 0 until rows) for (c in 0 until cols) {
            val safe = if (scale[c] > 0f) scale[c] else 1f
            q[r * cols + c] = Math.max(-127.0, Math.min(127.0, Math.rint((w[r][c] / safe).toDouble()))).toInt().toByte()
        }
        return Quantized(q, scale)
    }

    fun transpose(t: Tensor): Array<FloatArray> = Array(t.shape[1]) { c -> FloatArray(t.shape[0]) { r -> t.data[r * t.shape[1] + c] } }
}
