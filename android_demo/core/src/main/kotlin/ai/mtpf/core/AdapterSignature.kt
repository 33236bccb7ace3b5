package ai.mtpf.core

import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import java.security.GeneralSecurityException
import java.security.KeyFactory
import java.security.PublicKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.X509EncodedKeySpec

/** A trust policy refused an adapter; [reason] is one of the Python side's codes (errors.SignatureRefused). */
class SignatureRefused(val reason: String, message: String) : BundleException(message)

/** What a verified signature says about the adapter (the payload's statement). */
class SignedStatement(val keyName: String, val signer: String, val signedAt: String, val tool: String,
                      val adapterSha256: String, val backboneSha256: String, val name: String, val task: String)

class TrustedKey(val name: String, val keyId: String, val key: PublicKey, val adapters: List<String>, val tasks: List<String>?) {
    /** Adapter-name patterns hold name characters and the wildcards * and ? only (formats/trust.py PATTERN). */
    fun allows(adapter: String, task: String): Boolean =
        adapters.any { glob(it).matches(adapter) } && (tasks == null || task in tasks)

    private fun glob(pattern: String): Regex =
        Regex(pattern.split("*").joinToString(".*") { part -> part.split("?").joinToString(".") { Regex.escape(it) } })
}

/**
 * The trust policy the system vendor ships with the bundle (`trust.json`), and the same verification as
 * the Python runtime (formats/signature.py, formats/trust.py) with the platform's java.security only:
 * a DSSE-style envelope whose ECDSA P-256 / SHA-256 signature (`SHA256withECDSA`, API 1+) covers
 * PAE(payload_type, payload); the payload's statement binds the adapter's sha256, backbone, name and task.
 */
class TrustPolicy(json: String, val where: String = "trust.json") {
    val allowUnsigned: Boolean
    val keys: Map<String, TrustedKey>
    val revokedKeys: Set<String>
    val revokedAdapters: Set<String>

    init {
        try {
            val doc = JSONObject(json)
            if (doc.optString("format") != "mtpf-trust-policy" || doc.opt("version") != 1) {
                throw BundleException("$where: format/version is not mtpf-trust-policy 1")
            }
            val unknown = doc.keys().asSequence().toSet() - setOf("format", "version", "allow_unsigned", "keys", "revoked_keys", "revoked_adapters")
            if (unknown.isNotEmpty()) throw BundleException("$where: unknown field(s) ${unknown.sorted()}")
            allowUnsigned = if (doc.has("allow_unsigned")) doc.get("allow_unsigned") as? Boolean
                ?: throw BundleException("$where: field 'allow_unsigned' must be true or false") else false
            val entries = doc.optJSONArray("keys") ?: JSONArray()
            val read = LinkedHashMap<String, TrustedKey>()
            for (i in 0 until entries.length()) {
                val e = entries.getJSONObject(i)
                val at = "$where: keys[$i]"
                val der = pemBody(e.getString("public_key"), at)
                val key = try {
                    KeyFactory.getInstance("EC").generatePublic(X509EncodedKeySpec(der))
                } catch (x: GeneralSecurityException) {
                    throw BundleException("$at: not an EC public key")
                }
                if (key !is ECPublicKey || key.params.order.bitLength() != 256 || key.params.cofactor != 1) {
                    throw BundleException("$at: the key must be an ECDSA P-256 key")
                }
                val patterns = strings(e.optJSONArray("adapters") ?: JSONArray(listOf("*")), "$at: adapters")
                if (patterns.isEmpty() || patterns.any { !PATTERN.matches(it) }) {
                    throw BundleException("$at: field 'adapters' must be name patterns (letters, digits, '-', '_', * and ?)")
                }
                val tasks = if (e.isNull("tasks")) null else strings(e.getJSONArray("tasks"), "$at: tasks")
                val id = sha256Hex(der)
                read[id] = TrustedKey(e.getString("name"), id, key, patterns, tasks)
            }
            keys = read
            revokedKeys = strings(doc.optJSONArray("revoked_keys") ?: JSONArray(), "$where: revoked_keys").toSet()
            revokedAdapters = strings(doc.optJSONArray("revoked_adapters") ?: JSONArray(), "$where: revoked_adapters").toSet()
            if ((revokedKeys + revokedAdapters).any { !HEX64.matches(it) }) {
                throw BundleException("$where: revoked keys and adapters must be 64-hex-digit sha256 values")
            }
        } catch (e: JSONException) {
            throw BundleException("$where: not a valid trust policy (${e.message})")
        }
    }

