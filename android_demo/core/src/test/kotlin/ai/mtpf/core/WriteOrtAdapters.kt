package ai.mtpf.core

import java.io.File

/** Writes `<out>/<name>.onnx_adapter` (fp32 and int8 forms) for every adapter of the golden bundle, for
 *  scripts/android_check_adapter.py to load with ONNX Runtime (build.sh runs both). */
fun main(args: Array<String>) {
    val bundleDir = File(args[0])
    val out = File(args[1]).apply { mkdirs() }
    val bundle = BundleManifest(File(bundleDir, "manifest.json").readText())
    for ((name, rel) in bundle.adapters) {
        val adapter = AdapterArchive.read(File(bundleDir, rel).readBytes(), rel)
        adapter.checkFits(bundle, rel)
        File(out, "$name.onnx_adapter").writeBytes(OrtAdapterFormat.write(OrtAdapterFormat.slotParams(adapter.lora, false)))
        File(out, "$name.int8.onnx_adapter").writeBytes(OrtAdapterFormat.write(OrtAdapterFormat.slotParams(adapter.lora, true)))
    }
}
