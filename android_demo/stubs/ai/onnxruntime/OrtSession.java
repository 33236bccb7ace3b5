package ai.onnxruntime;

import java.util.Map;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public class OrtSession implements AutoCloseable {
    private OrtSession() { }
    public Result run(Map<String, ? extends OnnxTensorLike> inputs) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    public Result run(Map<String, ? extends OnnxTensorLike> inputs, RunOptions runOptions) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    @Override public void close() throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }

    /** Compile-only stub. */
    public static class SessionOptions implements AutoCloseable {
        public SessionOptions() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
        public void setIntraOpNumThreads(int numThreads) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
        public void addConfigEntry(String key, String value) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
        @Override public void close() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    }

    /** Compile-only stub. */
    public static class RunOptions implements AutoCloseable {
        public RunOptions() throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
        public void addActiveLoraAdapter(OrtLoraAdapter adapter) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
        @Override public void close() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    }

    /** Compile-only stub. */
    public static class Result implements AutoCloseable {
        private Result() { }
        public OnnxValue get(int index) { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
        @Override public void close() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    }
}
