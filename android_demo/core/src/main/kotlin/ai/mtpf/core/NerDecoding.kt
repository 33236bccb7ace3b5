package ai.mtpf.core

/** One entity: its text, type, code-point span [start, end) in the input and mean word probability. */
data class Entity(val text: String, val label: String, val start: Int, val end: Int, val score: Double)

/** Long texts run in overlapping windows; each token is read where it is most central (runtime/system.py). */
object Windows {
    /** Windows of ``window`` tokens overlap by a quarter window, at most 32 tokens. */
    fun defaultStride(window: Int): Int = maxOf(1, window - minOf(window / 4, 32))

    /** [start, end) windows of at most ``maxContent`` tokens advancing by ``stride``. */
    fun windows(nTokens: Int, maxContent: Int, stride: Int): List<IntArray> {
        require(maxContent > 0) { "maxContent must be positive" }
        if (nTokens <= maxContent) return listOf(intArrayOf(0, nTokens))
        val out = ArrayList<IntArray>()
        var start = 0
        while (true) {
            val end = minOf(start + maxContent, nTokens)
            out.add(intArrayOf(start, end))
            if (end == nTokens) return out
            start += stride
        }
    }

    /** For each token, (window, position in window) of the window where it is most central. */
    fun bestWindowPerToken(nTokens: Int, spans: List<IntArray>): List<IntArray> {
        val best = Array(nTokens) { intArrayOf(-1, -1) }
        val margin = IntArray(nTokens) { -1 }
        for ((w, span) in spans.withIndex()) {
            for (t in span[0] until span[1]) {
                val m = minOf(t - span[0], span[1] - 1 - t)
                if (m > margin[t]) { margin[t] = m; best[t] = intArrayOf(w, t - span[0]) }
            }
        }
        return best.toList()
    }
}

object NerDecoder {
    /** Entities of ``text`` from per-token logits [nTokens][labels] (tokens of ``enc``). */
    fun decode(text: String, enc: Encoding, logits: Array<FloatArray>, labels: List<String>): List<Entity> {
        val probs = logits.map { Classifier.softmax(it) }
        val words = Array(enc.wordSpans.size) { Pair(0, 1.0) }  // words without a sub-word stay O
        for (fw in enc.firstSubwords()) {
            val p = probs[fw[0]]
            var k = 0
            for (j in p.indices) if (p[j] > p[k]) k = j
            words[fw[1]] = Pair(k, p[k].toDouble())
        }
        val cps = WordPieceTokenizer.codePoints(text)
        val out = ArrayList<Entity>()
        for (span in bioEntitySpans(words.map { labels[it.first] })) {
            val kind = span.first
            val first = span.second
            val last = span.third
            val (start, end) = wholeCharacters(cps, enc.wordSpans[first][0], enc.wordSpans[last][1])
            var sum = 0.0
            for (w in first..last) sum += words[w].second
            val sb = StringBuilder()
            for (k in start until end) sb.appendCodePoint(cps[k])
            out.add(Entity(sb.toString(), kind, start, end, sum / (last - first + 1)))
        }
        return out
    }

    /** (type, first word, last word) of each entity, strict IOB2 as the Python runtime groups them
     *  (`data/bio.py`, seqeval's strict mode): B-X starts an entity, I-X continues an X entity, an I-X
     *  that continues nothing is dropped. */
    fun bioEntitySpans(tags: List<String>): List<Triple<String, Int, Int>> {
        val spans = ArrayList<Triple<String, Int, Int>>()
        var kind: String? = null
        var first = -1
        for ((i, tag) in tags.withIndex()) {
            val isBio = tag.length > 2 && tag[1] == '-' && (tag[0] == 'B' || tag[0] == 'I')
            val prefix = if (isBio) tag[0] else 'O'
            val body = if (isBio) tag.substring(2) else ""
            if (prefix == 'I' && kind == body) continue
            if (kind != null) spans.add(Triple(kind, first, i - 1))
            if (prefix == 'B') { kind = body; first = i } else { kind = null; first = -1 }
        }
        if (kind != null) spans.add(Triple(kind, first, tags.size - 1))
        return spans
    }

    /** Characters that belong to the one before them: marks, ZWJ, variation selectors, skin tones. */
    fun joinsPrevious(c: Int): Boolean {
        val type = Character.getType(c).toByte()
        return type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK ||
            type == Character.COMBINING_SPACING_MARK || c == 0x200D || c in 0xFE00..0xFE0F ||
            c in 0x1F3FB..0x1F3FF || c in 0xE0100..0xE01EF
    }

    /** Widen [start, end) so it neither starts nor ends inside a user-perceived character. */
    fun wholeCharacters(cps: IntArray, start0: Int, end0: Int): Pair<Int, Int> {
        var start = start0
        var end = end0
        while (start > 0 && joinsPrevious(cps[start])) start--
        while (end < cps.size && joinsPrevious(cps[end])) {
            end++
            if (cps[end - 1] == 0x200D && end < cps.size) end++  // a ZWJ glues the next character on
        }
        return Pair(start, end)
    }
}

/** Text classification and pooling: what `SystemModel.classify` does after the backbone. */
object Classifier {
    fun softmax(z: FloatArray): FloatArray {
        var max = Float.NEGATIVE_INFINITY
        for (v in z) if (v > max) max = v
        val e = FloatArray(z.size) { Math.exp((z[it] - max).toDouble()).toFloat() }
        val sum = e.sum()
        return FloatArray(z.size) { e[it] / sum }
    }

    /** Mean of the rows (every position of the row, [CLS] and [SEP] included), optionally L2-normalised. */
    fun meanPool(hidden: Array<FloatArray>, normalize: Boolean): FloatArray {
        val h = hidden[0].size
        val out = FloatArray(h)
        for (row in hidden) for (j in 0 until h) out[j] += row[j]
        for (j in 0 until h) out[j] /= hidden.size.toFloat()
        if (normalize) {
            var norm = 0.0
            for (v in out) norm += v.toDouble() * v
            val scale = 1.0 / maxOf(Math.sqrt(norm), 1e-12)
            for (j in 0 until h) out[j] = (out[j] * scale).toFloat()
        }
        return out
    }

    /** Softmax of ``weight`` [C][H] · pooled + bias. */
    fun probabilities(pooled: FloatArray, weight: Array<FloatArray>, bias: FloatArray): FloatArray =
        softmax(FloatArray(bias.size) { c -> var s = bias[c]; for (j in pooled.indices) s += weight[c][j] * pooled[j]; s })
}
