package ai.mtpf.demo

import android.app.Service
import android.content.Intent
import android.os.IBinder
import org.json.JSONObject
import java.io.File

/**
 * The "system" side, in its own process (":backbone" in AndroidManifest.xml): loads the bundle's backbone
 * once and serves every app's requests over AIDL, each naming its adapter. The bundle is read from
 * the app's external files folder (`adb push bundle /sdcard/Android/data/ai.mtpf.demo/files/bundle`),
 * else from a `bundle/` folder packaged in the APK's assets (copied to internal storage once).
 */
class BackboneService : Service() {
    @Volatile private var backbone: Backbone? = null
    @Volatile private var loadError: String? = null
    private val lock = Object()

    private fun backbone(): Backbone? {
        synchronized(lock) {
            if (backbone == null && loadError == null) {
                try {
                    backbone = Backbone(bundleFolder(), cacheDir)
                } catch (e: Exception) {
                    loadError = "${e.javaClass.simpleName}: ${e.message}"
                }
            }
            return backbone
        }
    }

    private fun bundleFolder(): File {
        val external = getExternalFilesDir(null)?.let { File(it, "bundle") }
        if (external != null && File(external, "manifest.json").isFile) return external
        val internal = File(filesDir, "bundle")
        if (!File(internal, "manifest.json").isFile) {
            val names = assets.list("bundle") ?: emptyArray()
            if (names.isEmpty()) throw IllegalStateException("no bundle: copy one to ${external?.path ?: "the app's files folder"}")
            copyAssets("bundle", internal)
        }
        return internal
    }

    private fun copyAssets(path: String, target: File) {
        val children = assets.list(path) ?: emptyArray()
        if (children.isEmpty()) {
            target.parentFile?.mkdirs()
            assets.open(path).use { input -> target.outputStream().use { input.copyTo(it) } }
            return
        }
        target.mkdirs()
        for (child in children) copyAssets("$path/$child", File(target, child))
    }

    private val binder = object : IBackboneService.Stub() {
        override fun describe(): String {
            val b = backbone() ?: return JSONObject().put("error", loadError).toString()
            return b.describe().toString()
        }

        override fun run(adapter: String, text: String): String {
            val b = backbone() ?: return JSONObject().put("error", loadError).toString()
            return try {
                b.run(adapter, text).toString()
            } catch (e: Exception) {
                JSONObject().put("error", "${e.javaClass.simpleName}: ${e.message}").toString()
            }
        }
    }

    override fun onBind(intent: Intent): IBinder = binder

    override fun onDestroy() {
        backbone?.close()
        super.onDestroy()
    }
}
