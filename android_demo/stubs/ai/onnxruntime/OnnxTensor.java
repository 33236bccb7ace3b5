package ai.onnxruntime;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public class OnnxTensor extends OnnxTensorLike {
    private OnnxTensor() { }
    public static OnnxTensor createTensor(OrtEnvironment env, LongBuffer data, long[] shape) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    public static OnnxTensor createTensor(OrtEnvironment env, FloatBuffer data, long[] shape) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    public static OnnxTensor createTensor(OrtEnvironment env, ByteBuffer data, long[] shape, OnnxJavaType type) throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    @Override public Object getValue() throws OrtException { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
    @Override public void close() { throw new UnsupportedOperationException("compile-only stub: the real class comes from onnxruntime-android"); }
}
