"""Runtime engines whose Python bindings need torch tensors (ExecuTorch's ``portable_lib``). They sit
outside ``runtime/`` so that the on-device package never imports torch; ``runtime/engines`` loads
them by name only when a bundle is opened with such a backend. On a phone the C++/Java ExecuTorch
runtime loads the same ``.pte`` + ``.ptd`` without torch."""
