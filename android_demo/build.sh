#!/usr/bin/env bash
# Offline build of the Android demo without Gradle: JUnit tests of the pure-Kotlin core against the
# Python runtime's golden vectors, then a signed debug APK, checked. `make android` runs it.
#
# Toolchain: Debian bookworm's kotlin, junit4, default-jdk-headless, aapt, aidl, zipalign, apksigner,
# dexdump and libandroid-json-java (org.json for the JVM tests; Android has it built in) are installed
# with apt when missing; the android-23 platform jar and dx come from Debian bullseye's
# android-sdk-platform-23 / libandroid-23-java / dalvik-exchange, fetched with `apt-get download`
# against a bullseye source list kept in a private apt state folder and unpacked under build/ —
# never installed system-wide. A second run downloads nothing.
set -euo pipefail
cd "$(dirname "$0")"
BUILD=build
TOOLS=$BUILD/tools
mkdir -p "$BUILD" "$TOOLS"
say() { echo "== $*"; }

# ---------------------------------------------------------------- toolchain (bookworm, system)
BOOKWORM_PKGS=(kotlin junit4 default-jdk-headless aapt aidl zipalign apksigner dexdump libandroid-json-java)
need=()
for tool in kotlinc java javac keytool aapt aidl zipalign apksigner dexdump; do command -v "$tool" >/dev/null || need+=("$tool"); done
for jar in /usr/share/java/junit4.jar /usr/share/java/com.android.json.jar; do [ -f "$jar" ] || need+=("$jar"); done
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${BOOKWORM_PKGS[*]} (missing: ${need[*]})"
    if [ "$(id -u)" != 0 ]; then
        echo "run as root, or: sudo apt-get install --no-install-recommends ${BOOKWORM_PKGS[*]}" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${BOOKWORM_PKGS[@]}" >"$BUILD/apt-install.log" 2>&1 \
        || { apt-get update -q >>"$BUILD/apt-install.log" 2>&1 && \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${BOOKWORM_PKGS[@]}" >>"$BUILD/apt-install.log" 2>&1; } \
        || { tail -20 "$BUILD/apt-install.log" >&2; exit 1; }
fi

