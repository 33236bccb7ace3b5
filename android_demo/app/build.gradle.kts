plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "ai.mtpf.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "ai.mtpf.demo"
        minSdk = 23
        targetSdk = 34
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

    testOptions {
        unitTests.all { it.systemProperty("golden.dir", file("../core/src/test/resources").path) }
    }
}

dependencies {
    // the same ONNX Runtime release as the Python runtime (constraints.txt)
    implementation("com.microsoft.onnxruntime:onnxruntime-android:1.31.0")
    testImplementation("junit:junit:4.13.2")
    // Android's org.json is a stub in JVM unit tests: use the real implementation there
    testImplementation("org.json:json:20240303")
}
