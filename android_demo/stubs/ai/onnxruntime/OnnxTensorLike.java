package ai.onnxruntime;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public abstract class OnnxTensorLike implements OnnxValue {
}
