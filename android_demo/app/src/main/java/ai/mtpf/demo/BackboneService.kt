package ai.mtpf.demo

import ai.mtpf.core.BackboneHost
import ai.mtpf.core.BundleException
import ai.mtpf.core.BundleManifest
import ai.mtpf.core.CancelSignal
import ai.mtpf.core.ErrorCode
import ai.mtpf.core.Limits
import ai.mtpf.core.ServicePolicy
import ai.mtpf.core.TrustPolicy
import ai.mtpf.core.WordPieceTokenizer
import ai.mtpf.core.sha256Hex
import android.app.Service
import android.content.Intent
import android.os.Binder
import android.os.IBinder
import android.os.ParcelFileDescriptor
import android.os.Process
import android.os.RemoteException
import java.io.File
import ai.mtpf.core.Reply as CoreReply

/**
 * The "system" side, in its own process (":backbone"), exported to other apps behind the permission
 * `ai.mtpf.permission.USE_BACKBONE`: loads the bundle's backbone once (ONNX Runtime, [OrtJavaEngine])
 * and serves every app's requests, each naming its adapter. Each call is identified by
 * `Binder.getCallingUid()` → package, and [BackboneHost] decides what that package may run (the bundle's
 * `policy.json` grants; adapters it registered itself), with quotas and an input cap. A client that
 * dies mid-request has its run terminated (`linkToDeath` → `RunOptions.setTerminate`).
 *
 * The bundle is read from this app's external files folder
 * (`adb push bundle /sdcard/Android/data/ai.mtpf.demo/files/bundle`), else from `bundle/` in the APK's
 * assets (copied to internal storage once).
 */
class BackboneService : Service() {
    @Volatile private var host: BackboneHost? = null
    @Volatile private var loadError: String? = null
    private val lock = Object()

    private fun host(): BackboneHost? {
        synchronized(lock) {
            if (host == null && loadError == null) {
                try {
                    host = load(bundleFolder())
                } catch (e: Exception) {
                    loadError = BackboneHost.reason(e)
                }
            }
            return host
        }
    }

