package ai.mtpf.core

import org.json.JSONException
import org.json.JSONObject

/**
 * Who may use what, and how much: the platform team's `policy.json` beside the bundle.
 *
 * ```
 * {"format": "mtpf-service-policy", "version": 1,
 *  "grants": {"com.example.mail": ["ner"], "com.example.notes": ["ner", "tc"]},
 *  "max_input_chars": 8192, "requests_per_minute": 120, "max_concurrent": 2}
 * ```
 * `grants` names the bundle adapters each package may run; the service's own package may run all of
 * them; an adapter an app registers is that app's alone. Without a policy file: no grants, the defaults.
 */
class ServicePolicy(
    val grants: Map<String, Set<String>> = emptyMap(),
    /** longest request text, in UTF-16 chars (what `String.length` counts) */
    val maxInputChars: Int = 8192,
    /** requests one package may start in any 60 s */
    val requestsPerMinute: Int = 120,
    /** requests one package may have running at once */
    val maxConcurrent: Int = 2
) {
    fun granted(pkg: String, adapter: String): Boolean = grants[pkg]?.contains(adapter) == true

    companion object {
        fun parse(json: String, where: String): ServicePolicy {
            try {
                val o = JSONObject(json)
                if (o.optString("format") != "mtpf-service-policy") throw BundleException("$where: format is not mtpf-service-policy")
                if (o.optInt("version", -1) != 1) throw BundleException("$where: version ${o.opt("version")} is not 1")
                val g = o.optJSONObject("grants") ?: JSONObject()
                val grants = g.keys().asSequence().associateWith { pkg ->
                    if (!PACKAGE.matches(pkg)) throw BundleException("$where: grants: $pkg is not an Android package name")
                    val list = g.optJSONArray(pkg) ?: throw BundleException("$where: grants.$pkg is not a list of adapter names")
                    (0 until list.length()).map { list.getString(it) }.toSet()
                }
                fun positive(key: String, default: Int): Int {
                    val v = o.optInt(key, default)
                    if (v <= 0) throw BundleException("$where: $key must be a positive integer")
                    return v
                }
                return ServicePolicy(grants, positive("max_input_chars", 8192), positive("requests_per_minute", 120),
                    positive("max_concurrent", 2))
            } catch (e: JSONException) {
                throw BundleException("$where: ${e.message}")
            }
        }

        /** An Android application id (`applicationId` rules). */
        val PACKAGE = Regex("[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+")
    }
}

/** Per-package request accounting: a 60 s sliding window and a count of requests running. */
class Quotas(private val policy: ServicePolicy, private val nanoTime: () -> Long = System::nanoTime) {
    private val started = HashMap<String, java.util.ArrayDeque<Long>>()
    private val running = HashMap<String, Int>()

    /** Takes one request slot for [pkg], or says why not; [release] must follow a null answer. */
    @Synchronized
    fun acquire(pkg: String): String? {
        val now = nanoTime()
        val window = started.getOrPut(pkg) { java.util.ArrayDeque() }
        while (window.isNotEmpty() && now - window.peekFirst() >= MINUTE_NS) window.removeFirst()
        if (window.size >= policy.requestsPerMinute) return "$pkg has started ${window.size} requests in the last minute (quota ${policy.requestsPerMinute})"
        val n = running[pkg] ?: 0
        if (n >= policy.maxConcurrent) return "$pkg has $n requests running (at most ${policy.maxConcurrent} at once)"
        window.addLast(now)
        running[pkg] = n + 1
        return null
    }

    @Synchronized
    fun release(pkg: String) {
        val n = (running[pkg] ?: 1) - 1
        if (n <= 0) running.remove(pkg) else running[pkg] = n
    }

    private companion object {
        const val MINUTE_NS = 60_000_000_000L
    }
}
