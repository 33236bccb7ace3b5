package ai.mtpf.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/** Signatures the Python side made (scripts/signature_fixtures.py): the Kotlin core must accept the good
 *  ones and refuse every other for the same reason the Python verifier gives (tests/formats/test_signature_fixtures.py). */
class SignatureTest {
    private val dir = File(System.getProperty("golden.dir", "src/test/resources"), "signatures")
    private val cases = JSONObject(File(dir, "cases.json").readText())
    private val policy = TrustPolicy(File(dir, "trust.json").readText())
    private val bundle = BundleManifest(File(dir.parentFile, "bundle/manifest.json").readText())

    /** "ok", or the refusal's reason: a policy's reason code, or "wrong-bundle" when the adapter is for another backbone. */
    private fun outcome(bytes: ByteArray, signature: String?, name: String): String {
        return try {
            val archive = policy.load(bytes, signature, name).first
            try { archive.checkFits(bundle, name); "ok" } catch (e: BundleException) { "wrong-bundle" }
        } catch (e: SignatureRefused) {
            assertTrue(e.message!!, e.message!!.startsWith("$name: ") || e.message!!.startsWith("$name.sig: "))
            e.reason
        }
    }

    @Test fun everyCaseGetsThePythonAnswer() {
        assertEquals(cases.getString("backbone_sha256"), bundle.weightsSha256)
        val list = cases.getJSONArray("cases")
        assertTrue(list.length() >= 10)
        for (i in 0 until list.length()) {
            val c = list.getJSONObject(i)
            val name = c.getString("adapter")
            val sig = if (c.isNull("signature")) null else File(dir, c.getString("signature")).readText()
            assertEquals("$name (${c.getString("note")})", c.getString("expect"), outcome(File(dir, name).readBytes(), sig, name))
        }
    }

    @Test fun aVerifiedSignatureSaysWhoSigned() {
        val bytes = File(dir, "good.mtpfa").readBytes()
        val st = policy.load(bytes, File(dir, "good.mtpfa.sig").readText(), "good").second
        assertNotNull(st)
        assertEquals("vendor", st!!.keyName)
        assertEquals(bundle.weightsSha256, st.backboneSha256)
        assertEquals("2026-12-02T00:00:00Z", st.signedAt)
    }

    @Test fun anyFlippedByteOfTheSignedBytesIsRefused() {
        val good = File(dir, "good.mtpfa").readBytes()
        val sig = File(dir, "good.mtpfa.sig").readText()
        for (at in good.indices step 97) {  // refused on the bytes, before any parser sees them
            val bytes = good.copyOf()
            bytes[at] = (bytes[at].toInt() xor 1).toByte()
            try {
                policy.load(bytes, sig, "flipped")
                fail("a flipped byte at $at was accepted")
            } catch (e: SignatureRefused) {
                assertEquals("other-bytes", e.reason)
            }
        }
        // a flipped hex digit of the signature itself
        val doc = JSONObject(sig)
        val hex = doc.getString("signature")
        doc.put("signature", hex.substring(0, 20) + (if (hex[20] == '0') '1' else '0') + hex.substring(21))
        try {
            policy.load(good, doc.toString(), "flipped")
            fail("an altered signature was accepted")
        } catch (e: SignatureRefused) {
            assertEquals("bad-signature", e.reason)
        }
    }

    @Test fun badSignatureAndPolicyDocumentsAreClearErrors() {
        val good = File(dir, "good.mtpfa").readBytes()
        for (doc in listOf("", "{", "[]", "{}", "{\"format\": \"mtpf-adapter-signature\"}", "x".repeat(10000))) {
            try {
                policy.load(good, doc, "bad")
                fail("signature document '${doc.take(20)}' was accepted")
            } catch (e: BundleException) {
                assertTrue(e.message!!, e.message!!.startsWith("bad.sig: "))
            }
        }
        for (doc in listOf("", "{", "{}", "{\"format\": \"mtpf-trust-policy\", \"version\": 1, \"keys\": [{\"name\": \"x\", \"public_key\": \"no\"}]}",
                "{\"format\": \"mtpf-trust-policy\", \"version\": 1, \"keys\": [{\"name\": \"x\", \"public_key\": \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\"}]}",
                "{\"format\": \"mtpf-trust-policy\", \"version\": 1, \"surprise\": true}")) {
            try {
                TrustPolicy(doc, "p.json")
                fail("policy '${doc.take(40)}' was accepted")
            } catch (e: BundleException) {
                assertTrue(e.message!!, e.message!!.startsWith("p.json"))
            }
        }
    }
}
