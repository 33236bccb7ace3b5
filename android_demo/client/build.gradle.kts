// The second app: its own package and UID, binding to ai.mtpf.demo's BackboneService over the shared AIDL.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "ai.mtpf.client"
    compileSdk = 35

    defaultConfig {
        applicationId = "ai.mtpf.client"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildFeatures {
        aidl = true
    }

    // the service's AIDL (interface + parcelables), compiled into the client too
    sourceSets {
        getByName("main").aidl.srcDirs("../app/src/main/aidl")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }

    kotlinOptions {
        jvmTarget = "1.8"
    }
}
