package ai.mtpf.core

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * The real ONNX Runtime (the C library of the APK's release, through JNA) on the committed bundles, with
 * the ONNX Runtime adapter files the Kotlin core writes, against what the Python runtime computed
 * (golden.json): fp32 hidden states to 1e-5, the same entities and labels, fp32 and int8; and the
 * controls that show these comparisons can fail (another adapter, no adapter, the other precision).
 */
class OrtRuntimeTest {
    private val resources = File(System.getProperty("golden.dir", "src/test/resources"))
    private val golden = JSONObject(File(resources, "golden.json").readText())
    private val cases = golden.getJSONArray("cases")

    private class Bundle(val dir: File) {
        val manifest = BundleManifest(File(dir, "manifest.json").readText(), "${dir.name}/manifest.json")
        val tokenizer = WordPieceTokenizer(File(dir, manifest.tokenizerFile).readText())
        val model: ByteArray = File(dir, manifest.backboneFile).readBytes().also {
            assertEquals("${dir.name}: backbone sha256", manifest.backboneFileSha256, sha256Hex(it))
        }
        fun adapter(name: String) = AdapterArchive.read(File(dir, manifest.adapters.getValue(name)).readBytes(), name).also { it.checkFits(manifest, name) }
        fun engine() = JnaOrtEngine(model, manifest.onnxruntime)
        fun host(engine: BackboneEngine = engine()) = BackboneHost(manifest, tokenizer, engine, null, ServicePolicy(maxInputChars = 1 shl 20), "ai.mtpf.demo").also { h ->
            for ((name, rel) in manifest.adapters) h.addBundleAdapter(name, File(dir, rel).readBytes(), null, rel)
        }
    }

    private val fp32 = Bundle(File(resources, "bundle"))
    private val int8 = Bundle(File(resources, "bundle_int8"))

    private fun ortFile(b: Bundle, name: String, int8Form: Boolean) = OrtAdapterFormat.write(OrtAdapterFormat.slotParams(b.adapter(name).lora, int8Form))
    private fun floats(a: JSONArray) = FloatArray(a.length()) { a.getDouble(it).toFloat() }

    /** Largest |difference| between NER window logits computed here and the golden ones, over all cases. */
    private fun nerLogitDiff(engine: BackboneEngine, adapter: EngineAdapter): Double {
        val ner = fp32.adapter("ner")
        val w = ner.head.getValue("weight").rows()
        val bias = ner.head.getValue("bias").data
        var worst = 0.0
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val ids = c.getJSONArray("ids").let { a -> IntArray(a.length()) { a.getInt(it) } }
            val windows = c.getJSONObject("ner").getJSONArray("windows")
            val expected = c.getJSONObject("ner").getJSONArray("logits")
            for (k in 0 until windows.length()) {
                val s = windows.getJSONArray(k)
                val row = intArrayOf(fp32.tokenizer.clsId) + ids.copyOfRange(s.getInt(0), s.getInt(1)) + intArrayOf(fp32.tokenizer.sepId)
                val h = engine.hidden(row, adapter, CancelSignal())
                for (t in 0 until row.size - 2) {
                    val want = floats(expected.getJSONArray(k).getJSONArray(t))
                    for (cls in bias.indices) {
                        var z = bias[cls]
                        for (j in h[t + 1].indices) z += w[cls][j] * h[t + 1][j]
                        worst = maxOf(worst, Math.abs((z - want[cls]).toDouble()))
                    }
                }
            }
        }
        return worst
    }

    private fun tcHiddenDiff(engine: BackboneEngine, adapter: EngineAdapter): Double {
        var worst = 0.0
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i).getJSONObject("tc")
            val row = c.getJSONArray("row").let { a -> IntArray(a.length()) { a.getInt(it) } }
            val h = engine.hidden(row, adapter, CancelSignal())
            val want = c.getJSONArray("hidden")
            for (t in row.indices) {
                val w = floats(want.getJSONArray(t))
                for (j in w.indices) worst = maxOf(worst, Math.abs((h[t][j] - w[j]).toDouble()))
            }
        }
        return worst
    }

    @Test fun theLibraryIsTheAarRelease() {
        assertEquals(System.getProperty("ort.version"), JnaOrtEngine.version)
    }

    @Test fun fp32HiddenStatesMatchThePythonRuntimeAndTheControlsDoNot() {
        fp32.engine().use { engine ->
            val ner = engine.loadAdapter("ner", ortFile(fp32, "ner", false))
            val tc = engine.loadAdapter("tc", ortFile(fp32, "tc", false))
            val none = engine.loadAdapter("none", null)
            val nerDiff = nerLogitDiff(engine, ner)
            val tcDiff = tcHiddenDiff(engine, tc)
            assertTrue("NER logits differ from the Python runtime's by $nerDiff", nerDiff <= 1e-5)
            assertTrue("TC hidden states differ from the Python runtime's by $tcDiff", tcDiff <= 1e-5)
            // controls: another adapter's LoRA, or none, must not match
            val wrong = nerLogitDiff(engine, tc)
            val bare = tcHiddenDiff(engine, none)
            assertTrue("the tc adapter reproduced the ner logits (diff $wrong): the comparison cannot fail", wrong > 1e-3)
            assertTrue("no adapter reproduced the tc hidden states (diff $bare)", bare > 1e-3)
            for (a in listOf(ner, tc, none)) a.close()
        }
    }

    @Test fun adapterFilesOfTheOtherPrecisionAreRefusedByOnnxRuntime() {
        for ((bundle, int8Form) in listOf(fp32 to true, int8 to false)) {
            bundle.engine().use { engine ->
                try {
                    val a = engine.loadAdapter("ner", ortFile(bundle, "ner", int8Form))
                    engine.hidden(intArrayOf(bundle.tokenizer.clsId, bundle.tokenizer.sepId), a, CancelSignal())
                    fail("${bundle.dir.name}: an adapter file in the other precision ran")
                } catch (e: EngineException) {
                    // fp32 bundle: the int8 form's ".scale" inputs do not exist; int8 bundle: fp32 where int8 is expected
                    assertTrue(e.message!!, e.message!!.contains("Invalid input name") || e.message!!.contains("Unexpected input data type"))
                }
            }
        }
    }

    private fun entities(list: JSONArray) = (0 until list.length()).map { list.getJSONObject(it) }

    /** The host's reply (UTF-16 offsets) against golden entities (code-point offsets). */
    private fun assertSameEntities(text: String, expected: List<JSONObject>, got: Reply, scoreTolerance: Double, what: String) {
        assertEquals("$what: ${got.message}", ErrorCode.OK, got.error)
        assertEquals("$what: entities of ${JSONObject.quote(text)}", expected.map { it.getString("label") to it.getString("text") },
            got.entities.map { it.label to it.text })
        for ((e, g) in expected.zip(got.entities)) {
            assertEquals(what, text.offsetByCodePoints(0, e.getInt("start")), g.start)
            assertEquals(what, text.offsetByCodePoints(0, e.getInt("end")), g.end)
            assertEquals(what, e.getDouble("score"), g.score.toDouble(), scoreTolerance)
        }
    }

    @Test fun theServiceLogicOnTheRealRuntimeGivesThePythonEntitiesAndLabels() {
        fp32.host().use { host ->
            assertTrue(host.refused.toString(), host.refused.isEmpty())
            val tcLabels = fp32.adapter("tc").labels
            for (i in 0 until cases.length()) {
                val c = cases.getJSONObject(i)
                val text = c.getString("text")
                assertSameEntities(text, entities(c.getJSONObject("ner").getJSONArray("entities")), host.run("ai.mtpf.demo", "ner", text), 1e-4, "fp32")
                val r = host.run("ai.mtpf.demo", "tc", text)
                assertEquals(c.getJSONObject("tc").getString("label"), r.label)
                val probs = floats(c.getJSONObject("tc").getJSONArray("probabilities"))
                for ((label, p) in r.topLabels.zip(r.topProbabilities)) assertEquals(probs[tcLabels.indexOf(label)], p, 1e-5f)
            }
        }
    }

    /** int8 kernels of ONNX Runtime 1.29 (here) and the Python runtime's release round differently: the
     *  same entities and labels, scores within this (a 1e-3 bound failed on one score, off by 1.1e-3) */
    private val INT8_TOLERANCE = 5e-3

    @Test fun int8BundleGivesThePythonRuntimesEntitiesAndLabels() {
        val g = golden.getJSONObject("int8_bundle")
        assertEquals("int8", int8.manifest.loraPrecision)
        val tcLabels = int8.adapter("tc").labels
        var differsFromFp32 = false
        int8.host().use { host ->
            assertTrue(host.refused.toString(), host.refused.isEmpty())
            for (i in 0 until cases.length()) {
                val text = cases.getJSONObject(i).getString("text")
                val want = g.getJSONArray("cases").getJSONObject(i)
                val expected = entities(want.getJSONArray("entities"))
                assertSameEntities(text, expected, host.run("ai.mtpf.demo", "ner", text), INT8_TOLERANCE, "int8")
                val r = host.run("ai.mtpf.demo", "tc", text)
                assertEquals(want.getString("label"), r.label)
                val probs = floats(want.getJSONArray("probabilities"))
                for ((label, p) in r.topLabels.zip(r.topProbabilities)) assertEquals(probs[tcLabels.indexOf(label)].toDouble(), p.toDouble(), INT8_TOLERANCE)
                val fp32Entities = entities(cases.getJSONObject(i).getJSONObject("ner").getJSONArray("entities"))
                if (fp32Entities.map { it.getString("text") } != expected.map { it.getString("text") }) differsFromFp32 = true
            }
        }
        assertTrue("the int8 golden entities equal the fp32 ones everywhere: this test could not tell the precisions apart", differsFromFp32)
    }

    @Test fun oneBrokenAdapterIsRefusedAloneWithItsReason() {
        val engine = fp32.engine()
        BackboneHost(fp32.manifest, fp32.tokenizer, engine, null, ServicePolicy(), "ai.mtpf.demo").use { host ->
            host.addBundleAdapter("ner", File(fp32.dir, "adapters/ner.mtpfa").readBytes(), null, "adapters/ner.mtpfa")
            val broken = File(fp32.dir, "adapters/tc.mtpfa").readBytes().also { it[it.size / 2] = (it[it.size / 2] + 1).toByte() }
            host.addBundleAdapter("tc", broken, null, "adapters/tc.mtpfa")
            assertEquals(setOf("tc"), host.refused.keys)
            assertTrue(host.refused.getValue("tc"), host.refused.getValue("tc").startsWith("adapters/tc.mtpfa: "))
            assertEquals(ErrorCode.OK, host.run("ai.mtpf.demo", "ner", "Alice Smith went to Paris.").error)
            assertEquals(ErrorCode.ADAPTER_REFUSED, host.run("ai.mtpf.demo", "tc", "Alice").error)
        }
    }

    @Test fun aCancelledRequestIsTerminatedInsideOnnxRuntime() {
        fp32.engine().use { engine ->
            val a = engine.loadAdapter("ner", ortFile(fp32, "ner", false))
            val cancel = CancelSignal().apply { cancel() }
            try {
                engine.hidden(intArrayOf(fp32.tokenizer.clsId, fp32.tokenizer.sepId), a, cancel)
                fail("a run whose RunOptions were terminated completed")
            } catch (e: EngineException) {
                assertTrue(e.message!!, e.message!!.contains("terminate", ignoreCase = true))
            }
        }
    }

    @Test fun sessionSettingsComeFromTheManifestAndAreValidated() {
        val s = fp32.manifest.onnxruntime
        assertEquals(mapOf("optimization.disable_specified_optimizers" to "SkipLayerNormFusion"), s.sessionConfig)
        assertEquals("all", s.graphOptimizationLevel)
        assertEquals(3, s.logSeverityLevel)
        val text = File(fp32.dir, "manifest.json").readText()
        val m = JSONObject(text)
        m.getJSONObject("backbone").getJSONObject("onnxruntime").put("graph_optimization_level", "max")
        try {
            BundleManifest(m.toString(), "manifest.json")
            fail("an unknown graph optimisation level was accepted")
        } catch (e: BundleException) {
            assertTrue(e.message!!, e.message!!.contains("graph_optimization_level max is not one of disable_all, basic, extended, all"))
        }
        m.getJSONObject("backbone").remove("onnxruntime")
        assertEquals(OrtSettings.DEFAULT.sessionConfig, BundleManifest(m.toString()).onnxruntime.sessionConfig)
    }
}
