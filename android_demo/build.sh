#!/usr/bin/env bash
# Build of the Android demo without Gradle: JUnit tests of the pure-Kotlin core and of the real ONNX
# Runtime against the Python runtime's golden vectors, then two signed APKs (the backbone service with
# ONNX Runtime inside, and a small client app), checked. `make android` runs it.
#
# Toolchain: Debian bookworm's kotlin, junit4, default-jdk-headless, aapt, aidl, zipalign, apksigner,
# dexdump, libandroid-json-java (org.json for the JVM tests; Android has it built in), libasm-java
# (Java 17 -> 8 bytecode), libjna-java (the JVM tests call ONNX Runtime's C library), gcc, binutils and
# npm are installed with apt when missing; the android-23 platform jar and dx come from Debian
# bullseye's android-sdk-platform-23 / libandroid-23-java / dalvik-exchange, fetched with `apt-get
# download` against a bullseye source list kept in a private apt state folder and unpacked under
# build/ — never installed system-wide. ONNX Runtime 1.29.0 (the official Android AAR and the Linux x64
# C library) comes from the npm package com.github.asus4.onnxruntime@0.4.9, pinned by sha256. A second
# run downloads nothing.
set -euo pipefail
cd "$(dirname "$0")"
BUILD=build
TOOLS=$BUILD/tools
mkdir -p "$BUILD" "$TOOLS"
say() { echo "== $*"; }

# ---------------------------------------------------------------- toolchain (bookworm, system)
# what each tool or jar comes from; only the packages of what is missing are installed (a machine may
# have some from elsewhere, e.g. NodeSource's nodejs, which ships npm and conflicts with Debian's npm)
declare -A PACKAGE_OF=([kotlinc]=kotlin [java]=default-jdk-headless [javac]=default-jdk-headless
    [keytool]=default-jdk-headless [aapt]=aapt [aidl]=aidl [zipalign]=zipalign [apksigner]=apksigner
    [dexdump]=dexdump [gcc]="gcc libc6-dev" [readelf]=binutils [npm]=npm
    [/usr/share/java/junit4.jar]=junit4 [/usr/share/java/com.android.json.jar]=libandroid-json-java
    [/usr/share/java/asm-tree.jar]=libasm-java [/usr/share/java/jna.jar]="libjna-java libjna-jni")
need=()
for tool in kotlinc java javac keytool aapt aidl zipalign apksigner dexdump gcc readelf npm; do command -v "$tool" >/dev/null || need+=("$tool"); done
for jar in /usr/share/java/junit4.jar /usr/share/java/com.android.json.jar /usr/share/java/asm-tree.jar /usr/share/java/jna.jar; do
    [ -f "$jar" ] || need+=("$jar")
