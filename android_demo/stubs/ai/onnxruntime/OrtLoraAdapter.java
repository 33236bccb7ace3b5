package ai.onnxruntime;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public final class OrtLoraAdapter implements AutoCloseable {
    private OrtLoraAdapter() { }
    public static OrtLoraAdapter create(String absoluteAdapterPath) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    @Override public void close() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
}
