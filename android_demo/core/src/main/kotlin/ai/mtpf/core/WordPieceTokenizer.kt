package ai.mtpf.core

import org.json.JSONObject
import java.text.Normalizer
import java.util.Locale

/** Sub-words of one text (no special tokens): ids, code-point offsets into the text, the word each
 *  sub-word belongs to, and each word's code-point span — what the Python runtime's `encode_text` gives. */
class Encoding(
    val ids: IntArray,
    val offsets: List<IntArray>,
    val wordIndex: IntArray,
    val wordSpans: List<IntArray>
) {
    /** (sub-word position, word) of each word's first sub-word. */
    fun firstSubwords(): List<IntArray> {
        val seen = HashSet<Int>()
        val out = ArrayList<IntArray>()
        for (t in wordIndex.indices) {
            val w = wordIndex[t]
            if (w >= 0 && seen.add(w)) out.add(intArrayOf(t, w))
        }
        return out
    }
}

/**
 * BERT WordPiece tokenizer read from a Hugging Face `tokenizer.json` (BertNormalizer + BertPreTokenizer +
 * WordPiece), matching the `tokenizers` library the Python runtime uses: clean-up of control characters,
 * spaces around CJK ideographs, accent stripping (NFD, marks removed), lower-casing, splitting on
 * whitespace and punctuation, greedy longest-match sub-words; special tokens written in the text are
 * matched as themselves. Offsets count Unicode code points, as Python's `str` does.
 */
class WordPieceTokenizer(json: String) {
    private val vocab = HashMap<String, Int>()
    private val unkId: Int
    private val prefix: String
    private val maxCharsPerWord: Int
    private val cleanText: Boolean
    private val chineseChars: Boolean
    private val stripAccents: Boolean
    private val lowercase: Boolean
    private val added: List<Pair<IntArray, Int>>  // special tokens matched in raw text, longest first
    val clsId: Int
    val sepId: Int
    val padId: Int

    init {
        val root = JSONObject(json)
        val model = root.getJSONObject("model")
        if (model.optString("type") != "WordPiece") throw IllegalArgumentException("tokenizer.json: model.type is not WordPiece")
        val v = model.getJSONObject("vocab")
        for (key in v.keys()) vocab[key] = v.getInt(key)
        prefix = model.optString("continuing_subword_prefix", "##")
        maxCharsPerWord = model.optInt("max_input_chars_per_word", 100)
        unkId = vocab[model.optString("unk_token", "[UNK]")] ?: throw IllegalArgumentException("tokenizer.json: no unk token in vocab")
        val norm = root.optJSONObject("normalizer")
        if (norm == null || norm.optString("type") != "BertNormalizer") {
            throw IllegalArgumentException("tokenizer.json: only BertNormalizer is supported")
        }
        cleanText = norm.optBoolean("clean_text", true)
        chineseChars = norm.optBoolean("handle_chinese_chars", true)
        lowercase = norm.optBoolean("lowercase", true)
        stripAccents = if (norm.isNull("strip_accents")) lowercase else norm.optBoolean("strip_accents")
        val tokens = ArrayList<Pair<IntArray, Int>>()
        val list = root.optJSONArray("added_tokens")
        if (list != null) for (i in 0 until list.length()) {
            val t = list.getJSONObject(i)
            tokens.add(Pair(codePoints(t.getString("content")), t.getInt("id")))
        }
        added = tokens.sortedByDescending { it.first.size }
        clsId = vocab["[CLS]"] ?: throw IllegalArgumentException("tokenizer.json: no [CLS]")
        sepId = vocab["[SEP]"] ?: throw IllegalArgumentException("tokenizer.json: no [SEP]")
        padId = vocab["[PAD]"] ?: throw IllegalArgumentException("tokenizer.json: no [PAD]")
    }

    fun encode(text: String): Encoding {
        val cps = codePoints(text)
        val ids = ArrayList<Int>()
        val offsets = ArrayList<IntArray>()
        val words = ArrayList<Int>()
        var word = 0
        var start = 0
        var i = 0
        while (i <= cps.size) {
            val special = if (i < cps.size) matchAdded(cps, i) else null
            if (special != null || i == cps.size) {
                word = encodeSegment(cps, start, i, word, ids, offsets, words)
                if (special == null) break
                ids.add(special.second); offsets.add(intArrayOf(i, i + special.first.size)); words.add(word++)
                i += special.first.size
                start = i
            } else i++
        }
        val pieces = ArrayList<IntArray>()  // the pre-tokenizer's words (punctuation split off)
        for (t in ids.indices) {
            val w = words[t]
            if (w == pieces.size) pieces.add(intArrayOf(offsets[t][0], offsets[t][1]))
            else { pieces[w][0] = minOf(pieces[w][0], offsets[t][0]); pieces[w][1] = maxOf(pieces[w][1], offsets[t][1]) }
        }
        // words as the Python runtime makes them (data/tokenization.py, encode_text): runs without whitespace,
        // each CJK ideograph alone — the whitespace-split words `adapt ner` trains on
        val groupOf = IntArray(pieces.size)
        val spans = ArrayList<IntArray>()
        var lastCjk = false
        for ((w, p) in pieces.withIndex()) {
            val cjk = p[1] - p[0] == 1 && isChinese(cps[p[0]])
            val prev = spans.lastOrNull()
            if (prev != null && !cjk && !lastCjk && (prev[1] until p[0]).none { isWhitespace(cps[it]) }) prev[1] = maxOf(prev[1], p[1])
            else spans.add(intArrayOf(p[0], p[1]))
            groupOf[w] = spans.size - 1
            lastCjk = cjk
        }
        return Encoding(ids.toIntArray(), offsets, IntArray(words.size) { groupOf[words[it]] }, spans)
    }