    private fun load(folder: File): BackboneHost {
        fun bundleFile(rel: String): File {
            if (rel.startsWith("/") || rel.split('/').any { it == ".." || it.isEmpty() }) throw BundleException("bundle path $rel leaves the bundle folder")
            val file = File(folder, rel)
            if (!file.isFile) throw BundleException("${file.path}: missing from the bundle")
            return file
        }
        val manifest = BundleManifest(File(folder, "manifest.json").readText(), "${folder.path}/manifest.json")
        // hashed and opened from the same bytes: nothing can swap the file in between
        val model = bundleFile(manifest.backboneFile).readBytes()
        val sha = sha256Hex(model)
        if (sha != manifest.backboneFileSha256) throw BundleException("${manifest.backboneFile}: sha256 $sha is not the manifest's ${manifest.backboneFileSha256}")
        val tokenizer = WordPieceTokenizer(bundleFile(manifest.tokenizerFile).readText())
        val trust = File(folder, "trust.json").takeIf { it.isFile }?.let { TrustPolicy(it.readText(), it.path) }
        val policy = File(folder, "policy.json").takeIf { it.isFile }?.let { ServicePolicy.parse(it.readText(), it.path) } ?: ServicePolicy()
        val engine = OrtJavaEngine(model, manifest.onnxruntime, THREADS)
        val host = BackboneHost(manifest, tokenizer, engine, trust, policy, packageName)
        for ((name, rel) in manifest.adapters) {
            try {
                val file = bundleFile(rel)
                host.addBundleAdapter(name, file.readBytes(), File(folder, "$rel.sig").takeIf { it.isFile }?.readText(), rel)
            } catch (e: Exception) {
                host.refuse(name, BackboneHost.reason(e))
            }
        }
        return host
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

    /** The calling app's package (its UID's; a shared UID: the first of its packages in sorted order). */
    private fun caller(): String {
        val uid = Binder.getCallingUid()
        if (uid == Process.myUid()) return packageName
        return packageManager.getPackagesForUid(uid)?.sorted()?.firstOrNull() ?: "uid:$uid"
    }

    private val binder = object : IBackboneService.Stub() {
        override fun interfaceVersion(): Int = IBackboneService.VERSION

        override fun describe(): ServiceInfo {
            val pkg = caller()
            val info = ServiceInfo()
            info.interfaceVersion = IBackboneService.VERSION
            val h = host()
            if (h == null) {
                info.error = ErrorCode.BACKBONE_NOT_LOADED.code
                info.message = loadError
                return info
            }
            info.backbone = h.manifest.version
            info.adapters = h.adapters(pkg).map { a ->
                AdapterInfo().apply { name = a.name; task = a.task; version = a.version; labels = a.labels.take(Limits.DESCRIBED_LABELS).toTypedArray(); labelCount = a.labels.size; ownedByCaller = a.ownedByCaller }
            }.toTypedArray()
            val refused = if (pkg == packageName) h.refused else h.refused.filterKeys { h.policy.granted(pkg, it) }
            info.refusedNames = refused.keys.toTypedArray()
            info.refusedReasons = refused.values.toTypedArray()
            info.maxInputChars = h.policy.maxInputChars
            info.requestsPerMinute = h.policy.requestsPerMinute
            info.maxConcurrent = h.policy.maxConcurrent
            return info
        }

        override fun run(client: IBinder?, adapter: String?, text: String?): Reply {
            val pkg = caller()
            if (client == null || adapter == null || text == null) return parcel(CoreReply.error(ErrorCode.BAD_REQUEST, "client, adapter and text are required"))
            val h = host() ?: return parcel(CoreReply.error(ErrorCode.BACKBONE_NOT_LOADED, loadError ?: "not loaded"))
            val cancel = CancelSignal()
            val death = IBinder.DeathRecipient { cancel.cancel() }
            try {
                client.linkToDeath(death, 0)
            } catch (e: RemoteException) {
                return parcel(CoreReply.error(ErrorCode.CANCELLED, "the client is gone"))
            }
            try {
                return parcel(h.run(pkg, adapter, text, cancel))
            } finally {
                client.unlinkToDeath(death, 0)
            }
        }

        override fun registerAdapter(name: String?, adapter: ParcelFileDescriptor?, signature: String?): Reply {
            val pkg = caller()
            if (name == null || adapter == null) return parcel(CoreReply.error(ErrorCode.BAD_REQUEST, "name and adapter are required"))
            val h = host() ?: return parcel(CoreReply.error(ErrorCode.BACKBONE_NOT_LOADED, loadError ?: "not loaded"))
            val bytes = try {
                ParcelFileDescriptor.AutoCloseInputStream(adapter).use { input ->
                    val buf = java.io.ByteArrayOutputStream()
                    val chunk = ByteArray(1 shl 16)
                    while (true) {
                        val n = input.read(chunk)
                        if (n < 0) break
                        buf.write(chunk, 0, n)
                        if (buf.size() > MAX_ADAPTER_BYTES) return parcel(CoreReply.error(ErrorCode.BAD_REQUEST, "adapter $name is over ${MAX_ADAPTER_BYTES shr 20} MiB"))
                    }
                    buf.toByteArray()
                }
            } catch (e: java.io.IOException) {
                return parcel(CoreReply.error(ErrorCode.BAD_REQUEST, "adapter $name could not be read: ${e.message}"))
            }
            return parcel(h.register(pkg, name, bytes, signature))
        }
    }

    override fun onBind(intent: Intent): IBinder = binder

    override fun onDestroy() {
        host?.close()  // new calls get SERVICE_CLOSED; waits for the running ones
        super.onDestroy()
    }

    companion object {
        const val THREADS = 2
        const val MAX_ADAPTER_BYTES = 16 shl 20

        /** The core's reply as the AIDL parcelable. */
        fun parcel(r: CoreReply): Reply {
            val p = Reply()
            p.error = r.error.code
            p.message = r.message
            p.task = r.task
            p.entities = r.entities.map { e -> Entity().apply { label = e.label; text = e.text; start = e.start; end = e.end; score = e.score } }.toTypedArray()
            p.entitiesDropped = r.entitiesDropped
            p.label = r.label
            p.topLabels = r.topLabels.toTypedArray()
            p.topProbabilities = r.topProbabilities.toFloatArray()
            p.truncated = r.truncated
            p.latencyMs = r.latencyMs
            p.backbone = r.backbone
            p.adapter = r.adapter
            return p
        }
    }
}
