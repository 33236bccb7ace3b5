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

    /** Every case listed under ``key`` in cases.json is refused with a message ``check`` accepts. */
    private fun assertRefused(key: String, why: String, check: (String, String) -> Boolean) {
        val names = cases.getJSONArray(key)
        for (i in 0 until names.length()) {
            val name = names.getString(i)
            try {
                AdapterArchive.read(File(dir, "$name.mtpfa").readBytes(), name)
                fail("$name.mtpfa was read; $why")
            } catch (e: BundleException) {
                assertEquals(true, check(name, e.message!!))
            }
        }
    }

    @Test fun adaptersThisCoreCannotRunAreRefusedByName() =
        assertRefused("core_refuses", "this core does not run it and must say so") { _, m -> m.contains("is not run by this core") }

    @Test fun everyOtherLayoutIsRefused() =
        assertRefused("refused", "it must be refused like the Python reader refuses it") { name, m -> m.startsWith("$name: ") }
}
