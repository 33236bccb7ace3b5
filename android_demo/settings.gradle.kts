// Android Studio / Gradle build of the demo (needs the internet for the Android Gradle plugin and the
// ONNX Runtime AAR). The offline build that CI runs is build.sh (`make android`).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "mtpf-demo"
include(":app", ":client")
