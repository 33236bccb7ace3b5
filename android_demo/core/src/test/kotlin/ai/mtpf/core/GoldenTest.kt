package ai.mtpf.core

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/** The core against golden vectors the Python runtime wrote (scripts/android_golden.py). */
class GoldenTest {
    private val resources = File(System.getProperty("golden.dir", "src/test/resources"))
    private val golden = JSONObject(File(resources, "golden.json").readText())
    private val bundle = BundleManifest(File(resources, "bundle/manifest.json").readText())
    private val tokenizer = WordPieceTokenizer(File(resources, "bundle/${bundle.tokenizerFile}").readText())
    private val cases = golden.getJSONArray("cases")

    private fun adapter(name: String): AdapterArchive {
        val where = "adapter $name"
        val a = AdapterArchive.read(File(resources, "bundle/${bundle.adapters.getValue(name)}").readBytes(), where)
        a.checkFits(bundle, where)
        return a
    }

    private fun ints(a: JSONArray) = IntArray(a.length()) { a.getInt(it) }
    private fun floats(a: JSONArray) = FloatArray(a.length()) { a.getDouble(it).toFloat() }
    private fun matrix(a: JSONArray) = Array(a.length()) { floats(a.getJSONArray(it)) }

    @Test fun tokenizerMatchesPythonIdsOffsetsAndWords() {
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val text = c.getString("text")
            val enc = tokenizer.encode(text)
            assertEquals("ids of ${JSONObject.quote(text)}", ints(c.getJSONArray("ids")).toList(), enc.ids.toList())
            val offsets = c.getJSONArray("offsets")
            assertEquals("offsets of ${JSONObject.quote(text)}", (0 until offsets.length()).map { ints(offsets.getJSONArray(it)).toList() },
                enc.offsets.map { it.toList() })
            assertEquals("words of ${JSONObject.quote(text)}", ints(c.getJSONArray("word_index")).toList(), enc.wordIndex.toList())
            val spans = c.getJSONArray("word_spans")
            assertEquals((0 until spans.length()).map { ints(spans.getJSONArray(it)).toList() }, enc.wordSpans.map { it.toList() })
        }
    }

    @Test fun longTextHasMoreThan512SubwordsAndManyWindows() {
        val long = (0 until cases.length()).map { cases.getJSONObject(it) }.maxBy { it.getJSONArray("ids").length() }!!
        assertTrue(long.getJSONArray("ids").length() > 512)
        assertTrue(long.getJSONObject("ner").getJSONArray("windows").length() > 10)
    }

    @Test fun windowsMatchPython() {
        val size = golden.getInt("max_length") - 2
        assertEquals(golden.getInt("stride"), Windows.defaultStride(size))
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val n = c.getJSONArray("ids").length()
            val expected = c.getJSONObject("ner").getJSONArray("windows")
            val got = if (n == 0) emptyList() else Windows.windows(n, size, Windows.defaultStride(size))
            assertEquals((0 until expected.length()).map { ints(expected.getJSONArray(it)).toList() }, got.map { it.toList() })
        }
    }

    private fun assertEntities(expected: JSONArray, got: List<Entity>, what: String) {
        assertEquals("entity count of $what", expected.length(), got.size)
        for (k in 0 until expected.length()) {
            val e = expected.getJSONObject(k)
            val g = got[k]
            assertEquals(what, e.getString("text"), g.text)
            assertEquals(what, e.getString("label"), g.label)
            assertEquals(what, e.getInt("start"), g.start)
            assertEquals(what, e.getInt("end"), g.end)
            assertEquals(what, e.getDouble("score"), g.score, 1e-5)
        }
    }

    @Test fun nerDecodingMatchesPythonOnRandomLogits() {
        val labels = adapter("ner").labels
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val text = c.getString("text")
            val enc = tokenizer.encode(text)
            val d = c.getJSONObject("decode")
            val got = if (enc.ids.isEmpty()) emptyList() else NerDecoder.decode(text, enc, matrix(d.getJSONArray("logits")), labels)
            assertEntities(d.getJSONArray("entities"), got, JSONObject.quote(text))
        }
    }

    @Test fun nerWindowsAndDecodingMatchTheRuntime() {
        val ner = adapter("ner")
        val size = minOf(ner.maxLength, bundle.maxLength) - 2
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val text = c.getString("text")
            val enc = tokenizer.encode(text)
            val n = c.getJSONObject("ner")
            if (enc.ids.isEmpty()) { assertEquals(0, n.getJSONArray("entities").length()); continue }
            val spans = Windows.windows(enc.ids.size, size, Windows.defaultStride(size))
            val windowLogits = n.getJSONArray("logits")
            val pick = Windows.bestWindowPerToken(enc.ids.size, spans)
            val logits = Array(enc.ids.size) { t -> floats(windowLogits.getJSONArray(pick[t][0]).getJSONArray(pick[t][1])) }
            assertEntities(n.getJSONArray("entities"), NerDecoder.decode(text, enc, logits, ner.labels), JSONObject.quote(text))
        }
    }

    @Test fun classificationMatchesTheRuntime() {
        val tc = adapter("tc")
        val weight = tc.head.getValue("weight").rows()
        val bias = tc.head.getValue("bias").data
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i).getJSONObject("tc")
            val text = cases.getJSONObject(i).getString("text")
            val enc = tokenizer.encode(text)
            val limit = minOf(tc.maxLength, bundle.maxLength) - 2
            val row = listOf(tokenizer.clsId) + enc.ids.take(limit).toList() + listOf(tokenizer.sepId)
            assertEquals(ints(c.getJSONArray("row")).toList(), row)
            val probs = Classifier.probabilities(Classifier.meanPool(matrix(c.getJSONArray("hidden")), tc.normalize), weight, bias)
            val expected = floats(c.getJSONArray("probabilities"))
            for (k in probs.indices) assertEquals(expected[k], probs[k], 2e-5f)
            assertEquals(c.getString("label"), tc.labels[probs.indices.maxBy { probs[it] }!!])
        }
    }

    @Test fun int8QuantisationMatchesPython() {
        val spec = golden.getJSONObject("int8")
        val a = adapter("ner").lora.getValue(spec.getString("tensor"))
        val q = LoraInt8.quantizeColumns(LoraInt8.transpose(a))
        val expected = spec.getJSONArray("q")
        val flat = (0 until expected.length()).flatMap { r -> ints(expected.getJSONArray(r)).toList() }
        assertEquals(flat, q.q.map { it.toInt() })
        val scale = floats(spec.getJSONArray("scale"))
        for (k in scale.indices) assertEquals(scale[k], q.scale[k], 1e-9f)
    }

    @Test fun adapterForAnotherBackboneIsRefusedWithAClearMessage() {
        val other = BundleManifest(File(resources, "bundle/manifest.json").readText()
            .replace(bundle.weightsSha256, "0".repeat(64)))
        val a = AdapterArchive.read(File(resources, "bundle/adapters/ner.mtpfa").readBytes(), "ner.mtpfa")
        try {
            a.checkFits(other, "ner.mtpfa")
            fail("a mismatched backbone hash was accepted")
        } catch (e: BundleException) {
            assertTrue(e.message!!, e.message!!.contains("made for backbone ${bundle.weightsSha256.take(12)}"))
        }
    }

    @Test fun tamperedAdapterIsRefused() {
        val bytes = File(resources, "bundle/adapters/tc.mtpfa").readBytes()
        bytes[bytes.size / 2] = (bytes[bytes.size / 2] + 1).toByte()
        try {
            AdapterArchive.read(bytes, "tc.mtpfa")
            fail("a tampered adapter was accepted")
        } catch (e: BundleException) {
            assertTrue(e.message!!, e.message!!.startsWith("tc.mtpfa: "))
        }
        try {
            AdapterArchive.read("not a zip".toByteArray(), "x.mtpfa")
            fail("garbage was accepted")
        } catch (e: BundleException) {
            assertTrue(e.message!!, e.message!!.contains("x.mtpfa"))
        }
    }
}

