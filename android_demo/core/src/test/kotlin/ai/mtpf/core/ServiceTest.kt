package ai.mtpf.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * The service's logic (BackboneHost) with an engine that can be told to fail or to block: grants per
 * package, adapters registered by one app invisible to others, quotas, the input cap, typed errors,
 * one bad adapter refused alone, cancellation, a close that waits, bounded replies, and the AIDL's
 * error codes equal to the core's.
 */
class ServiceTest {
    private val resources = File(System.getProperty("golden.dir", "src/test/resources"))
    private val dir = File(resources, "bundle")
    private val manifest = BundleManifest(File(dir, "manifest.json").readText())
    private val tokenizer = WordPieceTokenizer(File(dir, manifest.tokenizerFile).readText())
    private val nerBytes = File(dir, "adapters/ner.mtpfa").readBytes()
    private val tcBytes = File(dir, "adapters/tc.mtpfa").readBytes()

    /** Hidden states from a fixed pattern; can refuse loads, fail runs, or block until released. */
    private inner class FakeEngine : BackboneEngine {
        val failLoad = HashSet<String>()
        val failRun = HashSet<String>()
        @Volatile var gate: CountDownLatch? = null
        val entered = AtomicInteger()
        @Volatile var closed = false

        inner class A(val name: String) : EngineAdapter { override fun close() {} }

        override fun loadAdapter(name: String, onnxAdapter: ByteArray?): EngineAdapter {
            if (name in failLoad) throw EngineException("ORT could not load $name")
            return A(name)
        }

        override fun hidden(ids: IntArray, adapter: EngineAdapter, cancel: CancelSignal): Array<FloatArray> {
            check(!closed) { "engine used after close" }
            if ((adapter as A).name in failRun) throw EngineException("run failed for ${adapter.name}")
            entered.incrementAndGet()
            gate?.let { g ->
                val released = CountDownLatch(1)
                val unhook = cancel.onCancel { released.countDown() }
                while (!g.await(5, TimeUnit.MILLISECONDS)) if (released.await(0, TimeUnit.MILLISECONDS)) { unhook(); throw EngineException("terminated") }
                unhook()
            }
            return Array(ids.size) { t -> FloatArray(manifest.hiddenSize) { j -> ((ids[t] * 31 + j * 7) % 13) / 13f - 0.5f } }
        }

        override fun close() { closed = true }
    }

    private var clock = 0L
    private fun host(engine: FakeEngine = FakeEngine(), policy: ServicePolicy = ServicePolicy(grants = mapOf("com.example.mail" to setOf("ner")))): BackboneHost {
        val h = BackboneHost(manifest, tokenizer, engine, null, policy, "ai.mtpf.demo") { clock }
        h.addBundleAdapter("ner", nerBytes, null, "adapters/ner.mtpfa")
        h.addBundleAdapter("tc", tcBytes, null, "adapters/tc.mtpfa")
        engine.entered.set(0)  // the load-time test runs do not count
        return h
    }

    @Test fun grantsDecideWhichBundleAdaptersAPackageMayRun() {
        val h = host()
        assertEquals(ErrorCode.OK, h.run("ai.mtpf.demo", "tc", "hello").error)
        assertEquals(ErrorCode.OK, h.run("com.example.mail", "ner", "Alice in Paris").error)
        assertEquals(ErrorCode.NOT_GRANTED, h.run("com.example.mail", "tc", "hello").error)
        assertEquals(ErrorCode.NOT_GRANTED, h.run("com.other", "ner", "hello").error)
        assertEquals(ErrorCode.NO_SUCH_ADAPTER, h.run("com.example.mail", "nope", "hello").error)
        assertEquals(listOf("ner"), h.adapters("com.example.mail").map { it.name })
        assertEquals(emptyList<String>(), h.adapters("com.other").map { it.name })
        assertEquals(listOf("ner", "tc"), h.adapters("ai.mtpf.demo").map { it.name })
    }

    @Test fun anAdapterAnAppRegistersIsThatAppsAlone() {
        val h = host()
        assertEquals(ErrorCode.OK, h.register("com.other", "mine", tcBytes, null).error)
        assertEquals(ErrorCode.OK, h.run("com.other", "mine", "hello").error)
        assertEquals(listOf("mine"), h.adapters("com.other").map { it.name })
        assertTrue(h.adapters("com.other").single().ownedByCaller)
        assertEquals(ErrorCode.NO_SUCH_ADAPTER, h.run("com.example.mail", "mine", "hello").error)
        assertEquals(ErrorCode.NO_SUCH_ADAPTER, h.run("ai.mtpf.demo", "mine", "hello").error)
        // a registered name that shadows a bundle adapter only shadows it for its owner
        assertEquals(ErrorCode.OK, h.register("com.other", "ner", tcBytes, null).error)
        assertEquals("tc", h.run("com.other", "ner", "hello").task)
        assertEquals("ner", h.run("com.example.mail", "ner", "hello").task)
    }

