package ai.onnxruntime;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public class OrtEnvironment implements AutoCloseable {
    private OrtEnvironment() { }
    public static OrtEnvironment getEnvironment() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    public OrtSession createSession(String modelPath, OrtSession.SessionOptions options) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    @Override public void close() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
}
