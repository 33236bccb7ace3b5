package ai.mtpf.demo

import android.app.Activity
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.ServiceConnection
import android.graphics.Color
import android.os.Binder
import android.os.Bundle
import android.os.IBinder
import android.text.SpannableString
import android.text.Spanned
import android.text.style.BackgroundColorSpan
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.Spinner
import android.widget.TextView

/** An "app" side inside the service's own APK (same UID: every bundle adapter is granted): binds to
 *  BackboneService (another process) and sends (adapter name, text). ../client is the same from
 *  another app. */
class MainActivity : Activity() {
    private var service: IBackboneService? = null
    private val names = ArrayList<String>()
    private lateinit var text: EditText
    private lateinit var picker: Spinner
    private lateinit var run: Button
    private lateinit var result: TextView
    private lateinit var details: TextView
    private lateinit var status: TextView

    private val connection = object : ServiceConnection {
        override fun onServiceConnected(name: ComponentName, binder: IBinder) {
            val s = IBackboneService.Stub.asInterface(binder)
            service = s
            background({ s.describe() }) { info, error -> if (info != null) showAdapters(info) else status.text = "describe failed: $error" }
        }

        override fun onServiceDisconnected(name: ComponentName) {
            service = null
            run.isEnabled = false
            status.text = "backbone service disconnected"
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        text = findViewById(R.id.text) as EditText
        picker = findViewById(R.id.adapters) as Spinner
        run = findViewById(R.id.run) as Button
        result = findViewById(R.id.result) as TextView
        details = findViewById(R.id.details) as TextView
        status = findViewById(R.id.status) as TextView
        run.setOnClickListener { request() }
        bindService(Intent(this, BackboneService::class.java), connection, Context.BIND_AUTO_CREATE)
    }

    override fun onDestroy() {
        unbindService(connection)
        super.onDestroy()
    }

    private val token = Binder()  // the service watches it: if this process dies, its runs stop

    private fun <T> background(work: () -> T, then: (T?, String?) -> Unit) {
        Thread {
            val reply = try { Pair(work(), null) } catch (e: Exception) { Pair(null, e.toString()) }
            runOnUiThread { then(reply.first, reply.second) }
        }.start()
    }

    private fun showAdapters(info: ServiceInfo) {
        if (info.error != 0) { status.text = "backbone not loaded: ${info.message}"; return }
        names.clear()
        names.addAll(info.adapters.map { it.name })
        picker.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, info.adapters.map { "${it.name} (${it.task})" })
        run.isEnabled = names.isNotEmpty()
        val lines = info.refusedNames.zip(info.refusedReasons).map { (n, why) -> "REFUSED $n: $why" }
        status.text = (listOf("backbone ${info.backbone} · interface v${info.interfaceVersion}") + lines).joinToString("\n")
    }

    private fun request() {
        val s = service ?: return
        val input = text.text.toString()
        val adapter = names.getOrNull(picker.selectedItemPosition) ?: return
        run.isEnabled = false
        background({ s.run(token, adapter, input) }) { reply, error ->
            run.isEnabled = true
            if (reply == null) { details.text = "error: $error"; return@background }
            show(input, reply)
        }
    }

    private fun show(input: String, r: Reply) {
        if (r.error != 0) { result.text = ""; details.text = "error ${r.error}: ${r.message}"; return }
        if (r.task == "ner") {
            val spans = SpannableString(input)
            val lines = StringBuilder()
            for (e in r.entities) {
                spans.setSpan(BackgroundColorSpan(if (e.label.hashCode() % 2 == 0) Color.YELLOW else Color.CYAN),
                    e.start, e.end, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
                lines.append(String.format("%-6s %s  [%d, %d)  %.2f\n", e.label, e.text, e.start, e.end, e.score))
            }
            if (r.entitiesDropped > 0) lines.append("… and ${r.entitiesDropped} more\n")
            result.text = spans
            details.text = if (lines.isEmpty()) "no entities" else lines.toString()
        } else {
            result.text = r.label
            details.text = r.topLabels.zip(r.topProbabilities.toList()).joinToString("\n") { (l, p) -> String.format("%-24s %.3f", l, p) }
        }
        status.text = String.format("%.1f ms in the service · backbone %s · adapter %s", r.latencyMs, r.backbone, r.adapter)
    }
}