    @Test fun badNamesAndBadFilesAreRefusedWithAReason() {
        val h = host()
        for (name in listOf("../evil", "a/b", "", ".hidden", "x".repeat(65))) {
            val r = h.register("com.other", name, tcBytes, null)
            assertEquals(name, ErrorCode.ADAPTER_REFUSED, r.error)
            assertTrue(r.message, r.message.contains("is not 1-64 of"))
        }
        val r = h.register("com.other", "junk", "not a zip".toByteArray(), null)
        assertEquals(ErrorCode.ADAPTER_REFUSED, r.error)
        assertTrue(r.message, r.message.startsWith("adapter junk from com.other: "))
    }

    @Test fun oneAdapterTheEngineCannotLoadOrRunIsRefusedAlone() {
        val engine = FakeEngine().apply { failLoad.add("ner"); failRun.add("tc") }
        val h = host(engine)
        assertEquals(setOf("ner", "tc"), h.refused.keys)
        assertEquals("ORT could not load ner", h.refused["ner"])
        assertEquals("run failed for tc", h.refused["tc"])  // the load-time test run caught it
        assertEquals(ErrorCode.ADAPTER_REFUSED, h.run("ai.mtpf.demo", "ner", "x").error)
        val ok = FakeEngine().apply { failLoad.add("ner") }
        val h2 = host(ok)
        assertEquals(setOf("ner"), h2.refused.keys)
        assertEquals(ErrorCode.OK, h2.run("ai.mtpf.demo", "tc", "x").error)
        ok.failRun.add("tc")  // fails later, at run time: a typed error for that request only
        val r = h2.run("ai.mtpf.demo", "tc", "x")
        assertEquals(ErrorCode.RUN_FAILED, r.error)
        assertTrue(r.message, r.message.contains("run failed for tc"))
    }

    @Test fun inputLengthIsCapped() {
        val h = host(policy = ServicePolicy(maxInputChars = 10))
        assertEquals(ErrorCode.OK, h.run("ai.mtpf.demo", "ner", "0123456789").error)
        val r = h.run("ai.mtpf.demo", "ner", "01234567890")
        assertEquals(ErrorCode.INPUT_TOO_LONG, r.error)
        assertTrue(r.message, r.message.contains("11 chars") && r.message.contains("at most 10"))
    }

    @Test fun requestsPerMinuteArePerPackageAndSlide() {
        val h = host(policy = ServicePolicy(grants = mapOf("com.a" to setOf("tc"), "com.b" to setOf("tc")), requestsPerMinute = 3))
        repeat(3) { assertEquals(ErrorCode.OK, h.run("com.a", "tc", "x").error) }
        assertEquals(ErrorCode.QUOTA_EXCEEDED, h.run("com.a", "tc", "x").error)
        assertEquals(ErrorCode.OK, h.run("com.b", "tc", "x").error)
        clock += 61_000_000_000L
        assertEquals(ErrorCode.OK, h.run("com.a", "tc", "x").error)
    }

    @Test(timeout = 20000) fun concurrentRequestsArePerPackageAndOneSlowClientBlocksNoOther() {
        val engine = FakeEngine()
        val h = host(engine, ServicePolicy(grants = mapOf("com.a" to setOf("tc"), "com.b" to setOf("tc")), maxConcurrent = 1))
        engine.gate = CountDownLatch(1)
        val slow = Thread { h.run("com.a", "tc", "x") }.apply { start() }
        while (engine.entered.get() == 0) Thread.sleep(1)
        assertEquals(ErrorCode.QUOTA_EXCEEDED, h.run("com.a", "tc", "x").error)
        // com.b is not held up by com.a's running request (no global lock around a run)
        val other = Thread { assertEquals(ErrorCode.OK, h.run("com.b", "tc", "x").error) }
        other.start()
        while (engine.entered.get() < 2) Thread.sleep(1)
        engine.gate!!.countDown()
        slow.join(); other.join()
    }

