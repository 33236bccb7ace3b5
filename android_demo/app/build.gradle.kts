plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "ai.mtpf.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "ai.mtpf.demo"
        // ONNX Runtime >= 1.21 needs API 24 (its AAR's manifest says so); Android 15+ refuses target < 24
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildFeatures {
        aidl = true
    }

    sourceSets {
        // the pure-Kotlin core and its JVM tests (golden vectors from the Python runtime) live in ../core
        getByName("main").java.srcDirs("src/main/java", "../core/src/main/kotlin")
        getByName("test").java.srcDirs("../core/src/test/kotlin")
        getByName("test").resources.srcDirs("../core/src/test/resources")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }

    kotlinOptions {
        jvmTarget = "1.8"
    }

    // backbone.onnx and .mtpfa files are read as they are
    androidResources {
        noCompress += listOf("onnx", "mtpfa")
    }

    // ONNX Runtime's libraries stored and 16 KiB-aligned, mapped from the APK (extractNativeLibs=false);
    // the two ABIs build.sh packages
    packaging {
        jniLibs.useLegacyPackaging = false
    }
    defaultConfig.ndk.abiFilters += listOf("arm64-v8a", "x86_64")

    testOptions {
        // the JVM tests run ONNX Runtime's C library of the same release (Linux x64 libonnxruntime.so
        // from the npm package build.sh pins, with ort_api.properties from tools/ort_api_offsets.c):
        // pass -Port.lib=... -Port.api=... to Gradle, or run build.sh
        unitTests.all {
            it.systemProperty("golden.dir", file("../core/src/test/resources").path)
            it.systemProperty("aidl.dir", file("src/main/aidl").path)
            it.systemProperty("ort.version", "1.29.0")
            (project.findProperty("ort.lib") as String?)?.let { v -> it.systemProperty("ort.lib", v) }
            (project.findProperty("ort.api") as String?)?.let { v -> it.systemProperty("ort.api", v) }
        }
    }
}

dependencies {
    // the release build.sh packages (the official AAR inside com.github.asus4.onnxruntime@0.4.9 on npm);
    // the Python runtime's 1.31 reads the same bundles, and the JVM tests compare the two
    implementation("com.microsoft.onnxruntime:onnxruntime-android:1.29.0")
    testImplementation("junit:junit:4.13.2")
    testImplementation("net.java.dev.jna:jna:5.13.0")
    // Android's org.json is a stub in JVM unit tests: use the real implementation there
    testImplementation("org.json:json:20240303")
}
