package ai.onnxruntime;

/** Compile-only stub of ONNX Runtime 1.31's Java API. */
public enum OnnxJavaType { FLOAT, DOUBLE, INT8, INT16, INT32, INT64, BOOL, STRING, UINT8, UNKNOWN }