    /** A signature that verified over an adapter's bytes; its claims are not yet checked against the manifest. */
    class Verified internal constructor(val key: TrustedKey, internal val statement: JSONObject, val adapterSha256: String)

    /**
     * The checks that need only the adapter file's exact bytes, made before anything parses them: not
     * revoked, signed (or unsigned allowed: null), by a trusted key, a signature that verifies, over
     * exactly these bytes. Throws [SignatureRefused] naming the file and the reason.
     */
    fun verifyBytes(bytes: ByteArray, signatureJson: String?, where: String): Verified? {
        val digest = sha256Hex(bytes)
        if (digest in revokedAdapters) refuse("revoked-adapter", "$where: this adapter (sha256 ${digest.take(16)}…) is revoked by $this")
        if (signatureJson == null) {
            if (allowUnsigned) return null
            refuse("unsigned", "$where: is not signed (no .sig file beside it), and $this accepts signed adapters only")
        }
        val envelope = Envelope(signatureJson, "$where.sig")
        if (envelope.keyId in revokedKeys) refuse("revoked-key", "$where: signed with key ${envelope.keyId.take(16)}…, which $this has revoked")
        val key = keys[envelope.keyId] ?: refuse("unknown-key", "$where: signed with key ${envelope.keyId.take(16)}…, which $this does not trust")
        if (!envelope.verifiesWith(key.key)) {
            refuse("bad-signature", "$where: the signature does not verify with key '${key.name}' (the signature file was altered, or made by another key)")
        }
        val st = envelope.statement("$where.sig")
        if (st.getString("adapter_sha256") != digest) {
            refuse("other-bytes", "$where: the signature by '${key.name}' is over other bytes: the adapter was changed")
        }
        return Verified(key, st, digest)
    }

    /** A verified signature is for the backbone, name and task the parsed adapter declares, and its key may sign them. */
    fun checkClaims(verified: Verified?, archive: AdapterArchive, where: String): SignedStatement? {
        if (verified == null) return null
        val st = verified.statement
        val key = verified.key
        for ((field, actual, reason) in listOf(Triple("backbone_sha256", archive.backboneSha256, "other-backbone"),
                Triple("name", archive.name, "other-name"), Triple("task", archive.task, "other-task"))) {
            if (st.getString(field) != actual) {
                refuse(reason, "$where: the signature by '${key.name}' is for $field '${st.getString(field)}', the adapter declares '$actual'")
            }
        }
        if (!key.allows(archive.name, archive.task)) {
            refuse("not-allowed", "$where: key '${key.name}' may not sign a ${archive.task} adapter named '${archive.name}'")
        }
        return SignedStatement(key.name, st.getString("signer"), st.getString("signed_at"), st.getString("tool"),
            verified.adapterSha256, st.getString("backbone_sha256"), st.getString("name"), st.getString("task"))
    }

    /** Verify, parse, check the claims: the adapter archive read from [bytes] once its signature holds. */
    fun load(bytes: ByteArray, signatureJson: String?, where: String): Pair<AdapterArchive, SignedStatement?> {
        val verified = verifyBytes(bytes, signatureJson, where)
        val archive = AdapterArchive.read(bytes, where)
        return Pair(archive, checkClaims(verified, archive, where))
    }

    override fun toString(): String = "trust policy $where"

    /** A signature document: parsed, not yet verified. */
    private class Envelope(json: String, val where: String) {
        val keyId: String
        val payload: String
        val signature: ByteArray

