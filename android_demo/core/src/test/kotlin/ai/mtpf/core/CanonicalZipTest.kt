package ai.mtpf.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/** The same hostile archives the Python tests refuse (scripts/hostile_archives.py): the Kotlin core must
 *  read the honest one and refuse every other, so a file means one adapter to every reader. */
class CanonicalZipTest {
    private val dir = File(System.getProperty("golden.dir", "src/test/resources"), "hostile")
    private val cases = JSONObject(File(dir, "cases.json").readText())
    private val bundle = BundleManifest(File(dir.parentFile, "bundle/manifest.json").readText())

    @Test fun theHonestArchiveIsRead() {
        val a = AdapterArchive.read(File(dir, "honest.mtpfa").readBytes(), "honest")
        a.checkFits(bundle, "honest")
        assertEquals("ner", a.task)
    }

    @Test fun adaptersThisCoreCannotRunAreRefusedByName() {
        val unsupported = cases.getJSONArray("core_refuses")
        for (i in 0 until unsupported.length()) {
            val name = unsupported.getString(i)
            try {
                AdapterArchive.read(File(dir, "$name.mtpfa").readBytes(), name)
                fail("$name.mtpfa was read; this core does not run it and must say so")
            } catch (e: BundleException) {
                assertEquals(true, e.message!!.contains("is not run by this core"))
            }
        }
    }

    @Test fun everyOtherLayoutIsRefused() {
        val refused = cases.getJSONArray("refused")
        for (i in 0 until refused.length()) {
            val name = refused.getString(i)
            try {
                AdapterArchive.read(File(dir, "$name.mtpfa").readBytes(), name)
                fail("$name.mtpfa was read; it must be refused like the Python reader refuses it")
            } catch (e: BundleException) {
                assertEquals(true, e.message!!.startsWith("$name: "))
            }
        }
    }
}