done
if [ ${#need[@]} -gt 0 ]; then
    # shellcheck disable=SC2207  # package names have no spaces; the lists are split on purpose
    BOOKWORM_PKGS=($(for item in "${need[@]}"; do echo "${PACKAGE_OF[$item]}"; done | tr ' ' '\n' | sort -u))
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

# ---------------------------------------------------------------- ONNX Runtime (official AAR, pinned npm package)
ORT_VERSION=1.29.0
ORT_NPM=com.github.asus4.onnxruntime@0.4.9
ORT_NPM_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
ORT=$TOOLS/onnxruntime-$ORT_VERSION
ORT_ABIS=(arm64-v8a x86_64)
if [ ! -f "$ORT/unpacked" ]; then
    say "fetching $ORT_NPM from npm (ONNX Runtime $ORT_VERSION: Android AAR, Linux x64 C library; 150 MB)"
    rm -rf "$ORT" && mkdir -p "$ORT"
    (cd "$ORT" && npm pack --silent "$ORT_NPM" >npm-pack.log 2>&1) || { tail -5 "$ORT/npm-pack.log" >&2; exit 1; }
    TGZ=$(ls "$ORT"/*.tgz)
    echo "$ORT_NPM_SHA256  $TGZ" | sha256sum -c --quiet - || { echo "$TGZ: sha256 is not the pinned $ORT_NPM_SHA256" >&2; exit 1; }
    tar -xzf "$TGZ" -C "$ORT" package/Plugins/Android/onnxruntime.aar package/Plugins/Linux/x64/libonnxruntime.so
    mkdir "$ORT/aar" && unzip -q "$ORT/package/Plugins/Android/onnxruntime.aar" -d "$ORT/aar"
    mv "$ORT/package/Plugins/Linux/x64/libonnxruntime.so" "$ORT/libonnxruntime.so"
    rm -rf "$TGZ" "$ORT/package"
    touch "$ORT/unpacked"
fi
ORT_JAR=$ORT/aar/classes.jar
ORT_LINUX=$ORT/libonnxruntime.so
grep -q 'minSdkVersion="24"' "$ORT/aar/AndroidManifest.xml" || { echo "the AAR's min SDK is not 24" >&2; exit 1; }
for abi in "${ORT_ABIS[@]}"; do
    grep -aqx "$ORT_VERSION" <(strings "$ORT/aar/jni/$abi/libonnxruntime.so") || { echo "$abi libonnxruntime.so is not $ORT_VERSION" >&2; exit 1; }
done

JSON_JAR=/usr/share/java/com.android.json.jar
JUNIT_CP=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
STDLIB=/usr/share/java/kotlin-stdlib.jar
ASM_CP=/usr/share/java/asm.jar:/usr/share/java/asm-tree.jar
JNA_JAR=/usr/share/java/jna.jar
KOTLINC=(kotlinc -nowarn -jvm-target 1.6)
JAVAC8=(javac -nowarn -source 8 -target 8)
quiet_javac() { grep -v "bootstrap classpath\|^1 warning\|^warning: \[options\]" >&2; }

# ---------------------------------------------------------------- core + JVM tests (real ONNX Runtime through JNA)
say "core: compile; JUnit tests against the Python runtime's golden vectors, ONNX Runtime $ORT_VERSION's C library through JNA"
rm -rf "$BUILD/core" && mkdir -p "$BUILD/core"
gcc -Wall -Werror -I "$ORT/aar/headers" tools/ort_api_offsets.c -o "$BUILD/core/ort_api_offsets"
"$BUILD/core/ort_api_offsets" > "$BUILD/core/ort_api.properties"
"${KOTLINC[@]}" -cp "$JSON_JAR" core/src/main/kotlin -d "$BUILD/core/core.jar" 2> >(grep -v "^OpenJDK" >&2)
"${KOTLINC[@]}" -cp "$BUILD/core/core.jar:$JSON_JAR:$JUNIT_CP:$JNA_JAR" core/src/test/kotlin -d "$BUILD/core/tests.jar" 2> >(grep -v "^OpenJDK" >&2)
TESTS=$(cd core/src/test/kotlin && find . -name "*Test.kt" | sed 's|^\./||; s|\.kt$||; s|/|.|g' | sort)
java -Dgolden.dir=core/src/test/resources -Daidl.dir=app/src/main/aidl -Dort.lib="$ORT_LINUX" -Dort.version="$ORT_VERSION" \
    -Dort.api="$BUILD/core/ort_api.properties" -Djna.nosys=false \
    -cp "$BUILD/core/tests.jar:$BUILD/core/core.jar:$JSON_JAR:$JUNIT_CP:$STDLIB:$JNA_JAR" org.junit.runner.JUnitCore $TESTS

# ---------------------------------------------------------------- ONNX Runtime's classes as Java 8 bytecode (for dx)
say "onnxruntime: classes.jar (Java 17 bytecode) -> Java 8 bytecode with ASM"
rm -rf "$BUILD/ort" && mkdir -p "$BUILD/ort/tool" "$BUILD/ort/classes"
javac -nowarn -cp "$ASM_CP" -d "$BUILD/ort/tool" tools/Java8Bytecode.java
java -cp "$BUILD/ort/tool:$ASM_CP" Java8Bytecode "$ORT_JAR" "$BUILD/ort/classes"

# ---------------------------------------------------------------- APKs
KEYSTORE=$BUILD/debug.keystore
if [ ! -f "$KEYSTORE" ]; then
    keytool -genkeypair -keystore "$KEYSTORE" -storepass android -keypass android -alias androiddebugkey \
        -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=Android Debug,O=Android,C=US" >/dev/null 2>&1
fi
MIN_SDK=24
TARGET_SDK=35
SDK_FLAGS=(--min-sdk-version $MIN_SDK --target-sdk-version $TARGET_SDK)
# native libraries are stored (uncompressed) and 16 KiB-aligned so Android maps them from the APK
# (extractNativeLibs=false) on 4 KiB and 16 KiB page devices; every stored entry gets the same alignment
ALIGN=16384

# build_apk NAME PACKAGE SRC_DIR [native]: aidl, resources, Kotlin + Java, dex, package, align, sign
build_apk() {
    local name=$1 pkg=$2 src=$3 native=${4:-}
    local out=$BUILD/$name
    rm -rf "$out" && mkdir -p "$out/gen" "$out/kotlin" "$out/java" "$out/apk"
    # Gradle sets the package (namespace) and SDK levels from build.gradle.kts; aapt needs them in the manifest
    local manifest=$out/AndroidManifest.xml
    sed "s|<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\">|<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\" package=\"$pkg\" android:versionCode=\"1\" android:versionName=\"0.1.0\">|" \
        "$src/AndroidManifest.xml" > "$manifest"
    grep -q "package=\"$pkg\"" "$manifest"
    for f in $(find app/src/main/aidl -name "*.aidl"); do
        aidl --lang=java --structured -I app/src/main/aidl -o "$out/gen" "$f"
    done
    aapt package -f -m -J "$out/gen" -M "$manifest" "${SDK_FLAGS[@]}" -S "$src/res" -I "$ANDROID_JAR"
    local gen_java cp dex_in
    gen_java=$(find "$out/gen" -name "*.java")
    cp=$ANDROID_JAR:$STDLIB
    dex_in=("$out/kotlin" "$out/java" "$STDLIB")
    if [ -n "$native" ]; then cp=$cp:$BUILD/ort/classes; dex_in+=("$BUILD/ort/classes"); fi
    local srcs=("$src/java")
    if [ -n "$native" ]; then srcs+=(core/src/main/kotlin); fi  # the client needs only the AIDL classes
    "${KOTLINC[@]}" -no-jdk -no-reflect -cp "$cp" "${srcs[@]}" $gen_java -d "$out/kotlin" 2> >(grep -v "^OpenJDK" >&2)
    "${JAVAC8[@]}" -bootclasspath "$ANDROID_JAR" -cp "$out/kotlin" -d "$out/java" $gen_java 2> >(quiet_javac)
    java -jar "$DX_JAR" --dex --min-sdk-version=$MIN_SDK --output="$out/apk/classes.dex" "${dex_in[@]}"
    if [ -n "$native" ]; then
        for abi in "${ORT_ABIS[@]}"; do
            mkdir -p "$out/apk/lib/$abi"
            cp "$ORT/aar/jni/$abi/libonnxruntime.so" "$ORT/aar/jni/$abi/libonnxruntime4j_jni.so" "$out/apk/lib/$abi/"
        done
    fi
    # $out/apk (classes.dex, lib/) goes in as a raw-files folder: there -0 keeps .so and resources.arsc stored
    aapt package -f -0 arsc -0 so -M "$manifest" "${SDK_FLAGS[@]}" -S "$src/res" -I "$ANDROID_JAR" -F "$out/unaligned.apk" "$out/apk"
    zipalign -f $ALIGN "$out/unaligned.apk" "$out/aligned.apk"
    # v2 + v3 signatures only (min SDK 24): the APK signing block leaves every entry where zipalign put it
    apksigner sign --ks "$KEYSTORE" --ks-pass pass:android --key-pass pass:android --v1-signing-enabled false \
        --v2-signing-enabled true --out "$BUILD/$name-debug.apk" "$out/aligned.apk"
}

say "app: the backbone service (ai.mtpf.demo) with ONNX Runtime $ORT_VERSION for ${ORT_ABIS[*]}"
build_apk app ai.mtpf.demo app/src/main native
say "client: a second app (ai.mtpf.client, its own UID) that binds to the service"
build_apk client ai.mtpf.client client/src/main

# ---------------------------------------------------------------- checks
say "checks: signatures, badging, alignment, native libraries, dex contents, exported + guarded service"
fail() { echo "CHECK FAILED: $*" >&2; exit 1; }
APK=$BUILD/app-debug.apk
CLIENT=$BUILD/client-debug.apk
for apk in "$APK" "$CLIENT"; do
    apksigner verify "$apk" || fail "$apk: signature"
    zipalign -c $ALIGN "$apk" || fail "$apk: not $ALIGN-aligned"
done
badging=$(aapt dump badging "$APK")
grep -q "^package: name='ai.mtpf.demo'" <<<"$badging" || fail "wrong package"
grep -q "^sdkVersion:'$MIN_SDK'" <<<"$badging" || fail "min SDK is not $MIN_SDK"
grep -q "^targetSdkVersion:'$TARGET_SDK'" <<<"$badging" || fail "target SDK is not $TARGET_SDK"
grep -q "launchable-activity: name='ai.mtpf.demo.MainActivity'" <<<"$badging" || fail "no launchable activity"
grep -q "native-code: 'arm64-v8a' 'x86_64'" <<<"$badging" || fail "native code is not arm64-v8a + x86_64: $(grep native-code <<<"$badging")"
grep -q "^package: name='ai.mtpf.client'" <<<"$(aapt dump badging "$CLIENT")" || fail "client package"
grep -q "uses-permission: name='ai.mtpf.permission.USE_BACKBONE'" <<<"$(aapt dump badging "$CLIENT")" || fail "client does not ask for the permission"
tree=$(aapt dump xmltree "$APK" AndroidManifest.xml)
grep -q 'android:extractNativeLibs(0x010104ea)=(type 0x12)0x0' <<<"$tree" || fail "extractNativeLibs is not false"
service=$(awk '/E: service/{on=1} on&&/E: (activity|receiver|provider)/{on=0} on' <<<"$tree")
grep -Eq 'android:name.*"(ai.mtpf.demo)?\.BackboneService"' <<<"$service" || fail "service not declared"
grep -q 'android:process.*":backbone"' <<<"$service" || fail "service not in its own process"
grep -q 'android:exported(0x01010010)=(type 0x12)0xffffffff' <<<"$service" || fail "service is not exported"
grep -q 'android:permission.*"ai.mtpf.permission.USE_BACKBONE"' <<<"$service" || fail "service is not guarded by the permission"
grep -q 'E: permission' <<<"$tree" || fail "the permission is not declared"
listing=$(unzip -Zv "$APK")
for abi in "${ORT_ABIS[@]}"; do
    for so in libonnxruntime.so libonnxruntime4j_jni.so; do
        entry="lib/$abi/$so"
        block=$(awk -v e="$entry" '$0 ~ "^Central directory entry #"{on=0} $0 == "  " e {on=1} on' <<<"$listing")
        [ -n "$block" ] || fail "$entry missing"
        grep -q "compression method:.*none (stored)" <<<"$block" || fail "$entry is compressed"
        for a in $(readelf -lW "$ORT/aar/jni/$abi/$so" | awk '$1=="LOAD"{print $NF}'); do
            (( a >= 16384 )) || fail "$entry has a LOAD segment aligned to $a, under 16 KiB"
        done
    done
done
classes=$(dexdump "$BUILD/app/apk/classes.dex" | grep "Class descriptor")
for c in Lai/onnxruntime/OrtLoraAdapter\; Lai/onnxruntime/OrtSession\; Lai/mtpf/demo/BackboneService\; Lai/mtpf/core/BackboneHost\; \
         Lai/mtpf/demo/IBackboneService\; Lai/mtpf/demo/Reply\;; do
    grep -q "'$c'" <<<"$classes" || fail "$c missing from the app's dex"
done
client_classes=$(dexdump "$BUILD/client/apk/classes.dex" | grep "Class descriptor")
grep -q "'Lai/mtpf/demo/IBackboneService;'" <<<"$client_classes" || fail "the client has no service interface"
if grep -q "Lai/onnxruntime/" <<<"$client_classes"; then fail "ONNX Runtime is in the client"; fi
echo "wrote $APK ($(du -k "$APK" | cut -f1) KiB) and $CLIENT ($(du -k "$CLIENT" | cut -f1) KiB): signed, $ALIGN-aligned,"
echo "  min SDK $MIN_SDK, target $TARGET_SDK, ONNX Runtime $ORT_VERSION for ${ORT_ABIS[*]} stored; exported, permission-guarded service"