    private fun matchAdded(cps: IntArray, at: Int): Pair<IntArray, Int>? {
        for (t in added) {
            val c = t.first
            if (c.isNotEmpty() && at + c.size <= cps.size && (c.indices).all { cps[at + it] == c[it] }) return t
        }
        return null
    }

    /** Normalise, split and WordPiece ``cps[from, to)``; words are numbered from ``firstWord``; returns the next word number. */
    private fun encodeSegment(cps: IntArray, from: Int, to: Int, firstWord: Int, ids: MutableList<Int>,
                              offsets: MutableList<IntArray>, words: MutableList<Int>): Int {
        // normalised code points, each with the original code point it came from
        val chars = ArrayList<Int>()
        val origin = ArrayList<Int>()
        for (k in from until to) {
            val c = cps[k]
            if (cleanText && (c == 0 || c == 0xFFFD || (isOther(c) && c != 9 && c != 10 && c != 13))) continue
            val base = if (cleanText && isWhitespace(c)) 32 else c
            if (chineseChars && isChinese(base)) {
                chars.add(32); origin.add(k); chars.add(base); origin.add(k); chars.add(32); origin.add(k)
                continue
            }
            var piece = codePoints(String(Character.toChars(base)))
            if (stripAccents) piece = codePoints(Normalizer.normalize(String(Character.toChars(base)), Normalizer.Form.NFD))
                .filter { Character.getType(it) != Character.NON_SPACING_MARK.toInt() }.toIntArray()
            if (lowercase) piece = piece.flatMap { codePoints(String(Character.toChars(it)).toLowerCase(Locale.ROOT)).toList() }.toIntArray()
            for (p in piece) { chars.add(p); origin.add(k) }
        }
        var word = firstWord
        var k = 0
        while (k < chars.size) {  // pre-tokenise: whitespace splits, each punctuation mark is a word
            val c = chars[k]
            if (isWhitespace(c)) { k++; continue }
            var end = k + 1
            if (!isPunctuation(c)) while (end < chars.size && !isWhitespace(chars[end]) && !isPunctuation(chars[end])) end++
            wordPiece(chars.subList(k, end), origin.subList(k, end), word, ids, offsets, words)
            word++
            k = end
        }
        return word
    }

    private fun wordPiece(chars: List<Int>, origin: List<Int>, word: Int, ids: MutableList<Int>,
                          offsets: MutableList<IntArray>, words: MutableList<Int>) {
        fun span(a: Int, b: Int) = intArrayOf(origin[a], origin[b - 1] + 1)
        if (chars.size > maxCharsPerWord) {
            ids.add(unkId); offsets.add(span(0, chars.size)); words.add(word); return
        }
        val pieces = ArrayList<Int>()
        val bounds = ArrayList<IntArray>()
        var start = 0
        while (start < chars.size) {
            var end = chars.size
            var found: Int? = null
            while (start < end) {
                val sb = StringBuilder()
                if (start > 0) sb.append(prefix)
                for (k in start until end) sb.appendCodePoint(chars[k])
                found = vocab[sb.toString()]
                if (found != null) break
                end--
            }
            if (found == null) {
                ids.add(unkId); offsets.add(span(0, chars.size)); words.add(word); return
            }
            pieces.add(found); bounds.add(span(start, end))
            start = end
        }
        for (p in pieces.indices) { ids.add(pieces[p]); offsets.add(bounds[p]); words.add(word) }
    }

    companion object {
        fun codePoints(s: String): IntArray {
            val out = IntArray(s.codePointCount(0, s.length))
            var i = 0
            var k = 0
            while (i < s.length) { val c = s.codePointAt(i); out[k++] = c; i += Character.charCount(c) }
            return out
        }

        /** Unicode White_Space (what Rust's `char::is_whitespace` tests). */
        fun isWhitespace(c: Int): Boolean = c in 9..13 || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
            c in 0x2000..0x200A || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000

        /** General category C* (control, format, surrogate, private use, unassigned). */
        fun isOther(c: Int): Boolean = when (Character.getType(c).toByte()) {
            Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED -> true
            else -> false
        }

        fun isPunctuation(c: Int): Boolean {
            if (c in 33..47 || c in 58..64 || c in 91..96 || c in 123..126) return true
            return when (Character.getType(c).toByte()) {
                Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                Character.OTHER_PUNCTUATION -> true
                else -> false
            }
        }

        fun isChinese(c: Int): Boolean = c in 0x4E00..0x9FFF || c in 0x3400..0x4DBF || c in 0x20000..0x2A6DF ||
            c in 0x2A700..0x2B73F || c in 0x2B740..0x2B81F || c in 0x2B920..0x2CEAF || c in 0xF900..0xFAFF ||
            c in 0x2F800..0x2FA1F
    }
}
