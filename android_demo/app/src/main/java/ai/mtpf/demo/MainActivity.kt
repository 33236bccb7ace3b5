package ai.mtpf.demo

import android.app.Activity
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.ServiceConnection
import android.graphics.Color
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
import org.json.JSONObject

/** The "app" side: binds to BackboneService (another process) and sends (adapter name, text). */
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
            service = IBackboneService.Stub.asInterface(binder)
            background({ service?.describe() ?: "{}" }) { showAdapters(JSONObject(it)) }
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

    private fun background(work: () -> String, then: (String) -> Unit) {
        Thread {
            val reply = try { work() } catch (e: Exception) { JSONObject().put("error", e.toString()).toString() }
            runOnUiThread { then(reply) }
        }.start()
    }

    private fun showAdapters(info: JSONObject) {
        if (info.has("error")) { status.text = "backbone not loaded: ${info.getString("error")}"; return }
        val list = info.getJSONArray("adapters")
        names.clear()
        for (i in 0 until list.length()) names.add(list.getJSONObject(i).getString("name"))
        val shown = (0 until list.length()).map { list.getJSONObject(it).let { a -> "${a.getString("name")} (${a.getString("task")})" } }
        picker.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, shown)
        run.isEnabled = names.isNotEmpty()
        val refused = info.getJSONObject("refused")
        val lines = refused.keys().asSequence().map { "REFUSED ${it}: ${refused.getString(it)}" }.toList()
        status.text = (listOf("backbone ${info.getString("backbone")}") + lines).joinToString("\n")
    }

    private fun request() {
        val s = service ?: return
        val input = text.text.toString()
        val adapter = names.getOrNull(picker.selectedItemPosition) ?: return
        run.isEnabled = false
        background({ s.run(adapter, input) }) { reply ->
            run.isEnabled = true
            show(input, JSONObject(reply))
        }
    }

    private fun show(input: String, r: JSONObject) {
        if (r.has("error")) { result.text = ""; details.text = "error: ${r.getString("error")}"; return }
        if (r.has("entities")) {
            val spans = SpannableString(input)
            val lines = StringBuilder()
            val entities = r.getJSONArray("entities")
            for (i in 0 until entities.length()) {
                val e = entities.getJSONObject(i)
                spans.setSpan(BackgroundColorSpan(if (e.getString("label").hashCode() % 2 == 0) Color.YELLOW else Color.CYAN),
                    e.getInt("start"), e.getInt("end"), Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
                lines.append(String.format("%-6s %s  [%d, %d)  %.2f\n", e.getString("label"), e.getString("text"),
                    e.getInt("start"), e.getInt("end"), e.getDouble("score")))
            }
            result.text = spans
            details.text = if (lines.isEmpty()) "no entities" else lines.toString()
        } else {
            result.text = r.getString("label")
            val p = r.getJSONObject("probabilities")
            details.text = p.keys().asSequence().joinToString("\n") { String.format("%-24s %.3f", it, p.getDouble(it)) }
        }
        status.text = String.format("%.1f ms in the service · backbone %s · adapter %s", r.getDouble("latency_ms"),
            r.getString("backbone"), r.getString("adapter"))
    }
}
