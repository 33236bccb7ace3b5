package ai.onnxruntime;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public interface OnnxValue extends AutoCloseable {
    Object getValue() throws OrtException;
    @Override void close();
}