# ---------------------------------------------------------------- android-23 jar + dx (bullseye, private)
SDK=$TOOLS/root/usr/lib/android-sdk
ANDROID_JAR=$TOOLS/root/usr/share/java/com.android.android-23.jar
DX_JAR=$SDK/build-tools/debian/lib/dx.jar
if [ ! -f "$ANDROID_JAR" ] || [ ! -f "$DX_JAR" ] || [ ! -d "$SDK/platforms/android-23" ]; then
    say "fetching android-sdk-platform-23, libandroid-23-java, dalvik-exchange from bullseye (private apt state)"
    STATE=$(pwd)/$TOOLS/apt
    mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial" "$STATE/etc/sources.list.d" "$STATE/etc/preferences.d" "$TOOLS/debs"
    touch "$STATE/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main" > "$STATE/etc/sources.list"
    APT=(-o "Dir::State=$STATE" -o "Dir::State::Lists=$STATE/lists" -o "Dir::State::status=$STATE/status"
         -o "Dir::Cache=$STATE/cache" -o "Dir::Etc::SourceList=$STATE/etc/sources.list"
         -o "Dir::Etc::SourceParts=$STATE/etc/sources.list.d" -o "Dir::Etc::Preferences=$STATE/etc/preferences"
         -o "Dir::Etc::PreferencesParts=$STATE/etc/preferences.d" -o "APT::Sandbox::User=root")
    apt-get "${APT[@]}" -q update >"$TOOLS/apt-update.log" 2>&1 || { tail -5 "$TOOLS/apt-update.log" >&2; exit 1; }
    (cd "$TOOLS/debs" && apt-get "${APT[@]}" -q download android-sdk-platform-23 libandroid-23-java dalvik-exchange) \
        >"$TOOLS/apt-download.log" 2>&1 || { tail -5 "$TOOLS/apt-download.log" >&2; exit 1; }
    for deb in "$TOOLS"/debs/*.deb; do dpkg-deb -x "$deb" "$TOOLS/root"; done
fi
test -f "$ANDROID_JAR" && test -f "$DX_JAR"

JSON_JAR=/usr/share/java/com.android.json.jar
JUNIT_CP=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
STDLIB=/usr/share/java/kotlin-stdlib.jar
KOTLINC=(kotlinc -nowarn -jvm-target 1.6)

# ---------------------------------------------------------------- core + JVM tests
say "core: compile and run the JUnit tests (golden vectors from the Python runtime)"
rm -rf "$BUILD/core" && mkdir -p "$BUILD/core"
"${KOTLINC[@]}" -cp "$JSON_JAR" core/src/main/kotlin -d "$BUILD/core/core.jar" 2> >(grep -v "^OpenJDK" >&2)
"${KOTLINC[@]}" -cp "$BUILD/core/core.jar:$JSON_JAR:$JUNIT_CP" core/src/test/kotlin -d "$BUILD/core/tests.jar" 2> >(grep -v "^OpenJDK" >&2)
TESTS=$(cd core/src/test/kotlin && find . -name "*Test.kt" | sed 's|^\./||; s|\.kt$||; s|/|.|g' | sort)
java -Dgolden.dir=core/src/test/resources -cp "$BUILD/core/tests.jar:$BUILD/core/core.jar:$JSON_JAR:$JUNIT_CP:$STDLIB" \
    org.junit.runner.JUnitCore $TESTS
say "core: ONNX Runtime loads the LoRA adapter files the core writes (OrtLoraAdapter's format)"
java -cp "$BUILD/core/tests.jar:$BUILD/core/core.jar:$JSON_JAR:$STDLIB" ai.mtpf.core.WriteOrtAdaptersKt \
    core/src/test/resources/bundle "$BUILD/core/ort_adapters"
if [ -x ../.venv/bin/python ]; then
    ../.venv/bin/python ../scripts/android_check_adapter.py core/src/test/resources/bundle "$BUILD/core/ort_adapters"
else
    echo "skipped: no ../.venv (make install) to load them with ONNX Runtime's Python package"
fi

# ---------------------------------------------------------------- app
say "app: aidl, resources, Kotlin against android-23 + compile-only ONNX Runtime stubs, dex, package, sign"
OUT=$BUILD/app
rm -rf "$OUT" && mkdir -p "$OUT/gen" "$OUT/stubs" "$OUT/kotlin" "$OUT/java" "$OUT/apk"
# Gradle sets the package (namespace) and SDK levels from app/build.gradle.kts; aapt needs them in the manifest
MANIFEST=$OUT/AndroidManifest.xml
sed 's|<manifest xmlns:android="http://schemas.android.com/apk/res/android">|<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="ai.mtpf.demo" android:versionCode="1" android:versionName="0.1.0">|' \
    app/src/main/AndroidManifest.xml > "$MANIFEST"
grep -q 'package="ai.mtpf.demo"' "$MANIFEST"
SDK_FLAGS=(--min-sdk-version 23 --target-sdk-version 23)
aidl -I app/src/main/aidl -o "$OUT/gen" app/src/main/aidl/ai/mtpf/demo/IBackboneService.aidl
aapt package -f -m -J "$OUT/gen" -M "$MANIFEST" "${SDK_FLAGS[@]}" -S app/src/main/res -I "$ANDROID_JAR"
javac -nowarn -source 8 -target 8 -d "$OUT/stubs" $(find stubs -name "*.java") 2> >(grep -v "bootstrap classpath\|^1 warning\|^warning: \[options\]" >&2)
GEN_JAVA=$(find "$OUT/gen" -name "*.java")
"${KOTLINC[@]}" -no-jdk -no-reflect -cp "$ANDROID_JAR:$OUT/stubs:$STDLIB" app/src/main/java core/src/main/kotlin $GEN_JAVA \
    -d "$OUT/kotlin" 2> >(grep -v "^OpenJDK" >&2)
javac -nowarn -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -cp "$OUT/kotlin" -d "$OUT/java" $GEN_JAVA \
    2> >(grep -v "bootstrap classpath\|^1 warning\|^warning: \[options\]" >&2)
if find "$OUT/kotlin" "$OUT/java" -path "*ai/onnxruntime*" | grep -q .; then echo "stub classes leaked into the app classes" >&2; exit 1; fi
java -jar "$DX_JAR" --dex --min-sdk-version=23 --output="$OUT/apk/classes.dex" "$OUT/kotlin" "$OUT/java" "$STDLIB"
ASSETS=()
if [ -d app/src/main/assets ]; then ASSETS=(-A app/src/main/assets); fi
aapt package -f -M "$MANIFEST" "${SDK_FLAGS[@]}" -S app/src/main/res "${ASSETS[@]}" -I "$ANDROID_JAR" -F "$OUT/app.unaligned.apk"
(cd "$OUT/apk" && aapt add -f ../app.unaligned.apk classes.dex >/dev/null)
zipalign -f 4 "$OUT/app.unaligned.apk" "$OUT/app.aligned.apk"
KEYSTORE=$BUILD/debug.keystore
if [ ! -f "$KEYSTORE" ]; then
    keytool -genkeypair -keystore "$KEYSTORE" -storepass android -keypass android -alias androiddebugkey \
        -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=Android Debug,O=Android,C=US" >/dev/null 2>&1
fi
apksigner sign --ks "$KEYSTORE" --ks-pass pass:android --key-pass pass:android --out "$BUILD/mtpf-demo-debug.apk" "$OUT/app.aligned.apk"

# ---------------------------------------------------------------- checks
say "checks: signature, badging, service process, no stub class in the dex"
APK=$BUILD/mtpf-demo-debug.apk
apksigner verify "$APK"
badging=$(aapt dump badging "$APK")
grep -q "^package: name='ai.mtpf.demo'" <<<"$badging" || { echo "wrong package" >&2; exit 1; }
grep -q "^sdkVersion:'23'" <<<"$badging" || { echo "min SDK is not 23" >&2; exit 1; }
grep -q "launchable-activity: name='ai.mtpf.demo.MainActivity'" <<<"$badging" || { echo "no launchable activity" >&2; exit 1; }
tree=$(aapt dump xmltree "$APK" AndroidManifest.xml)
grep -A4 "E: service" <<<"$tree" | grep -Eq 'android:name.*"(ai.mtpf.demo)?\.BackboneService"' || { echo "service not declared" >&2; exit 1; }
grep -A4 "E: service" <<<"$tree" | grep -q 'android:process.*":backbone"' || { echo "service not in its own process" >&2; exit 1; }
classes=$(dexdump "$OUT/apk/classes.dex" | grep "Class descriptor")
grep -q "Lai/mtpf/demo/BackboneService;" <<<"$classes" || { echo "service class missing from the dex" >&2; exit 1; }
grep -q "Lai/mtpf/core/WordPieceTokenizer;" <<<"$classes" || { echo "core missing from the dex" >&2; exit 1; }
if grep -q "Lai/onnxruntime/" <<<"$classes"; then echo "an ONNX Runtime stub class is in the APK" >&2; exit 1; fi
if unzip -l "$APK" | grep -q "ai/onnxruntime"; then echo "an ONNX Runtime stub file is in the APK" >&2; exit 1; fi
echo "wrote $APK ($(du -k "$APK" | cut -f1) KiB): signed, min SDK 23, BackboneService in process :backbone, no stub class"
