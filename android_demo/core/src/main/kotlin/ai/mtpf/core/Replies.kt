package ai.mtpf.core

/** The service's typed errors. The codes are part of the AIDL interface (`IBackboneService.ERROR_*`,
 *  checked equal by ServiceTest): clients switch on them, the message is for people. */
enum class ErrorCode(val code: Int) {
    OK(0),
    NO_SUCH_ADAPTER(1),
    ADAPTER_REFUSED(2),
    NOT_GRANTED(3),
    INPUT_TOO_LONG(4),
    QUOTA_EXCEEDED(5),
    CANCELLED(6),
    SERVICE_CLOSED(7),
    RUN_FAILED(8),
    BAD_REQUEST(9),
    BACKBONE_NOT_LOADED(10),
}

/** One entity of an NER reply; [start]/[end] are UTF-16 indices into the request text (what Android's
 *  spans take), [text] is clipped to [Limits.ENTITY_TEXT_CHARS]. */
data class EntityOut(val label: String, val text: String, val start: Int, val end: Int, val score: Float)

/** A reply: an error (code + message) or an NER / TC result. Bounded in size ([Limits]). */
class Reply(
    val error: ErrorCode,
    val message: String = "",
    val task: String = "",
    val entities: List<EntityOut> = emptyList(),
    /** entities found beyond [Limits.MAX_ENTITIES] and left out of this reply */
    val entitiesDropped: Int = 0,
    val label: String = "",
    val topLabels: List<String> = emptyList(),
    val topProbabilities: List<Float> = emptyList(),
    /** the TC input was longer than the adapter's window and was cut */
    val truncated: Boolean = false,
    val latencyMs: Float = 0f,
    val backbone: String = "",
    val adapter: String = ""
) {
    /** An upper bound on the reply's size in a binder Parcel: 4 bytes per int/float, 4 + 2 per char and
     *  padding per string, 4 per list length. */
    fun parcelBytesBound(): Int {
        fun s(x: String) = 8 + 2 * x.length + 4
        return 64 + s(message) + s(task) + s(label) + s(backbone) + s(adapter) +
            entities.sumBy { 24 + s(it.label) + s(it.text) } + topLabels.sumBy { s(it) } + 4 * topProbabilities.size + 16
    }

    companion object {
        fun error(code: ErrorCode, message: String) = Reply(code, message)
    }
}

/** Hard limits that keep every reply far below binder's 1 MB transaction buffer (shared by all of a
 *  process's calls in flight). Worst case: [MAX_ENTITIES] × ([ENTITY_TEXT_CHARS] + a 64-char label): 110,738 bytes by [Reply.parcelBytesBound]. */
object Limits {
    const val MAX_ENTITIES = 256
    const val ENTITY_TEXT_CHARS = 128
    const val LABEL_CHARS = 64
    const val TOP_LABELS = 5
    /** labels per adapter that describe() lists (with the full count) */
    const val DESCRIBED_LABELS = 64
    /** the largest reply [Reply.parcelBytesBound] allows: a quarter of binder's buffer */
    const val MAX_REPLY_BYTES = 256 * 1024
}