    @Test(timeout = 20000) fun aCancelledRequestStopsWithCancelled() {
        val engine = FakeEngine()
        val h = host(engine)
        engine.gate = CountDownLatch(1)
        val cancel = CancelSignal()
        var reply: Reply? = null
        val t = Thread { reply = h.run("ai.mtpf.demo", "ner", "Alice went to Paris", cancel) }.apply { start() }
        while (engine.entered.get() == 0) Thread.sleep(1)
        cancel.cancel()  // what the binder death recipient does
        t.join(5000)
        assertEquals(ErrorCode.CANCELLED, reply!!.error)
    }

    @Test(timeout = 20000) fun closeWaitsForRunningRequestsAndRefusesNewOnes() {
        val engine = FakeEngine()
        val h = host(engine)
        engine.gate = CountDownLatch(1)
        var reply: Reply? = null
        val running = Thread { reply = h.run("ai.mtpf.demo", "tc", "x") }.apply { start() }
        while (engine.entered.get() == 0) Thread.sleep(1)
        val closer = Thread { h.close() }.apply { start() }
        Thread.sleep(50)
        assertTrue("close did not wait for the running request", closer.isAlive && !engine.closed)
        assertEquals(ErrorCode.SERVICE_CLOSED, h.run("ai.mtpf.demo", "tc", "x").error)
        engine.gate!!.countDown()
        running.join(); closer.join()
        assertEquals(ErrorCode.OK, reply!!.error)
        assertTrue(engine.closed)
    }

    @Test fun theWorstCaseReplyStaysFarBelowTheBinderLimit() {
        val many = (0 until 2000).map { EntityOut("L".repeat(Limits.LABEL_CHARS), "x".repeat(Limits.ENTITY_TEXT_CHARS), it, it + 1, 1f) }
        val worst = Reply(ErrorCode.OK, task = "ner", entities = many.take(Limits.MAX_ENTITIES), entitiesDropped = 2000 - Limits.MAX_ENTITIES)
        assertEquals(110_738, worst.parcelBytesBound())  // the number android_demo/README.md gives
        assertTrue("${worst.parcelBytesBound()} bytes", worst.parcelBytesBound() < Limits.MAX_REPLY_BYTES)
        // the host clips: a text full of entities yields at most MAX_ENTITIES, each text at most ENTITY_TEXT_CHARS
        val h = host(policy = ServicePolicy(maxInputChars = 1 shl 20))
        val text = (0 until 3000).joinToString(" ") { "Alice" }
        val r = h.run("ai.mtpf.demo", "ner", text)
        assertEquals(ErrorCode.OK, r.error)
        assertTrue(r.entities.size <= Limits.MAX_ENTITIES)
        assertTrue(r.entities.all { it.text.length <= Limits.ENTITY_TEXT_CHARS })
        assertTrue(r.parcelBytesBound() < Limits.MAX_REPLY_BYTES)
    }

    @Test fun policyFilesAreValidated() {
        val p = ServicePolicy.parse("""{"format": "mtpf-service-policy", "version": 1, "grants": {"com.example.mail": ["ner"]}, "max_concurrent": 3}""", "policy.json")
        assertTrue(p.granted("com.example.mail", "ner"))
        assertEquals(3, p.maxConcurrent)
        for ((json, why) in listOf("""{"format": "x", "version": 1}""" to "format", """{"format": "mtpf-service-policy", "version": 2}""" to "version",
                """{"format": "mtpf-service-policy", "version": 1, "grants": {"../x": []}}""" to "not an Android package",
                """{"format": "mtpf-service-policy", "version": 1, "max_input_chars": 0}""" to "positive", "nope" to "policy.json")) {
            try {
                ServicePolicy.parse(json, "policy.json")
                throw AssertionError("accepted $json")
            } catch (e: BundleException) {
                assertTrue(e.message!!, e.message!!.startsWith("policy.json: ") && e.message!!.contains(why))
            }
        }
    }

    @Test fun theAidlErrorCodesAreTheCoresErrorCodes() {
        val aidl = File(System.getProperty("aidl.dir", "../app/src/main/aidl"), "ai/mtpf/demo/IBackboneService.aidl").readText()
        val declared = Regex("const int ERROR_([A-Z_]+) = (\\d+);").findAll(aidl).associate { it.groupValues[1] to it.groupValues[2].toInt() }
        val core = ErrorCode.values().associate { (if (it == ErrorCode.OK) "NONE" else it.name) to it.code }
        assertEquals(core, declared)
    }
}
