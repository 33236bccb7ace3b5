package ai.mtpf.client

import ai.mtpf.demo.IBackboneService
import ai.mtpf.demo.Reply
import android.app.Activity
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.ServiceConnection
import android.os.Binder
import android.os.Bundle
import android.os.IBinder
import android.widget.TextView

/**
 * Another app using the backbone service across UIDs: binds to `ai.mtpf.action.BACKBONE` in package
 * ai.mtpf.demo, checks the interface version, lists what it was granted, runs each granted adapter on
 * one text and shows the typed replies (or the typed errors: not granted, quota, too long, ...).
 * The same text is also logged, for `adb logcat -s mtpf-client`.
 */
class ClientActivity : Activity() {
    private lateinit var out: TextView
    private val token = Binder()  // kept alive while calls run: the service cancels them if this process dies

    private val connection = object : ServiceConnection {
        override fun onServiceConnected(name: ComponentName, binder: IBinder) {
            val service = IBackboneService.Stub.asInterface(binder)
            Thread {
                val text = try { exercise(service) } catch (e: Exception) { "call failed: $e" }
                android.util.Log.i("mtpf-client", text)
                runOnUiThread { out.text = text }
            }.start()
        }

        override fun onServiceDisconnected(name: ComponentName) {
            out.text = "backbone service disconnected"
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        out = TextView(this).apply { setPadding(32, 32, 32, 32); typeface = android.graphics.Typeface.MONOSPACE }
        setContentView(out)
        val intent = Intent(ACTION).setPackage(SERVICE_PACKAGE)
        if (!bindService(intent, connection, Context.BIND_AUTO_CREATE)) {
            out.text = "cannot bind to $SERVICE_PACKAGE (not installed, or no ai.mtpf.permission.USE_BACKBONE)"
        }
    }

    override fun onDestroy() {
        unbindService(connection)
        super.onDestroy()
    }

    private fun exercise(service: IBackboneService): String {
        val lines = ArrayList<String>()
        val version = service.interfaceVersion()
        if (version < IBackboneService.VERSION) return "the service speaks interface v$version; this client needs v${IBackboneService.VERSION}"
        val info = service.describe()
        if (info.error != 0) return "service error ${info.error}: ${info.message}"
        lines.add("backbone ${info.backbone}, interface v${info.interfaceVersion}, at most ${info.maxInputChars} chars, ${info.requestsPerMinute}/min")
        lines.add("granted: ${info.adapters.joinToString { "${it.name} (${it.task})" }.ifEmpty { "nothing (see policy.json)" }}")
        for (a in info.adapters) lines.add("${a.name}: ${show(service.run(token, a.name, SAMPLE))}")
        lines.add("an adapter not granted: ${show(service.run(token, "not-granted-here", SAMPLE))}")
        return lines.joinToString("\n")
    }

    private fun show(r: Reply): String = when {
        r.error != 0 -> "error ${r.error}: ${r.message}"
        r.task == "ner" -> r.entities.joinToString(prefix = "[", postfix = "]") { "${it.label} '${it.text}' [${it.start}, ${it.end})" }
        else -> "${r.label} (${r.topLabels.zip(r.topProbabilities.toList()).joinToString { (l, p) -> String.format("%s %.2f", l, p) }})"
    }

    private companion object {
        const val ACTION = "ai.mtpf.action.BACKBONE"
        const val SERVICE_PACKAGE = "ai.mtpf.demo"
        const val SAMPLE = "Ada Lovelace worked with Charles Babbage in London."
    }
}
