package ai.onnxruntime;

/** Compile-only stub of ONNX Runtime 1.31's Java API (never packaged: the APK gets the real AAR). */
public class OrtException extends Exception {
    public OrtException(String message) { super(message); }
}