        init {
            val doc = try { JSONObject(json) } catch (e: JSONException) { throw BundleException("$where: not JSON") }
            val fields = setOf("format", "version", "key_id", "payload_type", "payload", "signature")
            if (doc.keys().asSequence().toSet() != fields) throw BundleException("$where: fields must be exactly ${fields.sorted()}")
            if (doc.opt("format") != "mtpf-adapter-signature" || doc.opt("version") != 1 || doc.opt("payload_type") != PAYLOAD_TYPE) {
                throw BundleException("$where: format/version/payload_type is not mtpf-adapter-signature 1 ($PAYLOAD_TYPE)")
            }
            keyId = doc.opt("key_id") as? String ?: ""
            payload = doc.opt("payload") as? String ?: ""
            val hex = doc.opt("signature") as? String ?: ""
            if (!HEX64.matches(keyId)) throw BundleException("$where: field 'key_id' must be 64 lower-case hex digits")
            if (!HEX.matches(hex) || hex.length > 512) throw BundleException("$where: field 'signature' must be the hex of a DER signature")
            if (payload.isEmpty() || payload.any { it.toInt() > 127 }) throw BundleException("$where: field 'payload' must be an ASCII string")
            signature = ByteArray(hex.length / 2) { hex.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
        }

        fun verifiesWith(key: PublicKey): Boolean = try {
            val v = Signature.getInstance("SHA256withECDSA")
            v.initVerify(key)
            v.update(pae(PAYLOAD_TYPE, payload.toByteArray(Charsets.US_ASCII)))
            v.verify(signature)
        } catch (e: GeneralSecurityException) {
            false  // a malformed DER signature is a signature that does not verify
        }

        /** The statement, read only once the signature over its bytes has verified. */
        fun statement(where: String): JSONObject {
            val st = try { JSONObject(payload) } catch (e: JSONException) { throw BundleException("$where: payload is not JSON") }
            if (st.keys().asSequence().toSet() != STATEMENT_FIELDS || STATEMENT_FIELDS.any { st.opt(it) !is String }) {
                throw BundleException("$where: payload must hold exactly the strings ${STATEMENT_FIELDS.sorted()}")
            }
            return st
        }
    }

    companion object {
        const val PAYLOAD_TYPE = "application/vnd.mtpf.adapter-statement+json"
        private val STATEMENT_FIELDS = setOf("adapter_sha256", "backbone_sha256", "name", "task", "signer", "signed_at", "tool")
        private val HEX = Regex("(?:[0-9a-f]{2})+")
        private val HEX64 = Regex("[0-9a-f]{64}")
        private val PATTERN = Regex("[A-Za-z0-9_*?-]{1,128}")

        /** DSSE's pre-authentication encoding: the bytes the signature covers. */
        fun pae(type: String, body: ByteArray): ByteArray {
            val t = type.toByteArray(Charsets.US_ASCII)
            return "DSSEv1 ${t.size} ".toByteArray(Charsets.US_ASCII) + t + " ${body.size} ".toByteArray(Charsets.US_ASCII) + body
        }

        private fun refuse(reason: String, message: String): Nothing = throw SignatureRefused(reason, message)

        private fun strings(a: JSONArray, where: String): List<String> =
            (0 until a.length()).map { a.opt(it) as? String ?: throw BundleException("$where: must be a list of strings") }

        /** The DER bytes of a PEM public key. java.util.Base64 needs API 26 and android.util.Base64 is not
         *  plain JVM, so the (standard, padded) base64 of the PEM body is decoded here. */
        fun pemBody(pem: String, where: String): ByteArray {
            val lines = pem.trim().lines().map { it.trim() }
            if (lines.size < 3 || lines.first() != "-----BEGIN PUBLIC KEY-----" || lines.last() != "-----END PUBLIC KEY-----") {
                throw BundleException("$where: not a PEM public key")
            }
            val text = lines.subList(1, lines.size - 1).joinToString("")
            if (text.length % 4 != 0 || !Regex("[A-Za-z0-9+/]*={0,2}").matches(text)) throw BundleException("$where: not a PEM public key")
            val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            val out = java.io.ByteArrayOutputStream()
            var buffer = 0
            var count = 0
            for (c in text.trimEnd('=')) {
                buffer = ((buffer shl 6) or alphabet.indexOf(c)) and 0xffff
                count += 6
                if (count >= 8) {
                    count -= 8
                    out.write((buffer shr count) and 0xff)
                }
            }
            return out.toByteArray()
        }
    }
}
